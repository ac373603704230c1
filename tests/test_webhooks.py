"""CMS webhooks: signing, delivery with back-off to a real local receiver, concurrency, admin API, CLI."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import insert, select

from moderation.store.database import make_engine, upgrade
from moderation.store.repository import utcnow
from moderation.store.tables import OutboxEvent, WebhookDelivery
from moderation.webhooks.background import start_background_dispatcher
from moderation.webhooks.cli import webhooks
from moderation.webhooks.dispatcher import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DeliveryRound,
    Dispatcher,
    backoff,
    encode_body,
)
from moderation.webhooks.signing import sign, verify
from tests.helpers import auth
from tests.serving import free_port

SECRET = "whsec_test_5f1c"


class Receiver:
    """A real HTTP server on 127.0.0.1 that answers with scripted statuses and records every request."""

    def __init__(self, statuses: tuple[int, ...] = (), port: int = 0, delay: float = 0.0) -> None:
        self.script = list(statuses)
        self.delay = delay
        self.received: list[dict] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver._lock:
                    status = receiver.script.pop(0) if receiver.script else 200
                    receiver.received.append({"headers": dict(self.headers), "body": body, "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/moderation"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def accepted(self) -> list[dict]:
        return [r for r in self.received if 200 <= r["status"] < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    servers: list[Receiver] = []

    def start(*statuses: int, port: int = 0, delay: float = 0.0) -> Receiver:
        server = Receiver(statuses, port, delay)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


class Clock:
    """A clock the test moves by hand, so back-off is exact and nothing sleeps."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def add_events(engine, count: int, comment_id: str | None = None) -> list[int]:
    now = utcnow()
    ids = []
    with engine.begin() as connection:
        for n in range(count):
            payload = {"event": "comment.status_changed", "comment_id": comment_id or f"c{n}", "n": n}
            ids.append(
                connection.execute(
                    insert(OutboxEvent).returning(OutboxEvent.id),
                    {"comment_id": comment_id or f"c{n}", "event": "comment.status_changed",
                     "payload": payload, "created_at": now, "attempts": 0, "next_attempt_at": now},
                ).scalar_one()
            )  # fmt: skip
    return ids


def outbox_rows(engine) -> list:
    with engine.connect() as connection:
        return connection.execute(select(OutboxEvent.__table__).order_by(OutboxEvent.id)).all()


def delivery_rows(engine) -> list:
    with engine.connect() as connection:
        return connection.execute(select(WebhookDelivery.__table__).order_by(WebhookDelivery.id)).all()


@pytest.fixture
def app_config(app_config):
    """The shared overrides, with spam_hold 0 so every comment's score is uncertain and it is held."""
    return {**app_config, "spam_hold": 0.0}


@pytest.fixture
def held(client, keys):
    """Submit a comment that the service holds."""

    def _held(**fields) -> dict:
        response = client.post(
            "/v1/comments",
            json={"name": "Ann", "email": "ann@example.org",
                  "text": "Clear piece on the frigate delays, thanks.", **fields},
            headers=auth(keys["client"]),
        )  # fmt: skip
        assert response.status_code == 201, response.json
        assert response.json["decision"] == "hold" and response.json["reason"]["code"] == "uncertain"
        return response.json

    return _held


# --- signing ----------------------------------------------------------------------------------


def test_signature_verifies_only_with_the_right_secret_body_and_fresh_timestamp():
    body = encode_body({"b": 1, "a": "é"})
    assert body == '{"a":"é","b":1}'.encode()
    now = int(time.time())
    signature = sign(SECRET, now, body)
    assert signature.startswith("sha256=") and len(signature) == len("sha256=") + 64
    assert verify(SECRET, str(now), body, signature)
    assert not verify("wrong", str(now), body, signature)
    assert not verify(SECRET, str(now), body + b" ", signature)
    assert not verify(SECRET, str(now + 1), body, signature)
    assert not verify(SECRET, str(now), body, signature, now=now + 301)
    assert not verify(SECRET, str(now), body, signature, now=now - 301)
    assert verify(SECRET, str(now), body, signature, now=now + 299)
    assert not verify(SECRET, "yesterday", body, signature)
    assert not verify(SECRET, str(now), body, "sha256=ünicode")


def test_backoff_doubles_from_base_up_to_the_cap():
    assert [backoff(n) for n in range(1, 6)] == [2, 4, 8, 16, 32]
    assert backoff(12) == 3600 and backoff(10_000) == 3600
    assert backoff(3, base=0.01, cap=1) == pytest.approx(0.04)


