"""Perspective-compatible API: /v1alpha1/comments:analyze and :suggestscore, and a discovery document."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from moderation.auth import authenticate, presented_key
from moderation.classifier.attributes import HEAD_BY_ATTRIBUTE, available_attributes, head_for
from moderation.integrations.perspective import discovery
from moderation.integrations.perspective.protocol import (
    ANALYSIS_SOURCE,
    SUGGEST_SOURCE,
    AttributeScore,
    PerspectiveError,
    analyze_response,
    language_not_supported,
    parse_analyze,
    parse_suggest,
    sentence_spans,
    suggest_response,
    training_label,
    unknown_attribute,
)
from moderation.ops.metrics import record_unverified_label
from moderation.pipeline.domain import Submission
from moderation.pipeline.language import SUPPORTED_LANGUAGES, identify
from moderation.store.repository import Principal

log = logging.getLogger(__name__)

bp = Blueprint("perspective", __name__)
PREFIX = "/v1alpha1"
DISCOVERY_PATH = "/$discovery/rest"
KEY_HELP = "API key not valid. Please pass a valid client key as ?key= or Authorization: Bearer."


def _google_error(error: PerspectiveError) -> Response:
    response = jsonify(error.body())
    response.status_code = error.code
    return response


@bp.errorhandler(PerspectiveError)
def _perspective_error(error: PerspectiveError) -> Response:
    return _google_error(error)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    """Every other refusal on these paths (rate limit, body too large, wrong method) in Google's shape."""
    code = error.code or 500
    message = {
        429: "Quota exceeded: too many requests for this key; retry after the Retry-After seconds.",
        413: "Request payload size exceeds the limit.",
    }.get(code, error.description or error.name)
    response = _google_error(PerspectiveError(code, message))
    retry = getattr(error, "retry_after", None)
    if code == 429 and retry:
        response.headers["Retry-After"] = str(retry)
    if code == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def perspective_key() -> str | None:
    """The key as Perspective clients send it (`?key=`), or a Bearer token."""
    return presented_key() or request.args.get("key", "").strip() or None


def _client() -> Principal:
    key = perspective_key()
    if not key:
        raise PerspectiveError(
            403,
            "The request is missing a valid API key.",
        )
    principal = authenticate(key)
    if principal is None:
        raise PerspectiveError(400, KEY_HELP, "API_KEY_INVALID")
    if not principal.has("client"):
        raise PerspectiveError(403, f"This API needs a client key; this key has the {principal.role} role.")
    return principal


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _body() -> Any:
    if not request.is_json:
        raise PerspectiveError(400, "Send the body as JSON with Content-Type: application/json.")
    data = request.get_data(cache=True)
    try:
        body = json.loads(data)
        # Only a \u escape can make a string no database stores as UTF-8 (a lone surrogate) or a NUL,
        # which PostgreSQL cannot store: most bodies skip this.
        if b"\\u" in data:
            json.dumps(body, ensure_ascii=False).encode("utf-8")
            if b"\\u0000" in data and _holds_nul(body):
                raise PerspectiveError(400, "Invalid JSON payload received: NUL characters are not accepted.")
        return body
    except (ValueError, RecursionError, UnicodeEncodeError):
        raise PerspectiveError(400, "Invalid JSON payload received.") from None


def _languages(request_languages: tuple[str, ...], text: str) -> tuple[list[str], list[str]]:
    """The languages to score the text as (given, else detected) and those detected.

    A text too short to identify is taken as English, the model's language, rather than refused.
    """
    detection = identify(text)
    detected = [detection.language] if detection.language else []
    if request_languages:
        return list(request_languages), detected
    return (detected or list(SUPPORTED_LANGUAGES)), detected


def _span_scores(text: str, heads: list[str]) -> dict[str, list[tuple[int, int, float]]]:
    """Score each sentence on its own, in one vectorized pass."""
    spans = sentence_spans(text)
    records = [Submission(name="", email="", text=text[b:e]).classifier_record() for b, e in spans]
    by_head = current_app.extensions["moderation"].models.get().score_many(records)
    return {
        head: [(b, e, float(v)) for (b, e), v in zip(spans, by_head[head], strict=True)] for head in heads
    }


@bp.post(f"{PREFIX}/comments:analyze")
def analyze() -> Response:
    """Score a comment per requested attribute, Perspective-style; nothing is moderated."""
    principal = _client()
    parsed = parse_analyze(_body())
    moderation = current_app.extensions["moderation"]
    bundle = moderation.models.get()
    whole = bundle.score(Submission(name="", email="", text=parsed.text).classifier_record())
    offered = available_attributes(whole)
    for name in parsed.attributes:
        if name not in offered:
            raise unknown_attribute(name, offered)
    languages, detected = _languages(parsed.languages, parsed.text)
    scores: dict[str, AttributeScore] = {}
    if any(code not in SUPPORTED_LANGUAGES for code in languages):
        if not parsed.drop_unsupported:
            raise language_not_supported(next(iter(parsed.attributes)), languages)
        whole = {}  # every attribute is English-only: all are dropped
    else:
        heads = [HEAD_BY_ATTRIBUTE[name] for name in parsed.attributes]
        spans = _span_scores(parsed.text, heads) if parsed.span_annotations else {}
        for name, head in zip(parsed.attributes, heads, strict=True):
            scores[name] = AttributeScore(float(whole[head]), spans.get(head, []))
    if not parsed.do_not_store:
        moderation.store.add_analysis(
            {
                "key_id": principal.key_id,
                "source": ANALYSIS_SOURCE,
                "text": parsed.text,
                "scores": {head: round(float(value), 4) for head, value in whole.items()},
                "language": detected[0] if detected else None,
                "community_id": (parsed.community_id or "")[:200] or None,
                "session_id": (parsed.session_id or "")[:200] or None,
                "model_version": bundle.version,
            }
        )
    return jsonify(analyze_response(parsed, scores, languages, detected))


@bp.post(f"{PREFIX}/comments:suggestscore")
def suggest_score() -> Response:
    """Keep a community's own scores for a text as a training label (source perspective_suggest)."""
    principal = _client()
    parsed = parse_suggest(_body())
    for name in parsed.scores:
        if head_for(name) is None:
            raise unknown_attribute(name, list(HEAD_BY_ATTRIBUTE))
    label = training_label(parsed.scores, HEAD_BY_ATTRIBUTE)
    moderation = current_app.extensions["moderation"]
    # A text we never stored: an unverified report, capped per key per day (past the cap it is
    # answered as Perspective does and only counted).
    stored = moderation.store.add_text_label(
        principal.key_id, parsed.text, label, SUGGEST_SOURCE, moderation.settings.unverified_labels_per_day
    )
    record_unverified_label(SUGGEST_SOURCE, stored is not None)
    detection = identify(parsed.text)
    return jsonify(suggest_response(parsed, [detection.language] if detection.language else []))


@bp.get(DISCOVERY_PATH)
def discovery_document() -> Response:
    """The commentanalyzer v1alpha1 discovery document, pointing Google's client libraries at us."""
    return jsonify(discovery.document(request.host_url))
