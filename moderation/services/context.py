"""Context for moderators: the comment a reply answers, and a post's comments in thread order."""

from __future__ import annotations

from typing import Any, Iterable

from moderation.store.repository import Store
from moderation.store.threads import parents_of, post_comments

# How much of a parent comment a card quotes: enough to know what is answered, not a second card.
PARENT_CHARS = 280
THREAD_LIMIT = 500


def shorten(text: str, limit: int = PARENT_CHARS) -> str:
    """The text cut at a word boundary near `limit` characters, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def reply_context(store: Store, comments: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """For each reply whose parent is stored (for the same client key): the parent, text shortened."""
    comments = list(comments)
    parents = parents_of(store, comments)
    found = {}
    for comment in comments:
        parent = parents.get((comment.client_key_id, comment.parent_id)) if comment.parent_id else None
        if parent is not None and parent["id"] != comment.id:
            found[comment.id] = {
                "id": parent["id"],
                "name": parent["name"],
                "text": shorten(parent["text"]),
                "status": parent["status"],
                "created_at": parent["created_at"],
            }
    return found


def thread_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows (oldest first) reordered as a thread: each reply under the comment it answers.

    Each row gains `depth` and `reply_to` (our id of the parent, when it is among the rows). A reply
    whose parent is not stored starts a branch of its own; so does any row of a loop of parent ids
    (a CMS bug must not hide comments), and every row appears exactly once.
    """
    by_cms_id = {(r["client_key_id"], r["client_comment_id"]): r for r in rows if r["client_comment_id"]}
    children: dict[str, list[dict[str, Any]]] = {}
    roots = []
    for row in rows:
        parent = by_cms_id.get((row["client_key_id"], row["parent_id"])) if row["parent_id"] else None
        if parent is None or parent["id"] == row["id"]:
            roots.append(row)
        else:
            children.setdefault(parent["id"], []).append(row)
    ordered: list[dict[str, Any]] = []
    seen: set[str] = set()

    def walk(start: dict[str, Any]) -> None:
        stack = [(start, 0, None)]
        while stack:
            row, depth, reply_to = stack.pop()
            if row["id"] in seen:
                continue
            seen.add(row["id"])
            ordered.append({**row, "depth": depth, "reply_to": reply_to})
            stack.extend((child, depth + 1, row["id"]) for child in reversed(children.get(row["id"], [])))

    for row in roots:
        walk(row)
    for row in rows:  # rows caught in a loop of parent ids
        if row["id"] not in seen:
            walk(row)
    return ordered


def post_thread(store: Store, post_id: str, limit: int = THREAD_LIMIT) -> dict[str, Any]:
    """A post's comments in thread order with the newest title and address the CMS gave for it.

    `truncated` says the post has more than `limit` comments (the oldest `limit` are shown).
    """
    rows = post_comments(store, post_id, limit + 1)
    truncated = len(rows) > limit
    rows = rows[:limit]
    title = next((r["post_title"] for r in reversed(rows) if r["post_title"]), None)
    url = next((r["post_url"] for r in reversed(rows) if r["post_url"]), None)
    items = [
        {k: v for k, v in row.items() if k not in ("client_key_id", "post_title", "post_url")}
        for row in thread_order(rows)
    ]
    return {"post_id": post_id, "post_title": title, "post_url": url, "items": items, "truncated": truncated}
