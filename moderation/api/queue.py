"""The moderators' API: the queue's views, decisions (single and bulk, changeable), undo and audit."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE, Schema, fields, validate

from moderation.api.comments import CommentStateOut
from moderation.api.fields import Identifier, refuse_nul
from moderation.auth import current_principal, requires
from moderation.errors import status_of
from moderation.exceptions import DomainError
from moderation.services.context import THREAD_LIMIT, post_thread
from moderation.services.review import (
    ACTIONS,
    POST_SORTS,
    REJECT_REASONS,
    REVIEW_LABELS,
    STATUSES,
    VIEWS,
    QueueFilter,
    ReviewQueue,
)
from moderation.store.tables import Comment

blp = Blueprint("queue", __name__, url_prefix="/v1", description="Review queue (moderators)")

MAX_BULK = 200


class QueueArgs(Schema):
    class Meta:
        unknown = RAISE

    view = fields.String(
        load_default="pending",
        validate=validate.OneOf(VIEWS),
        metadata={
            "description": "pending: held; reported: with open reader reports; unmoderated: approved by "
            "the service and not yet decided by a person; approved; rejected; all"
        },
    )
    reason = fields.String(
        validate=validate.Length(max=32),
        metadata={"description": "A reason code the comment gives, first or not"},
    )
    post_id = Identifier()
    min_score = fields.Float(validate=validate.Range(0, 1))
    q = fields.String(
        validate=[refuse_nul, validate.Length(1, 200)],
        metadata={"description": "Words the text contains, each of them (case-insensitive)"},
    )
    name = fields.String(
        validate=[refuse_nul, validate.Length(1, 200)], metadata={"description": "Part of the author's name"}
    )
    email = fields.String(
        validate=[refuse_nul, validate.Length(1, 254)],
        metadata={"description": "Part of the author's e-mail address (case-insensitive)"},
    )
    ip = fields.String(
        validate=[refuse_nul, validate.Length(1, 45)], metadata={"description": "The author's exact IP"}
    )
    cursor = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class PostsArgs(Schema):
    class Meta:
        unknown = RAISE

    sort = fields.String(
        load_default="pending",
        validate=validate.OneOf(POST_SORTS),
        metadata={"description": "pending (most held first), reported, latest (newest comment), total"},
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 100_000))


class PostCount(Schema):
    post_id = fields.String()
    pending = fields.Integer(metadata={"description": "Held comments"})
    reported = fields.Integer(metadata={"description": "Comments with open reader reports"})
    total = fields.Integer()
    latest = fields.DateTime(metadata={"description": "When its newest comment came"})


class PostsOut(Schema):
    items = fields.List(fields.Nested(PostCount))


class ThreadArgs(Schema):
    class Meta:
        unknown = RAISE

    limit = fields.Integer(load_default=THREAD_LIMIT, validate=validate.Range(1, THREAD_LIMIT))


class ThreadItem(Schema):
    id = fields.String()
    client_comment_id = fields.String(allow_none=True)
    parent_id = fields.String(
        allow_none=True, metadata={"description": "The CMS's id of the parent, as sent"}
    )
    reply_to = fields.String(
        allow_none=True, metadata={"description": "Our id of the parent when it is stored (same client key)"}
    )
    depth = fields.Integer(metadata={"description": "0 for a comment that starts a branch"})
    name = fields.String()
    text = fields.String()
    status = fields.String()
    decision = fields.String()
    reason_code = fields.String()
    created_at = fields.DateTime()
    reviewed_at = fields.DateTime(allow_none=True)


class ThreadOut(Schema):
    post_id = fields.String()
    post_title = fields.String(allow_none=True, metadata={"description": "The newest title sent for it"})
    post_url = fields.String(allow_none=True, metadata={"description": "The newest address sent for it"})
    items = fields.List(fields.Nested(ThreadItem), metadata={"description": "In thread order"})
    truncated = fields.Boolean(metadata={"description": "More comments than limit: the oldest are listed"})


class ReasonDetail(Schema):
    code = fields.String()
    message = fields.String()
    detail = fields.Dict()


class ReportBrief(Schema):
    reason = fields.String()
    text = fields.String(allow_none=True)
    created_at = fields.DateTime()


class ReportSummary(Schema):
    open = fields.Integer(metadata={"description": "Reports not yet resolved by a decision"})
    by_reason = fields.Dict(keys=fields.String(), values=fields.Integer())
    recent = fields.List(fields.Nested(ReportBrief), metadata={"description": "The latest five open ones"})


class QueueItem(Schema):
    id = fields.String()
    client_comment_id = fields.String(allow_none=True)
    name = fields.String()
    email = fields.String()
    text = fields.String()
    url = fields.String(allow_none=True)
    post_id = fields.String(allow_none=True)
    post_title = fields.String(allow_none=True)
    post_url = fields.String(allow_none=True)
    parent_id = fields.String(allow_none=True)
    ip = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)
    referrer = fields.String(allow_none=True)
    decision = fields.String()
    status = fields.String()
    reasons = fields.List(fields.Nested(ReasonDetail))
    scores = fields.Dict(keys=fields.String(), values=fields.Float())
    evidence = fields.Dict()
    history = fields.Dict()
    model_version = fields.String()
    language = fields.String(allow_none=True)
    created_at = fields.DateTime()
    reviewed_at = fields.DateTime(allow_none=True)
    reviewed_by = fields.String(allow_none=True, metadata={"description": "The deciding key's name"})
    review_label = fields.String(allow_none=True)
    review_reason = fields.String(allow_none=True)
    review_note = fields.String(allow_none=True)
    reports = fields.Nested(ReportSummary)


class QueueOut(Schema):
    items = fields.List(fields.Nested(QueueItem))
    next_cursor = fields.String(allow_none=True)
    counts = fields.Dict(
        metadata={"description": "held: held comments; total: this view's comments; by_reason: this view's "
                  "comments per reason, any of a comment's reasons counting (all under every filter but "
                  "reason)"}
    )  # fmt: skip
    views = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "How many comments each view holds under all the filters"},
    )


class ReviewIn(Schema):
    class Meta:
        unknown = RAISE

    action = fields.String(required=True, validate=validate.OneOf(tuple(ACTIONS)))
    label = fields.String(
        validate=validate.OneOf(REVIEW_LABELS),
        metadata={"description": "Training label; by default ham for approve, else from reason"},
    )
    reason = fields.String(
        validate=validate.OneOf(tuple(REJECT_REASONS)),
        metadata={
            "description": "Why it is rejected (reject only; by default spam or toxic from label, else "
            "other). The CMS gets it, with a sentence for the commenter, in the webhook. other needs a note."
        },
    )
    note = fields.String(allow_none=True, validate=[refuse_nul, validate.Length(max=2000)])
    expected_status = fields.String(
        validate=validate.OneOf(STATUSES),
        metadata={
            "description": "To change a decision: the status you saw. Applies only if the comment still "
            "has it (else 409). Without it, only a comment no person has decided yet can be reviewed."
        },
    )


class BulkItemIn(ReviewIn):
    id = fields.String(required=True, validate=validate.Length(1, 32))


class BulkIn(Schema):
    class Meta:
        unknown = RAISE

    items = fields.List(fields.Nested(BulkItemIn), required=True, validate=validate.Length(1, MAX_BULK))


class BulkResult(Schema):
    id = fields.String()
    status = fields.Integer(metadata={"description": "HTTP status this item would have had alone"})
    comment = fields.Nested(CommentStateOut, allow_none=True)
    error = fields.String(allow_none=True)


class BulkOut(Schema):
    results = fields.List(fields.Nested(BulkResult))


class AuditEntry(Schema):
    action = fields.String()
    label = fields.String()
    reason = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    from_status = fields.String(allow_none=True)
    to_status = fields.String(allow_none=True)
    at = fields.DateTime()
    by = fields.String()
    role = fields.String()


class AuditOut(Schema):
    items = fields.List(fields.Nested(AuditEntry))


def _queue() -> ReviewQueue:
    return current_app.extensions["moderation"].queue


def _item(comment: Comment, extras: dict[str, Any]) -> dict[str, Any]:
    data = {column.key: getattr(comment, column.key) for column in Comment.__table__.columns}
    data["history"] = extras["history"]
    data["reports"] = extras["reports"]
    data["reviewed_by"] = extras["reviewer"]
    return data


@blp.route("/queue")
class Queue(MethodView):
    @requires("moderator")
    @blp.arguments(QueueArgs(), location="query")
    @blp.response(200, QueueOut)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """A view of the comments (held by default) with scores, reasons, evidence, reports and history."""
        filters = QueueFilter(
            args.get("reason"), args.get("post_id"), args.get("min_score"), args["view"],
            q=args.get("q"), name=args.get("name"), email=args.get("email"), ip=args.get("ip"),
        )  # fmt: skip
        try:
            page = _queue().page(filters, args.get("cursor"), args["limit"])
        except ValueError:
            abort(400, message="Invalid cursor: not a next_cursor from this API.")
        return {
            "items": [_item(c, h) for c, h in page["items"]],
            "next_cursor": page["next_cursor"],
            "counts": page["counts"],
            "views": page["views"],
        }


@blp.route("/posts")
class Posts(MethodView):
    @requires("moderator")
    @blp.arguments(PostsArgs(), location="query")
    @blp.response(200, PostsOut)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Per post id: how many comments are pending (held) and reported, sortable."""
        return {"items": _queue().posts(args["sort"], args["limit"], args["offset"])}


