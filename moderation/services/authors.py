"""The author view and moderators' actions on authors: ban, pre-moderate, suspend, lift, notes.

Authors are known by e-mail (trimmed, lower-cased: the comments' email_key). Actions hold for every
site, as the block list does, and each one is an audit record of who took it, when and why.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from moderation.exceptions import DomainError, InvalidReview, NotFound
from moderation.services.blocklists import BlockLists
from moderation.services.review import REJECT_REASONS, ReviewQueue, decode_cursor, encode_cursor
from moderation.store.authors import AuthorStore
from moderation.store.repository import Principal, Store, utcnow

# ban: blocks the e-mail (and optionally an IP) through the block list, so its comments are
# rejected (reason blocked_author). premoderate: every comment is held (premoderated_author).
# suspend: comments are rejected until the suspension ends (suspended_author).
AUTHOR_ACTIONS = ("ban", "premoderate", "suspend")
MAX_SUSPEND_DAYS = 365
MAX_REASON = 2000

__all__ = ["AUTHOR_ACTIONS", "MAX_SUSPEND_DAYS", "AuthorDesk", "author_key"]


def author_key(email: str) -> str:
    """The form authors are known by; raise NotFound for something that is not an e-mail address."""
    key = email.strip().lower()
    if not 3 <= len(key) <= 254 or "@" not in key or any(ch.isspace() or ch == "\x00" for ch in key):
        raise NotFound("No such author: give the e-mail address the comments were sent with.")
    return key


def _reason(reason: str | None, field: str = "reason") -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidReview("Say why: the reason is recorded in the author's audit.", field)
    if len(text) > MAX_REASON or "\x00" in text:
        raise InvalidReview(f"A reason has at most {MAX_REASON} characters.", field)
    return text


class AuthorDesk:
    """What a moderator sees of an author and does to them; decisions go through the review queue,
    so rejecting a banned author's held comments audits and webhooks them like any decision."""

    def __init__(self, store: Store, queue: ReviewQueue, blocklists: BlockLists) -> None:
        self.authors = AuthorStore(store)
        self.queue = queue
        self.blocklists = blocklists

    def view(self, email: str, cursor: str | None, limit: int) -> dict[str, Any]:
        """Everything about one author: a page of their comments (newest first), counts, IPs,
        other e-mails seen at those IPs, notes, and actions (in force and lifted)."""
        key = author_key(email)
        after = decode_cursor(cursor) if cursor else None
        items, more = self.authors.comments(key, after, limit)
        summary = self.authors.summary(key)
        now = utcnow()
        actions = self.authors.actions(key, now)
        return {
            "email": key,
            **summary,
            "comments": items,
            "next_cursor": encode_cursor(SimpleNamespace(**items[-1])) if more and items else None,
            "notes": self.authors.notes(key),
            "actions": actions,
            "in_force": sorted({a["action"] for a in actions if a["active"]}),
        }

    def add_note(self, principal: Principal, email: str, text: str | None) -> dict[str, Any]:
        key = author_key(email)
        body = _reason(text, "text")
        now = utcnow()
        note_id = self.authors.add_note(key, body, principal.key_id, now)
        return {"id": note_id, "text": body, "at": now, "by": principal.name}

    def act(
        self,
        principal: Principal,
        email: str,
        action: str,
        reason: str | None,
        *,
        ip: str | None = None,
        reject_pending: bool = False,
        reject_reason: str = "spam",
        days: int | None = None,
    ) -> dict[str, Any]:
        """Take an action on an author; return the audit record.

        ban blocks the e-mail (and `ip`, if given) and, with reject_pending, rejects their held
        comments with reject_reason (the ban's reason as the note; a webhook each). suspend needs
        `days`. A second action of a kind already in force is refused (AlreadyActive).
        """
        key = author_key(email)
        if action not in AUTHOR_ACTIONS:
            raise InvalidReview(f"action must be one of {', '.join(AUTHOR_ACTIONS)}", "action")
        why = _reason(reason)
        if action != "ban" and (ip or reject_pending):
            raise InvalidReview("ip and reject_pending are for a ban only", "ip" if ip else "reject_pending")
        if action != "suspend" and days is not None:
            raise InvalidReview("days is for a suspension only", "days")
        if reject_reason not in REJECT_REASONS:
            raise InvalidReview(f"reject_reason must be one of {', '.join(REJECT_REASONS)}", "reject_reason")
        block: tuple[str, ...] = ()
        if ip:
            try:
                ip = str(ipaddress.ip_address(ip.strip()))
            except ValueError:
                raise InvalidReview("ip must be one IPv4 or IPv6 address", "ip") from None
        if action == "ban":
            block = (key, ip) if ip else (key,)
        now = utcnow()
        until = None
        if action == "suspend":
            if days is None or not 1 <= days <= MAX_SUSPEND_DAYS:
                raise InvalidReview(f"days must be from 1 to {MAX_SUSPEND_DAYS}", "days")
            until = now + timedelta(days=days)
        action_id = self.authors.act(key, action, why, principal.key_id, now, block=block, ip=ip, until=until)
        if block:
            self.blocklists.invalidate()
        rejected = 0
        if reject_pending:
            for comment_id in self.authors.held_ids(key):
                try:
                    self.queue.review(
                        principal, comment_id, "reject", None, why, reject_reason, expected_status="held"
                    )
                    rejected += 1
                except DomainError:
                    continue  # decided by someone else meanwhile, or erased: theirs stands
            self.authors.set_rejected(action_id, rejected)
        return self._record(key, action_id)

    def lift(self, principal: Principal, email: str, action_id: int, reason: str | None) -> dict[str, Any]:
        """Lift an action in force (a ban's block-list entries go with it); return its audit record."""
        key = author_key(email)
        why = _reason(reason)
        kind = self.authors.lift(key, action_id, principal.key_id, why, utcnow())  # NotFound if not in force
        if kind == "ban":
            self.blocklists.invalidate()
        return self._record(key, action_id)

    def _record(self, key: str, action_id: int) -> dict[str, Any]:
        return next(a for a in self.authors.actions(key, utcnow()) if a["id"] == action_id)
