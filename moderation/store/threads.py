"""The SQL of a comment's context: the comments it replies to and the comments of one post."""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import select

from moderation.store.repository import Store
from moderation.store.tables import Comment

_C = Comment.__table__.c
# What a reply context or a thread row shows: never the e-mail address or IP.
THREAD_COLUMNS = (
    _C.id, _C.client_key_id, _C.client_comment_id, _C.parent_id, _C.name, _C.text, _C.status, _C.decision,
    _C.reason_code, _C.created_at, _C.reviewed_at, _C.post_title, _C.post_url,
)  # fmt: skip


def parents_of(store: Store, replies: Iterable[Any]) -> dict[tuple[int, str], dict[str, Any]]:
    """The stored comments the replies answer, keyed by (client key id, client_comment_id).

    A parent_id is the CMS's own id, so it is looked up only among the comments the same client key
    sent: another site's comment with the same id is never shown as the parent.
    """
    wanted = {(r.client_key_id, r.parent_id) for r in replies if r.parent_id}
    if not wanted:
        return {}
    keys = {key for key, _ in wanted}
    ids = {parent for _, parent in wanted}
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(*THREAD_COLUMNS).where(_C.client_key_id.in_(keys), _C.client_comment_id.in_(ids))
        ).all()
    found = {(r.client_key_id, r.client_comment_id): r._asdict() for r in rows}
    return {pair: found[pair] for pair in wanted if pair in found}


def post_comments(store: Store, post_id: str, limit: int) -> list[dict[str, Any]]:
    """A post's comments, oldest first, at most `limit` of them (the oldest)."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(*THREAD_COLUMNS).where(_C.post_id == post_id).order_by(_C.created_at, _C.id).limit(limit)
        ).all()
    return [r._asdict() for r in rows]
