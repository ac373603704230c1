"""What several test modules share: paths, request helpers, texts, a stored comment, the browser.

Test modules import these from here, never from one another (nor from conftest.py, which holds
only fixtures).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from moderation.store.repository import new_comment_id, utcnow
from moderation.store.tables import Comment

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "model" / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def corpus_slice(model_dir: Path, lines: int, spam: int | None = None) -> Path:
    """Give model_dir a corpus/ of the first `lines` rows of every file of our corpus (`spam` rows
    of the spam files when given); return it.

    `moderation train` reads the corpus in its model folder: tests of training's mechanisms (a
    verified version, provenance, label trust) train on such a slice in seconds; the session model
    and the suite floors use the whole corpus.
    """
    folder = model_dir / "corpus"
    folder.mkdir(parents=True)
    for path in sorted(CORPUS.glob("*.jsonl")):
        count = spam if spam is not None and path.name.startswith("spam_") else lines
        rows = path.read_text(encoding="utf-8").splitlines()[:count]
        (folder / path.name).write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def corpus_sample(share: int) -> list[dict[str, Any]]:
    """About one row in `share` of every corpus file, chosen by a hash of its text: the same rows on
    every run and machine, from every file (so every kind of comment), whatever the files' order."""
    return [
        row
        for path in sorted(CORPUS.glob("*.jsonl"))
        for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())
        if int.from_bytes(hashlib.sha256(row["text"].encode()).digest()[:4], "big") % share == 0
    ]


# --- real servers CI provides -------------------------------------------------------------------


def _service_url(variable: str, what: str) -> str:
    """The URL of a real server the test needs: skip locally without it, fail where it is required."""
    url = os.environ.get(variable)
    if url:
        return url
    if os.environ.get("MODERATION_TEST_REQUIRE_SERVICES") or os.environ.get("CI"):
        pytest.fail(f"{variable} must point at the {what} server in CI")
    pytest.skip(f"{variable} is not set (CI sets it and requires {what})")


def postgres_url() -> str:
    return _service_url("MODERATION_TEST_POSTGRES_URL", "PostgreSQL")


def redis_url() -> str:
    return _service_url("MODERATION_TEST_REDIS_URL", "Redis")


# --- the API --------------------------------------------------------------------------------------


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


_counter = itertools.count()


def comment(**fields: Any) -> dict[str, Any]:
    """A valid submission from a new author each time (so flood and duplicate checks stay quiet)."""
    n = next(_counter)
    body = {
        "name": f"Reader {n}",
        "email": f"reader{n}@example.org",
        "text": "Thanks, this explains the procurement delays clearly.",
    }
    body.update(fields)
    return body


# Comments the session model decides clearly: spam, abuse, and civil ones.
SPAM = (
    "CONGRATULATIONS!!! You have been selected to receive a $1000 gift card. Claim now at "
    "http://free-gift-cards.example/claim?ref=883 or WhatsApp +1 555 0199 before midnight!!!"
)
TOXIC = "You are a pathetic worthless idiot and a disgusting piece of shit. Fuck off and die."
CLEAN_TEXTS = (
    "Thanks, this explains the procurement delays clearly.",
    "A useful summary of the council budget vote, well sourced.",
    "I had not seen the figures for the new bridge before, thank you.",
    "Good interview; the questions on school funding were fair.",
)


def make_comment(key_id: int, **fields: Any) -> Comment:
    """A stored comment's row (approved, clean) for the store's own tests; fields override."""
    now = fields.pop("created_at", utcnow())
    values = dict(
        id=new_comment_id(now), client_key_id=key_id, client_comment_id=None, name="Ana",
        email="Ana@Example.org", email_key="ana@example.org", text="Hello", fingerprint="f" * 64,
        decision="approve", status="approved", reason_code="clean",
        reasons=[{"code": "clean", "message": "ok", "detail": {}}], signals=[],
        scores={"spam": 0.1, "toxicity": 0.2}, evidence={}, model_version="v1", created_at=now,
    )  # fmt: skip
    values.update(fields)
    return Comment(**values)


# --- the moderators' pages ------------------------------------------------------------------------

HOSTILE = '<script>alert(1)</script> <img src=x onerror=alert(1)> <a href="javascript:alert(1)">win</a>'
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def token(client: Any, path: str = "/moderate/login") -> str:
    match = TOKEN.search(client.get(path).get_data(as_text=True))
    assert match, "every form carries a CSRF token"
    return match.group(1)


def sign_in(client: Any, key: str) -> Any:
    return client.post("/moderate/login", data={"key": key, "csrf_token": token(client)})


# --- the browser ----------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def status_of(client: Any, keys: dict[str, str], comment_id: str) -> str:
    """A comment's status as the API tells a moderator."""
    return client.get(f"/v1/comments/{comment_id}", headers=auth(keys["moderator"])).json["status"]
