"""The moderators' review web page at /moderate/ (server-rendered, a little plain JavaScript)."""

from __future__ import annotations

from moderation.web import authors as _authors  # noqa: F401  (adds the author pages to bp)
from moderation.web import posts as _posts  # noqa: F401  (adds the per-post page to bp)
from moderation.web.views import bp

__all__ = ["bp"]
