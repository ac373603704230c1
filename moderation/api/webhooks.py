"""Webhook delivery log for admins (being built: see moderation/webhooks.py)."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks", description="CMS webhook deliveries")
