"""Table definitions (SQLAlchemy 2 declarative); Alembic migrations create them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    # Keys of one site share author history (trust, flood, duplicates); by default each key is its own.
    site: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        UniqueConstraint("client_key_id", "client_comment_id", name="uq_comments_client_comment"),
        Index("ix_comments_email_created", "email_key", "created_at"),
        Index("ix_comments_email_status", "email_key", "status"),
        Index("ix_comments_ip_created", "ip", "created_at"),
        Index("ix_comments_email_fingerprint", "email_key", "fingerprint"),
        Index("ix_comments_status_created", "status", "created_at", "id"),
        Index("ix_comments_post_status", "post_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    client_comment_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254))
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    post_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The post as the CMS described it when the comment came, for the moderators' card (not personal).
    post_title: Mapped[str | None] = mapped_column(String(300), nullable=True)
    post_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    referrer: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    # The CMS's id of the comment this one answers: a client_comment_id of the same client key.
    parent_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    honeypot: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    elapsed_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str] = mapped_column(String(32))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # The codes of every reason, each with a space before and after (" too_fast links "), for the
    # queue's reason filter and counts; written with the comment (Store.add_comment).
    reason_codes: Mapped[str | None] = mapped_column(Text, nullable=True)
    signals: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    scores: Mapped[dict[str, float]] = mapped_column(JSON)
    spam_score: Mapped[float] = mapped_column(Float, server_default="0")
    toxicity_score: Mapped[float] = mapped_column(Float, server_default="0")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    model_version: Mapped[str] = mapped_column(String(64))
    # ISO 639-1 code identified in the text (or declared by the CMS); NULL when undetermined.
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # What a shadow candidate (`moderation shadow start`) would have decided, never acted upon:
    # {version, decision, reason_code, reasons, scores, ms}; NULL when no shadow ran.
    shadow: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    review_label: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Why a moderator rejected it (REJECT_REASONS in services.review) and their note, as last decided.
    review_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)


class Review(Base):
    """The audit trail: one row for every moderator action."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comment_id: Mapped[str] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), index=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    action: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # What the action changed: the status before and after, and the rejection reason it gave.
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


class Report(Base):
    """A reader's report of a comment, sent by the CMS that owns it; one per reader per comment."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("comment_id", "reporter", name="uq_reports_comment_reporter"),
        Index("ix_reports_open", "comment_id", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comment_id: Mapped[str] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    client_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    reporter: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(32))
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set by the moderator decision that resolved it; an undo of that decision opens it again.
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_by_review: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Label(Base):
    """A verdict on a text that training can learn from: a moderator review, CMS feedback or a report.

    trust says whether training may believe it: `trusted` (a moderator's review, or a client's
    feedback on its own stored comment), `unverified` (a report on a text no stored comment of the
    client matches), `confirmed` or `discarded` (an unverified report a moderator judged; who and
    when in reviewed_by / reviewed_at).
    """

    __tablename__ = "labels"
    __table_args__ = (
        Index("ix_labels_trust_id", "trust", "id"),
        Index("ix_labels_key_created", "key_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comment_id: Mapped[str | None] = mapped_column(
        ForeignKey("comments.id", ondelete="SET NULL"), nullable=True, index=True
    )
    source: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    trust: Mapped[str] = mapped_column(String(16), server_default="trusted", default="trusted")
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Analysis(Base):
    """A text a client had scored without moderating it (Perspective's comments:analyze), kept unless
    the client sent doNotStore. `purge` and `erase` reach it like a comment."""

    __tablename__ = "analyses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    source: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    scores: Mapped[dict[str, float]] = mapped_column(JSON)
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    community_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    model_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class BlockEntry(Base):
    """A blocked or watched term, or a blocked author, managed by admins over the API."""

    __tablename__ = "block_entries"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_block_entries_kind_value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(254))
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxEvent(Base):
    """An event for the CMS, written in the same transaction as the change it reports."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "delivered_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comment_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class WebhookDelivery(Base):
    """One attempt to deliver an outbox event: the delivery log admins read."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_outbox", "outbox_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    url: Mapped[str] = mapped_column(String(2048))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_ms: Mapped[float] = mapped_column(Float)


class WebSession(Base):
    """A moderator's sign-in to the review page; the cookie carries only the random token.

    id is the SHA-256 of that token, so reading the table gives no usable cookie. Sign-out and
    revocation set ended_at; a row that ended or passed expires_at signs nobody in.
    """

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_expires", "expires_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AuthorNote(Base):
    """A moderator's note about an author (by email), shown in the author view; erased with the email."""

    __tablename__ = "author_notes"
    __table_args__ = (Index("ix_author_notes_email", "email_key", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email_key: Mapped[str] = mapped_column(String(254))
    text: Mapped[str] = mapped_column(Text)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuthorAction(Base):
    """A moderator's action on an author (ban, premoderate, suspend) and, once lifted, who lifted it.

    The row is the audit record: who, when and why it was taken, and who, when and why it was lifted.
    It is in force while lifted_at is NULL and (for a suspension) until has not passed. A ban's
    block-list rows are named in block_entry_ids, so lifting it removes only what it added.
    """

    __tablename__ = "author_actions"
    __table_args__ = (Index("ix_author_actions_email", "email_key", "lifted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email_key: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    block_entry_ids: Mapped[list[int]] = mapped_column(JSON)
    rejected: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lifted_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    lift_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
