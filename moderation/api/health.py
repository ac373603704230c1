"""Liveness, readiness and metrics: the endpoints that need no key."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from moderation.classifier.bundle import ModelError
from moderation.ops.metrics import metrics_response

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz() -> Response:
    """The process is up."""
    return jsonify({"status": "ok"})


@blp.get("/readyz")
def readyz() -> tuple[Response, int, dict[str, str]] | Response:
    """The database answers and a model is loaded."""
    ext = current_app.extensions["moderation"]
    checks: dict[str, str] = {}
    try:
        ext.store.ping()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure to reach the database means not ready
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        checks["model"] = ext.models.get().version
    except ModelError as exc:
        checks["model"] = f"unavailable: {exc}"
    ready = checks["database"] == "ok" and not checks["model"].startswith("unavailable")
    body = jsonify({"status": "ready" if ready else "unavailable", "checks": checks})
    if ready:
        return body
    return body, 503, {"Retry-After": "5"}


@blp.get("/metrics")
def metrics() -> Response:
    """Prometheus text format."""
    return metrics_response()
