"""The moderators' author API: one author's comments, counts, IPs and linked e-mails, notes, and
actions on them (ban, pre-moderate, suspend, lift), each audited."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE, Schema, fields, validate

from moderation.api.fields import refuse_nul
from moderation.api.queue import QueueItem
from moderation.auth import current_principal, requires
from moderation.services.authors import AUTHOR_ACTIONS, MAX_SUSPEND_DAYS, AuthorDesk
from moderation.services.review import REJECT_REASONS

blp = Blueprint("authors", __name__, url_prefix="/v1", description="Authors (moderators)")


class AuthorArgs(Schema):
    class Meta:
        unknown = RAISE

    cursor = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class IpSeen(Schema):
    ip = fields.String()
    comments = fields.Integer()
    last_seen = fields.DateTime()


class OtherEmail(Schema):
    email = fields.String()
    comments = fields.Integer(metadata={"description": "Their comments from the author's IPs and elsewhere"})


class NoteOut(Schema):
    id = fields.Integer()
    text = fields.String()
    at = fields.DateTime()
    by = fields.String(metadata={"description": "The writing key's name"})


class ActionOut(Schema):
    id = fields.Integer()
    action = fields.String(metadata={"description": "ban, premoderate or suspend"})
    reason = fields.String()
    ip = fields.String(allow_none=True, metadata={"description": "The IP a ban also blocked"})
    until = fields.DateTime(allow_none=True, metadata={"description": "When a suspension ends"})
    rejected = fields.Integer(metadata={"description": "Held comments a ban rejected"})
    at = fields.DateTime()
    by = fields.String()
    lifted_at = fields.DateTime(allow_none=True)
    lifted_by = fields.String(allow_none=True)
    lift_reason = fields.String(allow_none=True)
    active = fields.Boolean(metadata={"description": "In force now: not lifted and not ended"})


class AuthorComment(QueueItem):
    """A comment as in the queue, without the per-author extras the author view gives once."""

    class Meta:
        exclude = ("history", "reports", "reviewed_by")


class AuthorOut(Schema):
    email = fields.String()
    counts = fields.Dict(
        metadata={"description": "by_status (held/approved/rejected now), by_decision (the service's "
                  "first decision), total"}
    )  # fmt: skip
    names = fields.List(fields.String(), metadata={"description": "Names used with this e-mail"})
    ips = fields.List(fields.Nested(IpSeen))
    other_emails = fields.List(fields.Nested(OtherEmail), metadata={"description": "Seen at the same IPs"})
    comments = fields.List(fields.Nested(AuthorComment))
    next_cursor = fields.String(allow_none=True)
    notes = fields.List(fields.Nested(NoteOut))
    actions = fields.List(fields.Nested(ActionOut))
    in_force = fields.List(fields.String())


class NoteIn(Schema):
    class Meta:
        unknown = RAISE

    text = fields.String(required=True, validate=[refuse_nul, validate.Length(1, 2000)])


class ActionIn(Schema):
    class Meta:
        unknown = RAISE

    action = fields.String(required=True, validate=validate.OneOf(AUTHOR_ACTIONS))
    reason = fields.String(
        required=True,
        validate=[refuse_nul, validate.Length(1, 2000)],
        metadata={"description": "Why; kept in the audit, never sent to the CMS"},
    )
    ip = fields.String(
        validate=validate.Length(max=45), metadata={"description": "ban: also block this IP address"}
    )
    reject_pending = fields.Boolean(
        load_default=False, metadata={"description": "ban: also reject the author's held comments"}
    )
    reject_reason = fields.String(
        load_default="spam",
        validate=validate.OneOf(tuple(REJECT_REASONS)),
        metadata={"description": "ban with reject_pending: the rejection reason the CMS gets"},
    )
    days = fields.Integer(
        validate=validate.Range(1, MAX_SUSPEND_DAYS),
        metadata={"description": "suspend (required): how many days comments are rejected"},
    )


class LiftIn(Schema):
    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=[refuse_nul, validate.Length(1, 2000)])


def _desk() -> AuthorDesk:
    return current_app.extensions["moderation"].authors


# <path:...> so that an address with a "/" (legal in its local part) works, URL-encoded or not.
@blp.route("/authors/<path:email>")
class Author(MethodView):
    @requires("moderator")
    @blp.arguments(AuthorArgs(), location="query")
    @blp.response(200, AuthorOut)
    def get(self, args: dict[str, Any], email: str) -> dict[str, Any]:
        """Everything about one author (by e-mail): comments in every status, counts, IPs, e-mails
        seen at those IPs, moderators' notes, and actions taken and lifted."""
        try:
            found = _desk().view(email, args.get("cursor"), args["limit"])
        except ValueError:
            abort(400, message="Invalid cursor: not a next_cursor from this API.")
        return found


@blp.route("/authors/<path:email>/notes")
class AuthorNotes(MethodView):
    @requires("moderator")
    @blp.arguments(NoteIn())
    @blp.response(201, NoteOut)
    def post(self, body: dict[str, Any], email: str) -> dict[str, Any]:
        """Add a moderators' note about the author (shown in the author view, erased with the e-mail)."""
        return _desk().add_note(current_principal(), email, body["text"])


@blp.route("/authors/<path:email>/actions")
class AuthorActions(MethodView):
    @requires("moderator")
    @blp.arguments(ActionIn())
    @blp.response(201, ActionOut)
    def post(self, body: dict[str, Any], email: str) -> dict[str, Any]:
        """Ban, pre-moderate or suspend an author; audited with who, when and why."""
        return _desk().act(
            current_principal(), email, body["action"], body["reason"], ip=body.get("ip"),
            reject_pending=body["reject_pending"], reject_reason=body["reject_reason"],
            days=body.get("days"),
        )  # fmt: skip


@blp.route("/authors/<path:email>/actions/<int:action_id>/lift")
class LiftAction(MethodView):
    @requires("moderator")
    @blp.arguments(LiftIn())
    @blp.response(200, ActionOut)
    def post(self, body: dict[str, Any], email: str, action_id: int) -> dict[str, Any]:
        """Lift an action in force; the audit keeps who lifted it, when and why."""
        return _desk().lift(current_principal(), email, action_id, body["reason"])
