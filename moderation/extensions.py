"""Extensions created once at import and bound to each app in the factory."""

from __future__ import annotations

from dataclasses import dataclass

import marshmallow as ma
from flask_smorest import Api

from moderation.classifier.bundle import ModelHolder
from moderation.config import Settings
from moderation.services.authors import AuthorDesk
from moderation.services.review import ReviewQueue
from moderation.services.submissions import ModerationService
from moderation.store.repository import Store


class ErrorSchema(ma.Schema):
    """The one error shape of moderation.errors.error_response, as documented in OpenAPI."""

    code = ma.fields.Integer(metadata={"description": "HTTP status code"})
    status = ma.fields.String(metadata={"description": "HTTP status name"})
    error = ma.fields.String(metadata={"description": "Machine-readable error code"})
    message = ma.fields.String(metadata={"description": "Human-readable message"})
    errors = ma.fields.Dict(metadata={"description": "Messages per offending field"})


class ModerationApi(Api):
    ERROR_SCHEMA = ErrorSchema


api = ModerationApi()


@dataclass
class Moderation:
    """What the views reach through current_app.extensions["moderation"]."""

    settings: Settings
    store: Store
    models: ModelHolder
    service: ModerationService
    queue: ReviewQueue
    authors: AuthorDesk


__all__ = ["api", "Moderation"]
