"""The queries the service makes: keys, comments, author history and labels."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, Iterator

from sqlalchemy import Engine, bindparam, exists, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from moderation.pipeline.domain import AuthorHistory
from moderation.store.database import checkpoint
from moderation.store.tables import Analysis, ApiKey, Comment, Label, UTCDateTime

ROLES = ("client", "moderator", "admin")
KEY_PREFIX = "mk"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def new_comment_id(now: datetime) -> str:
    """A 28-hex-digit id that sorts by creation time."""
    return f"{int(now.timestamp() * 1000):012x}{secrets.token_hex(8)}"


def hash_secret(secret: str) -> str:
    # Keys are 256-bit random strings, so one SHA-256 suffices; a slow hash would only cost latency.
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: which key, which role."""

    key_id: int
    name: str
    role: str

    def has(self, role: str) -> bool:
        return self.role == "admin" or self.role == role


def _history_statement() -> Any:
    c = Comment.__table__.c
    by_email = c.email_key == bindparam("email_key")

    def count(status: str) -> Any:
        return select(func.count()).where(by_email, c.status == status).scalar_subquery()

    return select(
        count("approved").label("approved"),
        count("rejected").label("rejected"),
        select(func.max(c.created_at)).where(by_email).scalar_subquery().label("last_email"),
        # With no IP the comparison is NULL, matches nothing and the maximum is NULL.
        select(func.max(c.created_at)).where(c.ip == bindparam("ip")).scalar_subquery().label("last_ip"),
        exists()
        .where(
            by_email,
            c.fingerprint == bindparam("fingerprint"),
            c.created_at >= bindparam("since", type_=UTCDateTime()),
        )
        .label("duplicate"),
    )


# Built once: constructing and compiling them per request cost more than running them.
_HISTORY = _history_statement()
_KEY_BY_PREFIX = select(
    ApiKey.__table__.c.id,
    ApiKey.__table__.c.name,
    ApiKey.__table__.c.role,
    ApiKey.__table__.c.key_hash,
    ApiKey.__table__.c.revoked_at,
).where(ApiKey.__table__.c.prefix == bindparam("prefix"))
_INSERT_COMMENT = insert(Comment)
COMMENT_COLUMNS = tuple(column.key for column in Comment.__table__.columns)


class CommentRow(SimpleNamespace):
    """A just-stored comment's columns as attributes, read like a Comment by the API and metrics."""


