"""Akismet-compatible API (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("akismet", __name__, url_prefix="/1.1")
