"""Admin-managed block lists: blocked and watched terms, blocked authors."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE, Schema, fields, validate

from moderation.api.fields import Trimmed
from moderation.auth import current_principal, requires
from moderation.services.blocklists import KINDS

blp = Blueprint("blocklist", __name__, url_prefix="/v1/blocklist", description="Block lists (admin)")


class EntryIn(Schema):
    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    value = Trimmed(required=True, single_line=True, validate=validate.Length(1, 254))


class EntryOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    value = fields.String()
    created_at = fields.DateTime()


class EntriesOut(Schema):
    items = fields.List(fields.Nested(EntryOut))
    configured = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Entries from the service's configuration (read-only here)"},
    )


def _lists():
    return current_app.extensions["moderation"].service.blocklists


@blp.route("")
class Entries(MethodView):
    @requires("admin")
    @blp.response(200, EntriesOut)
    def get(self) -> dict[str, Any]:
        """List the block-list entries (database ones, plus the configured ones)."""
        lists = _lists()
        return {"items": lists.entries(), "configured": {k: list(v) for k, v in lists.config.items()}}

    @requires("admin")
    @blp.arguments(EntryIn())
    @blp.response(201, EntryOut)
    def post(self, body: dict[str, Any]) -> Any:
        """Add a term or author; every worker applies it within a second."""
        return _lists().add(current_principal(), body["kind"], body["value"])


@blp.route("/<int(max=9223372036854775807):entry_id>")
class Entry(MethodView):
    @requires("admin")
    @blp.response(204)
    def delete(self, entry_id: int) -> None:
        """Remove an entry."""
        if not _lists().remove(entry_id):
            abort(404, message=f"No block-list entry {entry_id}.")
