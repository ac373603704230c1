"""Issue 14's attacks on a real `moderation serve`: slow clients, gunicorn's own errors, its logs."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers import auth, comment
from tests.serving import (
    create_key,
    db_upgrade,
    service_env,
    start_instance,
    stop_instances,
    wait_until_ready,
)

# One xdist worker runs the whole module (its server starts once), in the group of the other
# Redis tests (test_the_documented_per_worker_limit[redis]): an xdist test has one group.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("redis")]

SLOW_CLIENTS = 50
READ_SECONDS = 6


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Any:
    """`moderation serve` as deployed (two workers, the default threads), its log in a file."""
    tmp = tmp_path_factory.mktemp("attacks")
    env = service_env(
        f"sqlite:///{tmp / 'serve.sqlite3'}", model_dir,
        request_read_seconds=str(READ_SECONDS), coral_secret="ems_attack", rate_limit="off",
    )  # fmt: skip
    db_upgrade(env)
    key = create_key(env, "client")
    instance = start_instance(env, tmp / "server.log", workers=2)
    try:
        wait_until_ready(instance)
        yield {"instance": instance, "key": key}
    finally:
        stop_instances(instance)
    assert instance.process.returncode == 0, instance.tail()


def _slow_client(port: int, stop: threading.Event, closed_after: list[float]) -> None:
    """Send a request's headers one line a second, as the review's attack did, until told to stop."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"POST /v1/comments HTTP/1.1\r\nHost: localhost\r\n")
        n = 0
        while not stop.is_set():
            try:
                sock.sendall(f"X-Slow-{n}: {'a' * 20}\r\n".encode())
            except OSError:
                closed_after.append(time.monotonic() - started)
                return
            n += 1
            stop.wait(1.0)
            sock.settimeout(0.01)
            try:
                if sock.recv(1024) == b"":
                    closed_after.append(time.monotonic() - started)
                    return
            except TimeoutError:
                pass
            except OSError:
                closed_after.append(time.monotonic() - started)
                return


def test_fifty_slow_clients_do_not_stop_normal_requests(served):
    instance, key = served["instance"], served["key"]
    stop = threading.Event()
    closed_after: list[float] = []
    slow = [
        threading.Thread(target=_slow_client, args=(instance.port, stop, closed_after), daemon=True)
        for _ in range(SLOW_CLIENTS)
    ]
    for thread in slow:
        thread.start()
    try:
        time.sleep(1.5)  # every slow client is connected and trickling headers
        answered = []
        started = time.monotonic()
        while time.monotonic() - started < READ_SECONDS - 2:
            assert requests.get(f"{instance.base}/healthz", timeout=3).status_code == 200
            posted = requests.post(
                f"{instance.base}/v1/comments", json=comment(), headers=auth(key), timeout=3
            )
            answered.append(posted.status_code)
        assert answered and set(answered) == {201}
        # The slow ones are cut once their request has taken longer than the read deadline.
        deadline = time.monotonic() + READ_SECONDS + 10
        while len(closed_after) < SLOW_CLIENTS and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(closed_after) == SLOW_CLIENTS, instance.tail()
        assert max(closed_after) < READ_SECONDS + 5
    finally:
        stop.set()
        for thread in slow:
            thread.join(timeout=10)
    assert requests.get(f"{instance.base}/healthz", timeout=3).status_code == 200


def _raw(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(data)
        answer = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split(" ")[1]), {k.lower(): v for k, v in headers.items()}, body


