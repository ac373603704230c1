"""Moderators' server-side sessions in the store, on SQLite and PostgreSQL, and their migration."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from moderation.store.database import make_engine
from moderation.store.repository import Store, utcnow
from moderation.store.tables import WebSession
from moderation.store.web_sessions import (
    ENDED,
    EXPIRED,
    REVOKED,
    UNKNOWN,
    check_session,
    end_session,
    purge_sessions,
    start_session,
)


@pytest.fixture
def store(database_url):
    store = Store(make_engine(database_url))
    yield store
    store.engine.dispose()


def test_a_session_lives_until_it_ends_expires_or_its_key_is_revoked(store):
    key, _ = store.create_key("moderator", "desk")
    now = utcnow()
    token = start_session(store, key.id, timedelta(hours=12), now=now)
    live = check_session(store, token, now=now + timedelta(hours=11))
    assert live.problem is None and live.principal is not None
    assert (live.principal.key_id, live.principal.role, live.principal.name) == (key.id, "moderator", "desk")
    assert check_session(store, token, now=now + timedelta(hours=12)).problem == EXPIRED
    assert check_session(store, token + "x", now=now).problem == UNKNOWN
    assert check_session(store, "", now=now).problem == UNKNOWN

    assert end_session(store, token) and not end_session(store, token)
    assert check_session(store, token).problem == ENDED

    other = start_session(store, key.id, timedelta(hours=12))
    assert store.revoke_key(key.prefix)
    assert check_session(store, other).problem == REVOKED
    # The revocation ended the row: it stays ended, reported as such from now on.
    assert check_session(store, other).problem == ENDED


def test_the_table_keeps_a_digest_not_the_token_and_last_seen_moves(store):
    key, _ = store.create_key("moderator", "desk")
    now = utcnow()
    token = start_session(store, key.id, timedelta(hours=12), now=now)
    check_session(store, token, now=now + timedelta(minutes=5))
    with store.engine.connect() as connection:
        row = connection.execute(select(WebSession)).one()
    assert row.id != token and len(row.id) == 64 and token not in row.id
    assert row.last_seen_at - now == timedelta(minutes=5)
    assert row.expires_at - row.created_at == timedelta(hours=12) and row.ended_at is None


def test_purge_deletes_ended_and_expired_sessions_only(store):
    key, _ = store.create_key("moderator", "desk")
    now = utcnow()
    live = start_session(store, key.id, timedelta(hours=12), now=now)
    start_session(store, key.id, timedelta(hours=12), now=now - timedelta(hours=13))
    end_session(store, start_session(store, key.id, timedelta(hours=12), now=now))
    with store.engine.begin() as connection:
        assert purge_sessions(connection, now) == 2
    with store.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(WebSession)).scalar() == 1
    assert check_session(store, live).principal is not None


def test_the_migration_downgrades_and_upgrades_cleanly(store, database_url):
    from alembic import command
    from sqlalchemy import inspect

    from moderation.store.database import alembic_config, upgrade

    key, _ = store.create_key("moderator", "desk")
    start_session(store, key.id, timedelta(hours=12))
    store.engine.dispose()
    engine = make_engine(database_url)
    with engine.begin() as connection:
        config = alembic_config(database_url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0007_authors")
    assert not inspect(engine).has_table("web_sessions")
    engine.dispose()
    upgrade(database_url)
    engine = make_engine(database_url)
    inspector = inspect(engine)
    assert inspector.has_table("web_sessions")
    assert {"ix_web_sessions_key_id", "ix_web_sessions_expires"} <= {
        index["name"] for index in inspector.get_indexes("web_sessions")
    }
    engine.dispose()
