"""Coral Talk external moderation phase (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("coral", __name__, url_prefix="/integrations/coral")
