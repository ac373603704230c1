"""The review queue: views of comments for moderators, their decisions (changeable at any time),
the audit trail, readers' reports, and the webhook events that tell the CMS."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from moderation.exceptions import InvalidReview, NotFound
from moderation.store.repository import Principal, Store, utcnow
from moderation.store.reviews import POST_SORTS, VIEWS, QueueFilter, ReviewStore
from moderation.store.tables import Comment

ACTIONS = {"approve": "approved", "reject": "rejected"}
REVIEW_LABELS = ("spam", "toxic", "ham", "other")
TRAINING_LABELS = ("spam", "toxic", "ham")
STATUSES = ("held", "approved", "rejected")
# Why a moderator rejects, each with the sentence the CMS may show the commenter (the moderator's
# note stays with the moderators).
REJECT_REASONS = {
    "spam": "Your comment was removed as spam.",
    "toxic": "Your comment was removed because it breaks the rules on abuse.",
    "off_topic": "Your comment was removed because it is off topic.",
    "personal_info": "Your comment was removed because it shares personal information.",
    "other": "Your comment was removed by a moderator.",
}
REPORT_REASONS = ("spam", "abusive", "off_topic", "misinformation", "other")
UNDO_SECONDS = 30
STATUS_EVENT = "comment.status_changed"
# Live updates look this far back before the time the page asked about: a comment's created_at is
# taken before it is classified and stored, and instances' clocks differ a little, so a row can
# become visible with a time slightly before the page's. The page ignores what it already shows.
LIVE_LOOKBACK = timedelta(seconds=30)
# ...and no further back than a sign-in lasts (a page left open overnight asks about 12 hours at most).
LIVE_LONGEST = timedelta(hours=12)

__all__ = [
    "ACTIONS", "POST_SORTS", "REJECT_REASONS", "REPORT_REASONS", "REVIEW_LABELS", "STATUSES", "UNDO_SECONDS",
    "VIEWS", "QueueFilter", "ReviewQueue", "public_reason",
]  # fmt: skip


def public_reason(code: str | None) -> dict[str, str] | None:
    """The rejection reason as the commenter may see it: its code and a sentence, or None."""
    if code is None:
        return None
    return {"code": code, "message": REJECT_REASONS.get(code, REJECT_REASONS["other"])}


@dataclass(frozen=True)
class _Position:
    created_at: datetime
    id: str


def encode_cursor(comment: Any) -> str:
    raw = json.dumps([comment.created_at.isoformat(), comment.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Decode a cursor from a previous page; raise ValueError for anything else.

    Everything is checked here, before a query: a time without a zone or an id of the wrong type
    would otherwise fail inside the database layer, as a 500 instead of a bad request.
    """
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, RecursionError) as exc:
        raise ValueError("not a cursor") from exc
    if not (isinstance(decoded, list) and len(decoded) == 2 and all(isinstance(v, str) for v in decoded)):
        raise ValueError("not a cursor")
    created_text, comment_id = decoded
    created = datetime.fromisoformat(created_text)
    if created.tzinfo is None or created.utcoffset() is None:
        raise ValueError("a cursor's time has a timezone")
    if not 0 < len(comment_id) <= 32 or not comment_id.isalnum():
        raise ValueError("not a comment id")
    return created, comment_id


def _label_for(action: str, reason: str | None) -> str:
    """The training label a decision implies when the moderator gave none."""
    if action == "approve":
        return "ham"
    return reason if reason in ("spam", "toxic") else "other"


