"""Admins' view of CMS webhooks: the outbox, the delivery log and manual retries."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from moderation.auth import requires
from moderation.store.outbox import Outbox

blp = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks", description="CMS webhook deliveries")

STATES = ("pending", "delivered", "all")


class PageArgs(Schema):
    class Meta:
        unknown = RAISE

    before = fields.Integer(
        validate=validate.Range(min=1, max=2**63 - 1),
        metadata={"description": "Cursor: next_cursor of the previous page"},
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class OutboxArgs(PageArgs):
    state = fields.String(load_default="all", validate=validate.OneOf(STATES))


class DeliveriesArgs(PageArgs):
    outbox_id = fields.Integer(validate=validate.Range(min=1, max=2**63 - 1))


class OutboxEventOut(Schema):
    id = fields.Integer()
    comment_id = fields.String(allow_none=True)
    event = fields.String()
    payload = fields.Dict(metadata={"description": "The JSON body the CMS receives"})
    state = fields.String(metadata={"description": "pending or delivered"})
    attempts = fields.Integer()
    created_at = fields.DateTime()
    next_attempt_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)


class OutboxSummary(Schema):
    pending = fields.Integer()
    due = fields.Integer(metadata={"description": "Pending events whose next attempt time has come"})
    failing = fields.Integer(metadata={"description": "Pending events with at least one failed attempt"})
    oldest_pending_at = fields.DateTime(allow_none=True)


class OutboxOut(Schema):
    configured = fields.Boolean(
        metadata={"description": "False without a webhook URL and secret: events wait in the outbox"}
    )
    counts = fields.Nested(OutboxSummary)
    items = fields.List(fields.Nested(OutboxEventOut))
    next_cursor = fields.Integer(allow_none=True)


class DeliveryOut(Schema):
    id = fields.Integer()
    outbox_id = fields.Integer()
    attempted_at = fields.DateTime()
    url = fields.String()
    status_code = fields.Integer(allow_none=True)
    ok = fields.Boolean()
    error = fields.String(allow_none=True)
    duration_ms = fields.Float()


class DeliveriesOut(Schema):
    items = fields.List(fields.Nested(DeliveryOut))
    next_cursor = fields.Integer(allow_none=True)


def _outbox() -> Outbox:
    return Outbox(current_app.extensions["moderation"].store.engine)


@blp.route("/outbox")
class OutboxEvents(MethodView):
    @requires("admin")
    @blp.arguments(OutboxArgs(), location="query")
    @blp.response(200, OutboxOut)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Events for the CMS, newest first, with attempts, next attempt and last error."""
        settings = current_app.extensions["moderation"].settings
        outbox = _outbox()
        page = outbox.events(args["state"], args.get("before"), args["limit"])
        return {
            "configured": bool(settings.webhook_url and settings.webhook_secret),
            "counts": outbox.summary(),
            **page,
        }


@blp.route("/outbox/<int(max=9223372036854775807):event_id>/retry")
class Retry(MethodView):
    @requires("admin")
    @blp.response(200, OutboxEventOut)
    def post(self, event_id: int) -> dict[str, Any]:
        """Make a pending event due now instead of at the end of its back-off; 409 if delivered."""
        return _outbox().retry(event_id)


@blp.route("/deliveries")
class Deliveries(MethodView):
    @requires("admin")
    @blp.arguments(DeliveriesArgs(), location="query")
    @blp.response(200, DeliveriesOut)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Every delivery attempt, newest first, optionally for one outbox event."""
        return _outbox().deliveries(args.get("outbox_id"), args.get("before"), args["limit"])
