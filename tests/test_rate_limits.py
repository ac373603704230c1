"""Rate limits per key: in memory by default, in Redis when configured (shared by every instance)."""

import uuid

import pytest

from moderation.app import create_app
from tests.helpers import auth, comment, redis_url


def test_rate_limit_answers_429_with_retry_after(app_config):
    app_config["rate_limit"] = "3/minute"
    app = create_app(app_config)
    key = app.extensions["moderation"].store.create_key("client", "c")[1]
    client = app.test_client()
    answers = [client.get("/v1/model", headers=auth(key)) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    # Retry-After tells a client to wait: only the refusal carries it, beside the budget headers.
    assert [answer.headers.get("Retry-After") is not None for answer in answers] == [False] * 3 + [True]
    assert answers[0].headers["X-RateLimit-Remaining"] == "2"
    limited = client.get("/v1/model", headers=auth(key))
    assert limited.status_code == 429
    assert limited.json["error"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    # Another key has its own budget; health checks are never limited.
    other = app.extensions["moderation"].store.create_key("client", "d")[1]
    assert client.get("/v1/model", headers=auth(other)).status_code == 200
    assert all(client.get("/healthz").status_code == 200 for _ in range(5))


def test_a_stored_comment_carries_the_budget_but_no_retry_after(app_config):
    app_config["rate_limit"] = "5/minute"
    app = create_app(app_config)
    key = app.extensions["moderation"].store.create_key("client", "c")[1]
    created = app.test_client().post("/v1/comments", json=comment(), headers=auth(key))
    assert created.status_code == 201
    assert created.headers["X-RateLimit-Limit"] == "5"
    assert "Retry-After" not in created.headers


def test_rate_limit_off_disables_limits(app_config):
    app_config["rate_limit"] = "off"
    app = create_app(app_config)
    key = app.extensions["moderation"].store.create_key("client", "c")[1]
    client = app.test_client()
    assert all(client.get("/v1/model", headers=auth(key)).status_code == 200 for _ in range(30))


# One xdist group: the tests that share the Redis server (its per-address buckets) never overlap.
@pytest.mark.xdist_group("redis")
def test_redis_backed_limit_is_shared_between_two_app_instances(app_config):
    base = redis_url()
    app_config.update({"rate_limit": "4/minute", "redis_url": base})
    first = create_app(app_config)
    key = first.extensions["moderation"].store.create_key("client", f"c-{uuid.uuid4()}")[1]
    second = create_app(app_config)
    one, two = first.test_client(), second.test_client()
    statuses = [c.get("/v1/model", headers=auth(key)).status_code for c in (one, two, one, two, one)]
    assert statuses == [200, 200, 200, 200, 429]
    response = two.post("/v1/comments", json=comment(), headers=auth(key))
    assert response.status_code == 429 and "Retry-After" in response.headers