def test_dispatcher_refuses_unusable_configuration(sqlite_url):
    engine = make_engine(sqlite_url)
    with pytest.raises(ValueError, match="http"):
        Dispatcher(engine, "file:///etc/passwd", SECRET)
    with pytest.raises(ValueError, match="secret"):
        Dispatcher(engine, "http://127.0.0.1:9/", "")


# --- the whole path ---------------------------------------------------------------------------


def test_reviewed_comment_reaches_the_cms_after_two_failures_signed_and_logged(
    app, client, keys, held, receiver
):
    cms = receiver(500, 500, 200)
    comment = held(client_comment_id="wp-1042")
    review = client.post(
        f"/v1/comments/{comment['id']}/review",
        json={"action": "approve", "label": "ham"},
        headers=auth(keys["moderator"]),
    )
    assert review.status_code == 200
    engine = app.extensions["moderation"].store.engine
    clock = Clock()
    dispatcher = Dispatcher(engine, cms.url, SECRET, clock=clock)

    first = dispatcher.deliver_due()
    assert (first.attempted, first.failed) == (1, 1)
    assert dispatcher.deliver_due().attempted == 0  # not due before its back-off of 2 s
    clock.advance(2)
    assert dispatcher.deliver_due().failed == 1
    clock.advance(3.9)
    assert dispatcher.deliver_due().attempted == 0  # the second back-off is 4 s
    clock.advance(0.1)
    assert dispatcher.deliver_due().delivered == 1
    clock.advance(3600)
    assert dispatcher.deliver_due().attempted == 0

    assert [r["status"] for r in cms.received] == [500, 500, 200]
    assert len(cms.accepted) == 1
    delivery = cms.accepted[0]
    headers, body = delivery["headers"], delivery["body"]
    event = json.loads(body)
    assert event == {
        "event": "comment.status_changed",
        "event_id": int(headers[DELIVERY_HEADER]),
        "sequence": 1,
        "comment_id": comment["id"],
        "client_comment_id": "wp-1042",
        "status": "approved",
        "previous_status": "held",
        "label": "ham",
        "reason": None,
        "reviewer_role": "moderator",
        "reviewed_at": event["reviewed_at"],
    }
    assert datetime.fromisoformat(event["reviewed_at"]).utcoffset() == timedelta(0)
    assert headers["Content-Type"] == "application/json"
    assert headers[EVENT_HEADER] == "comment.status_changed"
    assert len({r["headers"][DELIVERY_HEADER] for r in cms.received}) == 1
    timestamp, signature = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    received_at = int(timestamp) + 1
    assert verify(SECRET, timestamp, body, signature, now=received_at)
    assert not verify("not-the-secret", timestamp, body, signature, now=received_at)
    tampered = body.replace(b'"approved"', b'"rejected"')
    assert not verify(SECRET, timestamp, tampered, signature, now=received_at)
    assert not verify(SECRET, timestamp, body, signature, now=received_at + 300)

    admin = auth(keys["admin"])
    outbox_id = int(headers[DELIVERY_HEADER])
    log = client.get(f"/v1/webhooks/deliveries?outbox_id={outbox_id}", headers=admin)
    assert log.status_code == 200
    assert [d["status_code"] for d in log.json["items"]] == [200, 500, 500]  # newest first
    assert [d["ok"] for d in log.json["items"]] == [True, False, False]
    assert log.json["items"][0]["url"] == cms.url
    outbox = client.get("/v1/webhooks/outbox", headers=admin).json
    assert outbox["counts"]["pending"] == 0
    (item,) = outbox["items"]
    assert item["state"] == "delivered" and item["attempts"] == 3 and item["delivered_at"]
    assert item["last_error"] == "HTTP 500 Internal Server Error"


