"""Extensions created once at import and bound to each app in the factory."""

from __future__ import annotations

from dataclasses import dataclass

from flask_smorest import Api

from moderation.classifier.bundle import ModelHolder
from moderation.config import Settings
from moderation.review import ReviewQueue
from moderation.service import ModerationService
from moderation.store.repository import Store

api = Api()


@dataclass
class Moderation:
    """What the views reach through current_app.extensions["moderation"]."""

    settings: Settings
    store: Store
    models: ModelHolder
    service: ModerationService
    queue: ReviewQueue


__all__ = ["api", "Moderation"]