class Store:
    """All reads and writes of the service, one short transaction each."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    def ping(self) -> None:
        """Raise when the database cannot answer a trivial query."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    # --- keys -----------------------------------------------------------------------------

    def create_key(self, role: str, name: str) -> tuple[ApiKey, str]:
        """Create a key and return it with its plaintext, which is never stored."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        prefix = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        key = ApiKey(prefix=prefix, key_hash=hash_secret(secret), name=name, role=role, created_at=utcnow())
        with self.sessions.begin() as session:
            session.add(key)
        return key, f"{KEY_PREFIX}_{prefix}_{secret}"

    def authenticate(self, presented: str) -> Principal | None:
        """Return the principal for a presented key, or None when it is unknown or revoked."""
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != KEY_PREFIX:
            return None
        _, prefix, secret = parts
        with self.engine.connect() as connection:
            key = connection.execute(_KEY_BY_PREFIX, {"prefix": prefix}).first()
        # Compare even when the prefix is unknown, so timing does not tell which prefixes exist.
        expected = key.key_hash if key else "0" * 64
        if not hmac.compare_digest(expected, hash_secret(secret)) or key is None:
            return None
        if key.revoked_at is not None:
            return None
        return Principal(key.id, key.name, key.role)

    def principal(self, key_id: int) -> Principal | None:
        """Return the principal of an active key by id (for sessions that remember only the id)."""
        with self.sessions() as session:
            key = session.get(ApiKey, key_id)
        if key is None or key.revoked_at is not None:
            return None
        return Principal(key.id, key.name, key.role)

    def revoke_key(self, prefix: str) -> bool:
        with self.sessions.begin() as session:
            key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
            if key is None or key.revoked_at is not None:
                return False
            key.revoked_at = utcnow()
            return True

    def list_keys(self) -> list[ApiKey]:
        with self.sessions() as session:
            return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))

    # --- comments -------------------------------------------------------------------------

    def find_replay(self, key_id: int, client_comment_id: str) -> Comment | None:
        with self.sessions() as session:
            return session.scalar(
                select(Comment).where(
                    Comment.client_key_id == key_id, Comment.client_comment_id == client_comment_id
                )
            )

    def seen_under_another_key(
        self, key_id: int, email_key: str, client_comment_id: str, since: datetime
    ) -> bool:
        """Tell whether another client key stored this author's comment with this id since `since`.

        By author first, so the (email_key, created_at) index finds the few candidate rows.
        """
        with self.sessions() as session:
            found = session.scalar(
                select(Comment.id)
                .where(
                    Comment.email_key == email_key,
                    Comment.created_at >= since,
                    Comment.client_comment_id == client_comment_id,
                    Comment.client_key_id != key_id,
                )
                .limit(1)
            )
        return found is not None

    def author_history(
        self, email: str, ip: str | None, fingerprint: str, now: datetime, duplicate_seconds: int
    ) -> AuthorHistory:
        """Summarize what this author (by email, and IP for flooding) did before now, in one query."""
        with self.engine.connect() as connection:
            row = connection.execute(
                _HISTORY,
                {
                    "email_key": email.lower(),
                    "ip": ip,
                    "fingerprint": fingerprint,
                    "since": now - timedelta(seconds=duplicate_seconds),
                },
            ).one()
        lasts = [_as_utc(t) for t in (row.last_email, row.last_ip) if t is not None]
        last = max(lasts, default=None)
        return AuthorHistory(
            approved=row.approved or 0,
            rejected=row.rejected or 0,
            seconds_since_last=(now - last).total_seconds() if last else None,
            duplicate=bool(row.duplicate),
        )

    def insert_comment(self, comment: Comment) -> tuple[Comment, bool]:
        """Insert an ORM comment; on a replayed client id return the stored one instead, and False."""
        stored, created = self.insert_values({key: getattr(comment, key) for key in COMMENT_COLUMNS})
        if created:
            comment.spam_score, comment.toxicity_score = stored.spam_score, stored.toxicity_score
            return comment, True
        return stored, False

    def insert_values(self, values: dict[str, Any]) -> tuple[CommentRow | Comment, bool]:
        """Insert a comment given as column values; on a replayed client id return the stored one.

        The unique (client key, client_comment_id) constraint decides, so concurrent replays on
        any number of workers or instances store one row. A new comment comes back as a plain
        CommentRow: building an ORM object per request cost more than the insert's own Python.
        """
        # Scores are also kept as plain columns so the queue can filter and sort on them.
        values["spam_score"] = float(values["scores"].get("spam", 0.0))
        values["toxicity_score"] = float(values["scores"].get("toxicity", 0.0))
        try:
            with self.engine.begin() as connection:
                connection.execute(_INSERT_COMMENT, values)
            return CommentRow(**values), True
        except IntegrityError:
            if values["client_comment_id"] is None:
                raise
            stored = self.find_replay(values["client_key_id"], values["client_comment_id"])
            if stored is None:
                raise
            return stored, False

    def get_comment(self, comment_id: str) -> Comment | None:
        with self.sessions() as session:
            return session.get(Comment, comment_id)

    def add_label(self, comment: Comment, label: str, source: str, key_id: int) -> Label:
        row = Label(
            comment_id=comment.id,
            source=source,
            label=label,
            text=comment.text,
            name=comment.name,
            key_id=key_id,
            created_at=utcnow(),
        )
        with self.sessions.begin() as session:
            session.add(row)
        return row

    def label_latest_match(
        self, key_id: int, email_key: str, fingerprint: str, text: str, name: str, label: str, source: str
    ) -> Label:
        """Label this client's latest comment by this author with this text, or store the text alone."""
        with self.sessions.begin() as session:
            comment = session.scalar(
                select(Comment)
                .where(
                    Comment.client_key_id == key_id,
                    Comment.email_key == email_key,
                    Comment.fingerprint == fingerprint,
                )
                .order_by(Comment.created_at.desc(), Comment.id.desc())
                .limit(1)
            )
            row = Label(
                comment_id=comment.id if comment else None,
                source=source,
                label=label,
                text=comment.text if comment else text,
                name=comment.name if comment else name,
                key_id=key_id,
                created_at=utcnow(),
            )
            session.add(row)
        return row

    def add_text_label(self, key_id: int, text: str, label: str, source: str) -> Label:
        """Store a client's verdict on a text it never sent for moderation (no comment to link)."""
        row = Label(
            comment_id=None, source=source, label=label, text=text, name=None, key_id=key_id,
            created_at=utcnow(),
        )  # fmt: skip
        with self.sessions.begin() as session:
            session.add(row)
        return row

    def add_analysis(self, values: dict[str, Any]) -> None:
        """Keep one scored text (comments:analyze without doNotStore)."""
        with self.engine.begin() as connection:
            connection.execute(insert(Analysis), {**values, "created_at": utcnow()})

    def training_labels(self) -> Iterator[dict[str, Any]]:
        """Yield the latest verdict per comment (and every label without a comment)."""
        with self.sessions() as session:
            rows = session.scalars(select(Label).order_by(Label.created_at, Label.id)).all()
        latest: dict[str, Label] = {}
        for row in rows:
            latest[row.comment_id or f"label-{row.id}"] = row
        for row in latest.values():
            yield {"text": row.text, "label": row.label, "name": row.name or "", "source": row.source}

    def count_comments(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(Comment)) or 0