def test_events_wait_for_a_receiver_that_is_down_then_arrive_once(app, client, keys, held, receiver):
    comment = held()
    client.post(
        f"/v1/comments/{comment['id']}/review",
        json={"action": "reject", "label": "spam"},
        headers=auth(keys["moderator"]),
    )
    engine = app.extensions["moderation"].store.engine
    port = free_port()
    clock = Clock()
    dispatcher = Dispatcher(engine, f"http://127.0.0.1:{port}/hook", SECRET, backoff_cap=60, clock=clock)
    for _ in range(12):
        assert dispatcher.deliver_due().failed == 1
        clock.advance(60)
    (row,) = outbox_rows(engine)
    assert row.delivered_at is None and row.attempts == 12
    assert "ConnectionRefusedError" in row.last_error
    log = delivery_rows(engine)
    assert len(log) == 12 and all(d.status_code is None and "refused" in d.error for d in log)

    cms = receiver(port=port)
    assert dispatcher.deliver_due().delivered == 1
    clock.advance(3600)
    assert dispatcher.deliver_due().attempted == 0
    assert len(cms.received) == 1
    assert json.loads(cms.received[0]["body"])["status"] == "rejected"
    (row,) = outbox_rows(engine)
    assert row.delivered_at is not None and row.attempts == 13


def test_undo_is_delivered_after_the_review_it_undoes(app, client, keys, held, receiver):
    cms = receiver(503)
    comment = held()
    moderator = auth(keys["moderator"])
    client.post(
        f"/v1/comments/{comment['id']}/review", json={"action": "approve", "label": "ham"}, headers=moderator
    )
    client.post(f"/v1/comments/{comment['id']}/review/undo", headers=moderator)
    clock = Clock()
    dispatcher = Dispatcher(app.extensions["moderation"].store.engine, cms.url, SECRET, clock=clock)
    # The approval fails; the undo behind it must not overtake it.
    assert dispatcher.deliver_due().attempted == 1
    clock.advance(2)
    assert dispatcher.deliver_due().delivered == 2
    assert [json.loads(r["body"])["status"] for r in cms.received] == ["approved", "approved", "held"]


def test_no_redirects_are_followed(sqlite_url, receiver):
    cms = receiver(302)
    engine = make_engine(sqlite_url)
    add_events(engine, 1)
    result = Dispatcher(engine, cms.url, SECRET).deliver_due()
    assert result.failed == 1 and len(cms.received) == 1
    assert outbox_rows(engine)[0].last_error.startswith("HTTP 302")


# --- concurrency ------------------------------------------------------------------------------


def test_concurrent_dispatchers_deliver_each_event_exactly_once(database_url, receiver):
    cms = receiver(delay=0.002)
    setup = make_engine(database_url)
    ids = add_events(setup, 40)
    engines = [make_engine(database_url) for _ in range(3)]
    dispatchers = [Dispatcher(engine, cms.url, SECRET) for engine in engines]
    start = threading.Barrier(len(dispatchers))

    def work(dispatcher: Dispatcher) -> DeliveryRound:
        start.wait()
        return dispatcher.deliver_due()

    with ThreadPoolExecutor(len(dispatchers)) as pool:
        rounds = [f.result(timeout=30) for f in [pool.submit(work, d) for d in dispatchers]]
    delivered_ids = [int(r["headers"][DELIVERY_HEADER]) for r in cms.received]
    assert sorted(delivered_ids) == ids
    assert sum(r.delivered for r in rounds) == 40 and sum(r.failed for r in rounds) == 0
    assert all(row.delivered_at is not None and row.attempts == 1 for row in outbox_rows(setup))
    assert len(delivery_rows(setup)) == 40
    for engine in [setup, *engines]:
        engine.dispose()


def test_postgres_claims_skip_rows_another_transaction_has_locked(postgres_schema_url):
    upgrade(postgres_schema_url)
    engine = make_engine(postgres_schema_url)
    first, second = add_events(engine, 2)
    dispatcher = Dispatcher(engine, "http://127.0.0.1:9/", SECRET)
    with engine.connect() as other:
        with other.begin():
            other.execute(select(OutboxEvent.id).where(OutboxEvent.id == first).with_for_update())
            started = time.monotonic()
            claim = dispatcher.claim(utcnow())
            assert claim is not None and claim.id == second  # no waiting for the locked row
            assert time.monotonic() - started < 2
    engine.dispose()


def test_a_claimed_event_is_not_claimed_again_until_its_lease_runs_out(database_url):
    engine = make_engine(database_url)
    add_events(engine, 1)
    clock = Clock()
    first = Dispatcher(engine, "http://127.0.0.1:9/", SECRET, clock=clock)
    second = Dispatcher(engine, "http://127.0.0.1:9/", SECRET, clock=clock)
    claim = first.claim(clock())
    assert claim is not None
    assert second.claim(clock()) is None
    clock.advance(61)  # the first dispatcher died mid-delivery: its lease expires
    again = second.claim(clock())
    assert again is not None and again.id == claim.id
    engine.dispose()


