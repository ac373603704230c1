"""Moderators' API over training labels: list client reports (unverified labels), confirm or discard them."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from moderation.auth import current_principal, requires
from moderation.services.labels import LABEL_TRUST, LabelReports

blp = Blueprint("labels", __name__, url_prefix="/v1", description="Client reports and labels (moderators)")


class LabelArgs(Schema):
    class Meta:
        unknown = RAISE

    trust = fields.String(load_default="unverified", validate=validate.OneOf(LABEL_TRUST))
    cursor = fields.Integer(load_default=0, validate=validate.Range(0, 2**63 - 1))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class LabelItem(Schema):
    id = fields.Integer()
    text = fields.String()
    label = fields.String()
    source = fields.String(metadata={"description": "cms_feedback, moderator or perspective_suggest"})
    trust = fields.String()
    comment_id = fields.String(allow_none=True)
    key_prefix = fields.String(allow_none=True, metadata={"description": "the key that sent it"})
    key_name = fields.String(allow_none=True)
    created_at = fields.DateTime()
    reviewed_at = fields.DateTime(allow_none=True)


class LabelPage(Schema):
    items = fields.List(fields.Nested(LabelItem))
    next_cursor = fields.Integer(allow_none=True)


class Judged(Schema):
    id = fields.Integer()
    trust = fields.String()
    reviewed_by = fields.String()


def _reports() -> LabelReports:
    return LabelReports(current_app.extensions["moderation"].store)


@blp.route("/labels")
class Labels(MethodView):
    @requires("moderator")
    @blp.arguments(LabelArgs(), location="query")
    @blp.response(200, LabelPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Labels of one trust level (default: unverified client reports), oldest first."""
        return _reports().page(args["trust"], args["cursor"], args["limit"])


@blp.route("/labels/<int(max=9223372036854775807):label_id>/confirm")
class Confirm(MethodView):
    @requires("moderator")
    @blp.response(200, Judged)
    @blp.alt_response(404, description="No such label")
    @blp.alt_response(409, description="The label is not an unverified report")
    def post(self, label_id: int) -> dict[str, Any]:
        """Confirm a client's report: training uses it like a moderator's review."""
        return _reports().confirm(current_principal(), label_id)


@blp.route("/labels/<int(max=9223372036854775807):label_id>/discard")
class Discard(MethodView):
    @requires("moderator")
    @blp.response(200, Judged)
    @blp.alt_response(404, description="No such label")
    @blp.alt_response(409, description="The label is not an unverified report")
    def post(self, label_id: int) -> dict[str, Any]:
        """Discard a client's report: it is kept for the record and never trained on."""
        return _reports().discard(current_principal(), label_id)
