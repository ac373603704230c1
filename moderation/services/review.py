"""The review queue: held comments for moderators, their decisions, the audit trail and outbox."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update

from moderation.store.repository import Principal, Store, utcnow
from moderation.store.tables import Comment, Label, OutboxEvent, Review

ACTIONS = {"approve": "approved", "reject": "rejected"}
REVIEW_LABELS = ("spam", "toxic", "ham", "other")
TRAINING_LABELS = ("spam", "toxic", "ham")
UNDO_SECONDS = 30
STATUS_EVENT = "comment.status_changed"


class ReviewError(Exception):
    """A review that cannot be applied; `status` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class QueueFilter:
    reason: str | None = None
    post_id: str | None = None
    min_score: float | None = None


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


class ReviewQueue:
    """Reads the queue and applies moderators' decisions, one transaction per decision."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- reading ----------------------------------------------------------------------------

    def page(self, filters: QueueFilter, cursor: str | None, limit: int) -> dict[str, Any]:
        """Return held comments oldest first after cursor, with author history and counts."""
        c = Comment.__table__.c
        conditions = [c.status == "held"]
        if filters.reason:
            conditions.append(c.reason_code == filters.reason)
        if filters.post_id:
            conditions.append(c.post_id == filters.post_id)
        if filters.min_score is not None:
            conditions.append(or_(c.spam_score >= filters.min_score, c.toxicity_score >= filters.min_score))
        page_conditions = list(conditions)
        if cursor:
            created, last_id = decode_cursor(cursor)
            page_conditions.append(or_(c.created_at > created, and_(c.created_at == created, c.id > last_id)))
        with self.store.sessions() as session:
            items = list(
                session.scalars(
                    select(Comment)
                    .where(*page_conditions)
                    .order_by(Comment.created_at, Comment.id)
                    .limit(limit + 1)
                )
            )
            counts = dict(
                session.execute(
                    select(c.reason_code, func.count()).where(c.status == "held").group_by(c.reason_code)
                ).all()
            )
            more = len(items) > limit
            items = items[:limit]
            history = self._history(session, items)
        return {
            "items": [(item, history.get(item.id, {})) for item in items],
            "next_cursor": encode_cursor(items[-1]) if more else None,
            "counts": {"held": sum(counts.values()), "by_reason": counts},
        }

    def _history(self, session: Any, items: list[Comment]) -> dict[str, dict[str, Any]]:
        """Earlier decisions for each item's email and IP, in two grouped queries."""
        c = Comment.__table__.c
        emails = {i.email_key for i in items}
        ips = {i.ip for i in items if i.ip}
        by_email: dict[str, dict[str, int]] = {}
        by_ip: dict[str, dict[str, int]] = {}
        if emails:
            for key, status, n in session.execute(
                select(c.email_key, c.status, func.count())
                .where(c.email_key.in_(emails))
                .group_by(c.email_key, c.status)
            ):
                by_email.setdefault(key, {})[status] = n
        if ips:
            for key, status, n in session.execute(
                select(c.ip, c.status, func.count()).where(c.ip.in_(ips)).group_by(c.ip, c.status)
            ):
                by_ip.setdefault(key, {})[status] = n
        return {
            i.id: {"email": by_email.get(i.email_key, {}), "ip": by_ip.get(i.ip, {}) if i.ip else {}}
            for i in items
        }

    # --- deciding ---------------------------------------------------------------------------

    def review(
        self, principal: Principal, comment_id: str, action: str, label: str, note: str | None
    ) -> Comment:
        """Apply a moderator's decision; exactly one of two simultaneous reviews wins (409 for the other)."""
        if action not in ACTIONS:
            raise ReviewError(422, f"action must be one of {', '.join(ACTIONS)}")
        if label not in REVIEW_LABELS:
            raise ReviewError(422, f"label must be one of {', '.join(REVIEW_LABELS)}")
        now = utcnow()
        status = ACTIONS[action]
        c = Comment.__table__.c
        with self.store.engine.begin() as connection:
            # The condition on reviewed_at makes the update the arbiter: a second reviewer changes nothing.
            changed = connection.execute(
                update(Comment)
                .where(c.id == comment_id, c.reviewed_at.is_(None))
                .values(status=status, reviewed_at=now, reviewed_by=principal.key_id, review_label=label)
            ).rowcount
            if changed != 1:
                exists = connection.execute(select(c.id).where(c.id == comment_id)).first()
                if exists is None:
                    raise ReviewError(404, f"No comment {comment_id!r}.")
                raise ReviewError(409, "This comment has already been reviewed.")
            row = connection.execute(
                select(c.text, c.name, c.client_comment_id).where(c.id == comment_id)
            ).one()
            connection.execute(
                insert(Review),
                {"comment_id": comment_id, "key_id": principal.key_id, "action": action,
                 "label": label, "note": note, "created_at": now},
            )  # fmt: skip
            if label in TRAINING_LABELS:
                connection.execute(
                    insert(Label),
                    {"comment_id": comment_id, "source": "moderator", "label": label, "text": row.text,
                     "name": row.name, "key_id": principal.key_id, "created_at": now, "trust": "trusted"},
                )  # fmt: skip
            self._enqueue(connection, comment_id, row.client_comment_id, status, label, principal, now)
        comment = self.store.get_comment(comment_id)
        assert comment is not None
        return comment

    def undo(self, principal: Principal, comment_id: str) -> Comment:
        """Put a comment back in the queue if this moderator reviewed it in the last few seconds."""
        now = utcnow()
        c = Comment.__table__.c
        with self.store.engine.begin() as connection:
            changed = connection.execute(
                update(Comment)
                .where(
                    c.id == comment_id,
                    c.reviewed_by == principal.key_id,
                    c.reviewed_at >= now - timedelta(seconds=UNDO_SECONDS),
                )
                .values(status="held", reviewed_at=None, reviewed_by=None, review_label=None)
            ).rowcount
            if changed != 1:
                raise ReviewError(
                    409, f"Only your own review of the last {UNDO_SECONDS} seconds can be undone."
                )
            row = connection.execute(select(c.client_comment_id).where(c.id == comment_id)).one()
            connection.execute(
                insert(Review),
                {"comment_id": comment_id, "key_id": principal.key_id, "action": "undo", "label": "other",
                 "note": None, "created_at": now},
            )  # fmt: skip
            # The label the undone review produced is no longer anyone's verdict.
            latest = connection.execute(
                select(Label.__table__.c.id)
                .where(Label.__table__.c.comment_id == comment_id, Label.__table__.c.source == "moderator")
                .order_by(Label.__table__.c.id.desc())
                .limit(1)
            ).first()
            if latest:
                connection.execute(delete(Label).where(Label.__table__.c.id == latest.id))
            self._enqueue(connection, comment_id, row.client_comment_id, "held", None, principal, now)
        comment = self.store.get_comment(comment_id)
        assert comment is not None
        return comment

    def audit(self, comment_id: str) -> list[dict[str, Any]]:
        """Every review action on a comment, oldest first."""
        r = Review.__table__.c
        from moderation.store.tables import ApiKey

        k = ApiKey.__table__.c
        with self.store.engine.connect() as connection:
            rows = connection.execute(
                select(r.action, r.label, r.note, r.created_at, k.name, k.role)
                .join_from(Review, ApiKey, r.key_id == k.id)
                .where(r.comment_id == comment_id)
                .order_by(r.id)
            ).all()
        return [
            {"action": a, "label": lab, "note": note, "at": at, "by": name, "role": role}
            for a, lab, note, at, name, role in rows
        ]

    @staticmethod
    def _enqueue(
        connection: Any,
        comment_id: str,
        client_comment_id: str | None,
        status: str,
        label: str | None,
        principal: Principal,
        now: datetime,
    ) -> None:
        # The number of review actions on the comment so far, this one included: it only grows (reviews
        # go only with their comment), so a receiver can drop any event older than one it applied.
        r = Review.__table__.c
        sequence = connection.execute(select(func.count()).where(r.comment_id == comment_id)).scalar_one()
        payload = {
            "event": STATUS_EVENT,
            "sequence": sequence,
            "comment_id": comment_id,
            "client_comment_id": client_comment_id,
            "status": status,
            "label": label,
            "reviewer_role": principal.role,
            "reviewed_at": now.isoformat(),
        }
        connection.execute(
            insert(OutboxEvent),
            {"comment_id": comment_id, "event": STATUS_EVENT, "payload": payload, "created_at": now,
             "attempts": 0, "next_attempt_at": now},
        )  # fmt: skip
