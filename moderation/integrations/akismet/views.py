"""Akismet-compatible API: comment-check, submit-spam, submit-ham and verify-key over form posts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request
from marshmallow import ValidationError

from moderation.api.comments import CommentIn
from moderation.auth import authenticate, presented_key
from moderation.integrations.akismet.protocol import (
    FEEDBACK_SOURCE,
    FEEDBACK_THANKS,
    KEY_HELP,
    CheckAnswer,
    check_answer,
    describe_problems,
    invalid_answer,
    is_test,
    record_feedback,
    submission_fields,
)
from moderation.ops.metrics import record_unverified_label
from moderation.store.repository import Principal

bp = Blueprint("akismet", __name__, url_prefix="/1.1")

# One instance, as the comments blueprint does: the rules are exactly those of POST /v1/comments.
_comment_in = CommentIn()


def _plain(answer: CheckAnswer) -> Response:
    # Akismet answers everything, even a bad key or request, with 200 and a one-word body.
    return Response(answer.body, status=200, mimetype="text/plain", headers=answer.headers)


def _client() -> Principal | None:
    """Return the client behind the key in the form (`api_key`, or verify-key's older `key`) or header."""
    key = (request.form.get("api_key") or request.form.get("key") or "").strip() or presented_key()
    if not key:
        return None
    principal = authenticate(key)
    if principal is None or not principal.has("client"):
        return None
    return principal


def _validated() -> dict[str, Any]:
    """Load the form as a submission with the rules of POST /v1/comments (raises ValidationError)."""
    return _comment_in.load(submission_fields(request.form))


@bp.post("/verify-key")
def verify_key() -> Response:
    """Answer `valid` for an active client key, `invalid` otherwise."""
    if _client() is None:
        return _plain(invalid_answer(KEY_HELP))
    return _plain(CheckAnswer("valid"))


class _Refused(Exception):
    """The request cannot be acted on; carries the Akismet-style answer to send instead."""

    def __init__(self, answer: Response) -> None:
        self.answer = answer


def _client_and_fields() -> tuple[Principal, dict[str, Any]]:
    """The calling client and its validated form, or _Refused with the answer Akismet would give."""
    principal = _client()
    if principal is None:
        raise _Refused(_plain(invalid_answer(KEY_HELP)))
    try:
        return principal, _validated()
    except ValidationError as error:
        raise _Refused(_plain(invalid_answer(describe_problems(error.messages_dict, request.form)))) from None


@bp.post("/comment-check")
def comment_check() -> Response:
    """Moderate the comment like POST /v1/comments and answer true (keep it out) or false (publish)."""
    try:
        principal, fields = _client_and_fields()
    except _Refused as refused:
        return refused.answer
    outcome = current_app.extensions["moderation"].service.submit(principal, fields)
    return _plain(check_answer(outcome.comment))


def _feedback(label: str) -> Response:
    try:
        principal, fields = _client_and_fields()
    except _Refused as refused:
        return refused.answer
    if not is_test(request.form):  # a test report is acknowledged but never trained on, as Akismet does
        moderation = current_app.extensions["moderation"]
        cap = moderation.settings.unverified_labels_per_day
        stored = record_feedback(moderation.store, principal, fields, label, cap)
        if stored is None or stored.trust != "trusted":
            # Past the cap the report is thanked as Akismet would, and only counted.
            record_unverified_label(FEEDBACK_SOURCE, stored is not None)
    return _plain(CheckAnswer(FEEDBACK_THANKS))


@bp.post("/submit-spam")
def submit_spam() -> Response:
    """Record the CMS's verdict that a comment is spam as a training label."""
    return _feedback("spam")


@bp.post("/submit-ham")
def submit_ham() -> Response:
    """Record the CMS's verdict that a comment is not spam as a training label."""
    return _feedback("ham")
