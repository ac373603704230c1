"""Hostile input over HTTP: nothing a client sends may cause a 5xx, a hang or a leak into the logs.

The Flask test client covers the application; a real `moderation serve` (gunicorn) covers what only
the server sees: header and request-line limits, and what ends up on stdout and stderr.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.app import create_app
from moderation.config import Settings
from moderation.pipeline.checks import (
    CheckRules,
    TermMatcher,
    check_blocked_terms,
    check_links,
    check_watched_terms,
)
from moderation.pipeline.domain import AuthorHistory, Submission
from moderation.pipeline.normalize import clean, fold, normalize
from tests.helpers import auth, comment
from tests.serving import (
    create_key,
    db_upgrade,
    service_env,
    start_instance,
    stop_instances,
    wait_until_ready,
)

# One xdist worker runs the whole module: its server starts once.
pytestmark = pytest.mark.xdist_group("test_hostile_input")

VALID = {"name": "Ann", "email": "ann@example.org", "text": "A fair point about the budget."}
STRING_FIELDS = ("name", "email", "text", "url", "user_agent", "referrer", "honeypot", "post_id",
                 "client_comment_id", "parent_id", "ip")  # fmt: skip


def post_raw(client: Any, key: str, data: bytes) -> Any:
    """POST bytes as JSON, exactly as given (the test client would re-encode a json= argument)."""
    return client.post("/v1/comments", data=data, headers={**auth(key), "Content-Type": "application/json"})


def field_value(field: str, payload: str) -> str:
    """A value for field that would be valid but for payload inserted in it."""
    base = {"email": "ann@example.org", "url": "https://a.example/", "ip": "203.0.113.7"}.get(field, "Ann")
    return base[:1] + payload + base[1:]


# --- bodies ------------------------------------------------------------------------------------


def test_deeply_nested_json_is_a_400(client, keys):
    depth = 20_000  # 40 KB: under the body limit, far past the parser's recursion limit
    response = post_raw(client, keys["client"], b'{"name": ' + b"[" * depth + b"]" * depth + b"}")
    assert response.status_code == 400
    assert response.json["error"] == "bad_request" and "nested" in response.json["message"]


def test_moderately_nested_json_in_a_field_is_a_422_naming_it(client, keys):
    nested = b"[" * 200 + b"]" * 200
    response = post_raw(
        client, keys["client"], b'{"name": ' + nested + b', "email": "a@example.org", "text": "x"}'
    )
    assert response.status_code == 422 and set(response.json["errors"]) == {"name"}


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"caf\xe9"],
    ids=["invalid-bytes", "overlong", "encoded-surrogate", "latin-1"],
)
def test_invalid_utf8_is_a_400(client, keys, raw):
    body = b'{"name": "' + raw + b'", "email": "a@example.org", "text": "hello"}'
    response = post_raw(client, keys["client"], body)
    assert response.status_code == 400 and response.json["error"] == "bad_request"


@pytest.mark.parametrize("field", STRING_FIELDS)
def test_unpaired_surrogate_escape_is_refused_not_a_500(client, keys, field):
    """`"\\ud800"` is valid JSON syntax but no character: it cannot be stored (UTF-8) and must be refused."""
    body = json.dumps({**VALID, field: field_value(field, "\ud800")}).encode()
    response = post_raw(client, keys["client"], body)
    assert response.status_code in (400, 422), response.json


@pytest.mark.parametrize("field", [f for f in STRING_FIELDS if f != "honeypot"])
def test_nul_bytes_are_refused_in_every_field(client, keys, field):
    """NUL is never part of a comment, and PostgreSQL cannot store it in text: 422 naming the field."""
    body = json.dumps({**VALID, field: field_value(field, "\x00")}).encode()
    response = post_raw(client, keys["client"], body)
    assert response.status_code == 422 and set(response.json["errors"]) == {field}


def test_nul_in_the_honeypot_is_never_a_5xx(submit):
    # Any non-empty honeypot means a bot; a NUL in it must not reach the database as text either.
    response = submit(honeypot="\x00")
    assert response.status_code in (201, 422)
    if response.status_code == 201:
        assert response.json["reason"]["code"] == "honeypot"


def test_nul_in_a_field_name_is_an_unknown_field(client, keys):
    response = post_raw(client, keys["client"], json.dumps({**VALID, "colour\x00": 1}).encode())
    assert response.status_code == 422 and "colour\x00" in response.json["errors"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("user_agent", ""), ("user_agent", "   "), ("referrer", ""), ("referrer", " \t ")],
)
def test_empty_optional_strings_are_absent_not_a_500(submit, field, value):
    """CMSs send "" for a missing user agent or referrer (WordPress does): treat it as absent."""
    response = submit(**{field: value})
    assert response.status_code == 201, response.json


# --- sizes -------------------------------------------------------------------------------------


def test_a_100k_character_word_is_refused_before_any_check(client, keys):
    """413 while the body limit is below 100 KB, 422 (text too long) above it: refused either way, fast."""
    started = time.monotonic()
    response = post_raw(client, keys["client"], json.dumps({**VALID, "text": "a" * 100_000}).encode())
    assert response.status_code in (413, 422)
    assert response.json["error"] in ("payload_too_large", "validation_failed")
    assert time.monotonic() - started < 5


def test_one_character_over_the_text_limit_is_a_422(submit):
    response = submit(text="a" * 10_001)
    assert response.status_code == 422 and set(response.json["errors"]) == {"text"}


def test_a_megabyte_of_adversarial_text_is_refused_quickly(client, keys):
    hostile = "http://" + "a" * 500_000 + " " + "www." * 125_000
    started = time.monotonic()
    response = post_raw(client, keys["client"], json.dumps({**VALID, "text": hostile}).encode())
    assert response.status_code == 413
    assert time.monotonic() - started < 5


def test_a_100k_word_with_raised_limits_is_decided_in_bounded_time(app_config):
    """Decision: with MODERATION_MAX_TEXT_LENGTH (and the body limit) raised, a long word is moderated."""
    app_config.update({"max_text_length": 200_000, "max_body_bytes": 1024 * 1024})
    app = create_app(app_config)
    key = app.extensions["moderation"].store.create_key("client", "cms")[1]
    started = time.monotonic()
    response = app.test_client().post("/v1/comments", json=comment(text="a" * 100_000), headers=auth(key))
    assert response.status_code == 201
    assert response.json["decision"] in {"approve", "hold", "reject"}
    assert time.monotonic() - started < 30


def test_raising_only_the_text_limit_still_stops_at_the_body_limit(app_config):
    """MODERATION_MAX_TEXT_LENGTH alone does not lift MODERATION_MAX_BODY_BYTES: raise both."""
    body_limit = Settings().max_body_bytes
    app_config.update({"max_text_length": 4 * body_limit})
    app = create_app(app_config)
    key = app.extensions["moderation"].store.create_key("client", "cms")[1]
    text = "a" * (body_limit + 1)
    response = app.test_client().post("/v1/comments", json=comment(text=text), headers=auth(key))
    assert response.status_code == 413


def test_every_field_at_its_maximum_length_is_accepted(submit):
    local = "a" * 64
    domain = ".".join(["b" * 63, "c" * 63, "d" * 63, "e" * 57])  # 249 characters
    email = f"{local[: 254 - len(domain) - 1]}@{domain}"
    assert len(email) == 254
    fields = {
        "name": "N" * 100,
        "email": email,
        "text": "word " * 1999 + "last.",
        "url": "https://example.org/" + "p" * (2048 - 20),
        "post_id": "1" * 200,
        "ip": "2001:0db8:0000:0000:0000:ff00:0042:8329",
        "user_agent": "U" * 1000,
        "referrer": "https://example.org/" + "r" * (2048 - 20),
        "client_comment_id": "c" * 200,
        "parent_id": "p" * 200,
        "elapsed_ms": 2**53,
    }
    assert len(fields["text"]) == 10_000
    response = submit(**fields)
    assert response.status_code == 201, response.json


def test_a_maximum_length_emoji_comment_fits_the_body_limit_even_when_escaped(client, keys):
    """10,000 emoji are 10,000 characters, but 120 KB as JSON \\u escapes (PHP's json_encode default)."""
    body = json.dumps({**VALID, "text": "\U0001f600" * 10_000}, ensure_ascii=True).encode()
    response = post_raw(client, keys["client"], body)
    assert response.status_code == 201, response.json


# --- scripts and marks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["مريم الحسن", "דוד כהן", "Zoë Ñúñez", "Ann \U0001f600", "Z\u0351\u0352\u0353oë", "李小龍", "ﬁona"],
)
def test_names_in_any_script_with_emoji_or_combining_marks_are_accepted(submit, app, name):
    response = submit(name=name)
    assert response.status_code == 201, response.json
    stored = app.extensions["moderation"].store.get_comment(response.json["id"])
    assert stored.name == name