@blp.route("/posts/<path:post_id>/comments")
class PostThread(MethodView):
    @requires("moderator")
    @blp.arguments(ThreadArgs(), location="query")
    @blp.response(200, ThreadOut)
    def get(self, args: dict[str, Any], post_id: str) -> dict[str, Any]:
        """A post's comments in thread order (replies under what they answer), each with its status."""
        if len(post_id) > 200:
            abort(404, message="No such post.")
        return post_thread(current_app.extensions["moderation"].store, post_id, args["limit"])


def _decide(comment_id: str, body: dict[str, Any]) -> Comment:
    return _queue().review(
            current_principal(), comment_id, body["action"], body.get("label"), body.get("note"),
        body.get("reason"), body.get("expected_status"),
    )  # fmt: skip


@blp.route("/comments/<string:comment_id>/review")
class Review(MethodView):
    @requires("moderator")
    @blp.arguments(ReviewIn())
    @blp.response(200, CommentStateOut)
    def post(self, body: dict[str, Any], comment_id: str) -> Comment:
        """Approve or reject a comment, or change its decision at any time (with expected_status)."""
        return _decide(comment_id, body)


@blp.route("/comments/<string:comment_id>/review/undo")
class Undo(MethodView):
    @requires("moderator")
    @blp.response(200, CommentStateOut)
    def post(self, comment_id: str) -> Comment:
        """Undo your own decision of the last few seconds: the comment is as it was before it."""
        return _queue().undo(current_principal(), comment_id)


@blp.route("/comments/<string:comment_id>/audit")
class Audit(MethodView):
    @requires("moderator")
    @blp.response(200, AuditOut)
    def get(self, comment_id: str) -> dict[str, Any]:
        """Every review action on the comment: who, when, from which status to which, reason, note."""
        if current_app.extensions["moderation"].store.get_comment(comment_id) is None:
            abort(404, message=f"No comment {comment_id!r}.")
        return {"items": _queue().audit(comment_id)}


@blp.route("/reviews")
class BulkReview(MethodView):
    @requires("moderator")
    @blp.arguments(BulkIn())
    @blp.response(200, BulkOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Review many comments in one call; each item gets its own result."""
        results = []
        for item in body["items"]:
            try:
                comment = _decide(item["id"], item)
                results.append({"id": item["id"], "status": 200, "comment": comment, "error": None})
            except DomainError as exc:
                results.append(
                    {"id": item["id"], "status": status_of(exc), "comment": None, "error": exc.message}
                )
        return {"results": results}
