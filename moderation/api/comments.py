"""The CMS path: submit a comment, read its state, report the CMS's own verdict."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates

from moderation.api.fields import Identifier, Trimmed, refuse_nul
from moderation.auth import current_principal, requires
from moderation.services.review import REPORT_REASONS, public_reason
from moderation.services.submissions import FEEDBACK_LABELS
from moderation.store.tables import Comment

blp = Blueprint("comments", __name__, url_prefix="/v1/comments", description="Submit and follow comments")


class CommentIn(Schema):
    class Meta:
        unknown = RAISE

    name = Trimmed(required=True, single_line=True, validate=validate.Length(1, 100))
    email = fields.Email(required=True, validate=validate.Length(max=254))
    text = Trimmed(required=True, validate=validate.Length(min=1))
    url = fields.URL(
        schemes={"http", "https"},
        require_tld=False,
        allow_none=True,
        validate=[refuse_nul, validate.Length(max=2048)],
    )
    post_id = Identifier(allow_none=True)
    post_title = Trimmed(
        allow_none=True,
        empty_as_none=True,
        single_line=True,
        validate=validate.Length(max=300),
        metadata={"description": "The title of the post the comment is on, shown to moderators"},
    )
    post_url = fields.URL(
        schemes={"http", "https"},
        require_tld=False,
        allow_none=True,
        validate=[refuse_nul, validate.Length(max=2048)],
        metadata={"description": "The post's address (http or https); moderators open the post from it"},
    )
    ip = fields.IP(allow_none=True)
    user_agent = Trimmed(allow_none=True, empty_as_none=True, validate=validate.Length(max=1000))
    referrer = Trimmed(allow_none=True, empty_as_none=True, validate=validate.Length(max=2048))
    client_comment_id = Identifier(allow_none=True)
    parent_id = Identifier(
        allow_none=True,
        metadata={
            "description": "The client_comment_id (your id) of the comment this one replies to, as sent "
            "with that comment by this key; moderators see it as context"
        },
    )
    honeypot = fields.String(allow_none=True, validate=[refuse_nul, validate.Length(max=1000)])
    elapsed_ms = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0, max=2**53))
    language = Trimmed(
        allow_none=True,
        empty_as_none=True,
        single_line=True,
        validate=validate.Regexp(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$", error="Not a language tag."),
        metadata={
            "description": "The comment's language as the CMS knows it (BCP 47, e.g. en or fr-CA); "
            "used when the text is too short to identify."
        },
    )

    @validates("text")
    def text_length(self, value: str, **kwargs: Any) -> None:
        limit = current_app.extensions["moderation"].settings.max_text_length
        if len(value) > limit:
            raise ValidationError(f"Longer than maximum length {limit}.")

    def load(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        # WordPress sends an empty author URL as "" (a CMS may do so for the post's too): treat it as
        # absent, not as a bad URL.
        if isinstance(data, dict):
            data = {**data, **{k: None for k in ("url", "post_url") if data.get(k) == ""}}
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            data = {**data, "email": data["email"].strip()}
        result = super().load(data, *args, **kwargs)
        if isinstance(result, dict) and "ip" in result and result["ip"] is not None:
            result["ip"] = str(result["ip"])
        return result


class ReasonOut(Schema):
    code = fields.String()
    message = fields.String()


class ReviewInfo(Schema):
    reviewed_at = fields.DateTime()
    label = fields.String(attribute="review_label")


class CommentOut(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String()
    client_comment_id = fields.String(allow_none=True)
    decision = fields.String()
    status = fields.String()
    reason = fields.Method("get_reason")
    reasons = fields.Method("get_reasons")
    scores = fields.Dict(keys=fields.String(), values=fields.Float())
    model_version = fields.String()
    language = fields.String(allow_none=True)
    created_at = fields.DateTime()

    def get_reason(self, comment: Comment) -> dict[str, str]:
        first = comment.reasons[0]
        return {"code": first["code"], "message": first["message"]}

    def get_reasons(self, comment: Comment) -> list[dict[str, str]]:
        return [{"code": r["code"], "message": r["message"]} for r in comment.reasons]


class CommentStateOut(CommentOut):
    review = fields.Method("get_review", allow_none=True)

    def get_review(self, comment: Comment) -> dict[str, Any] | None:
        if comment.reviewed_at is None:
            return None
        return {
            "reviewed_at": comment.reviewed_at.isoformat(),
            "label": comment.review_label,
            # What the commenter may be told; the moderator's note is not part of it.
            "reason": public_reason(comment.review_reason) if comment.status == "rejected" else None,
        }


class FeedbackIn(Schema):
    class Meta:
        unknown = RAISE

    label = fields.String(required=True, validate=validate.OneOf(FEEDBACK_LABELS))


class ReportIn(Schema):
    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=validate.OneOf(REPORT_REASONS))
    text = Trimmed(
        allow_none=True,
        empty_as_none=True,
        validate=validate.Length(max=2000),
        metadata={"description": "What the reader wrote, if anything"},
    )
    reporter = Identifier(
        required=True,
        metadata={
            "description": "The reader who reports: your reader id or a hash of it (never shown to "
            "moderators); one report per reporter per comment"
        },
    )

    @validates("reporter")
    def reporter_present(self, value: str | None, **kwargs: Any) -> None:
        if value is None:  # Identifier makes a blank string None
            raise ValidationError("Must not be blank.")


class ReportOut(Schema):
    id = fields.Integer()
    comment_id = fields.String()
    reason = fields.String()
    text = fields.String(allow_none=True)
    reporter = fields.String()
    created_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)
    open_reports = fields.Integer(metadata={"description": "The comment's reports not yet resolved"})


class FeedbackOut(Schema):
    comment_id = fields.String()
    label = fields.String()
    source = fields.String()
    created_at = fields.DateTime()


def _service():
    return current_app.extensions["moderation"].service


@blp.route("")
class Comments(MethodView):
    @requires("client")
    @blp.arguments(CommentIn())  # an instance: webargs would build a new schema per request from a class
    @blp.response(201, CommentOut)
    @blp.alt_response(200, schema=CommentOut, description="Replay of a known client_comment_id")
    def post(self, fields_in: dict[str, Any]) -> Comment | tuple[Comment, int]:
        """Moderate a new comment: approve, hold or reject it, with reasons and scores."""
        outcome = _service().submit(current_principal(), fields_in)
        return outcome.comment if outcome.created else (outcome.comment, 200)


def _visible(comment_id: str) -> Comment:
    comment = _service().visible_to(current_principal(), comment_id)
    if comment is None:
        abort(404, message=f"No comment {comment_id!r} for this key.")
    return comment


@blp.route("/<string:comment_id>")
class CommentState(MethodView):
    @requires("client", "moderator")
    @blp.response(200, CommentStateOut)
    def get(self, comment_id: str) -> Comment:
        """Return the comment's decision and current status (which changes when a moderator reviews)."""
        return _visible(comment_id)


@blp.route("/<string:comment_id>/feedback")
class Feedback(MethodView):
    @requires("client")
    @blp.arguments(FeedbackIn())
    @blp.response(201, FeedbackOut)
    def post(self, body: dict[str, Any], comment_id: str) -> Any:
        """Report the CMS's own moderators' verdict; it becomes a training label."""
        comment = _visible(comment_id)
        return _service().feedback(current_principal(), comment, body["label"])


@blp.route("/<string:comment_id>/reports")
class Reports(MethodView):
    @requires("client")
    @blp.arguments(ReportIn())
    @blp.response(201, ReportOut)
    @blp.alt_response(200, schema=ReportOut, description="This reporter had already reported it")
    def post(self, body: dict[str, Any], comment_id: str) -> Any:
        """A reader reports a comment your site sent: it joins the moderators' Reported view."""
        found = current_app.extensions["moderation"].queue.report(
            current_principal(), comment_id, body["reporter"], body["reason"], body.get("text")
        )
        if found is None:
            abort(404, message=f"No comment {comment_id!r} for this key.")
        report, created = found
        return report if created else (report, 200)