def purge(store: Store, older_than: datetime, keep_labels: bool = False) -> dict[str, int]:
    """Delete comments, their reviews, labels and webhook events created before older_than.

    With keep_labels, labels survive as anonymous training examples: no comment link, no name.
    """
    from sqlalchemy import delete, update

    from moderation.store.tables import OutboxEvent, Review, WebhookDelivery

    c = Comment.__table__.c
    old_ids = select(c.id).where(c.created_at < older_than).scalar_subquery()
    counts: dict[str, int] = {}
    with store.engine.begin() as connection:
        labels = Label.__table__.c
        if keep_labels:
            counts["labels_anonymized"] = connection.execute(
                update(Label).where(labels.comment_id.in_(old_ids)).values(comment_id=None, name=None)
            ).rowcount
        else:
            counts["labels"] = connection.execute(
                delete(Label).where(labels.comment_id.in_(old_ids))
            ).rowcount
        counts["reviews"] = connection.execute(
            delete(Review).where(Review.__table__.c.comment_id.in_(old_ids))
        ).rowcount
        outbox = OutboxEvent.__table__.c
        old_events = select(outbox.id).where(outbox.created_at < older_than).scalar_subquery()
        counts["webhook_deliveries"] = connection.execute(
            delete(WebhookDelivery).where(WebhookDelivery.__table__.c.outbox_id.in_(old_events))
        ).rowcount
        counts["outbox"] = connection.execute(
            delete(OutboxEvent).where(outbox.created_at < older_than)
        ).rowcount
        counts["comments"] = connection.execute(delete(Comment).where(c.created_at < older_than)).rowcount
        counts["analyses"] = connection.execute(
            delete(Analysis).where(Analysis.__table__.c.created_at < older_than)
        ).rowcount
    checkpoint(store.engine)
    return counts
