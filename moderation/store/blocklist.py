"""The block lists' rows: admins' blocked and watched terms and blocked authors."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from moderation.exceptions import DuplicateEntry
from moderation.store.repository import Store, utcnow
from moderation.store.tables import BlockEntry


def entries(store: Store) -> list[BlockEntry]:
    """Every entry, by kind and value."""
    with store.sessions() as session:
        return list(session.scalars(select(BlockEntry).order_by(BlockEntry.kind, BlockEntry.value)))


def add_entry(store: Store, kind: str, value: str, key_id: int) -> BlockEntry:
    """Store one entry; DuplicateEntry when the list already holds that value."""
    entry = BlockEntry(kind=kind, value=value, key_id=key_id, created_at=utcnow())
    try:
        with store.sessions.begin() as session:
            session.add(entry)
    except IntegrityError:
        raise DuplicateEntry(f"{value!r} is already a {kind}") from None
    return entry


def remove_entry(store: Store, entry_id: int) -> bool:
    """Delete one entry by id; False when there was none."""
    with store.engine.begin() as connection:
        return connection.execute(delete(BlockEntry).where(BlockEntry.id == entry_id)).rowcount == 1


def kinds_and_values(store: Store) -> list[tuple[str, str]]:
    """(kind, value) of every entry: what the checks merge into the configured lists."""
    with store.engine.connect() as connection:
        rows = connection.execute(select(BlockEntry.kind, BlockEntry.value))
        return [(kind, value) for kind, value in rows]
