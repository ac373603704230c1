"""The moderators' review web page at /moderate/ (server-rendered, a little plain JavaScript)."""

from __future__ import annotations

from moderation.web.views import bp

__all__ = ["bp"]
