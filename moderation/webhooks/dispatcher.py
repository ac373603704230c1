"""Delivering CMS webhooks: claiming due outbox events, posting them signed, recording each attempt."""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable
from urllib.parse import urlsplit

from sqlalchemy import Engine

from moderation import __version__
from moderation.store.outbox import claim_due, record_attempt
from moderation.store.repository import utcnow
from moderation.webhooks.signing import sign

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Moderation-Timestamp"
SIGNATURE_HEADER = "X-Moderation-Signature"
EVENT_HEADER = "X-Moderation-Event"
DELIVERY_HEADER = "X-Moderation-Delivery"
USER_AGENT = f"moderation-webhooks/{__version__}"
MAX_ERROR_CHARS = 500
ROUND_LIMIT = 100
CLAIM_TRIES = 20


def encode_body(payload: dict[str, Any]) -> bytes:
    """Serialize a payload the way it is sent: compact JSON, sorted keys, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signed_headers(secret: str, event: str, delivery_id: int, body: bytes, timestamp: int) -> dict[str, str]:
    """Every header a delivery carries besides the transport ones."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: event,
        DELIVERY_HEADER: str(delivery_id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


def signed_payload(claim: Claim) -> dict[str, Any]:
    """The body of a delivery: the event, with its outbox id inside what the signature covers.

    The delivery header alone is not signed, so a captured request could be re-sent under a new id;
    `event_id` and the per-comment `sequence` in the body cannot be changed without the secret.
    """
    return {**claim.payload, "event_id": claim.id}


def backoff(attempts: int, base: float = 2.0, cap: float = 3600.0) -> float:
    """Seconds to wait after the attempts-th failed attempt: base, 2 base, 4 base … at most cap."""
    return min(cap, base * 2 ** min(max(attempts - 1, 0), 62))


@dataclass(frozen=True)
class Claim:
    """An outbox event this dispatcher holds until lease_until."""

    id: int
    event: str
    payload: dict[str, Any]
    attempts: int
    lease_until: datetime


@dataclass(frozen=True)
class Attempt:
    """The outcome of one POST: the status code if an answer came, else the transport error."""

    status_code: int | None
    error: str | None
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class DeliveryRound:
    """What one pass over the due events did."""

    attempted: int = 0
    delivered: int = 0
    failed: int = 0


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirected POST would turn into a GET without the body; the receiver must answer itself.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _describe(exc: BaseException) -> str:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    text = f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else str(reason)
    return text[:MAX_ERROR_CHARS]


class Dispatcher:
    """Delivers due outbox events to one URL, safely beside other dispatchers on the same database.

    A claim moves next_attempt_at to now + lease, guarded by its old value, so exactly one
    dispatcher wins each event; if that dispatcher dies mid-delivery, the lease runs out and the
    event is sent again (delivery is at least once). PostgreSQL also skips rows another claim has
    locked instead of waiting for them.
    """

    def __init__(
        self,
        engine: Engine,
        url: str,
        secret: str,
        *,
        timeout: float = 5.0,
        backoff_base: float = 2.0,
        backoff_cap: float = 3600.0,
        lease_seconds: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ValueError(f"the webhook URL must be an http or https URL, got {url!r}")
        if not secret:
            raise ValueError("a webhook secret is needed to sign deliveries")
        if lease_seconds <= timeout:
            raise ValueError("the lease must outlast the request timeout")
        self.engine = engine
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.lease = timedelta(seconds=lease_seconds)
        self.clock = clock
        self._opener = urllib.request.build_opener(_NoRedirects())

    def deliver_due(self, limit: int | None = None) -> DeliveryRound:
        """Try every event that is due now once (at most limit of them), oldest first."""
        # Only events due when the round starts: a failure rescheduled for later waits for a later round.
        cutoff = self.clock()
        result = DeliveryRound()
        while limit is None or result.attempted < limit:
            claim = self.claim(cutoff)
            if claim is None:
                break
            attempt = self.send(claim)
            self.record(claim, attempt)
            result.attempted += 1
            if attempt.ok:
                result.delivered += 1
            else:
                result.failed += 1
        return result

    def claim(self, cutoff: datetime) -> Claim | None:
        """Take the oldest event due at cutoff for this dispatcher, or return None if there is none."""
        found = claim_due(self.engine, cutoff, lambda: self.clock() + self.lease, CLAIM_TRIES)
        if found is None:
            return None
        row, lease_until = found
        return Claim(row.id, row.event, dict(row.payload), row.attempts, lease_until)

    def send(self, claim: Claim) -> Attempt:
        """POST one event, signed, and report what happened; never raises for network trouble."""
        body = encode_body(signed_payload(claim))
        timestamp = int(self.clock().timestamp())
        request = urllib.request.Request(
            self.url,
            data=body,
            headers=signed_headers(self.secret, claim.event, claim.id, body, timestamp),
            method="POST",
        )
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = response.status
                response.read(1024)
        except urllib.error.HTTPError as exc:
            status = exc.code
            error = f"HTTP {exc.code} {exc.reason}"[:MAX_ERROR_CHARS]
            exc.close()
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            error = _describe(exc)
        duration_ms = round((time.monotonic() - started) * 1000, 3)
        return Attempt(status, error, duration_ms)

    def record(self, claim: Claim, attempt: Attempt) -> None:
        """Log the attempt and mark the event delivered, or schedule its next attempt."""
        now = self.clock()
        attempts = claim.attempts + 1
        logged = {"attempted_at": now, "url": self.url, "status_code": attempt.status_code,
                  "error": attempt.error, "duration_ms": attempt.duration_ms}  # fmt: skip
        if attempt.ok:
            record_attempt(self.engine, claim.id, claim.lease_until, logged, attempts, None)
            return
        delay = backoff(attempts, self.backoff_base, self.backoff_cap)
        record_attempt(
            self.engine, claim.id, claim.lease_until, logged, attempts, now + timedelta(seconds=delay)
        )
        log.warning(
            "webhook delivery failed",
            extra={"outbox_id": claim.id, "attempts": attempts, "error": attempt.error, "retry_in_s": delay},
        )

    def run(self, stop: threading.Event, interval: float = 1.0, wake: threading.Event | None = None) -> None:
        """Deliver due events every interval seconds (or when woken) until stop is set."""
        wake = wake or threading.Event()
        while not stop.is_set():
            busy = False
            try:
                busy = self.deliver_due(limit=ROUND_LIMIT).attempted >= ROUND_LIMIT
            except Exception:
                # A database outage must not end delivery for the life of the process; the next round retries.
                log.exception("webhook round failed")
            if not busy:
                wake.wait(interval)
                wake.clear()
