"""The queries the service makes: keys, comments, author history and labels."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Iterator, Mapping, Sequence

from sqlalchemy import Engine, bindparam, exists, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from moderation.pipeline.domain import AuthorHistory, Decision, Signal, Submission
from moderation.store.database import checkpoint
from moderation.store.tables import Analysis, ApiKey, AuthorAction, Comment, Label, UTCDateTime

ROLES = ("client", "moderator", "admin")
# Label trust (labels.trust): see tables.Label.
TRUSTED, UNVERIFIED, CONFIRMED, DISCARDED = "trusted", "unverified", "confirmed", "discarded"
LABEL_TRUST = (TRUSTED, UNVERIFIED, CONFIRMED, DISCARDED)
KEY_PREFIX = "mk"
# Authenticated keys kept in memory per process at most (see Store.key_cache_seconds).
_KEY_CACHE_SIZE = 1024


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
    # The site whose author history this key's comments are judged by (api_keys.site).
    site: str = ""

    def has(self, role: str) -> bool:
        return self.role == "admin" or self.role == role


def _history_statement() -> Any:
    c = Comment.__table__.c
    k = ApiKey.__table__.c
    a = AuthorAction.__table__.c
    # History is per site: only comments sent with a key of the caller's site count, so one clean
    # comment through site A does not make its author trusted on site B (nor flood B's window).
    same_site = c.client_key_id.in_(select(k.id).where(k.site == bindparam("site")).scalar_subquery())
    by_email = (c.email_key == bindparam("email_key")) & same_site

    def count(status: str) -> Any:
        return select(func.count()).where(by_email, c.status == status).scalar_subquery()

    return select(
        count("approved").label("approved"),
        count("rejected").label("rejected"),
        select(func.max(c.created_at)).where(by_email).scalar_subquery().label("last_email"),
        # With no IP the comparison is NULL, matches nothing and the maximum is NULL.
        select(func.max(c.created_at))
        .where(c.ip == bindparam("ip"), same_site)
        .scalar_subquery()
        .label("last_ip"),
        exists()
        .where(
            by_email,
            c.fingerprint == bindparam("fingerprint"),
            c.created_at >= bindparam("since", type_=UTCDateTime()),
        )
        .label("duplicate"),
        # Moderators' actions on the author hold everywhere (like the block list), not per site.
        exists()
        .where(a.email_key == bindparam("email_key"), a.kind == "premoderate", a.lifted_at.is_(None))
        .label("premoderated"),
        select(func.max(a.until))
        .where(
            a.email_key == bindparam("email_key"),
            a.kind == "suspend",
            a.lifted_at.is_(None),
            a.until > bindparam("now", type_=UTCDateTime()),
        )
        .scalar_subquery()
        .label("suspended_until"),
    )


# Built once: constructing and compiling them per request cost more than running them.
_HISTORY = _history_statement()
_KEY_BY_PREFIX = select(
    ApiKey.__table__.c.id,
    ApiKey.__table__.c.name,
    ApiKey.__table__.c.role,
    ApiKey.__table__.c.site,
    ApiKey.__table__.c.key_hash,
    ApiKey.__table__.c.revoked_at,
).where(ApiKey.__table__.c.prefix == bindparam("prefix"))
_INSERT_COMMENT = insert(Comment)
COMMENT_COLUMNS = tuple(column.key for column in Comment.__table__.columns)


# A reason code as comments.reason_codes holds it: no whitespace (it separates the codes there).
_PLAIN_CODE = re.compile(r"\S+")


def reason_codes(reasons: Any) -> str:
    """The codes of a comment's reasons as stored in comments.reason_codes: " too_fast links "."""
    codes = [
        r["code"] for r in (reasons if isinstance(reasons, list) else [])
        if isinstance(r, dict) and isinstance(r.get("code"), str) and _PLAIN_CODE.fullmatch(r["code"])
    ]  # fmt: skip
    return " " + " ".join(dict.fromkeys(codes)) + " "


