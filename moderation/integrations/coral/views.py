"""Coral Talk's external moderation phase: POST /integrations/coral/phase."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_smorest import abort
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from moderation.api.comments import CommentIn
from moderation.auth import authenticate, presented_key
from moderation.integrations.coral.protocol import (
    ACTIONS,
    MARKUP_ALLOWANCE,
    REPLAY_WINDOW,
    SIGNATURE_HEADER,
    configured_secrets,
    phase_result,
    presented_signatures,
    signature_valid,
    submission_fields,
)
from moderation.store.privacy import email_key
from moderation.store.repository import Principal, utcnow
from moderation.store.tables import Comment

bp = Blueprint("coral", __name__, url_prefix="/integrations/coral")


class _CoralComment(Schema):
    class Meta:
        unknown = EXCLUDE

    body = fields.String(required=True)
    parentID = fields.String(allow_none=True, load_default=None)


class _CoralAuthor(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, validate=validate.Length(1, 200))
    role = fields.String(allow_none=True)
    # Not in Coral's documented request; used when a Coral build or a proxy adds them.
    username = fields.String(allow_none=True, load_default=None)
    email = fields.String(allow_none=True, load_default=None)


class _CoralStory(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, validate=validate.Length(min=1))
    url = fields.String(allow_none=True, load_default=None)


class _CoralSite(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(allow_none=True, load_default=None)


class _CoralTenant(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(allow_none=True, load_default=None)
    domain = fields.String(allow_none=True, load_default=None)


class CoralRequest(Schema):
    """Coral's ExternalModerationRequest; fields Coral may add later are ignored."""

    class Meta:
        unknown = EXCLUDE

    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    comment = fields.Nested(_CoralComment, required=True)
    author = fields.Nested(_CoralAuthor, required=True)
    story = fields.Nested(_CoralStory, required=True)
    site = fields.Nested(_CoralSite, load_default=None, allow_none=True)
    tenantID = fields.String(allow_none=True, load_default=None)
    tenantDomain = fields.String(allow_none=True, load_default=None)
    # Coral releases of 2020 sent the tenant as an object instead of the two fields above.
    tenant = fields.Nested(_CoralTenant, load_default=None, allow_none=True)

    @post_load
    def flatten(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        tenant = data.get("tenant") or {}
        return {
            "action": data["action"],
            "comment": data["comment"],
            "author": data["author"],
            "story": data["story"],
            "site_id": (data.get("site") or {}).get("id"),
            "tenant_id": data.get("tenantID") or tenant.get("id"),
        }


_CORAL_REQUEST = CoralRequest()
_SUBMISSION = CommentIn()


def _dotted(messages: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested marshmallow errors to Coral's field paths, e.g. `comment.body`."""
    if not isinstance(messages, dict):
        return {prefix or "_body": messages}
    flat: dict[str, Any] = {}
    for key, value in messages.items():
        if key == "_schema":
            path = prefix or "_body"  # a nested object of the wrong type: name the object itself
        else:
            path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(_dotted(value, path))
        else:
            flat[path] = value
    return flat


def _coral_path(field: str, coral: dict[str, Any]) -> str:
    """Name our submission field by the Coral field it came from."""
    author = coral["author"]
    return {
        "name": "author.username" if author.get("username") else "author.id",
        "email": "author.email" if author.get("email") else "author.id",
        "text": "comment.body",
        "post_id": "story.id",
        "referrer": "story.url",
        "parent_id": "comment.parentID",
        "client_comment_id": "comment",
    }.get(field, field)


def _verify_signature(secret_setting: str) -> None:
    """Refuse the request unless Coral signed this exact body with a configured secret."""
    secrets = configured_secrets(secret_setting)
    if not secrets:
        abort(404, message="The Coral integration is not configured: set MODERATION_CORAL_SECRET.")
    header = request.headers.get(SIGNATURE_HEADER)
    if not presented_signatures(header):
        abort(401, message=f"Missing {SIGNATURE_HEADER}: configure this URL as a Coral moderation phase.")
    if not signature_valid(request.get_data(cache=True), header, secrets):
        abort(401, message=f"{SIGNATURE_HEADER} does not match the body signed with the configured secret.")


def _client() -> Principal:
    """Return the client key named in the phase URL (`?key=`) or in an Authorization header."""
    key = presented_key() or request.args.get("key", "").strip()
    if not key:
        abort(401, message="Missing API key: add ?key=<client key> to the phase URL configured in Coral.")
    principal = authenticate(key)
    if principal is None:
        abort(401, message="Unknown or revoked API key.")
    if not principal.has("client"):
        abort(403, message=f"This endpoint needs the client role; this key has {principal.role}.")
    return principal


def _load_request() -> dict[str, Any]:
    """Parse and validate Coral's JSON body."""
    if not request.is_json:
        abort(415, message="Send the body as JSON with Content-Type: application/json.")
    try:
        data = json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):
        abort(400, message="The request body is not valid UTF-8 JSON.")
    if not isinstance(data, dict):
        abort(400, message="The request body must be a JSON object.")
    try:
        return _CORAL_REQUEST.load(data)
    except ValidationError as error:
        abort(422, errors=_dotted(error.messages))
    raise AssertionError("unreachable")  # abort always raises


def _answer(comment: Comment | None) -> Response:
    """Render Coral's answer: 204 for no opinion, else 200 with a status and flags."""
    result = None if comment is None else phase_result(comment.status, comment.reasons)
    response = Response(status=204) if result is None else jsonify(result)
    if comment is not None:
        # Coral ignores these; they let an operator match Coral's log lines to our records.
        response.headers["X-Moderation-Comment-Id"] = comment.id
        response.headers["X-Moderation-Decision"] = comment.decision
        response.headers["X-Moderation-Reason"] = comment.reason_code
    return response


def _refuse_replay_under_another_key(principal: Principal, submission: dict[str, Any]) -> None:
    """Refuse a signed body another client key already sent: Coral's signature does not bind our key.

    The signature covers only the body, so a body captured on its way to one client's phase URL
    verifies under any key; the same body from a second key within the window is such a replay.
    """
    store = current_app.extensions["moderation"].store
    since = utcnow() - REPLAY_WINDOW
    key = email_key(submission["email"])
    if store.seen_under_another_key(principal.key_id, key, submission["client_comment_id"], since):
        abort(409, message="This Coral request was already sent with another client key.")


@bp.post("/phase")
def phase() -> Response:
    """Moderate one new or edited Coral comment and answer in Coral's external moderation format."""
    settings = current_app.extensions["moderation"].settings
    _verify_signature(getattr(settings, "coral_secret", ""))
    principal = _client()
    coral = _load_request()
    limit = MARKUP_ALLOWANCE * settings.max_text_length
    if len(coral["comment"]["body"]) > limit:
        # Before any parsing: the markup is stripped in one pass, but no pass is needed for this.
        abort(422, errors={"comment.body": [f"Longer than {limit} characters with its markup."]})
    fields_in = submission_fields(coral)
    if not fields_in["text"].strip():
        return _answer(None)  # a comment with no text (e.g. only media): nothing for us to judge
    try:
        submission = _SUBMISSION.load(fields_in)
    except ValidationError as error:
        errors = {_coral_path(field, coral): value for field, value in error.messages.items()}
        abort(422, errors=errors)
    _refuse_replay_under_another_key(principal, submission)
    service = current_app.extensions["moderation"].service
    outcome = service.submit(principal, submission, edit=coral["action"] == "EDIT")
    return _answer(outcome.comment)