# --- admin API --------------------------------------------------------------------------------


def test_outbox_api_is_for_admins_only(app, client, keys):
    for path in ("/v1/webhooks/outbox", "/v1/webhooks/deliveries", "/v1/webhooks/outbox/1/retry"):
        method = client.post if path.endswith("retry") else client.get
        assert method(path).status_code == 401
        assert method(path, headers=auth(keys["moderator"])).status_code == 403
        assert method(path, headers=auth(keys["client"])).status_code == 403


def test_outbox_api_shows_pending_events_when_no_url_is_configured(app, client, keys, held):
    comment = held()
    client.post(
        f"/v1/comments/{comment['id']}/review",
        json={"action": "approve", "label": "ham"},
        headers=auth(keys["moderator"]),
    )
    response = client.get("/v1/webhooks/outbox?state=pending", headers=auth(keys["admin"]))
    assert response.status_code == 200
    body = response.json
    assert body["configured"] is False
    assert body["counts"]["pending"] == 1 and body["counts"]["due"] == 1
    assert body["counts"]["oldest_pending_at"]
    (item,) = body["items"]
    assert item["state"] == "pending" and item["attempts"] == 0 and item["comment_id"] == comment["id"]
    assert item["payload"]["status"] == "approved"
    delivered = client.get("/v1/webhooks/outbox?state=delivered", headers=auth(keys["admin"]))
    assert delivered.json["items"] == []


def test_outbox_api_pages_with_a_cursor(app, client, keys):
    ids = add_events(app.extensions["moderation"].store.engine, 5)
    admin = auth(keys["admin"])
    first = client.get("/v1/webhooks/outbox?limit=3", headers=admin).json
    assert [i["id"] for i in first["items"]] == ids[::-1][:3]
    second = client.get(f"/v1/webhooks/outbox?limit=3&before={first['next_cursor']}", headers=admin).json
    assert [i["id"] for i in second["items"]] == ids[::-1][3:] and second["next_cursor"] is None
    bad = client.get("/v1/webhooks/outbox?state=lost", headers=admin)
    assert bad.status_code == 422 and "state" in bad.json["errors"]


def test_retry_makes_a_backed_off_event_due_now(app, client, keys, receiver):
    cms = receiver(500)
    engine = app.extensions["moderation"].store.engine
    (event_id,) = add_events(engine, 1)
    dispatcher = Dispatcher(engine, cms.url, SECRET)
    assert dispatcher.deliver_due().failed == 1
    assert dispatcher.deliver_due().attempted == 0  # backing off
    admin = auth(keys["admin"])
    response = client.post(f"/v1/webhooks/outbox/{event_id}/retry", headers=admin)
    assert response.status_code == 200
    assert response.json["state"] == "pending" and response.json["attempts"] == 1
    assert datetime.fromisoformat(response.json["next_attempt_at"]) <= utcnow()
    assert dispatcher.deliver_due().delivered == 1
    again = client.post(f"/v1/webhooks/outbox/{event_id}/retry", headers=admin)
    assert again.status_code == 409 and again.json["error"] == "conflict"
    missing = client.post("/v1/webhooks/outbox/999999/retry", headers=admin)
    assert missing.status_code == 404


