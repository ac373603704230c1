"""The author view's SQL and moderators' actions on authors: notes, bans (with their block-list
rows), pre-moderation and suspensions, each an audited row in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update

from moderation.exceptions import AlreadyActive, NotFound
from moderation.store.repository import Store
from moderation.store.tables import ApiKey, AuthorAction, AuthorNote, BlockEntry, Comment

_C = Comment.__table__.c
_A = AuthorAction.__table__.c
_N = AuthorNote.__table__.c
_B = BlockEntry.__table__.c
_KEYS = ApiKey.__table__.c
# How many IPs, and other e-mails at those IPs, the author view lists (the most used first).
MAX_LINKED = 20


def in_force(now: datetime) -> Any:
    """The WHERE clause of actions in force at `now`: not lifted, and not a suspension that ended."""
    return and_(_A.lifted_at.is_(None), or_(_A.until.is_(None), _A.until > now))


class AuthorStore:
    """Reads everything known about one author (by e-mail) and writes moderators' actions on them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine

    # --- reading ----------------------------------------------------------------------------

    def comments(
        self, email_key: str, after: tuple[datetime, str] | None, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """The author's comments in every status (their columns), newest first, after (created_at, id)."""
        conditions = [_C.email_key == email_key]
        if after is not None:
            created, last_id = after
            conditions.append(or_(_C.created_at < created, and_(_C.created_at == created, _C.id < last_id)))
        with self.engine.connect() as connection:
            items = [
                row._asdict()
                for row in connection.execute(
                    select(Comment.__table__)
                    .where(*conditions)
                    .order_by(_C.created_at.desc(), _C.id.desc())
                    .limit(limit + 1)
                )
            ]
        return items[:limit], len(items) > limit

    def summary(self, email_key: str) -> dict[str, Any]:
        """Counts by status and by the service's decision, names used, IPs, and e-mails at those IPs."""
        with self.engine.connect() as connection:
            by_status = dict(
                connection.execute(
                    select(_C.status, func.count()).where(_C.email_key == email_key).group_by(_C.status)
                ).all()
            )
            by_decision = dict(
                connection.execute(
                    select(_C.decision, func.count()).where(_C.email_key == email_key).group_by(_C.decision)
                ).all()
            )
            names = [
                row.name
                for row in connection.execute(
                    select(_C.name, func.count().label("n"))
                    .where(_C.email_key == email_key)
                    .group_by(_C.name)
                    .order_by(func.count().desc(), _C.name)
                    .limit(MAX_LINKED)
                )
            ]
            ips = [
                {"ip": row.ip, "comments": row.n, "last_seen": row.last}
                for row in connection.execute(
                    select(_C.ip, func.count().label("n"), func.max(_C.created_at).label("last"))
                    .where(_C.email_key == email_key, _C.ip.is_not(None))
                    .group_by(_C.ip)
                    .order_by(func.count().desc(), _C.ip)
                    .limit(MAX_LINKED)
                )
            ]
            others: list[dict[str, Any]] = []
            if ips:
                their_ips = [entry["ip"] for entry in ips]
                others = [
                    {"email": row.email_key, "comments": row.n}
                    for row in connection.execute(
                        select(_C.email_key, func.count().label("n"))
                        .where(_C.ip.in_(their_ips), _C.email_key != email_key)
                        .group_by(_C.email_key)
                        .order_by(func.count().desc(), _C.email_key)
                        .limit(MAX_LINKED)
                    )
                ]
        return {
            "counts": {"by_status": by_status, "by_decision": by_decision, "total": sum(by_status.values())},
            "names": names,
            "ips": ips,
            "other_emails": others,
        }

    def notes(self, email_key: str) -> list[dict[str, Any]]:
        """Moderators' notes about the author, newest first, with who wrote each."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(_N.id, _N.text, _N.created_at, _KEYS.name)
                .join_from(AuthorNote, ApiKey, _N.key_id == _KEYS.id)
                .where(_N.email_key == email_key)
                .order_by(_N.created_at.desc(), _N.id.desc())
            ).all()
        return [{"id": r.id, "text": r.text, "at": r.created_at, "by": r.name} for r in rows]

    def actions(self, email_key: str, now: datetime) -> list[dict[str, Any]]:
        """Every action on the author, newest first: who took it and why, who lifted it and why."""
        lifter = ApiKey.__table__.alias("lifter")
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(AuthorAction.__table__, _KEYS.name.label("by"), lifter.c.name.label("lifted_by_name"))
                .join_from(AuthorAction, ApiKey, _A.key_id == _KEYS.id)
                .join(lifter, _A.lifted_by == lifter.c.id, isouter=True)
                .where(_A.email_key == email_key)
                .order_by(_A.created_at.desc(), _A.id.desc())
            ).all()
        return [
            {
                "id": r.id, "action": r.kind, "reason": r.reason, "ip": r.ip, "until": r.until,
                "rejected": r.rejected, "at": r.created_at, "by": r.by, "lifted_at": r.lifted_at,
                "lifted_by": r.lifted_by_name, "lift_reason": r.lift_reason,
                "active": r.lifted_at is None and (r.until is None or r.until > now),
            }
            for r in rows
        ]  # fmt: skip

    def held_ids(self, email_key: str) -> list[str]:
        """The author's held comments, oldest first (a ban may reject them)."""
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    select(_C.id)
                    .where(_C.email_key == email_key, _C.status == "held")
                    .order_by(_C.created_at)
                ).scalars()
            )

    # --- writing ----------------------------------------------------------------------------

    def add_note(self, email_key: str, text: str, key_id: int, now: datetime) -> int:
        with self.engine.begin() as connection:
            return connection.execute(
                insert(AuthorNote),
                {"email_key": email_key, "text": text, "key_id": key_id, "created_at": now},
            ).inserted_primary_key[0]

    def act(
        self,
        email_key: str,
        kind: str,
        reason: str,
        key_id: int,
        now: datetime,
        *,
        block: tuple[str, ...] = (),
        ip: str | None = None,
        until: datetime | None = None,
    ) -> int:
        """Record an action (and add `block` values as blocked_author entries); return its id.

        Raises AlreadyActive when one of the same kind is in force. Block-list values already on the
        list stay as they are and are not the action's to remove when it is lifted.
        """
        with self.engine.begin() as connection:
            active = connection.execute(
                select(_A.id).where(_A.email_key == email_key, _A.kind == kind, in_force(now)).limit(1)
            ).first()
            if active is not None:
                raise AlreadyActive(kind)
            added: list[int] = []
            for value in block:
                present = connection.execute(
                    select(_B.id).where(_B.kind == "blocked_author", func.lower(_B.value) == value.lower())
                ).first()
                if present is None:
                    added.append(
                        connection.execute(
                            insert(BlockEntry),
                            {"kind": "blocked_author", "value": value, "key_id": key_id, "created_at": now},
                        ).inserted_primary_key[0]
                    )
            return connection.execute(
                insert(AuthorAction),
                {"email_key": email_key, "kind": kind, "reason": reason, "ip": ip, "until": until,
                 "block_entry_ids": added, "rejected": 0, "key_id": key_id, "created_at": now},
            ).inserted_primary_key[0]  # fmt: skip

    def set_rejected(self, action_id: int, rejected: int) -> None:
        """Record how many held comments the action rejected."""
        with self.engine.begin() as connection:
            connection.execute(update(AuthorAction).where(_A.id == action_id).values(rejected=rejected))

    def lift(self, email_key: str, action_id: int, key_id: int, reason: str, now: datetime) -> str:
        """Lift an action in force (a ban also leaves the block list); return its kind.

        The conditional UPDATE makes one of two simultaneous lifts win; the other gets NotFound.
        """
        with self.engine.begin() as connection:
            row = connection.execute(
                select(_A.kind, _A.block_entry_ids).where(
                    _A.id == action_id, _A.email_key == email_key, in_force(now)
                )
            ).first()
            if row is None:
                raise NotFound(f"No action {action_id} in force for this author.")
            changed = connection.execute(
                update(AuthorAction)
                .where(_A.id == action_id, _A.lifted_at.is_(None))
                .values(lifted_at=now, lifted_by=key_id, lift_reason=reason)
            ).rowcount
            if changed != 1:
                raise NotFound(f"No action {action_id} in force for this author.")
            if row.block_entry_ids:
                connection.execute(delete(BlockEntry).where(_B.id.in_(list(row.block_entry_ids))))
        return str(row.kind)
