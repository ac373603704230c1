"""Perspective's request and answer shapes, pure: parsing, validation, errors, spans and answers.

Nothing here touches the app, the store or the model, so every rule is testable on its own.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

# Perspective refuses comments over 20 KB of UTF-8.
MAX_TEXT_BYTES = 20 * 1024
SCORE_TYPE = "PROBABILITY"
TEXT_TYPES = ("PLAIN_TEXT", "TEXT_TYPE_UNSPECIFIED")
SUGGEST_SOURCE = "perspective_suggest"  # labels a community suggested through comments:suggestscore
ANALYSIS_SOURCE = "perspective"
ERROR_TYPE_URL = "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"

_STATUS_BY_CODE = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    415: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_ANALYZE_FIELDS = frozenset(
    {
        "comment",
        "context",
        "requestedAttributes",
        "languages",
        "doNotStore",
        "clientToken",
        "sessionId",
        "communityId",
        "spanAnnotations",
        "dropUnsupportedAttributes",
    }
)
_SUGGEST_FIELDS = frozenset(
    {"comment", "context", "attributeScores", "languages", "clientToken", "sessionId", "communityId"}
)
# A sentence ends at ., ! or ? (with any closing quotes or brackets) followed by space, or at a newline.
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]»”’]*(?=\s)|\n")


class PerspectiveError(Exception):
    """An error to answer in Google's shape: {"error": {"code", "message", "status", "details"}}."""

    def __init__(
        self, code: int, message: str, error_type: str | None = None, extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.error_type = error_type
        self.extra = dict(extra or {})

    @property
    def status(self) -> str:
        return _STATUS_BY_CODE.get(self.code, "UNKNOWN")

    def body(self) -> dict[str, Any]:
        details: list[dict[str, Any]] = []
        if self.error_type:
            details.append({"@type": ERROR_TYPE_URL, "errorType": self.error_type, **self.extra})
        error = {"code": self.code, "message": self.message, "status": self.status, "details": details}
        return {"error": error}


def invalid(message: str) -> PerspectiveError:
    return PerspectiveError(400, message)


def status_for(code: int) -> str:
    """Google's status name for an HTTP status code."""
    return _STATUS_BY_CODE.get(code, "UNKNOWN")


@dataclass(frozen=True)
class AttributeRequest:
    score_type: str = SCORE_TYPE
    threshold: float | None = None


@dataclass(frozen=True)
class AnalyzeRequest:
    text: str
    attributes: dict[str, AttributeRequest]
    languages: tuple[str, ...] = ()
    do_not_store: bool = False
    span_annotations: bool = False
    drop_unsupported: bool = False
    client_token: str | None = None
    session_id: str | None = None
    community_id: str | None = None


@dataclass(frozen=True)
class SuggestRequest:
    text: str
    scores: dict[str, float]
    languages: tuple[str, ...] = ()
    client_token: str | None = None
    session_id: str | None = None
    community_id: str | None = None


@dataclass(frozen=True)
class AttributeScore:
    """One attribute's summary score and, when spans were asked for, its (begin, end, value) spans."""

    value: float
    spans: list[tuple[int, int, float]] = field(default_factory=list)


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"Invalid value at '{name}': expected an object.")
    return value


def _refuse_unknown(body: Mapping[str, Any], known: Iterable[str], where: str = "") -> None:
    unknown = sorted(set(body) - set(known))
    if unknown:
        place = f" at '{where}'" if where else ""
        message = f'Invalid JSON payload received. Unknown name "{unknown[0]}"{place}: Cannot find field.'
        raise invalid(message)


