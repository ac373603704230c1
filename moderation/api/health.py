"""Liveness, readiness and metrics: the endpoints that need no key."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from moderation.classifier.bundle import POINTER_FILE, ModelError
from moderation.ops.metrics import metrics_response

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz() -> Response:
    """The process is up."""
    return jsonify({"status": "ok"})


@blp.get("/readyz")
def readyz() -> tuple[Response, int, dict[str, str]] | Response:
    """The database answers, a model is loaded and it is the version the pointer names.

    While a newly promoted version loads in the background the worker keeps serving the old one
    and stays ready (``model.state`` is ``loading``). When the new version is refused (its files
    fail their checks) the worker keeps serving the old one but answers 503: what it serves is not
    what CURRENT names (``model.state`` is ``refused``, with the reason).
    """
    ext = current_app.extensions["moderation"]
    checks: dict[str, str] = {}
    try:
        ext.store.ping()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure to reach the database means not ready
        checks["database"] = f"unavailable: {type(exc).__name__}"
    model: dict[str, object] = {}
    try:
        ext.models.get()
        status = ext.models.status()
        model = status.as_dict()
        if status.state == "refused":
            checks["model"] = (
                f"mismatch: serving {status.serving}, {POINTER_FILE} names {status.current}, "
                f"which was refused"
            )
        else:
            checks["model"] = status.serving or "unavailable"
    except ModelError as exc:
        checks["model"] = f"unavailable: {exc}"
    ready = checks["database"] == "ok" and not checks["model"].startswith(("unavailable", "mismatch"))
    body = jsonify({"status": "ready" if ready else "unavailable", "checks": checks, "model": model})
    if ready:
        return body
    return body, 503, {"Retry-After": "5"}


@blp.get("/metrics")
def metrics() -> Response:
    """Prometheus text format."""
    return metrics_response()