@dataclass(frozen=True)
class NewComment:
    """A decided submission as the service hands it over; the store makes it a row (Store.add_comment)."""

    key_id: int
    client_comment_id: str | None
    submission: Submission
    decision: Decision
    signals: Sequence[Signal]
    scores: Mapping[str, float]
    evidence: dict[str, Any]
    model_version: str
    language: str | None
    shadow: dict[str, Any] | None
    received_at: datetime


class Store:
    """All reads and writes of the service, one short transaction each."""

    def __init__(self, engine: Engine, key_cache_seconds: float = 0.0) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        # Keys that authenticated, by digest of the presented key: (principal, checked at). A key
        # revoked or moved to another site by another process is seen within key_cache_seconds;
        # by this process (revoke_key, set_site) at once. 0 looks every key up every time.
        self.key_cache_seconds = key_cache_seconds
        self._keys: dict[bytes, tuple[Principal, float]] = {}
        self.clock = time.monotonic

    def ping(self) -> None:
        """Raise when the database cannot answer a trivial query."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    # --- keys -----------------------------------------------------------------------------

    def create_key(self, role: str, name: str, site: str | None = None) -> tuple[ApiKey, str]:
        """Create a key and return it with its plaintext, which is never stored.

        Without a site the key is a site of its own (`key-PREFIX`): its authors' history is shared
        with no other key until the operator names the same site for several keys.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        site = (site or "").strip()
        if len(site) > 100:
            raise ValueError("a site name has at most 100 characters")
        prefix = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        key = ApiKey(
            prefix=prefix, key_hash=hash_secret(secret), name=name, role=role, site=site or f"key-{prefix}",
            created_at=utcnow(),
        )  # fmt: skip
        with self.sessions.begin() as session:
            session.add(key)
        return key, f"{KEY_PREFIX}_{prefix}_{secret}"

    def authenticate(self, presented: str) -> Principal | None:
        """Return the principal for a presented key, or None when it is unknown or revoked."""
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != KEY_PREFIX:
            return None
        _, prefix, secret = parts
        digest = hashlib.sha256(presented.encode()).digest()
        cached = self._keys.get(digest)
        if cached is not None and self.clock() - cached[1] < self.key_cache_seconds:
            return cached[0]
        with self.engine.connect() as connection:
            key = connection.execute(_KEY_BY_PREFIX, {"prefix": prefix}).first()
        # Compare even when the prefix is unknown, so timing does not tell which prefixes exist.
        expected = key.key_hash if key else "0" * 64
        if not hmac.compare_digest(expected, hash_secret(secret)) or key is None:
            return None
        if key.revoked_at is not None:
            return None
        principal = Principal(key.id, key.name, key.role, key.site)
        if self.key_cache_seconds > 0:
            if len(self._keys) >= _KEY_CACHE_SIZE:
                self._keys.clear()
            self._keys[digest] = (principal, self.clock())
        return principal

    def principal(self, key_id: int) -> Principal | None:
        """Return the principal of an active key by id (for sessions that remember only the id)."""
        with self.sessions() as session:
            key = session.get(ApiKey, key_id)
        if key is None or key.revoked_at is not None:
            return None
        return Principal(key.id, key.name, key.role, key.site)

    def revoke_key(self, prefix: str) -> bool:
        with self.sessions.begin() as session:
            key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
            if key is None or key.revoked_at is not None:
                return False
            key.revoked_at = utcnow()
        self._keys.clear()
        return True

    def set_site(self, prefix: str, site: str) -> bool:
        """Move a key to another site (to link keys created before sites, or separate them again)."""
        site = site.strip()
        if not site or len(site) > 100:
            raise ValueError("a site name has 1 to 100 characters")
        with self.sessions.begin() as session:
            key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
            if key is None:
                return False
            key.site = site
        self._keys.clear()
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
        self, email: str, ip: str | None, fingerprint: str, now: datetime, duplicate_seconds: int, site: str
    ) -> AuthorHistory:
        """Summarize what this author (by email, and IP for flooding) did on this site before now.

        One query; only comments sent with keys of `site` count (see _history_statement).
        """
        with self.engine.connect() as connection:
            row = connection.execute(
                _HISTORY,
                {
                    "site": site,
                    "email_key": email.lower(),
                    "ip": ip,
                    "fingerprint": fingerprint,
                    "since": now - timedelta(seconds=duplicate_seconds),
                    "now": now,
                },
            ).one()
        lasts = [_as_utc(t) for t in (row.last_email, row.last_ip) if t is not None]
        last = max(lasts, default=None)
        return AuthorHistory(
            approved=row.approved or 0,
            rejected=row.rejected or 0,
            seconds_since_last=(now - last).total_seconds() if last else None,
            duplicate=bool(row.duplicate),
            premoderated=bool(row.premoderated),
            suspended_until=_as_utc(row.suspended_until).isoformat() if row.suspended_until else None,
        )

    def insert_comment(self, comment: Comment) -> tuple[Comment, bool]:
        """Insert an ORM comment; on a replayed client id return the stored one instead, and False."""
        stored, created = self.insert_values({key: getattr(comment, key) for key in COMMENT_COLUMNS})
        if created:
            comment.spam_score, comment.toxicity_score = stored.spam_score, stored.toxicity_score
            return comment, True
        return stored, False

    def add_comment(self, new: NewComment) -> tuple[Comment, bool]:
        """Store a decided submission; on a replayed client id return the stored comment, and False.

        The store owns the row: its id (time-ordered), the normalized e-mail key, the fingerprint,
        the decision's columns and the scores as stored (rounded to four places).
        """
        sub, decision = new.submission, new.decision
        values: dict[str, Any] = dict.fromkeys(COMMENT_COLUMNS)
        values.update(
            id=new_comment_id(new.received_at),
            client_key_id=new.key_id,
            client_comment_id=new.client_comment_id,
            name=sub.name,
            email=sub.email,
            email_key=sub.email.lower(),
            text=sub.text,
            url=sub.url,
            post_id=sub.post_id,
            post_title=sub.post_title,
            post_url=sub.post_url,
            ip=sub.ip,
            user_agent=sub.user_agent,
            referrer=sub.referrer,
            parent_id=sub.parent_id,
            honeypot=sub.honeypot,
            elapsed_ms=sub.elapsed_ms,
            fingerprint=sub.text_fingerprint,
            decision=decision.outcome.value,
            status=decision.outcome.status,
            reason_code=decision.reason.code,
            reasons=[asdict(r) for r in decision.reasons],
            signals=[{"code": s.code, "severity": s.severity.value, "detail": s.detail} for s in new.signals],
            scores={head: round(value, 4) for head, value in new.scores.items()},
            evidence=new.evidence,
            model_version=new.model_version,
            language=new.language,
            created_at=new.received_at,
            shadow=new.shadow,
        )
        return self.insert_values(values)

    def insert_values(self, values: dict[str, Any]) -> tuple[Comment, bool]:
        """Insert a comment given as column values; on a replayed client id return the stored one.

        The unique (client key, client_comment_id) constraint decides, so concurrent replays on
        any number of workers or instances store one row. A new comment comes back as a Comment
        built from the values (not read back: the row is exactly these values).
        """
        # Scores are also kept as plain columns so the queue can filter and sort on them.
        values["spam_score"] = float(values["scores"].get("spam", 0.0))
        values["toxicity_score"] = float(values["scores"].get("toxicity", 0.0))
        values["reason_codes"] = reason_codes(values["reasons"])
        try:
            with self.engine.begin() as connection:
                connection.execute(_INSERT_COMMENT, values)
            return Comment(**values), True
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

    def add_label(
        self, comment: Comment, label: str, source: str, key_id: int, trust: str = TRUSTED
    ) -> Label:
        """Label a stored comment: a moderator's review or its own client's feedback (trusted)."""
        row = Label(
            comment_id=comment.id,
            source=source,
            label=label,
            text=comment.text,
            name=comment.name,
            key_id=key_id,
            created_at=utcnow(),
            trust=trust,
        )
        with self.sessions.begin() as session:
            session.add(row)
        return row

    def label_latest_match(
        self,
        key_id: int,
        email_key: str,
        fingerprint: str,
        text: str,
        name: str,
        label: str,
        source: str,
        unverified_cap: int,
    ) -> Label | None:
        """Label this client's latest comment by this author with this text, or store the text alone.

        A match is the client's own stored comment, so its verdict is trusted. Without one the text
        is kept as an unverified report, unless the key already sent unverified_cap of them today:
        then nothing is stored and None is returned.
        """
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
            if comment is None and self._unverified_today(session, key_id) >= unverified_cap:
                return None
            row = Label(
                comment_id=comment.id if comment else None,
                source=source,
                label=label,
                text=comment.text if comment else text,
                name=comment.name if comment else name,
                key_id=key_id,
                created_at=utcnow(),
                trust=TRUSTED if comment else UNVERIFIED,
            )
            session.add(row)
        return row

    def add_text_label(
        self, key_id: int, text: str, label: str, source: str, unverified_cap: int
    ) -> Label | None:
        """Keep a client's verdict on a text it never sent for moderation as an unverified report.

        None (and nothing stored) once the key sent unverified_cap reports today.
        """
        with self.sessions.begin() as session:
            if self._unverified_today(session, key_id) >= unverified_cap:
                return None
            row = Label(
                comment_id=None, source=source, label=label, text=text, name=None, key_id=key_id,
                created_at=utcnow(), trust=UNVERIFIED,
            )  # fmt: skip
            session.add(row)
        return row

    @staticmethod
    def _unverified_today(session: Any, key_id: int) -> int:
        """How many reports without a comment this key sent since 00:00 UTC (judged ones included)."""
        now = utcnow()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return (
            session.scalar(
                select(func.count())
                .select_from(Label)
                .where(Label.key_id == key_id, Label.created_at >= midnight, Label.trust != TRUSTED)
            )
            or 0
        )

    def list_labels(self, trust: str, after_id: int, limit: int) -> list[dict[str, Any]]:
        """Labels of one trust level, by id, with the prefix and name of the key that sent each."""
        labels = Label.__table__.c
        keys = ApiKey.__table__.c
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(
                    labels.id, labels.text, labels.label, labels.source, labels.trust, labels.comment_id,
                    labels.created_at, labels.reviewed_at, keys.prefix.label("key_prefix"),
                    keys.name.label("key_name"),
                )
                .join_from(Label, ApiKey, labels.key_id == keys.id, isouter=True)
                .where(labels.trust == trust, labels.id > after_id)
                .order_by(labels.id)
                .limit(limit)
            ).all()  # fmt: skip
        return [row._asdict() for row in rows]

    def judge_label(self, label_id: int, trust: str, reviewer_id: int) -> tuple[bool, str | None]:
        """Move an unverified label to trust (confirmed or discarded), recording who and when.

        Returns (changed, the label's trust before): (False, None) for no such label, (False, trust)
        when it was not unverified. The condition on trust makes one of two racing moderators win.
        """
        if trust not in (CONFIRMED, DISCARDED):
            raise ValueError("a report is confirmed or discarded")
        labels = Label.__table__.c
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(Label)
                .where(labels.id == label_id, labels.trust == UNVERIFIED)
                .values(trust=trust, reviewed_by=reviewer_id, reviewed_at=utcnow())
            ).rowcount
            before = connection.execute(select(labels.trust).where(labels.id == label_id)).scalar()
        return changed == 1, (UNVERIFIED if changed == 1 else before)

    def add_analysis(self, values: dict[str, Any]) -> None:
        """Keep one scored text (comments:analyze without doNotStore)."""
        with self.engine.begin() as connection:
            connection.execute(insert(Analysis), {**values, "created_at": utcnow()})

    def training_labels(self) -> Iterator[dict[str, Any]]:
        """Yield every label training may weigh: one verdict per comment, every report alone.

        Per comment the latest moderator review wins over the client's feedback, else the latest
        feedback (a correction). Reports without a comment come one by one with their trust and the
        prefix of the key that sent them; which of them to use is training's decision.
        """
        labels = Label.__table__.c
        keys = ApiKey.__table__.c
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(
                    labels.id, labels.comment_id, labels.source, labels.label, labels.text, labels.name,
                    labels.trust, keys.prefix.label("key_prefix"),
                )
                .join_from(Label, ApiKey, labels.key_id == keys.id, isouter=True)
                .order_by(labels.created_at, labels.id)
            ).all()  # fmt: skip
        latest: dict[str, Any] = {}
        for row in rows:
            slot = row.comment_id or f"label-{row.id}"
            held = latest.get(slot)
            if held is not None and held.source == "moderator" and row.source != "moderator":
                continue  # a client's feedback does not overrule a moderator's review of its comment
            latest[slot] = row
        for row in latest.values():
            yield {
                "id": row.id, "text": row.text, "label": row.label, "name": row.name or "",
                "source": row.source, "trust": row.trust, "key_prefix": row.key_prefix or "",
                "linked": row.comment_id is not None,
            }  # fmt: skip

    def stored_scores(self, since: datetime) -> list[tuple[float, float]]:
        """The spam and toxicity scores stored with every comment created since `since`, oldest first.

        `moderation tune --hold-budget` reads them to size the queue at recent volume; the scores
        are the ones each comment was decided with, whatever model version that was.
        """
        comments = Comment.__table__.c
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(comments.spam_score, comments.toxicity_score)
                .where(comments.created_at >= since)
                .order_by(comments.created_at, comments.id)
            ).all()
        return [(float(row.spam_score or 0.0), float(row.toxicity_score or 0.0)) for row in rows]

    def count_comments(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(Comment)) or 0

    def shadow_comments(self, version: str, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Every comment the shadow candidate `version` scored (since `since`), oldest first.

        `moderation shadow report` counts from these what the candidate would have changed; the
        rows are streamed, so a long shadow run is read in constant memory.
        """
        comments = Comment.__table__.c
        query = (
            select(
                comments.id,
                comments.text,
                comments.decision,
                comments.reason_code,
                comments.scores,
                comments.shadow,
                comments.created_at,
            )  # fmt: skip
            .where(comments.shadow["version"].as_string() == version)
            .order_by(comments.created_at, comments.id)
        )
        if since is not None:
            query = query.where(comments.created_at >= since)
        with self.engine.connect() as connection:
            for row in connection.execution_options(yield_per=500).execute(query):
                yield {
                    "id": row.id, "text": row.text, "decision": row.decision,
                    "reason_code": row.reason_code, "scores": row.scores, "shadow": row.shadow,
                    "created_at": _as_utc(row.created_at),
                }  # fmt: skip


def purge(store: Store, older_than: datetime, keep_labels: bool = False) -> dict[str, int]:
    """Delete comments, their reviews, labels and webhook events created before older_than.

    Moderators' sessions that ended or expired go too, whatever their age.

    Labels go with their comments, and labels without a comment (reports on texts we never stored,
    and labels an earlier purge kept) go once they were created before older_than. With
    keep_labels, all of them survive as anonymous training examples: text and verdict only, no
    comment link, no name.
    """
    from sqlalchemy import delete

    from moderation.store.tables import OutboxEvent, Review, WebhookDelivery
    from moderation.store.web_sessions import purge_sessions

    c = Comment.__table__.c
    old_ids = select(c.id).where(c.created_at < older_than).scalar_subquery()
    counts: dict[str, int] = {}
    with store.engine.begin() as connection:
        labels = Label.__table__.c
        if keep_labels:
            counts["labels_anonymized"] = connection.execute(
                update(Label).where(labels.comment_id.in_(old_ids)).values(comment_id=None, name=None)
            ).rowcount
            counts["unlinked_labels_anonymized"] = connection.execute(
                update(Label)
                .where(labels.comment_id.is_(None), labels.created_at < older_than, labels.name.is_not(None))
                .values(name=None)
            ).rowcount
        else:
            counts["labels"] = connection.execute(
                delete(Label).where(labels.comment_id.in_(old_ids))
            ).rowcount
            counts["unlinked_labels"] = connection.execute(
                delete(Label).where(labels.comment_id.is_(None), labels.created_at < older_than)
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
        # Sign-ins that ended or expired serve nothing; they go whatever the retention period.
        counts["web_sessions"] = purge_sessions(connection, utcnow())
    checkpoint(store.engine)
    return counts