def _optional_string(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid value at '{name}': expected a string.")
    return value


def _boolean(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid(f"Invalid value at '{name}': expected a boolean.")
    return value


def _probability(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise invalid(f"Invalid value at '{name}': expected a number.")
    if not 0.0 <= value <= 1.0:
        raise invalid(f"{name} must be between 0 and 1.")
    return float(value)


def _comment_text(body: Mapping[str, Any]) -> str:
    if "comment" not in body:
        raise invalid("comment must be specified.")
    comment = _object(body["comment"], "comment")
    _refuse_unknown(comment, ("text", "type"), "comment")
    text = comment.get("text")
    if not isinstance(text, str) or not text.strip():
        raise invalid("Comment text was empty.")
    kind = comment.get("type") or "TEXT_TYPE_UNSPECIFIED"
    if kind not in TEXT_TYPES:
        raise invalid(f"comment.type {kind!r} is not supported; send PLAIN_TEXT.")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise invalid(f"Comment text too long: the limit is {MAX_TEXT_BYTES} bytes of UTF-8.")
    return text


def _languages(body: Mapping[str, Any]) -> tuple[str, ...]:
    value = body.get("languages")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid("Invalid value at 'languages': expected a list of strings.")
    codes = []
    for item in value:
        code = item.strip().replace("_", "-").split("-")[0].lower()
        if not re.fullmatch(r"[a-z]{2,3}", code):
            raise invalid(f"Unable to parse language code {item!r}.")
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def _context(body: Mapping[str, Any]) -> None:
    """Accept Perspective's context (entries of text, or an article and parent comment); we do not use it."""
    if body.get("context") is not None:
        _object(body["context"], "context")


def parse_analyze(body: Any) -> AnalyzeRequest:
    """Validate a comments:analyze body and return what it asks for (raises PerspectiveError)."""
    body = _object(body, "body")
    _refuse_unknown(body, _ANALYZE_FIELDS)
    text = _comment_text(body)
    _context(body)
    requested = body.get("requestedAttributes")
    if not isinstance(requested, dict) or not requested:
        raise invalid("requestedAttributes must not be empty.")
    attributes: dict[str, AttributeRequest] = {}
    for name, parameters in requested.items():
        where = f"requestedAttributes[{name}]"
        parameters = _object(parameters if parameters is not None else {}, where)
        _refuse_unknown(parameters, ("scoreType", "scoreThreshold"), where)
        score_type = parameters.get("scoreType") or SCORE_TYPE
        if score_type != SCORE_TYPE:
            raise invalid(f"{where}.scoreType {score_type!r} is not supported; only PROBABILITY is.")
        threshold = parameters.get("scoreThreshold")
        attributes[name] = AttributeRequest(
            score_type, None if threshold is None else _probability(threshold, f"{where}.scoreThreshold")
        )
    return AnalyzeRequest(
        text=text,
        attributes=attributes,
        languages=_languages(body),
        do_not_store=_boolean(body, "doNotStore"),
        span_annotations=_boolean(body, "spanAnnotations"),
        drop_unsupported=_boolean(body, "dropUnsupportedAttributes"),
        client_token=_optional_string(body, "clientToken"),
        session_id=_optional_string(body, "sessionId"),
        community_id=_optional_string(body, "communityId"),
    )


def parse_suggest(body: Any) -> SuggestRequest:
    """Validate a comments:suggestscore body: the comment and the community's score per attribute."""
    body = _object(body, "body")
    _refuse_unknown(body, _SUGGEST_FIELDS)
    text = _comment_text(body)
    _context(body)
    given = body.get("attributeScores")
    if not isinstance(given, dict) or not given:
        raise invalid("attributeScores must not be empty.")
    scores: dict[str, float] = {}
    for name, attribute in given.items():
        where = f"attributeScores[{name}]"
        attribute = _object(attribute, where)
        _refuse_unknown(attribute, ("summaryScore", "spanScores"), where)
        summary = attribute.get("summaryScore")
        if summary is None:
            raise invalid(f"{where}.summaryScore must be specified.")
        summary = _object(summary, f"{where}.summaryScore")
        _refuse_unknown(summary, ("value", "type"), f"{where}.summaryScore")
        if (summary.get("type") or SCORE_TYPE) != SCORE_TYPE:
            raise invalid(f"{where}.summaryScore.type must be PROBABILITY.")
        scores[name] = _probability(summary.get("value"), f"{where}.summaryScore.value")
    return SuggestRequest(
        text=text,
        scores=scores,
        languages=_languages(body),
        client_token=_optional_string(body, "clientToken"),
        session_id=_optional_string(body, "sessionId"),
        community_id=_optional_string(body, "communityId"),
    )


def unknown_attribute(name: str, available: Iterable[str]) -> PerspectiveError:
    """The error for an attribute this service does not score (unknown, or its head is not trained)."""
    names = ", ".join(available)
    return PerspectiveError(
        400,
        f"Unknown or unsupported attribute: {name}. This service scores: {names}.",
        "ATTRIBUTE_NOT_SUPPORTED",
        {"attributeNotSupportedError": {"attribute": name}},
    )


def language_not_supported(attribute: str, languages: Iterable[str]) -> PerspectiveError:
    """Perspective's LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE error, with its wording."""
    codes = list(languages)
    return PerspectiveError(
        400,
        f"Attribute {attribute} does not support request languages: {','.join(codes)}",
        "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
        {"languageNotSupportedByAttributeError": {"detectedLanguages": codes, "attribute": attribute}},
    )


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split text into sentences: (begin, end) offsets in Unicode code points, end exclusive.

    Python indexes strings by code point, as Perspective counts its offsets (an emoji is one, not two
    UTF-16 units). Surrounding whitespace is left out of every span; blank stretches make no span.
    """
    spans = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    trimmed = []
    for begin, end in spans:
        piece = text[begin:end]
        if not piece.strip():
            continue
        begin += len(piece) - len(piece.lstrip())
        end -= len(piece) - len(piece.rstrip())
        trimmed.append((begin, end))
    return trimmed


def _score(value: float) -> dict[str, Any]:
    return {"value": round(float(value), 6), "type": SCORE_TYPE}


def analyze_response(
    request: AnalyzeRequest,
    scores: Mapping[str, AttributeScore],
    languages: Iterable[str],
    detected: Iterable[str],
) -> dict[str, Any]:
    """Build comments:analyze's answer; attributes below their scoreThreshold are left out."""
    attribute_scores: dict[str, Any] = {}
    for name, parameters in request.attributes.items():
        if name not in scores:
            continue
        score = scores[name]
        if parameters.threshold is not None and score.value < parameters.threshold:
            continue
        entry: dict[str, Any] = {"summaryScore": _score(score.value)}
        if request.span_annotations:
            entry["spanScores"] = [
                {"begin": begin, "end": end, "score": _score(value)}
                for begin, end, value in score.spans
                if parameters.threshold is None or value >= parameters.threshold
            ]
        attribute_scores[name] = entry
    answer: dict[str, Any] = {
        "attributeScores": attribute_scores,
        "languages": list(languages),
        "detectedLanguages": list(detected),
    }
    if request.client_token is not None:
        answer["clientToken"] = request.client_token
    return answer


def suggest_response(request: SuggestRequest, detected: Iterable[str]) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "detectedLanguages": list(detected),
        "requestedLanguages": list(request.languages),
    }
    if request.client_token is not None:
        answer["clientToken"] = request.client_token
    return answer


def training_label(scores: Mapping[str, float], head_by_attribute: Mapping[str, str]) -> str:
    """Our training label for a community's suggested scores: spam, toxic (any toxicity kind) or ham."""
    if scores.get("SPAM", 0.0) >= 0.5:
        return "spam"
    toxic = [name for name in scores if name != "SPAM" and name in head_by_attribute]
    if any(scores[name] >= 0.5 for name in toxic):
        return "toxic"
    return "ham"
