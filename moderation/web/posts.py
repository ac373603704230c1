"""The per-post pages: each post id with how many comments wait (held) and are reported, sortable;
a post's comments as a thread."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, g, render_template, request, url_for

from moderation.services.context import post_thread
from moderation.services.review import POST_SORTS
from moderation.web.highlight import openable
from moderation.web.views import bp

PAGE_SIZE = 50
SORT_NAMES = {"pending": "Pending", "reported": "Reported", "latest": "Latest comment", "total": "Comments"}
assert set(SORT_NAMES) == set(POST_SORTS)


@bp.get("/posts")
def posts() -> Any:
    """Posts with comments, most pending first by default; each links to its comments in the queue."""
    sort = request.args.get("sort", "pending")
    if sort not in POST_SORTS:
        sort = "pending"
    try:
        offset = max(0, min(int(request.args.get("offset", "0")), 100_000))
    except ValueError:
        offset = 0
    items = current_app.extensions["moderation"].queue.posts(sort, PAGE_SIZE + 1, offset)
    more = len(items) > PAGE_SIZE
    return render_template(
        "moderate/posts.html",
        items=items[:PAGE_SIZE],
        sort=sort,
        sort_names=SORT_NAMES,
        next_url=url_for("web.posts", sort=sort, offset=offset + PAGE_SIZE) if more else None,
        principal=g.principal,
    )


@bp.get("/posts/<path:post_id>/thread")
def thread(post_id: str) -> Any:
    """A post's comments as a thread (replies indented under what they answer), each with its status."""
    if len(post_id) > 200:
        abort(404)
    found = post_thread(current_app.extensions["moderation"].store, post_id)
    if not found["items"]:
        abort(404)
    return render_template(
        "moderate/thread.html",
        thread=found,
        post_url_openable=openable(found["post_url"]),
        principal=g.principal,
    )
