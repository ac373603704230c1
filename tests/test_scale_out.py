"""Scale-out: two real `moderation serve` instances on one PostgreSQL schema and one Redis behave as one."""

from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from sqlalchemy import text

from moderation.app import create_app
from moderation.store.database import make_engine
from tests.helpers import CLEAN_TEXTS, auth, comment, redis_url
from tests.serving import (
    Instance,
    db_upgrade,
    free_port,
    key_of,
    service_env,
    start_instance,
    start_key,
    stop_instances,
    wait_until_ready,
)

RATE_LIMIT = 25  # per key per minute, shared through Redis; room for every other step of the test


# --- helpers -------------------------------------------------------------------------------------


def post_comment(base: str, key: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{base}/v1/comments", json=body, headers=auth(key), timeout=30)


def author(tag: str) -> dict[str, Any]:
    """A fresh author: a unique name and email, and the first clean text."""
    n = uuid.uuid4().hex[:8]
    return {"name": f"Reader {tag} {n}", "email": f"{tag}-{n}@example.org", "text": CLEAN_TEXTS[0]}


# --- the test ------------------------------------------------------------------------------------


@dataclass
class Cluster:
    a: Instance
    b: Instance
    client: str
    moderator: str
    limited: str
    database_url: str


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.xdist_group("redis")  # with the other Redis tests: never two at once
def test_two_instances_on_postgres_and_redis_behave_as_one(postgres_schema_url, model_dir, tmp_path):
    redis = redis_url()
    env = service_env(
        postgres_schema_url,
        model_dir,
        redis_url=redis,
        rate_limit=f"{RATE_LIMIT}/minute",
        # The per-IP bucket (127.0.0.1) is shared with every other run on this Redis: keep it out of the way.
        ip_rate_limit="100000/minute",
        secret_key=uuid.uuid4().hex,
        instance_dir=str(tmp_path / "instance"),
    )
    db_upgrade(env)  # once, then every instance starts with --no-migrate
    instances: list[Instance] = []
    try:
        makers = {role: start_key(env, role) for role in ("client", "moderator")}
        makers["limited"] = start_key(env, "client")
        instances = [start_instance(env, tmp_path / f"{name}.log") for name in ("a", "b")]
        keys = {name: key_of(process) for name, process in makers.items()}
        for instance in instances:
            wait_until_ready(instance)
        cluster = Cluster(*instances, keys["client"], keys["moderator"], keys["limited"], postgres_schema_url)
        _visible_and_reviewable_on_the_other(cluster)
        _flood_and_duplicate_windows_are_shared(cluster)
        _concurrent_replays_store_one_row(cluster)
        _rate_limit_is_one_budget(cluster, redis)
    finally:
        stop_instances(*instances)
    for instance in instances:
        assert instance.process.returncode == 0, instance.tail()


def _visible_and_reviewable_on_the_other(c: Cluster) -> None:
    """A comment held on A is visible and reviewable on B; the second review, on A, gets 409."""
    body = {**author("review"), "elapsed_ms": 400, "client_comment_id": "cms-review-1"}  # too fast: held
    created = post_comment(c.a.base, c.client, body)
    assert created.status_code == 201, created.text
    assert created.json()["decision"] == "hold" and created.json()["reason"]["code"] == "too_fast"
    comment_id = created.json()["id"]

    on_b = requests.get(f"{c.b.base}/v1/comments/{comment_id}", headers=auth(c.client), timeout=10)
    assert on_b.status_code == 200, on_b.text
    assert {k: v for k, v in on_b.json().items() if k != "review"} == created.json()
    assert on_b.json()["review"] is None

    review = {"action": "approve", "label": "ham", "note": "fine"}
    reviewed = requests.post(
        f"{c.b.base}/v1/comments/{comment_id}/review", json=review, headers=auth(c.moderator), timeout=10
    )
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["status"] == "approved"
    again = requests.post(
        f"{c.a.base}/v1/comments/{comment_id}/review",
        json={"action": "reject", "label": "spam"},
        headers=auth(c.moderator),
        timeout=10,
    )
    assert again.status_code == 409, again.text
    state = requests.get(f"{c.a.base}/v1/comments/{comment_id}", headers=auth(c.client), timeout=10).json()
    assert state["status"] == "approved" and state["review"]["label"] == "ham"


def _flood_and_duplicate_windows_are_shared(c: Cluster) -> None:
    """Right after a comment on A, the same author (by email or by IP) is rejected on B."""
    first = {**author("flood"), "ip": "198.51.100.23"}
    on_a = post_comment(c.a.base, c.client, first)
    assert on_a.status_code == 201 and on_a.json()["decision"] == "approve", on_a.text

    same_email = post_comment(c.b.base, c.client, {**first, "ip": None, "text": CLEAN_TEXTS[1]})
    assert same_email.status_code == 201, same_email.text
    assert same_email.json()["decision"] == "reject"
    assert same_email.json()["reason"]["code"] == "flood"

    same_ip = post_comment(
        c.b.base, c.client, {**author("flood-ip"), "ip": first["ip"], "text": CLEAN_TEXTS[2]}
    )
    assert same_ip.status_code == 201, same_ip.text
    assert same_ip.json()["reason"]["code"] == "flood"

    said = author("dup")
    assert post_comment(c.a.base, c.client, said).json()["decision"] == "approve"
    repeated = post_comment(c.b.base, c.client, said)
    assert repeated.status_code == 201, repeated.text
    assert repeated.json()["decision"] == "reject"
    assert repeated.json()["reason"]["code"] == "duplicate"  # duplicate leads flood, which also applies


def _concurrent_replays_store_one_row(c: Cluster, requests_count: int = 10) -> None:
    """Ten replays of one client_comment_id fired at both instances at once store exactly one row."""
    client_id = f"cms-race-{uuid.uuid4().hex[:8]}"
    body = {**author("race"), "text": CLEAN_TEXTS[3], "client_comment_id": client_id}
    barrier = threading.Barrier(requests_count)
    answers: list[tuple[int, dict[str, Any]]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def fire(base: str) -> None:
        try:
            barrier.wait(timeout=20)
            response = post_comment(base, c.client, body)
            with lock:
                answers.append((response.status_code, response.json()))
        except Exception as exc:  # noqa: BLE001 - reported in the assertion below
            with lock:
                errors.append(repr(exc))

    threads = [threading.Thread(target=fire, args=((c.a, c.b)[i % 2].base,)) for i in range(requests_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and len(answers) == requests_count, (errors, answers)
    assert sorted(status for status, _ in answers) == [200] * (requests_count - 1) + [201], answers
    bodies = [answer for _, answer in answers]
    assert len({b["id"] for b in bodies}) == 1, bodies
    assert all(b == bodies[0] for b in bodies), "every replay must get the stored answer back"

    engine = make_engine(c.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT count(*) FROM comments WHERE client_comment_id = :cid"), {"cid": client_id}
            ).scalar_one()
    finally:
        engine.dispose()
    assert rows == 1


def _rate_limit_is_one_budget(c: Cluster, redis: str) -> None:
    """Requests alternating A and B share one key's budget: 429 with Retry-After exactly when it is spent."""
    import redis as redis_client

    remaining = []
    for i in range(RATE_LIMIT):
        response = requests.get(f"{(c.a, c.b)[i % 2].base}/v1/model", headers=auth(c.limited), timeout=10)
        assert response.status_code == 200, (i, response.status_code, response.text)
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == list(range(RATE_LIMIT - 1, -1, -1)), "the two instances count in one budget"
    for instance in (c.b, c.a):
        limited = requests.get(f"{instance.base}/v1/model", headers=auth(c.limited), timeout=10)
        assert limited.status_code == 429, limited.text
        assert limited.json()["error"] == "rate_limited"
        assert 0 < int(limited.headers["Retry-After"]) <= 60
    posted = post_comment(c.b.base, c.limited, author("limited"))
    assert posted.status_code == 429 and "Retry-After" in posted.headers
    # Another key still has its own budget.
    assert requests.get(f"{c.b.base}/v1/model", headers=auth(c.client), timeout=10).status_code == 200

    # The counter lives in Redis (under the key's hash, never the key itself); remove this run's counters.
    digest = hashlib.sha256(c.limited.encode()).hexdigest()[:24]
    server = redis_client.Redis.from_url(redis)
    try:
        counters = list(server.scan_iter(match=f"*{digest}*", count=1000))
        assert counters, "the shared rate-limit counter is not in Redis"
        assert not list(server.scan_iter(match=f"*{c.limited}*", count=1000))
        server.delete(*counters)
    finally:
        server.close()


def test_unreachable_redis_is_never_a_500(app_config):
    """With Redis down a comment is still moderated (per-process limits) or refused with 503, never a 500."""
    closed = free_port()  # nothing listens here
    app_config.update({"rate_limit": "10/minute", "redis_url": f"redis://127.0.0.1:{closed}/0"})
    app = create_app(app_config)
    key = app.extensions["moderation"].store.create_key("client", "site")[1]
    client = app.test_client()
    response = client.post("/v1/comments", json=comment(), headers=auth(key))
    ready = client.get("/readyz")
    if response.status_code == 503:
        assert response.headers["Retry-After"] and response.json["error"] == "unavailable"
        assert ready.status_code == 503
    else:
        assert response.status_code == 201, (response.status_code, response.get_data(as_text=True)[:200])
