"""One JSON error shape for every failure: {code, status, error, message, errors}.

The domain's exceptions (moderation/exceptions.py) get their HTTP status here and nowhere else.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from flask_limiter import RateLimitExceeded
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, default_exceptions

from moderation.classifier.bundle import ModelError
from moderation.exceptions import Conflict, DomainError, InvalidRequest, NotFound

log = logging.getLogger(__name__)

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    431: "headers_too_large",
    500: "internal_error",
    503: "unavailable",
}
RETRY_AFTER_UNAVAILABLE = "5"
# Each kind of domain error and the status that says it; the first that matches wins.
DOMAIN_STATUSES: tuple[tuple[type[DomainError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (InvalidRequest, 422),
)


def error_response(
    status: int,
    message: str,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    name: str | None = None,
) -> Response:
    body: dict[str, Any] = {
        "code": status,
        "status": name or ERROR_CODES.get(status, "error").replace("_", " ").title(),
        "error": ERROR_CODES.get(status, "error"),
        "message": message,
    }
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def status_of(error: DomainError) -> int:
    """The HTTP status of a domain error (400 for a kind without its own)."""
    return next((status for kind, status in DOMAIN_STATUSES if isinstance(error, kind)), 400)


def http_exception(error: DomainError) -> HTTPException:
    """The HTTPException a view would abort with for this domain error: its status, its message and,
    for a field at fault, that field's error (the pages render it, the API via handle_http_exception)."""
    exception = default_exceptions[status_of(error)](description=error.message)
    field = getattr(error, "field", None)
    exception.data = {"message": error.message, **({"errors": {field: [error.message]}} if field else {})}
    return exception


def _flatten(messages: Any) -> dict[str, Any]:
    """webargs nests field errors under the location ("json"); callers only care about fields."""
    if isinstance(messages, dict) and set(messages) <= {"json", "query", "form", "headers", "view_args"}:
        merged: dict[str, Any] = {}
        for value in messages.values():
            if isinstance(value, dict):
                merged.update(value)
            else:
                merged.setdefault("_body", []).extend(value if isinstance(value, list) else [value])
        return merged
    return messages if isinstance(messages, dict) else {"_body": messages}


def handle_http_exception(error: HTTPException) -> Response:
    """Render any HTTPException, including webargs validation errors, in our shape."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    errors = data.get("errors") or data.get("messages")
    message = data.get("message") or error.description or error.name
    if status == 422:
        errors = _flatten(errors)
        body_errors = errors.pop("_schema", None) if isinstance(errors, dict) else None
        if body_errors and not errors:
            # The body parsed but was not an object: a malformed request, not a field problem.
            return error_response(400, "The request body must be a JSON object.", {"_body": body_errors})
        message = "Validation failed: " + ", ".join(sorted(errors)) if errors else message
    elif status == 400 and errors:
        errors = _flatten(errors)
        message = "The request body is not valid JSON."
    if isinstance(error, RateLimitExceeded):
        message = f"Rate limit exceeded: {error.description}."
        retry = getattr(error, "retry_after", None)
        if retry:
            headers.setdefault("Retry-After", str(retry))
    if status == 413:
        message = "The request body is too large."
    response = error_response(status, message, errors if isinstance(errors, dict) else None, headers)
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def register(app: Flask) -> None:
    """Install the handlers; the database and model failures become 503 with Retry-After."""

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def database_unavailable(error: Exception) -> Response:
        log.error("database unavailable: %s", type(error).__name__)
        return error_response(
            503,
            "The moderation database is unavailable; retry shortly.",
            headers={"Retry-After": RETRY_AFTER_UNAVAILABLE},
        )

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError) -> Response:
        return handle_http_exception(http_exception(error))

    @app.errorhandler(ModelError)
    def model_unavailable(error: ModelError) -> Response:
        log.error("model unavailable: %s", error)
        return error_response(
            503, "The moderation model is unavailable; retry shortly.",
            headers={"Retry-After": RETRY_AFTER_UNAVAILABLE},
        )  # fmt: skip
