"""Issue 14's attacks, rerun: one client must not slow, flood, replay or confuse the service.

Each test reproduces one finding of the review against the fixed service. The Coral ones (quadratic
markup, replay under another key) are in tests/test_coral.py, the webhook replay in
tests/test_webhooks.py and tests/php/run-tests.php, the ones needing a real `moderation serve` in
tests/test_serving_attacks.py.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from moderation.app import create_app
from tests.helpers import auth, comment, sign_in


def _client_and_keys(make_app: Any, **overrides: Any) -> tuple[Any, Any, dict[str, str]]:
    app = make_app(**overrides)
    store = app.extensions["moderation"].store
    keys = {role: store.create_key(role, f"attack {role}")[1] for role in ("client", "moderator", "admin")}
    return app, app.test_client(), keys


# --- unbounded metric series ---------------------------------------------------------------------


def test_made_up_methods_and_paths_add_no_metric_series(client, keys):
    for n in range(200):
        client.open(f"/made-up-{n}", method=f"BREW{n}")
        client.open(f"/v1/comments/{n}x", method=f"PROPFIND{n}", headers=auth(keys["client"]))
    metrics = client.get("/metrics").get_data(as_text=True)
    series = [line for line in metrics.splitlines() if line.startswith("moderation_http_request_seconds")]
    assert not [line for line in series if "BREW" in line or "PROPFIND" in line or "made-up" in line]
    methods = set(re.findall(r'method="([^"]*)"', "\n".join(series)))
    statuses = set(re.findall(r'status="([^"]*)"', "\n".join(series)))
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
    assert "other" in methods
    assert statuses <= {"1xx", "2xx", "3xx", "4xx", "5xx", "other"} and "4xx" in statuses
    size_before = len(metrics)
    for n in range(200, 400):
        client.open(f"/made-up-{n}", method=f"BREW{n}")
    # More made-up requests only move counters: the exposition stays the same size, give or take digits.
    assert len(client.get("/metrics").get_data(as_text=True)) < size_before + 2_000


# --- NUL in text fields, on both databases -------------------------------------------------------


@pytest.fixture
def on_both(make_app: Any, database_url: str) -> Any:
    app, client, keys = _client_and_keys(make_app, database_url=database_url)
    yield app, client, keys
    app.extensions["moderation"].store.engine.dispose()


@pytest.mark.parametrize("field", ["url", "honeypot", "text", "name", "user_agent", "referrer"])
def test_nul_in_a_comment_field_is_a_422_on_both_databases(on_both, field):
    _, client, keys = on_both
    value = "https://news.example/\x00" if field == "url" else "a\x00b"
    response = client.post("/v1/comments", json=comment(**{field: value}), headers=auth(keys["client"]))
    assert response.status_code == 422, response.json
    assert set(response.json["errors"]) == {field}


def test_nul_in_a_review_note_is_a_422_on_both_databases(on_both):
    _, client, keys = on_both
    held = client.post(
        "/v1/comments", json=comment(text="Visit https://a.example and https://b.example and https://c.example"),
        headers=auth(keys["client"]),
    )  # fmt: skip
    assert held.json["status"] == "held"
    review = {"action": "reject", "label": "spam", "note": "see\x00this"}
    response = client.post(
        f"/v1/comments/{held.json['id']}/review", json=review, headers=auth(keys["moderator"])
    )
    assert response.status_code == 422 and set(response.json["errors"]) == {"note"}
    bulk = {"items": [{**review, "id": held.json["id"]}]}
    response = client.post("/v1/reviews", json=bulk, headers=auth(keys["moderator"]))
    assert response.status_code == 422 and set(response.json["errors"]) == {"items.0.note"}


def test_nul_in_akismets_honeypot_gets_an_answer_on_both_databases(on_both):
    _, client, keys = on_both
    form = {
        "api_key": keys["client"], "blog": "https://news.example/", "user_ip": "203.0.113.9",
        "comment_author": "Reader", "comment_author_email": "reader@example.org",
        "comment_content": "A fair summary of the committee's report.",
        "honeypot_field_name": "hp", "hp": "x\x00y",
    }  # fmt: skip
    response = client.post("/1.1/comment-check", data=form)
    assert response.status_code == 200 and response.get_data(as_text=True) == "invalid"
    assert (
        "honeypot" in response.headers["X-akismet-debug-help"]
        or "hp" in response.headers["X-akismet-debug-help"]
    )


def test_nul_in_a_query_string_or_path_never_reaches_the_database(on_both):
    _, client, keys = on_both
    response = client.get("/v1/queue?reason=spam%00", headers=auth(keys["moderator"]))
    assert response.status_code == 422 and set(response.json["errors"]) == {"reason"}
    response = client.get("/v1/comments/abc%00def", headers=auth(keys["client"]))
    assert response.status_code == 404 and response.json["code"] == 404


# --- queue cursors ---------------------------------------------------------------------------------


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor(["2026-11-27T10:00:00", "0123456789abcdef"]),  # a time without a timezone: was a 500
        _cursor(["2026-11-27T10:00:00+00:00"]),
        _cursor(["2026-11-27T10:00:00+00:00", 5]),
        _cursor(["not a time", "0123456789abcdef"]),
        _cursor(["2026-11-27T10:00:00+00:00", "id with spaces"]),
        _cursor({"a": 1}),
        _cursor([[[[]]], "x"]),
        "%%%",
        "garbage",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_malformed_queue_cursor_is_a_400_in_the_api_and_a_first_page_in_the_web_queue(client, keys, cursor):
    response = client.get("/v1/queue", query_string={"cursor": cursor}, headers=auth(keys["moderator"]))
    assert response.status_code == 400, response.json
    assert response.json["message"] == "Invalid cursor: not a next_cursor from this API."
    sign_in(client, keys["moderator"])
    page = client.get("/moderate/", query_string={"cursor": cursor})
    assert page.status_code == 200 and b"That page link has expired" in page.data


def test_a_cursor_from_the_api_still_pages(client, keys, submit):
    for n in range(3):
        submit(text=f"Visit https://a.example/{n} and https://b.example and https://c.example")
    first = client.get("/v1/queue?limit=2", headers=auth(keys["moderator"])).json
    assert first["next_cursor"]
    second = client.get(f"/v1/queue?limit=2&cursor={first['next_cursor']}", headers=auth(keys["moderator"]))
    assert second.status_code == 200 and len(second.json["items"]) == 1


# --- rate limits: by principal after authentication, failures by address, trusted proxies ----------


def _junk_key(n: int) -> str:
    return f"mk_{n:012x}_not-a-real-secret-{n}"


def test_a_fresh_junk_key_gets_no_fresh_budget(make_app):
    _, client, keys = _client_and_keys(make_app, rate_limit="3/minute", auth_failure_limit="100/minute")
    statuses = [client.get("/v1/model", headers=auth(_junk_key(n))).status_code for n in range(4)]
    assert statuses == [401, 401, 401, 429]
    statuses = [client.get("/openapi.json", headers=auth(_junk_key(n))).status_code for n in range(10, 12)]
    assert statuses == [429, 429]
    # The real key's budget is its own, untouched by the junk sent from the same address.
    assert client.get("/v1/model", headers=auth(keys["client"])).status_code == 200


def test_a_key_keeps_its_budget_across_addresses_and_junk_does_not_spend_it(make_app):
    _, client, keys = _client_and_keys(make_app, rate_limit="3/minute", auth_failure_limit="100/minute")
    for n, address in enumerate(("203.0.113.1", "203.0.113.2", "203.0.113.3")):
        junk = client.get("/v1/model", headers=auth(_junk_key(n)), environ_base={"REMOTE_ADDR": address})
        assert junk.status_code == 401
    statuses = [
        client.get("/v1/model", headers=auth(keys["client"]), environ_base={"REMOTE_ADDR": f"198.51.100.{n}"})
        for n in range(4)
    ]
    assert [response.status_code for response in statuses] == [200, 200, 200, 429]


def test_failed_authentications_are_limited_on_the_address(make_app):
    _, client, keys = _client_and_keys(make_app, auth_failure_limit="3/minute", rate_limit="100/minute")
    guesser = {"REMOTE_ADDR": "203.0.113.50"}
    statuses = [
        client.get("/v1/model", headers=auth(_junk_key(n)), environ_base=guesser).status_code
        for n in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    form = {"api_key": _junk_key(99), "blog": "https://news.example/"}
    assert client.post("/1.1/verify-key", data=form, environ_base=guesser).status_code == 429
    # Successes do not count, and other addresses are not affected.
    other = {"REMOTE_ADDR": "203.0.113.51"}
    assert all(
        client.get("/v1/model", headers=auth(keys["client"]), environ_base=other).status_code == 200
        for _ in range(5)
    )


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(make_app):
    app, client, _ = _client_and_keys(
        make_app, rate_limit="2/minute", auth_failure_limit="100/minute", trusted_proxies="10.0.0.0/8"
    )
    proxy = {"REMOTE_ADDR": "10.1.2.3"}
    # Behind the proxy, each reader has their own budget.
    for reader in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        for _ in range(2):
            response = client.get("/openapi.json", headers={"X-Forwarded-For": reader}, environ_base=proxy)
            assert response.status_code == 200
    # Anyone else's X-Forwarded-For is ignored: a new value per request is not a new budget.
    direct = {"REMOTE_ADDR": "192.0.2.7"}
    statuses = [
        client.get("/openapi.json", headers={"X-Forwarded-For": f"198.51.100.{100 + n}"}, environ_base=direct)
        for n in range(3)
    ]
    assert [response.status_code for response in statuses] == [200, 200, 429]


def test_untrusted_forwarded_for_is_ignored_without_trusted_proxies(client):
    addresses = []
    for n in range(3):
        with client.application.test_request_context(
            "/", headers={"X-Forwarded-For": f"198.51.100.{n}"}, environ_base={"REMOTE_ADDR": "192.0.2.8"}
        ):
            from flask import request

            addresses.append(request.remote_addr)
    assert addresses == ["192.0.2.8"] * 3


def test_trusted_proxies_must_be_addresses_or_networks(app_config):
    from moderation.config import ConfigError

    with pytest.raises(ConfigError, match="trusted_proxies"):
        create_app({**app_config, "trusted_proxies": "proxy.internal"})