def test_gunicorns_own_errors_are_in_our_json_shape(served):
    port = served["instance"].port
    status, headers, body = _raw(port, b"GET /healthz?" + b"q" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert 400 <= status < 500 and headers["content-type"] == "application/json"
    assert json.loads(body)["code"] == status
    status, headers, body = _raw(port, b"BREW /\x01 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 400 and json.loads(body)["error"] == "bad_request"


def test_a_chunked_body_over_the_limit_is_a_413(served):
    port, key = served["instance"].port, served["key"]
    chunk = b"a" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(4)) + b"0\r\n\r\n"
    request = (
        b"POST /v1/comments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer "
        + key.encode()
        + b"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    status, _, answer = _raw(port, request + body)
    assert status == 413, answer
    assert json.loads(answer)["error"] == "payload_too_large"


def test_access_lines_stay_json_and_no_line_keeps_a_query_string(served):
    instance = served["instance"]
    marker = "qs-secret-4f1c"
    for path in ("/nope%0Aline\\two%22quote", f"/integrations/coral/phase?key={marker}"):
        _raw(instance.port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    # A request line gunicorn refuses is logged by its error log, with the URI it could read.
    _raw(instance.port, f"GET /integrations/coral/phase?key={marker} HTTP/1.1\r\nBad Header\r\n\r\n".encode())
    time.sleep(1)
    output = instance.log.read_text()
    assert marker not in output
    access = [json.loads(line) for line in output.splitlines() if '"logger": "access"' in line]
    assert any(entry["path"] == '/nope\nline\\two"quote' for entry in access)
    assert any(entry["path"] == "/integrations/coral/phase" for entry in access)


def test_a_timed_out_worker_answers_in_our_json_shape():
    """gunicorn's answer when a worker is aborted mid-request (SystemExit), or a request line is refused."""
    from gunicorn.config import Config
    from gunicorn.http.errors import LimitRequestLine

    from moderation.ops.gunicorn_worker import GuardedThreadWorker, JsonLogger

    cfg = Config()
    worker = GuardedThreadWorker(0, 0, [], None, 30, cfg, JsonLogger(cfg))
    for exc, status, error in [
        (SystemExit(1), 503, "unavailable"),
        (LimitRequestLine(9000, 8190), 414, "uri_too_long"),
    ]:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            worker.handle_error(None, ours, ("127.0.0.1", 1), exc)
            ours.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := theirs.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {status} ".encode()) and b"Content-Type: application/json" in head
        assert json.loads(body)["code"] == status and json.loads(body)["error"] == error
        assert b"<html>" not in answer
    worker.tmp.close()


@pytest.mark.parametrize("shared", [False, True], ids=["in-memory", "redis"])
def test_the_documented_per_worker_limit(tmp_path, model_dir, shared):
    """README: without Redis a key can make up to workers x limit requests per window; with Redis, limit."""
    settings = {"rate_limit": "5/minute", "auth_failure_limit": "100/minute"}
    if shared:
        from tests.helpers import redis_url

        settings["redis_url"] = redis_url()
    env = service_env(f"sqlite:///{tmp_path / 'limits.sqlite3'}", model_dir, **settings)
    db_upgrade(env)
    key = create_key(env, "client")
    instance = start_instance(env, tmp_path / "serve.log", workers=2)
    try:
        wait_until_ready(instance)
        statuses = []
        for _ in range(24):
            # A new connection each time, as separate readers' requests arrive: any worker may take it.
            response = requests.get(f"{instance.base}/v1/model", headers={**auth(key), "Connection": "close"})
            statuses.append(response.status_code)
    finally:
        stop_instances(instance)
    allowed = statuses.count(200)
    assert set(statuses) <= {200, 429}
    if shared:
        assert allowed == 5
    else:
        assert 5 <= allowed <= 2 * 5


def test_gunicorns_error_log_drops_query_strings_from_messages_and_tracebacks(capsys):
    """The review found `Error handling request /integrations/coral/phase?key=…` in gunicorn's error log."""
    from gunicorn.config import Config

    from moderation.ops.gunicorn_worker import JsonLogger

    cfg = Config()
    cfg.set("errorlog", "-")
    logger = JsonLogger(cfg)
    key = "mk_0123456789ab_secretpart"
    logger.error("Error handling request %s %s", "POST", f"/integrations/coral/phase?key={key}")
    try:
        raise ValueError(f"bad request line 'GET /v1/queue?api_key={key} HTTP/1.1'")
    except ValueError:
        logger.exception("Error handling request %s", f"/integrations/coral/phase?key={key}&x=1")
    logged = capsys.readouterr()
    output = logged.out + logged.err
    assert "Error handling request POST /integrations/coral/phase?…" in output
    assert "ValueError" in output and "/v1/queue?…" in output
    assert key not in output and "secretpart" not in output
