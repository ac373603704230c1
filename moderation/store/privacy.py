"""Erasure of one person's data (`moderation erase --email ADDRESS`), the counterpart of `purge`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select

from moderation.pipeline.normalize import normalize
from moderation.store.database import checkpoint
from moderation.store.repository import Store
from moderation.store.tables import (
    Analysis,
    AuthorAction,
    AuthorNote,
    BlockEntry,
    Comment,
    Label,
    OutboxEvent,
    Review,
    WebhookDelivery,
)


def email_key(email: str) -> str:
    """Return the form comments are indexed by: trimmed and lower-cased, as the service stores it."""
    return email.strip().lower()


# Unlinked labels are read this many at a time to compare their folded text.
_SCAN_BATCH = 2000


def _delete_unlinked_by_folded_text(connection: Any, key: str) -> int:
    """Delete unlinked labels whose text folds to the folded text of one of this author's comments.

    A report of "FREE  CASH at X.example" finds the comment "Free cash at x.example": training
    compares texts folded (moderation.pipeline.normalize), so erasure does too. Folding runs in
    Python, so every unlinked label is read once, in batches; erasure is rare, labels are short.
    """
    c = Comment.__table__.c
    labels = Label.__table__.c
    texts = connection.execute(select(c.text).where(c.email_key == key)).scalars().all()
    wanted = {normalize(text)[1] for text in texts}
    wanted.discard("")
    if not wanted:
        return 0
    doomed: list[int] = []
    last = 0
    while True:
        batch = connection.execute(
            select(labels.id, labels.text)
            .where(labels.comment_id.is_(None), labels.id > last)
            .order_by(labels.id)
            .limit(_SCAN_BATCH)
        ).all()
        if not batch:
            break
        last = batch[-1].id
        doomed += [row.id for row in batch if normalize(row.text)[1] in wanted]
    deleted = 0
    for start in range(0, len(doomed), _SCAN_BATCH):
        chunk = doomed[start : start + _SCAN_BATCH]
        deleted += connection.execute(delete(Label).where(labels.id.in_(chunk))).rowcount
    return deleted


def erase_email(store: Store, email: str, include_blocklist: bool = False) -> dict[str, int]:
    """Delete every comment sent with email and everything derived from it; return counts per table.

    Perspective analyses (which name no author) go when they hold the exact text of one of them.
    Labels go whether they still point at one of the comments or lost that link (comment_id NULL)
    but carry the exact text of one of them, or a text that folds to the same (as training
    compares texts). Moderators' notes about the address and actions on it go too. Block-list
    entries naming the address are an admin's decision about an abuser and are kept (and counted)
    unless include_blocklist is set. Running it again finds nothing and returns zeros.
    """
    key = email_key(email)
    if not key:
        raise ValueError("an email address is needed")
    c = Comment.__table__.c
    labels = Label.__table__.c
    outbox = OutboxEvent.__table__.c
    theirs = select(c.id).where(c.email_key == key).scalar_subquery()
    their_texts = select(c.text).where(c.email_key == key).scalar_subquery()
    their_events = select(outbox.id).where(outbox.comment_id.in_(theirs)).scalar_subquery()
    blocked = BlockEntry.__table__.c
    counts: dict[str, int] = {}
    with store.engine.begin() as connection:
        # Labels first: deleting the comments would otherwise only unlink them (ON DELETE SET NULL).
        counts["labels"] = connection.execute(
            delete(Label).where(
                labels.comment_id.in_(theirs) | (labels.comment_id.is_(None) & labels.text.in_(their_texts))
            )
        ).rowcount
        counts["labels"] += _delete_unlinked_by_folded_text(connection, key)
        counts["reviews"] = connection.execute(
            delete(Review).where(Review.__table__.c.comment_id.in_(theirs))
        ).rowcount
        counts["webhook_deliveries"] = connection.execute(
            delete(WebhookDelivery).where(WebhookDelivery.__table__.c.outbox_id.in_(their_events))
        ).rowcount
        counts["outbox"] = connection.execute(
            delete(OutboxEvent).where(outbox.comment_id.in_(theirs))
        ).rowcount
        # Perspective analyses carry no author: those of the exact text of one of their comments go.
        counts["analyses"] = connection.execute(
            delete(Analysis).where(Analysis.__table__.c.text.in_(their_texts))
        ).rowcount
        counts["comments"] = connection.execute(delete(Comment).where(c.email_key == key)).rowcount
        # Moderators' notes about the author and their actions on them name the address too.
        counts["author_notes"] = connection.execute(
            delete(AuthorNote).where(AuthorNote.__table__.c.email_key == key)
        ).rowcount
        counts["author_actions"] = connection.execute(
            delete(AuthorAction).where(AuthorAction.__table__.c.email_key == key)
        ).rowcount
        is_theirs = (blocked.kind == "blocked_author") & (func.lower(blocked.value) == key)
        if include_blocklist:
            counts["block_entries"] = connection.execute(delete(BlockEntry).where(is_theirs)).rowcount
        else:
            kept = connection.execute(select(func.count()).select_from(BlockEntry).where(is_theirs)).scalar()
            counts["block_entries_kept"] = kept or 0
    checkpoint(store.engine)
    return counts
