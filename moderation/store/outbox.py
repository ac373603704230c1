"""The outbox as admins read it: pending and delivered events, the delivery log, manual retries."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from sqlalchemy import Engine, exists, func, insert, select, update

from moderation.exceptions import AlreadyDelivered, NotFound
from moderation.store.repository import utcnow
from moderation.store.tables import OutboxEvent, WebhookDelivery

_OUTBOX = OutboxEvent.__table__
_DELIVERIES = WebhookDelivery.__table__


def _event_dict(row: Any) -> dict[str, Any]:
    delivered = row.delivered_at is not None
    return {
        "id": row.id,
        "comment_id": row.comment_id,
        "event": row.event,
        "payload": row.payload,
        "state": "delivered" if delivered else "pending",
        "attempts": row.attempts,
        "created_at": row.created_at,
        "next_attempt_at": None if delivered else row.next_attempt_at,
        "delivered_at": row.delivered_at,
        "last_error": row.last_error,
    }


class Outbox:
    """What admins see of the outbox: pending and delivered events, the delivery log, retries."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def summary(self, now: datetime | None = None) -> dict[str, Any]:
        """Count pending events (all, due now, failing) and give the oldest one's age."""
        o = _OUTBOX.c
        now = now or utcnow()
        pending = o.delivered_at.is_(None)
        with self.engine.connect() as connection:
            row = connection.execute(
                select(
                    func.count().label("pending"),
                    func.count().filter(o.next_attempt_at <= now).label("due"),
                    func.count().filter(o.attempts > 0).label("failing"),
                    func.min(o.created_at).label("oldest"),
                ).where(pending)
            ).one()
        return {
            "pending": row.pending,
            "due": row.due,
            "failing": row.failing,
            "oldest_pending_at": row.oldest,
        }

    def events(self, state: str = "all", before: int | None = None, limit: int = 50) -> dict[str, Any]:
        """Events newest first, optionally only pending or delivered ones, before an id cursor."""
        o = _OUTBOX.c
        conditions = []
        if state == "pending":
            conditions.append(o.delivered_at.is_(None))
        elif state == "delivered":
            conditions.append(o.delivered_at.is_not(None))
        rows, cursor = self._newest_first(_OUTBOX, conditions, before, limit)
        return {"items": [_event_dict(r) for r in rows], "next_cursor": cursor}

    def get(self, event_id: int) -> dict[str, Any] | None:
        """One event, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(_OUTBOX).where(_OUTBOX.c.id == event_id)).first()
        return _event_dict(row) if row is not None else None

    def deliveries(
        self, outbox_id: int | None = None, before: int | None = None, limit: int = 50
    ) -> dict[str, Any]:
        """The delivery log newest first, optionally for one event, before an id cursor."""
        d = _DELIVERIES.c
        conditions = []
        if outbox_id is not None:
            conditions.append(d.outbox_id == outbox_id)
        rows, cursor = self._newest_first(_DELIVERIES, conditions, before, limit)
        items = [
            {**r._asdict(), "ok": r.status_code is not None and 200 <= r.status_code < 300} for r in rows
        ]
        return {"items": items, "next_cursor": cursor}

    def _newest_first(
        self, table: Any, conditions: list[Any], before: int | None, limit: int
    ) -> tuple[list[Any], int | None]:
        """One page of rows by descending id, and the cursor for the next page (None at the end)."""
        if before is not None:
            conditions = [*conditions, table.c.id < before]
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(table).where(*conditions).order_by(table.c.id.desc()).limit(limit + 1)
            ).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, rows[-1].id if more else None

    def retry(self, event_id: int, now: datetime | None = None) -> dict[str, Any]:
        """Make a pending event due now; NotFound if there is none, AlreadyDelivered if it was delivered."""
        o = _OUTBOX.c
        now = now or utcnow()
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(OutboxEvent)
                .where(o.id == event_id, o.delivered_at.is_(None))
                .values(next_attempt_at=now)
            ).rowcount
        event = self.get(event_id)
        if event is None:
            raise NotFound(f"No outbox event {event_id}.")
        if changed != 1:
            raise AlreadyDelivered()
        return event


# -- the dispatcher's statements (webhooks/dispatcher.py): claiming due events, recording attempts --


def _due_statement(cutoff: datetime, lock: bool) -> Any:
    o = _OUTBOX.c
    earlier = _OUTBOX.alias("earlier")
    # Events about one comment go out in order: a later one waits while an earlier one is pending.
    blocked = exists().where(
        earlier.c.comment_id == o.comment_id, earlier.c.id < o.id, earlier.c.delivered_at.is_(None)
    )
    statement = (
        select(o.id, o.event, o.payload, o.attempts, o.next_attempt_at)
        .where(o.delivered_at.is_(None), o.next_attempt_at <= cutoff, ~blocked)
        .order_by(o.id)
        .limit(1)
    )
    return statement.with_for_update(skip_locked=True, of=_OUTBOX) if lock else statement


def claim_due(
    engine: Engine, cutoff: datetime, lease_until: Callable[[], datetime], tries: int
) -> tuple[Any, datetime] | None:
    """Claim the oldest event due at cutoff: (its row, the lease's end), or None if none is due.

    A claim moves next_attempt_at to lease_until(), guarded by its old value, so exactly one
    dispatcher wins each event; PostgreSQL also skips rows another claim has locked instead of
    waiting for them. Losing every one of `tries` races also gives None (the next round retries).
    """
    o = _OUTBOX.c
    lock = engine.dialect.name == "postgresql"
    for _ in range(tries):
        with engine.begin() as connection:
            row = connection.execute(_due_statement(cutoff, lock)).first()
            if row is None:
                return None
            until = lease_until()
            won = connection.execute(
                update(OutboxEvent)
                .where(o.id == row.id, o.delivered_at.is_(None), o.next_attempt_at == row.next_attempt_at)
                .values(next_attempt_at=until)
            ).rowcount
        if won == 1:
            return row, until
        # Another dispatcher claimed it between our read and our write: look again.
    return None


def record_attempt(
    engine: Engine,
    event_id: int,
    lease_until: datetime,
    attempt: dict[str, Any],
    attempts: int,
    retry_at: datetime | None,
) -> None:
    """Log one delivery attempt (url, attempted_at, status_code, error, duration_ms) and mark the
    event delivered (retry_at None), or schedule its next attempt at retry_at while the lease is
    still ours (an admin's retry or another dispatcher may have taken over)."""
    o = _OUTBOX.c
    with engine.begin() as connection:
        connection.execute(insert(WebhookDelivery), {"outbox_id": event_id, **attempt})
        if retry_at is None:
            connection.execute(
                update(OutboxEvent)
                .where(o.id == event_id, o.delivered_at.is_(None))
                .values(delivered_at=attempt["attempted_at"], attempts=attempts)
            )
            return
        connection.execute(
            update(OutboxEvent)
            .where(o.id == event_id, o.delivered_at.is_(None), o.next_attempt_at == lease_until)
            .values(
                attempts=attempts,
                next_attempt_at=retry_at,
                last_error=attempt["error"] or f"HTTP {attempt['status_code']}",
            )
        )