# --- running it -------------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch, sqlite_url):
    monkeypatch.setenv("MODERATION_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("MODERATION_WEBHOOK_SECRET", SECRET)
    monkeypatch.delenv("MODERATION_WEBHOOK_URL", raising=False)
    return sqlite_url


def test_cli_run_once_delivers_due_events_and_lists_the_log(runner, cli_env, receiver, monkeypatch):
    cms = receiver(500)
    engine = make_engine(cli_env)
    add_events(engine, 2)
    monkeypatch.setenv("MODERATION_WEBHOOK_URL", cms.url)
    result = runner.invoke(webhooks, ["run", "--once"])
    assert result.exit_code == 0, result.output
    assert "attempted 2, delivered 1, failed 1; 1 pending" in result.output
    assert len(cms.received) == 2
    listing = runner.invoke(webhooks, ["deliveries"])
    assert listing.exit_code == 0
    lines = listing.output.strip().splitlines()
    assert len(lines) == 2 and "\t200\t" in lines[0] and "HTTP 500" in lines[1]


def test_cli_run_needs_a_url(runner, cli_env):
    result = runner.invoke(webhooks, ["run", "--once"])
    assert result.exit_code != 0 and "MODERATION_WEBHOOK_URL" in result.output


def test_dispatcher_loop_stops_when_asked(sqlite_url, receiver):
    cms = receiver()
    engine = make_engine(sqlite_url)
    add_events(engine, 3)
    stop, wake = threading.Event(), threading.Event()
    thread = threading.Thread(target=Dispatcher(engine, cms.url, SECRET).run, args=(stop, 30.0, wake))
    thread.start()
    deadline = time.monotonic() + 5
    while len(cms.accepted) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    wake.set()
    thread.join(5)
    assert not thread.is_alive() and len(cms.accepted) == 3


def test_service_delivers_in_the_background_when_a_url_is_configured(app_config, receiver):
    from moderation.app import create_app

    cms = receiver()
    app = create_app({**app_config, "webhook_url": cms.url, "webhook_secret": SECRET})
    store = app.extensions["moderation"].store
    client_key = store.create_key("client", "site")[1]
    moderator_key = store.create_key("moderator", "desk")[1]
    background = start_background_dispatcher(app, interval=0.05)
    assert background is not None and start_background_dispatcher(app) is background
    try:
        client = app.test_client()
        submitted = client.post(
            "/v1/comments",
            json={"name": "Bo", "email": "bo@example.org", "text": "Good reporting on the harbour."},
            headers=auth(client_key),
        ).json
        assert background.running
        client.post(
            f"/v1/comments/{submitted['id']}/review",
            json={"action": "approve", "label": "ham"},
            headers=auth(moderator_key),
        )
        background.wake()
        deadline = time.monotonic() + 5
        while not cms.accepted and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [json.loads(r["body"])["comment_id"] for r in cms.accepted] == [submitted["id"]]
    finally:
        background.stop()
    assert not background.running


def test_service_without_a_url_starts_no_dispatcher(app):
    assert start_background_dispatcher(app) is None
    assert "webhooks" not in app.extensions


def test_a_captured_approval_replayed_under_a_new_delivery_id_is_recognisably_stale(
    app, client, keys, held, receiver
):
    """Issue 14: the delivery id was unsigned, so a captured "approved" could come back as a new event."""
    cms = receiver()
    comment = held(client_comment_id="wp-77")
    moderator = auth(keys["moderator"])
    url = f"/v1/comments/{comment['id']}/review"
    assert client.post(url, json={"action": "approve", "label": "ham"}, headers=moderator).status_code == 200
    assert client.post(url + "/undo", headers=moderator).status_code == 200
    assert client.post(url, json={"action": "reject", "label": "spam"}, headers=moderator).status_code == 200
    other = held(email="bob@example.org", text="Another clear piece on the frigate programme.")
    client.post(
        f"/v1/comments/{other['id']}/review", json={"action": "approve", "label": "ham"}, headers=moderator
    )
    assert Dispatcher(app.extensions["moderation"].store.engine, cms.url, SECRET).deliver_due().delivered == 4
    events = [(json.loads(r["body"]), r["headers"]) for r in cms.accepted]
    ours = [
        (event["sequence"], event["status"]) for event, _ in events if event["comment_id"] == comment["id"]
    ]
    assert ours == [(1, "approved"), (2, "held"), (3, "rejected")]
    assert [event["sequence"] for event, _ in events if event["comment_id"] == other["id"]] == [1]
    for event, headers in events:
        assert event["event_id"] == int(headers[DELIVERY_HEADER])

    # The attacker's replay: the approval's exact bytes and signature, a fresh delivery id.
    approval, headers = next((e, h) for e, h in events if e["comment_id"] == comment["id"])
    body = next(r["body"] for r in cms.accepted if json.loads(r["body"]) == approval)
    timestamp, signature = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    assert verify(SECRET, timestamp, body, signature)  # still fresh: the signature alone cannot tell
    # What a receiver keys on is signed: raising the sequence or changing the id breaks the signature.
    for forged in (b'"sequence":9', b'"event_id":999999'):
        field = forged.split(b":")[0]
        start = body.index(field)
        end = body.index(b",", start)
        assert not verify(SECRET, timestamp, body[:start] + forged + body[end:], signature)
    # A receiver that drops events older than the last it applied (docs/webhooks.md) drops this one.
    last_applied = max(sequence for sequence, _ in ours)
    assert json.loads(body)["sequence"] < last_applied
