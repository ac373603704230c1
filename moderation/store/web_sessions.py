"""Moderators' sign-in sessions kept in the database (web_sessions), so that ending one is real.

A signed cookie alone stays valid wherever it is copied until it expires; with a row per sign-in,
sign-out, expiry and a revoked key refuse every copy of the cookie on the next request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, or_, select, update

from moderation.store.repository import Principal, Store, utcnow
from moderation.store.tables import ApiKey, WebSession

# last_seen_at is written at most this often per session, not on every page load.
LAST_SEEN_EVERY = timedelta(seconds=60)
# Why a session signs nobody in (SessionCheck.problem).
UNKNOWN, ENDED, EXPIRED, REVOKED = "unknown", "ended", "expired", "revoked"


@dataclass(frozen=True)
class SessionCheck:
    """The outcome of presenting a session token: the moderator, or why there is none."""

    principal: Principal | None
    problem: str | None = None


def _digest(token: str) -> str:
    # The table keeps only a digest: a copy of the database gives no cookie that works.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(store: Store, key_id: int, lifetime: timedelta, now: datetime | None = None) -> str:
    """Record a new sign-in for the key and return its token (256 random bits) for the cookie."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    with store.engine.begin() as connection:
        connection.execute(
            WebSession.__table__.insert().values(
                id=_digest(token),
                key_id=key_id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + lifetime,
                ended_at=None,
            )  # fmt: skip
        )
    return token


def check_session(store: Store, token: str, now: datetime | None = None) -> SessionCheck:
    """Return the session's moderator if it is live and its key active; else say why not.

    A session whose key was revoked is ended here, so it stays ended if the key were ever restored.
    """
    now = now or utcnow()
    if not token or len(token) > 200:
        return SessionCheck(None, UNKNOWN)
    s = WebSession.__table__.c
    k = ApiKey.__table__.c
    session_id = _digest(token)
    with store.engine.begin() as connection:
        row = connection.execute(
            select(s.expires_at, s.ended_at, s.last_seen_at, k.id, k.name, k.role, k.site, k.revoked_at)
            .join_from(WebSession, ApiKey, s.key_id == k.id)
            .where(s.id == session_id)
        ).first()
        if row is None:
            return SessionCheck(None, UNKNOWN)
        if row.ended_at is not None:
            return SessionCheck(None, ENDED)
        if row.expires_at <= now:
            return SessionCheck(None, EXPIRED)
        if row.revoked_at is not None:
            connection.execute(update(WebSession).where(s.id == session_id).values(ended_at=now))
            return SessionCheck(None, REVOKED)
        if now - row.last_seen_at >= LAST_SEEN_EVERY:
            connection.execute(update(WebSession).where(s.id == session_id).values(last_seen_at=now))
    return SessionCheck(Principal(row.id, row.name, row.role, row.site))


def end_session(store: Store, token: str, now: datetime | None = None) -> bool:
    """End a session (sign-out); return whether a live one was ended."""
    s = WebSession.__table__.c
    with store.engine.begin() as connection:
        result = connection.execute(
            update(WebSession)
            .where(s.id == _digest(token), s.ended_at.is_(None))
            .values(ended_at=now or utcnow())
        )
    return result.rowcount > 0


def purge_sessions(connection: Connection, now: datetime) -> int:
    """Delete the sessions that ended or expired (inside `purge`'s transaction); return how many."""
    s = WebSession.__table__.c
    statement = delete(WebSession).where(or_(s.ended_at.is_not(None), s.expires_at <= now))
    return connection.execute(statement).rowcount
