"""The review queue's SQL: pages and counts per view, decisions with their audit trail, training
labels, webhook events and readers' reports, each decision in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import and_, delete, exists, false, func, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError

from moderation.exceptions import AlreadyReviewed, NotFound, StatusChanged, UndoExpired
from moderation.store.repository import Store
from moderation.store.tables import ApiKey, Comment, Label, OutboxEvent, Report, Review

# Pending: held. Reported: open reader reports. Unmoderated: approved by the service, no person has
# decided yet. Approved / Rejected: by anyone. All: everything.
VIEWS = ("pending", "reported", "unmoderated", "approved", "rejected", "all")
# The views a moderator works through oldest first; the others show the newest first.
OLDEST_FIRST = {"pending", "reported"}
RECENT_REPORTS = 5
# Words of a text search, each of which must appear (more are ignored).
MAX_WORDS = 8
POST_SORTS = ("pending", "reported", "latest", "total")

_C = Comment.__table__.c
_R = Review.__table__.c
_REPORTS = Report.__table__.c
_LABELS = Label.__table__.c
_KEYS = ApiKey.__table__.c

# Builds the webhook payload inside the decision's transaction, from what only the database knows
# there (the sequence, the status before); the shape belongs to the service layer.
PayloadFactory = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class QueueFilter:
    reason: str | None = None
    post_id: str | None = None
    min_score: float | None = None
    view: str = "pending"
    # Search: words in the text and part of the author's name or e-mail (case-insensitive), the exact IP.
    q: str | None = None
    name: str | None = None
    email: str | None = None
    ip: str | None = None


def _contains(column: Any, value: str) -> Any:
    """Case-insensitive substring match; % and _ in the value are literal (autoescape)."""
    return func.lower(column).contains(value.lower(), autoescape=True)


def _open_report() -> Any:
    return exists().where(_REPORTS.comment_id == _C.id, _REPORTS.resolved_at.is_(None))


def view_condition(view: str) -> Any:
    """The WHERE clause that puts a comment in a view."""
    if view == "pending":
        return _C.status == "held"
    if view == "reported":
        return _open_report()
    if view == "unmoderated":
        return and_(_C.status == "approved", _C.reviewed_at.is_(None))
    if view in ("approved", "rejected"):
        return _C.status == view
    if view == "all":
        return true()
    raise ValueError(f"view must be one of {', '.join(VIEWS)}")


def has_reason(code: str) -> Any:
    """The WHERE clause for comments that give `code` among any of their reasons (not only the first).

    comments.reason_codes holds every code with a space on either side; a row without it (written
    by an older worker during an upgrade) counts by its first reason, reason_code.
    """
    if not code or any(ch.isspace() for ch in code):
        return false()  # no stored code has a space (they separate the codes)
    return or_(
        _C.reason_codes.contains(f" {code} ", autoescape=True),
        and_(_C.reason_codes.is_(None), _C.reason_code == code),
    )


def _filter_conditions(filters: QueueFilter, with_reason: bool = True) -> list[Any]:
    conditions = []
    if with_reason and filters.reason:
        conditions.append(has_reason(filters.reason))
    if filters.post_id:
        conditions.append(_C.post_id == filters.post_id)
    if filters.min_score is not None:
        conditions.append(or_(_C.spam_score >= filters.min_score, _C.toxicity_score >= filters.min_score))
    if filters.q:
        conditions.extend(_contains(_C.text, word) for word in filters.q.split()[:MAX_WORDS])
    if filters.name:
        conditions.append(_contains(_C.name, filters.name))
    if filters.email:
        conditions.append(_C.email_key.contains(filters.email.strip().lower(), autoescape=True))
    if filters.ip:
        conditions.append(_C.ip == filters.ip)
    return conditions


def post_counts(sort: str, limit: int, offset: int) -> Any:
    """Per post id: held and reported comments, all comments and the latest one, sorted by `sort`."""
    held = func.count().filter(_C.status == "held").label("pending")
    reported = func.count().filter(_open_report()).label("reported")
    total = func.count().label("total")
    latest = func.max(_C.created_at).label("latest")
    order = {
        "pending": (held.desc(), reported.desc(), latest.desc()),
        "reported": (reported.desc(), held.desc(), latest.desc()),
        "latest": (latest.desc(),),
        "total": (total.desc(), latest.desc()),
    }[sort]
    return (
        select(_C.post_id, held, reported, total, latest)
        .where(_C.post_id.is_not(None))
        .group_by(_C.post_id)
        .order_by(*order, _C.post_id)
        .limit(limit)
        .offset(offset)
    )


class ReviewStore:
    """Reads views of the queue and writes moderators' decisions and readers' reports."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine

    # --- reading ----------------------------------------------------------------------------

    def page(self, filters: QueueFilter, after: tuple[datetime, str] | None, limit: int) -> dict[str, Any]:
        """One page of a view after a (created_at, id) position, with counts and per-item extras."""
        conditions = [view_condition(filters.view), *_filter_conditions(filters)]
        oldest_first = filters.view in OLDEST_FIRST
        if after is not None:
            created, last_id = after
            if oldest_first:
                conditions.append(
                    or_(_C.created_at > created, and_(_C.created_at == created, _C.id > last_id))
                )
            else:
                conditions.append(
                    or_(_C.created_at < created, and_(_C.created_at == created, _C.id < last_id))
                )
        order = (
            (Comment.created_at, Comment.id)
            if oldest_first
            else (Comment.created_at.desc(), Comment.id.desc())
        )
        with self.store.sessions() as session:
            items = list(
                session.scalars(select(Comment).where(*conditions).order_by(*order).limit(limit + 1))
            )
            more = len(items) > limit
            items = items[:limit]
            by_reason, total = self._reason_counts(session, filters)
            views = self._view_counts(session, filters)
            held = total
            if filters.view != "pending":
                held = session.scalar(
                    select(func.count())
                    .select_from(Comment)
                    .where(_C.status == "held", *_filter_conditions(filters, with_reason=False))
                )
            history = self._history(session, items)
            reports = self._reports(session, [i.id for i in items])
            reviewers = self._names(session, {i.reviewed_by for i in items if i.reviewed_by is not None})
        extras = {
            i.id: {
                "history": history.get(i.id, {}),
                "reports": reports.get(i.id, {"open": 0, "by_reason": {}, "recent": []}),
                "reviewer": reviewers.get(i.reviewed_by) if i.reviewed_by is not None else None,
            }
            for i in items
        }
        return {
            "items": items, "more": more, "by_reason": by_reason, "total": total, "held": held,
            "views": views, "extras": extras,
        }  # fmt: skip

    def last_page_before(
        self, filters: QueueFilter, position: tuple[datetime, str], limit: int
    ) -> tuple[bool, tuple[datetime, str] | None]:
        """Where the last page of up to `limit` comments that come before `position` in the view starts.

        For a page asked past the end (its comments all decided): returns whether there is any such
        comment and the position to read that page after (None: from the start of the view).
        """
        created, last_id = position
        # Up to the position (the last comment of the page before) in the view's order, read backwards.
        if filters.view in OLDEST_FIRST:
            before = or_(_C.created_at < created, and_(_C.created_at == created, _C.id <= last_id))
            order = (_C.created_at.desc(), _C.id.desc())
        else:
            before = or_(_C.created_at > created, and_(_C.created_at == created, _C.id >= last_id))
            order = (_C.created_at, _C.id)
        with self.store.sessions() as session:
            rows = session.execute(
                select(_C.created_at, _C.id)
                .where(view_condition(filters.view), *_filter_conditions(filters), before)
                .order_by(*order)
                .limit(limit + 1)
            ).all()
        if not rows:
            return False, None
        if len(rows) <= limit:
            return True, None
        return True, (rows[limit].created_at, rows[limit].id)

    def updates(self, filters: QueueFilter, since: datetime, key_id: int, limit: int) -> dict[str, Any]:
        """What changed in a view since `since`, for a review page that is open: the counts now, the
        comments that entered the view since, and the comments other keys acted on since.

        "Entered" is: created, reported or acted on by someone else since `since`, and in the view
        now; the page drops the ids it already shows. Each acted-on comment comes once, with its
        current status and the latest action another key took on it.
        """
        in_view = [view_condition(filters.view), *_filter_conditions(filters)]
        reported_since = exists().where(_REPORTS.comment_id == _C.id, _REPORTS.created_at >= since)
        acted_since = exists().where(_R.comment_id == _C.id, _R.created_at >= since, _R.key_id != key_id)
        with self.store.sessions() as session:
            arrived = list(
                session.execute(
                    select(_C.id)
                    .where(*in_view, or_(_C.created_at >= since, reported_since, acted_since))
                    .order_by(_C.created_at.desc(), _C.id.desc())
                    .limit(limit)
                ).scalars()
            )
            by_reason, total = self._reason_counts(session, filters)
            views = self._view_counts(session, filters)
            actions = session.execute(
                select(_R.id, _R.comment_id, _R.action, _R.to_status, _R.reason, _R.created_at, _KEYS.name,
                       _C.status)
                .join_from(Review, ApiKey, _R.key_id == _KEYS.id)
                .join(Comment, _C.id == _R.comment_id)
                .where(_R.created_at >= since, _R.key_id != key_id)
                .order_by(_R.id.desc())
                .limit(limit)
            ).all()  # fmt: skip
        decided: dict[str, dict[str, Any]] = {}
        for row in actions:
            if row.comment_id not in decided:
                decided[row.comment_id] = {
                    "id": row.comment_id, "status": row.status, "action": row.action,
                    "to_status": row.to_status, "reason": row.reason, "by": row.name, "at": row.created_at,
                }  # fmt: skip
        return {
            "arrived": arrived, "by_reason": by_reason, "total": total, "views": views,
            "decided": list(decided.values()),
        }  # fmt: skip

    @staticmethod
    def _reason_counts(session: Any, filters: QueueFilter) -> tuple[dict[str, int], int]:
        """This view's comments per reason, any of a comment's reasons counting (so a comment held for
        two reasons is in both counts), and the view's size; both under every filter but `reason`.

        One grouped query: the distinct combinations of reasons are few, and are added up here.
        """
        by_reason: dict[str, int] = {}
        total = 0
        for codes, first, n in session.execute(
            select(_C.reason_codes, _C.reason_code, func.count())
            .where(view_condition(filters.view), *_filter_conditions(filters, with_reason=False))
            .group_by(_C.reason_codes, _C.reason_code)
        ):
            total += n
            for code in codes.split() if codes is not None else [first]:
                by_reason[code] = by_reason.get(code, 0) + n
        return by_reason, total

    @staticmethod
    def _view_counts(session: Any, filters: QueueFilter) -> dict[str, int]:
        """How many comments each view holds under the same filters, in one query."""
        row = session.execute(
            select(*(func.count().filter(view_condition(v)).label(v) for v in VIEWS if v != "all"),
                   func.count().label("all"))
            .select_from(Comment)
            .where(*_filter_conditions(filters))
        ).one()  # fmt: skip
        return {v: int(getattr(row, v) or 0) for v in VIEWS}

    @staticmethod
    def _history(session: Any, items: list[Comment]) -> dict[str, dict[str, Any]]:
        """Earlier decisions for each item's email and IP, in two grouped queries."""
        emails = {i.email_key for i in items}
        ips = {i.ip for i in items if i.ip}
        by_email: dict[str, dict[str, int]] = {}
        by_ip: dict[str, dict[str, int]] = {}
        if emails:
            for key, status, n in session.execute(
                select(_C.email_key, _C.status, func.count())
                .where(_C.email_key.in_(emails))
                .group_by(_C.email_key, _C.status)
            ):
                by_email.setdefault(key, {})[status] = n
        if ips:
            for key, status, n in session.execute(
                select(_C.ip, _C.status, func.count()).where(_C.ip.in_(ips)).group_by(_C.ip, _C.status)
            ):
                by_ip.setdefault(key, {})[status] = n
        return {
            i.id: {"email": by_email.get(i.email_key, {}), "ip": by_ip.get(i.ip, {}) if i.ip else {}}
            for i in items
        }

    @staticmethod
    def _reports(session: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Open reports per comment: how many, by reason, and the latest few with their text."""
        found: dict[str, dict[str, Any]] = {}
        if not ids:
            return found
        open_reports = and_(_REPORTS.comment_id.in_(ids), _REPORTS.resolved_at.is_(None))
        for comment_id, reason, n in session.execute(
            select(_REPORTS.comment_id, _REPORTS.reason, func.count())
            .where(open_reports)
            .group_by(_REPORTS.comment_id, _REPORTS.reason)
        ):
            entry = found.setdefault(comment_id, {"open": 0, "by_reason": {}, "recent": []})
            entry["open"] += n
            entry["by_reason"][reason] = n
        rows = session.execute(
            select(_REPORTS.comment_id, _REPORTS.reason, _REPORTS.text, _REPORTS.created_at)
            .where(open_reports)
            .order_by(_REPORTS.id.desc())
            .limit(RECENT_REPORTS * len(ids))
        )
        for comment_id, reason, text, created_at in rows:
            recent = found[comment_id]["recent"]
            if len(recent) < RECENT_REPORTS:
                recent.append({"reason": reason, "text": text, "created_at": created_at})
        return found

    @staticmethod
    def _names(session: Any, key_ids: set[int]) -> dict[int, str]:
        if not key_ids:
            return {}
        return dict(session.execute(select(_KEYS.id, _KEYS.name).where(_KEYS.id.in_(key_ids))).all())

    def audit(self, comment_id: str) -> list[dict[str, Any]]:
        """Every review action on a comment, oldest first, with who took it."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(_R.action, _R.label, _R.reason, _R.note, _R.created_at, _R.from_status, _R.to_status,
                       _KEYS.name, _KEYS.role)
                .join_from(Review, ApiKey, _R.key_id == _KEYS.id)
                .where(_R.comment_id == comment_id)
                .order_by(_R.id)
            ).all()  # fmt: skip
        return [
            {"action": r.action, "label": r.label, "reason": r.reason, "note": r.note, "at": r.created_at,
             "from_status": r.from_status, "to_status": r.to_status, "by": r.name, "role": r.role}
            for r in rows
        ]  # fmt: skip

    def posts(self, sort: str, limit: int, offset: int) -> list[dict[str, Any]]:
        """Posts with comments, each with its pending (held), reported and total counts."""
        if sort not in POST_SORTS:
            raise ValueError(f"sort must be one of {', '.join(POST_SORTS)}")
        with self.engine.connect() as connection:
            rows = connection.execute(post_counts(sort, limit, offset)).all()
        return [
            {"post_id": r.post_id, "pending": r.pending or 0, "reported": r.reported or 0, "total": r.total,
             "latest": r.latest}
            for r in rows
        ]  # fmt: skip

    # --- deciding ---------------------------------------------------------------------------

    def decide(
        self,
        comment_id: str,
        key_id: int,
        *,
        action: str,
        status: str,
        label: str,
        reason: str | None,
        note: str | None,
        expected_status: str | None,
        training: bool,
        payload: PayloadFactory,
        now: datetime,
    ) -> dict[str, Any]:
        """Apply a decision if the comment is as expected; raise NotFound, AlreadyReviewed or StatusChanged.

        Without expected_status only a comment no person has decided yet qualifies, so of two
        simultaneous first reviews exactly one wins; with it, the comment must still have that
        status (the one the moderator saw). The conditional UPDATE is the arbiter either way.
        """
        with self.engine.begin() as connection:
            before = connection.execute(
                select(_C.status, _C.text, _C.name, _C.client_comment_id).where(_C.id == comment_id)
            ).first()
            if before is None:
                raise NotFound(f"No comment {comment_id!r}.")
            conditions = [_C.id == comment_id]
            if expected_status is None:
                conditions += [_C.reviewed_at.is_(None), _C.status == before.status]
                previous = before.status
            else:
                conditions.append(_C.status == expected_status)
                previous = expected_status
            changed = connection.execute(
                update(Comment)
                .where(*conditions)
                .values(status=status, reviewed_at=now, reviewed_by=key_id, review_label=label,
                        review_reason=reason, review_note=note)
            ).rowcount  # fmt: skip
            if changed != 1:
                raise AlreadyReviewed() if expected_status is None else StatusChanged(expected_status)
            review_id = connection.execute(
                insert(Review),
                {"comment_id": comment_id, "key_id": key_id, "action": action, "label": label, "note": note,
                 "created_at": now, "from_status": previous, "to_status": status, "reason": reason},
            ).inserted_primary_key[0]  # fmt: skip
            if training:
                connection.execute(
                    insert(Label),
                    {"comment_id": comment_id, "source": "moderator", "label": label, "text": before.text,
                     "name": before.name, "key_id": key_id, "created_at": now, "trust": "trusted"},
                )  # fmt: skip
            resolved = connection.execute(
                update(Report)
                .where(_REPORTS.comment_id == comment_id, _REPORTS.resolved_at.is_(None))
                .values(resolved_at=now, resolved_by_review=review_id)
            ).rowcount
            state = {"status": status, "previous_status": previous, "label": label, "reason": reason}
            self._enqueue(connection, comment_id, before.client_comment_id, state, payload, now)
        return {"previous_status": previous, "reports_resolved": resolved}

    def undo(
        self, comment_id: str, key_id: int, window: timedelta, payload: PayloadFactory, now: datetime
    ) -> dict[str, Any]:
        """Take back this key's latest decision on the comment if it is recent and still in force.

        The comment returns to what it was before: its earlier status and, if a person had decided
        before, that decision (found by replaying the audit trail, where an undo cancels the action
        before it). Reports the decision resolved are open again. Raises UndoExpired otherwise.
        """
        with self.engine.begin() as connection:
            rows = connection.execute(
                select(_R.id, _R.key_id, _R.action, _R.label, _R.reason, _R.note, _R.created_at,
                       _R.from_status, _R.to_status)
                .where(_R.comment_id == comment_id)
                .order_by(_R.id)
            ).all()  # fmt: skip
            in_force: list[Any] = []
            for row in rows:
                if row.action == "undo":
                    if in_force:
                        in_force.pop()
                else:
                    in_force.append(row)
            if not in_force or in_force[-1].key_id != key_id or in_force[-1].created_at < now - window:
                raise UndoExpired(int(window.total_seconds()))
            undone = in_force[-1]
            earlier = in_force[-2] if len(in_force) > 1 else None
            # Reviews from before statuses were recorded could only have been of held comments.
            restored = undone.from_status or "held"
            changed = connection.execute(
                update(Comment)
                .where(_C.id == comment_id, _C.reviewed_by == key_id, _C.reviewed_at == undone.created_at)
                .values(
                    status=restored,
                    reviewed_at=earlier.created_at if earlier else None,
                    reviewed_by=earlier.key_id if earlier else None,
                    review_label=earlier.label if earlier else None,
                    review_reason=earlier.reason if earlier else None,
                    review_note=earlier.note if earlier else None,
                )
            ).rowcount
            if changed != 1:
                raise UndoExpired(int(window.total_seconds()))
            current = connection.execute(
                select(_C.status, _C.client_comment_id).where(_C.id == comment_id)
            ).one()
            connection.execute(
                insert(Review),
                {"comment_id": comment_id, "key_id": key_id, "action": "undo", "label": "other", "note": None,
                 "created_at": now, "from_status": undone.to_status or current.status, "to_status": restored,
                 "reason": None},
            )  # fmt: skip
            # The label the undone decision produced is no longer anyone's verdict.
            connection.execute(
                delete(Label).where(
                    _LABELS.comment_id == comment_id,
                    _LABELS.source == "moderator",
                    _LABELS.key_id == key_id,
                    _LABELS.created_at == undone.created_at,
                )
            )
            connection.execute(
                update(Report)
                .where(_REPORTS.resolved_by_review == undone.id)
                .values(resolved_at=None, resolved_by_review=None)
            )
            state = {
                "status": restored,
                "previous_status": undone.to_status,
                "label": earlier.label if earlier else None,
                "reason": earlier.reason if earlier else None,
            }
            self._enqueue(connection, comment_id, current.client_comment_id, state, payload, now)
        return state

    @staticmethod
    def _enqueue(
        connection: Any,
        comment_id: str,
        client_comment_id: str | None,
        state: dict[str, Any],
        payload: PayloadFactory,
        now: datetime,
    ) -> None:
        # The number of review actions on the comment so far, this one included: it only grows (reviews
        # go only with their comment), so a receiver can drop any event older than one it applied.
        sequence = connection.execute(select(func.count()).where(_R.comment_id == comment_id)).scalar_one()
        body = payload(
            {**state, "sequence": sequence, "comment_id": comment_id, "client_comment_id": client_comment_id}
        )
        connection.execute(
            insert(OutboxEvent),
            {"comment_id": comment_id, "event": body["event"], "payload": body, "created_at": now,
             "attempts": 0, "next_attempt_at": now},
        )  # fmt: skip

    # --- reports ----------------------------------------------------------------------------

    def add_report(
        self, comment_id: str, key_id: int, reporter: str, reason: str, text: str | None, now: datetime
    ) -> tuple[dict[str, Any], bool] | None:
        """Store a reader's report on a comment this key sent; None if it has no such comment.

        One report per reader per comment (a unique constraint, so concurrent repeats store one
        row): a repeat returns the stored report and False.
        """
        with self.engine.connect() as connection:
            owner = connection.execute(select(_C.client_key_id).where(_C.id == comment_id)).first()
        if owner is None or owner.client_key_id != key_id:
            return None
        created = True
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    insert(Report),
                    {"comment_id": comment_id, "client_key_id": key_id, "reporter": reporter,
                     "reason": reason, "text": text, "created_at": now},
                )  # fmt: skip
        except IntegrityError:
            created = False
        with self.engine.connect() as connection:
            row = connection.execute(
                select(Report.__table__).where(
                    _REPORTS.comment_id == comment_id, _REPORTS.reporter == reporter
                )
            ).one()
            open_reports = connection.execute(
                select(func.count()).where(_REPORTS.comment_id == comment_id, _REPORTS.resolved_at.is_(None))
            ).scalar_one()
        return {**row._asdict(), "open_reports": open_reports}, created