@pytest.mark.parametrize(
    "name", ["Ann\u202eevil", "Ann\u2066x\u2069", "Ann\u200b", "Ann\nBob", "Ann\x1b[31m"]
)
def test_names_with_bidi_overrides_or_control_characters_are_refused(submit, name):
    response = submit(name=name)
    assert response.status_code == 422 and set(response.json["errors"]) == {"name"}


def test_text_with_rtl_overrides_and_zalgo_is_moderated_and_stored_untouched(submit, app):
    text = (
        "Great \u202egnissim\u202c article "
        + "e\u0301\u0302\u0303" * 50
        + " مرحبا \U0001f469\u200d\U0001f4bb"
    )
    response = submit(text=text)
    assert response.status_code == 201
    assert app.extensions["moderation"].store.get_comment(response.json["id"]).text == text


# --- checks and normalizer, directly -----------------------------------------------------------

MEGABYTE = 1_000_000
ADVERSARIAL = {
    "spaced-letters": "a " * (MEGABYTE // 2) + "ab",
    "dotted-letters": "a." * (MEGABYTE // 2) + "a1",
    "schemes": "http://" * (MEGABYTE // 7),
    "www": "www." * (MEGABYTE // 4),
    "leet": "a1$!" * (MEGABYTE // 4),
    "combining": "a" + "\u0301" * (MEGABYTE - 1),
}


@pytest.mark.parametrize("text", list(ADVERSARIAL.values()), ids=list(ADVERSARIAL))
def test_normalizer_and_checks_stay_linear_on_a_megabyte(text):
    """Completing in bounded time is the assertion: a quadratic regex would take hours on 1 MB."""
    rules = CheckRules(
        blocked_terms=TermMatcher(["a" * 50 + "b", "a a b", "casino"]),
        watched_terms=TermMatcher(["a.a.b", "www www"]),
        max_links=2,
    )
    started = time.monotonic()
    submission = Submission(name="Ann", email="ann@example.org", text=text)
    for check in (check_links, check_blocked_terms, check_watched_terms):
        check(submission, AuthorHistory(), rules)
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    "text", ["a" * 100_000, "1" * 100_000, "a." * 50_000], ids=["letters", "digits", "dots"]
)
def test_classifier_features_stay_linear_on_a_100k_character_word(model_dir, text):
    """The classifier's structural features (links, email, phone patterns) must not backtrack on one word."""
    from moderation.classifier.bundle import ModelHolder

    bundle = ModelHolder(str(model_dir)).load()
    record = Submission(name="Ann", email="ann@example.org", text=text).classifier_record()
    started = time.monotonic()
    bundle.analyze(record)
    assert time.monotonic() - started < 10


_HOSTILE_CHARS = st.sampled_from(
    ["a", "A", " ", ".", "1", "@", "$", "!", "|", "€", "\u0301", "\u200b", "\u200d", "\u202e", "\ufeff",
     "\x00", "\x1b", "\u2028", "\U0001f600", "ﬁ", "а", "ο", "\ud800", "\t", "\n", "ß", "İ"]
)  # fmt: skip


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(_HOSTILE_CHARS, max_size=300).map("".join))
def test_normalizer_survives_pathological_mixtures(text):
    cleaned, folded = normalize(text)
    assert clean(cleaned) == cleaned
    assert "\x00" not in cleaned and "\u202e" not in cleaned and "\u200b" not in cleaned
    assert fold(cleaned) == folded
    assert len(folded) <= 4 * len(text) + 4


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.text(alphabet=st.characters(categories=["Lu", "Ll", "Nd"]), min_size=1, max_size=40))
def test_invisible_characters_cannot_split_a_word_past_the_folder(word):
    """Zero-width characters between letters fold away: "c\u200ba\u200bs\u200bi\u200bn\u200bo" is "casino"."""
    for invisible in ("\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad"):
        assert fold(clean(invisible.join(word))) == fold(clean(word))


# --- a real server: header limits and logs ----------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Any:
    """`moderation serve` at its most verbose log level; output goes to a file the tests read."""
    tmp = tmp_path_factory.mktemp("serve")
    # DEBUG: the most a misconfigured service would print.
    env = service_env(f"sqlite:///{tmp / 'serve.sqlite3'}", model_dir, log_level="DEBUG")
    db_upgrade(env)
    key = create_key(env, "client")
    instance = start_instance(env, tmp / "server.log", workers=1, migrate=True)
    try:
        wait_until_ready(instance)
        yield {"base": instance.base, "port": instance.port, "key": key, "log": instance.log}
    finally:
        stop_instances(instance)
    assert instance.process.returncode == 0, instance.tail()


def raw_status(port: int, request: bytes) -> int:
    """Send bytes on a fresh connection and return the HTTP status the server answers with."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        head = b""
        while b"\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    return int(head.split(b" ", 2)[1])


def get(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: localhost", *headers, "Connection: close", "", ""]
    return "\r\n".join(lines).encode()


@pytest.mark.slow
@pytest.mark.parametrize(
    "request_bytes",
    [
        get("/healthz", "X-Big: " + "a" * 10_000),
        get("/healthz", *[f"X-H{i}: v" for i in range(150)]),
        get("/healthz?" + "q" * 10_000),
        get("/v1/model", "Authorization: Bearer " + "k" * 20_000),
    ],
    ids=["one-huge-header", "too-many-headers", "huge-request-line", "huge-authorization"],
)
def test_oversized_headers_are_refused_by_gunicorn_with_a_4xx(server, request_bytes):
    status = raw_status(server["port"], request_bytes)
    assert 400 <= status < 500
    assert requests.get(server["base"] + "/healthz", timeout=5).status_code == 200


@pytest.mark.slow
def test_many_headers_just_under_the_limits_are_not_a_5xx(server):
    headers = [f"X-H{i}: " + "v" * 8000 for i in range(90)]
    assert raw_status(server["port"], get("/healthz", *headers)) < 500


@pytest.mark.slow
def test_keys_and_personal_data_never_reach_the_logs(server):
    base, key = server["base"], server["key"]
    prefix = key.split("_")[1]
    wrong_secret = f"mk_{prefix}_{secrets.token_urlsafe(32)}"
    unknown = f"mk_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
    email, ip, text = "erin.secret@example.org", "198.51.100.77", "Quietly distinctive remark about gravel."
    body = {"name": "Erin Person", "email": email, "ip": ip, "text": text, "user_agent": "UA-erin"}
    for presented in (wrong_secret, unknown, key):
        requests.post(
            f"{base}/v1/comments?api_key={presented}", json=body, timeout=10,
            headers={"Authorization": f"Bearer {presented}", "X-Forwarded-For": ip},
        )  # fmt: skip
    # Errors log too: a validation failure echoing the address, and a request the app cannot parse.
    requests.post(f"{base}/v1/comments", json={**body, "email": email + "x@"}, headers=auth(key), timeout=10)
    requests.post(f"{base}/v1/comments", json={**body, "user_agent": ""}, headers=auth(key), timeout=10)
    requests.post(
        f"{base}/v1/comments", data=json.dumps({**body, "text": text + "\ud800"}),
        headers={**auth(key), "Content-Type": "application/json"}, timeout=10,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server["log"].read_text().count('"path": "/v1/comments"') < 6:
        time.sleep(0.2)
    output = server["log"].read_text()
    assert '"logger": "access"' in output
    for secret in (
        key,
        key.split("_", 2)[2],
        wrong_secret,
        unknown,
        email,
        ip,
        text,
        "Erin Person",
        "UA-erin",
    ):
        assert secret not in output, f"{secret!r} was logged"
