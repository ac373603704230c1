"""The moderators' review web page (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("web", __name__, url_prefix="/moderate", template_folder="templates", static_folder="static")
