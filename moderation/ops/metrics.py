"""Prometheus metrics: decisions by outcome and reason, latency, model version."""

from __future__ import annotations

import logging
import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from moderation.store.tables import Comment

log = logging.getLogger(__name__)

DECISIONS = Counter(
    "moderation_decisions_total", "Comments decided, by decision and primary reason", ["decision", "reason"]
)
DECISION_SECONDS = Histogram(
    "moderation_decision_seconds",
    "Time to decide on and store one comment",
    buckets=(0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.0),
)
REQUEST_SECONDS = Histogram(
    "moderation_http_request_seconds",
    "HTTP request latency by route template, method and status class",
    ["endpoint", "method", "status"],
    buckets=(0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.0, 2.5),
)
UNVERIFIED_LABELS = Counter(
    "moderation_unverified_labels_total",
    "Client reports on texts no stored comment matches: stored as unverified, or refused past the daily cap",
    ["source", "outcome"],
)
MODEL_INFO = Gauge(
    "moderation_model_info", "The model version in use (value 1)", ["version"], multiprocess_mode="max"
)


# Every label value comes from a closed set: a client-chosen value (a made-up method, a path) as a label
# would grow one series per value, and /metrics without bound.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


def request_labels(rule: str | None, method: str, status: int) -> tuple[str, str, str]:
    """Return the (endpoint, method, status) labels: route template, known method, status class."""
    return (
        rule or UNMATCHED,
        method if method in KNOWN_METHODS else "other",
        f"{status // 100}xx" if 100 <= status <= 599 else "other",
    )


def record_decision(comment: Comment, seconds: float) -> None:
    DECISIONS.labels(comment.decision, comment.reason_code).inc()
    DECISION_SECONDS.observe(seconds)


def record_unverified_label(source: str, stored: bool) -> None:
    """Count a report kept as an unverified label, or refused because its key spent today's cap."""
    UNVERIFIED_LABELS.labels(source, "stored" if stored else "over_cap").inc()
    if not stored:
        log.warning("unverified label refused: the client key reached MODERATION_UNVERIFIED_LABELS_PER_DAY")


def set_model_version(version: str, previous: str | None = None) -> None:
    if previous and previous != version:
        MODEL_INFO.labels(previous).set(0)
    MODEL_INFO.labels(version).set(1)


def metrics_response() -> Response:
    """Render every worker's metrics when gunicorn runs several, else this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = getattr(g, "request_started", None)
        if started is not None:
            rule = request.url_rule.rule if request.url_rule else None
            labels = request_labels(rule, request.method, response.status_code)
            REQUEST_SECONDS.labels(*labels).observe(time.perf_counter() - started)
        return response