class ReviewQueue:
    """Reads the queue's views and applies moderators' decisions, one transaction per decision."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reviews = ReviewStore(store)

    # --- reading ----------------------------------------------------------------------------

    def page(self, filters: QueueFilter, cursor: str | None, limit: int) -> dict[str, Any]:
        """One page of a view (pending and reported oldest first, the others newest first).

        `counts.by_reason` is the view's comments per reason (any of a comment's reasons counts),
        `counts.total` the view's comments and `counts.held` the held ones, all under every filter
        but the reason; `views` is every view's size under all the filters, so
        the header stays true while filtering.
        """
        if filters.view not in VIEWS:
            raise ValueError(f"view must be one of {', '.join(VIEWS)}")
        after = decode_cursor(cursor) if cursor else None
        found = self.reviews.page(filters, after, limit)
        items = found["items"]
        by_reason = found["by_reason"]
        return {
            "items": [(item, found["extras"][item.id]) for item in items],
            "next_cursor": encode_cursor(items[-1]) if found["more"] and items else None,
            "counts": {"held": found["held"], "total": found["total"], "by_reason": by_reason},
            "views": found["views"],
        }

    def last_page(self, filters: QueueFilter, cursor: str, limit: int) -> tuple[bool, str | None]:
        """For a page past the end of a view (its comments decided meanwhile): whether comments come
        before it, and the cursor of the last page of them (None: the first page)."""
        created, comment_id = decode_cursor(cursor)
        found, after = self.reviews.last_page_before(filters, (created, comment_id), limit)
        if after is None:
            return found, None
        return found, encode_cursor(_Position(*after))

    def updates(
        self, principal: Principal, filters: QueueFilter, since: datetime, limit: int
    ) -> dict[str, Any]:
        """What changed in a view since an open page was drawn: counts, arrivals, colleagues' actions.

        `arrived` holds the ids now in the view that were created, reported or acted on by another
        key since then (newest first); `decided` the comments another key acted on since then, each
        with its status now and that key's latest action. The time is clamped to the last 12 hours.
        """
        if filters.view not in VIEWS:
            raise ValueError(f"view must be one of {', '.join(VIEWS)}")
        now = utcnow()
        since = max(min(since, now), now - LIVE_LONGEST) - LIVE_LOOKBACK
        found = self.reviews.updates(filters, since, principal.key_id, limit)
        return {**found, "now": now}

    def posts(self, sort: str, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        """Posts with comments and how many of them wait (held) or are reported, sorted by `sort`."""
        return self.reviews.posts(sort, limit, offset)

    def audit(self, comment_id: str) -> list[dict[str, Any]]:
        """Every review action on a comment, oldest first: who, when, from what to what, why."""
        return self.reviews.audit(comment_id)

    # --- deciding ---------------------------------------------------------------------------

    def review(
        self,
        principal: Principal,
        comment_id: str,
        action: str,
        label: str | None,
        note: str | None,
        reason: str | None = None,
        expected_status: str | None = None,
    ) -> Comment:
        """Apply a moderator's decision, first or changed, and queue the webhook that tells the CMS.

        Without expected_status it is a first decision: exactly one of two simultaneous ones wins
        (AlreadyReviewed for the other, and for a comment someone already decided). With it, the
        decision changes whatever the comment's current one is, at any time, if the status is still
        the one the moderator saw (StatusChanged otherwise). NotFound when there is no such comment.
        """
        if action not in ACTIONS:
            raise InvalidReview(f"action must be one of {', '.join(ACTIONS)}", "action")
        if label is not None and label not in REVIEW_LABELS:
            raise InvalidReview(f"label must be one of {', '.join(REVIEW_LABELS)}", "label")
        if expected_status is not None and expected_status not in STATUSES:
            raise InvalidReview(f"expected_status must be one of {', '.join(STATUSES)}", "expected_status")
        if action == "approve" and reason is not None:
            raise InvalidReview("reason is for rejections only", "reason")
        if reason is not None and reason not in REJECT_REASONS:
            raise InvalidReview(f"reason must be one of {', '.join(REJECT_REASONS)}", "reason")
        if reason == "other" and not (note or "").strip():
            raise InvalidReview("reason other needs a note saying why", "note")
        if action == "reject" and reason is None:
            reason = label if label in ("spam", "toxic") else "other"
        label = label or _label_for(action, reason)
        status = ACTIONS[action]
        now = utcnow()
        self.reviews.decide(
            comment_id, principal.key_id, action=action, status=status, label=label, reason=reason,
            note=note, expected_status=expected_status, training=label in TRAINING_LABELS,
            payload=lambda state: self._payload(state, principal, now), now=now,
        )  # fmt: skip
        return self._comment(comment_id)

    def undo(self, principal: Principal, comment_id: str) -> Comment:
        """Take back this moderator's decision of the last few seconds: the comment is as before it.

        UndoExpired when it is not this moderator's latest decision of the undo window."""
        now = utcnow()
        self.reviews.undo(
            comment_id, principal.key_id, timedelta(seconds=UNDO_SECONDS),
            lambda state: self._payload(state, principal, now), now,
        )  # fmt: skip
        return self._comment(comment_id)

    def _comment(self, comment_id: str) -> Comment:
        comment = self.store.get_comment(comment_id)
        if comment is None:  # erased or purged between the decision and this read
            raise NotFound(f"No comment {comment_id!r}.")
        return comment

    @staticmethod
    def _payload(state: dict[str, Any], principal: Principal, now: datetime) -> dict[str, Any]:
        """The signed event the CMS receives (docs/webhooks.md); never who decided, nor the note."""
        return {
            "event": STATUS_EVENT,
            "sequence": state["sequence"],
            "comment_id": state["comment_id"],
            "client_comment_id": state["client_comment_id"],
            "status": state["status"],
            "previous_status": state["previous_status"],
            "label": state["label"],
            "reason": public_reason(state["reason"]) if state["status"] == "rejected" else None,
            "reviewer_role": principal.role,
            "reviewed_at": now.isoformat(),
        }

    # --- readers' reports ---------------------------------------------------------------------

    def report(
        self, principal: Principal, comment_id: str, reporter: str, reason: str, text: str | None
    ) -> tuple[dict[str, Any], bool] | None:
        """Record a reader's report of a comment this client sent; None when it sent no such comment.

        Returns the report and whether it is new: a reader's repeat report of the same comment
        is the stored one, counted once.
        """
        if reason not in REPORT_REASONS:
            raise InvalidReview(f"reason must be one of {', '.join(REPORT_REASONS)}", "reason")
        return self.reviews.add_report(comment_id, principal.key_id, reporter, reason, text, utcnow())
