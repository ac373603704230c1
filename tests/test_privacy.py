"""Privacy: `moderation erase --email` removes one person everywhere; `purge` leaves nothing behind.

`purge` with and without --keep-labels is covered in test_cli.py; these add what it does not: webhook
events, idempotence, and that forgotten comments stop counting as an author's history.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from moderation.app import create_app
from moderation.store.cli import erase
from moderation.store.privacy import erase_email
from moderation.store.repository import Store, purge, utcnow
from moderation.store.tables import (
    AuthorAction,
    AuthorNote,
    Comment,
    Label,
    OutboxEvent,
    Review,
    WebhookDelivery,
)
from tests.helpers import auth, comment

CLEAN = "Good piece. The section on the frigate programme's delays was especially clear."
OTHER = "One more thought: the navy budget needs a rethink before the next review."
ANN = "Ann.Person@Example.org"


@pytest.fixture
def cli_env(sqlite_url: str, model_dir: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the command line at the same database as the app fixture."""
    monkeypatch.setenv("MODERATION_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("MODERATION_MODEL_DIR", str(model_dir))


def count(store: Store, table: Any, *where: Any) -> int:
    with store.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table).where(*where)).scalar() or 0


def add_delivery(store: Store, outbox_id: int) -> None:
    """Record one (failed) delivery attempt of an outbox event, as the dispatcher would."""
    with store.engine.begin() as connection:
        connection.execute(
            insert(WebhookDelivery),
            {"outbox_id": outbox_id, "attempted_at": utcnow(), "url": "http://cms.example/hook",
             "status_code": 500, "error": None, "duration_ms": 3.0},
        )  # fmt: skip


def outbox_ids(store: Store, comment_id: str) -> list[int]:
    with store.engine.connect() as connection:
        rows = connection.execute(select(OutboxEvent.id).where(OutboxEvent.comment_id == comment_id))
        return [row.id for row in rows]


@pytest.fixture
def people(app, client, keys) -> dict[str, Any]:
    """Ann: two comments, one reviewed (review, label, outbox event with a delivery), one with CMS feedback.

    Bob: one comment with CMS feedback, which erasing Ann must not touch.
    """
    store: Store = app.extensions["moderation"].store
    client_h, mod_h = auth(keys["client"]), auth(keys["moderator"])
    first = client.post(
        "/v1/comments", json=comment(email=ANN, text=CLEAN, ip="203.0.113.7"), headers=client_h
    ).json
    second = client.post(
        "/v1/comments", json=comment(email=ANN.lower(), text=OTHER, ip="203.0.113.7"), headers=client_h
    ).json
    bob = client.post(
        "/v1/comments", json=comment(email="bob@example.org", text=OTHER), headers=client_h
    ).json
    reviewed = client.post(
        f"/v1/comments/{first['id']}/review",
        json={"action": "reject", "label": "spam", "note": "Ann again"},
        headers=mod_h,
    )
    assert reviewed.status_code == 200, reviewed.json
    for target in (second, bob):
        fed = client.post(f"/v1/comments/{target['id']}/feedback", json={"label": "ham"}, headers=client_h)
        assert fed.status_code == 201
    add_delivery(store, outbox_ids(store, first["id"])[0])
    # Moderators wrote about Ann and put her on pre-moderation; Bob has a note of his own.
    for email, path, body in (
        (ANN, "notes", {"text": "Ann spams the defence pieces"}),
        (ANN, "actions", {"action": "premoderate", "reason": "Ann again"}),
        ("bob@example.org", "notes", {"text": "Bob is fine"}),
    ):
        assert client.post(f"/v1/authors/{email}/{path}", json=body, headers=mod_h).status_code == 201
    return {"store": store, "ann": [first["id"], second["id"]], "bob": bob["id"]}


def test_erase_removes_every_trace_of_one_email_and_nothing_else(people, runner, cli_env):
    store: Store = people["store"]
    result = runner.invoke(erase, ["--email", "  ANN.PERSON@example.ORG "])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "2 labels, 1 reviews, 1 webhook_deliveries, 1 outbox, 0 analyses, 2 comments, 1 author_notes, "
        "1 author_actions, 0 block_entries_kept"
    )
    ann = people["ann"]
    assert count(store, AuthorNote) == 1 and count(store, AuthorAction) == 0  # Bob's note stays
    assert count(store, Comment, Comment.email_key == ANN.lower()) == 0
    assert count(store, Review, Review.comment_id.in_(ann)) == 0
    assert count(store, OutboxEvent, OutboxEvent.comment_id.in_(ann)) == 0
    assert count(store, WebhookDelivery) == 0
    assert count(store, Label, Label.comment_id.in_(ann)) == 0
    # Bob keeps his comment and his training label; Ann's texts are in no label any more.
    assert store.get_comment(people["bob"]) is not None
    labels = list(store.training_labels())
    assert [(lab["text"], lab["label"]) for lab in labels] == [(OTHER, "ham")]
    assert count(store, Label, Label.comment_id == people["bob"]) == 1


def test_erase_is_idempotent(people, runner, cli_env):
    assert runner.invoke(erase, ["--email", ANN]).exit_code == 0
    again = runner.invoke(erase, ["--email", ANN])
    assert again.exit_code == 0
    assert again.output.strip() == (
        "0 labels, 0 reviews, 0 webhook_deliveries, 0 outbox, 0 analyses, 0 comments, 0 author_notes, "
        "0 author_actions, 0 block_entries_kept"
    )


def test_erase_of_an_unknown_address_changes_nothing(people, runner, cli_env):
    store: Store = people["store"]
    before = store.count_comments()
    result = runner.invoke(erase, ["--email", "nobody@example.org"])
    assert result.exit_code == 0 and result.output.startswith("0 labels, 0 reviews")
    assert store.count_comments() == before


def test_erase_refuses_an_empty_address(runner, cli_env):
    result = runner.invoke(erase, ["--email", "   "])
    assert result.exit_code == 2 and "must not be empty" in result.output


def test_erase_finds_labels_that_lost_their_comment_link_by_text(people):
    store: Store = people["store"]
    with store.engine.begin() as connection:
        # An unlinked label with her text (its comment row deleted by hand) and one with other text.
        for text in (CLEAN, "An anonymous training example."):
            connection.execute(
                insert(Label),
                {"comment_id": None, "source": "moderator", "label": "spam", "text": text, "name": None,
                 "key_id": None, "created_at": utcnow()},
            )  # fmt: skip
    counts = erase_email(store, ANN)
    assert counts["labels"] == 3
    texts = sorted(lab["text"] for lab in store.training_labels())
    assert texts == ["An anonymous training example.", OTHER]


def test_blocked_author_entries_are_kept_unless_asked(app, client, keys, runner, cli_env):
    store: Store = app.extensions["moderation"].store
    added = client.post(
        "/v1/blocklist", json={"kind": "blocked_author", "value": ANN.lower()}, headers=auth(keys["admin"])
    )
    assert added.status_code == 201, added.json
    kept = runner.invoke(erase, ["--email", ANN])
    assert kept.exit_code == 0 and "1 block_entries_kept" in kept.output
    removed = runner.invoke(erase, ["--email", ANN, "--include-blocklist"])
    assert removed.exit_code == 0 and "1 block_entries" in removed.output
    assert erase_email(store, ANN)["block_entries_kept"] == 0


def test_erased_author_no_longer_counts_as_history(app_config, runner, cli_env):
    """Trusted author, flood (by email and IP) and duplicate all read history; erasure clears it."""
    # Every comment scores between hold and reject, so only history can change the decision.
    app_config.update({"spam_hold": 0.0, "toxicity_hold": 0.0})
    app = create_app(app_config)
    ext = app.extensions["moderation"]
    client = app.test_client()
    cms = auth(ext.store.create_key("client", "cms")[1])
    mod = auth(ext.store.create_key("moderator", "desk")[1])
    ip = "198.51.100.23"

    def send(text: str, email: str = ANN, address: str = ip) -> dict[str, Any]:
        response = client.post("/v1/comments", json=comment(email=email, text=text, ip=address), headers=cms)
        assert response.status_code == 201
        return response.json

    first = send(CLEAN)
    assert first["reason"]["code"] == "uncertain"
    assert client.post(
        f"/v1/comments/{first['id']}/review", json={"action": "approve", "label": "ham"}, headers=mod
    ).status_code == 200  # fmt: skip
    probe = send(CLEAN)
    assert {"duplicate", "flood"} <= {r["code"] for r in probe["reasons"]}
    with ext.store.sessions.begin() as session:
        # Trust needs no rejected comment: drop the rejected probe; outside the flood window, the
        # approved comment then makes Ann trusted.
        session.delete(session.get(Comment, probe["id"]))
        session.get(Comment, first["id"]).created_at = utcnow() - timedelta(minutes=5)
    assert send(OTHER)["reason"]["code"] == "trusted_author"
    assert {"flood"} <= {r["code"] for r in send(CLEAN + " Really.", email="carol@example.org")["reasons"]}
    with ext.store.sessions.begin() as session:
        session.execute(Comment.__table__.delete().where(Comment.email_key == "carol@example.org"))

    assert runner.invoke(erase, ["--email", ANN]).exit_code == 0
    # Her IP's history went with her comments: someone else on that address is not flooding.
    assert [r["code"] for r in send(CLEAN + " Really.", email="carol@example.org")["reasons"]] == [
        "uncertain"
    ]
    # And she is a new author again: no trust, no duplicate, no flood by email.
    assert [r["code"] for r in send(CLEAN, address="192.0.2.44")["reasons"]] == ["uncertain"]


def test_purge_removes_old_webhook_events_and_keeps_recent_traces(people):
    store: Store = people["store"]
    old_id, recent_id = people["ann"]
    old_event = outbox_ids(store, old_id)[0]
    with store.sessions.begin() as session:
        session.get(Comment, old_id).created_at = utcnow() - timedelta(days=40)
        session.get(OutboxEvent, old_event).created_at = utcnow() - timedelta(days=40)
    counts = purge(store, utcnow() - timedelta(days=30))
    assert counts == {
        "labels": 1, "unlinked_labels": 0, "reviews": 1, "webhook_deliveries": 1, "outbox": 1, "comments": 1,
        "analyses": 0, "web_sessions": 0,
    }  # fmt: skip
    assert store.get_comment(old_id) is None and store.get_comment(recent_id) is not None
    assert count(store, WebhookDelivery) == 0 and count(store, OutboxEvent, OutboxEvent.id == old_event) == 0
    assert count(store, Label) == 2  # the recent comments' CMS feedback stays
    again = purge(store, utcnow() - timedelta(days=30))
    assert set(again.values()) == {0}


def test_purged_labels_kept_for_training_carry_no_person(people):
    store: Store = people["store"]
    old_id = people["ann"][0]
    with store.sessions.begin() as session:
        session.get(Comment, old_id).created_at = utcnow() - timedelta(days=40)
    counts = purge(store, utcnow() - timedelta(days=30), keep_labels=True)
    assert counts["labels_anonymized"] == 1
    with store.engine.connect() as connection:
        row = connection.execute(select(Label).where(Label.text == CLEAN)).one()
    assert row.comment_id is None and row.name is None
    # The label table has no email or IP column at all: nothing left ties the text to Ann.
    assert {"email", "email_key", "ip"}.isdisjoint(Label.__table__.columns.keys())


def test_purged_history_no_longer_makes_an_author_trusted(app_config):
    app_config.update({"spam_hold": 0.0, "toxicity_hold": 0.0})
    app = create_app(app_config)
    store: Store = app.extensions["moderation"].store
    client = app.test_client()
    cms_key, cms_secret = store.create_key("client", "cms")
    cms = auth(cms_secret)
    first = client.post("/v1/comments", json=comment(email=ANN, text=CLEAN), headers=cms).json
    with store.sessions.begin() as session:
        row = session.get(Comment, first["id"])
        row.status, row.created_at = "approved", utcnow() - timedelta(days=40)
    assert store.author_history(ANN, None, "-", utcnow(), 60, cms_key.site).approved == 1
    purge(store, utcnow() - timedelta(days=30))
    assert store.author_history(ANN, None, "-", utcnow(), 60, cms_key.site).approved == 0
    again = client.post("/v1/comments", json=comment(email=ANN, text=OTHER), headers=cms).json
    assert [r["code"] for r in again["reasons"]] == ["uncertain"]


def _database_bytes(sqlite_url: str) -> bytes:
    """Every byte SQLite keeps for the database: the file, its write-ahead log and shared memory."""
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())


def test_erased_values_are_not_left_readable_in_the_sqlite_files(
    app, client, keys, runner, cli_env, sqlite_url
):
    """Issue 14: erased rows stayed in free pages and the WAL until a checkpoint."""
    secret_text = "Distinctive remark about the quartermaster's ledger, 7f3a."
    secret_email = "quartermaster.7f3a@example.org"
    posted = client.post(
        "/v1/comments", json=comment(email=secret_email, text=secret_text), headers=auth(keys["client"])
    )
    assert posted.status_code == 201
    assert secret_text.encode() in _database_bytes(sqlite_url)
    # The app's engine stays open, as a running service's would, while the command erases.
    assert runner.invoke(erase, ["--email", secret_email]).exit_code == 0
    stored = _database_bytes(sqlite_url)
    assert secret_text.encode() not in stored and secret_email.encode() not in stored


def test_purged_values_are_not_left_readable_in_the_sqlite_files(app, client, keys, sqlite_url):
    secret_text = "Another distinctive remark about the harbour dues, 9c2e."
    posted = client.post("/v1/comments", json=comment(text=secret_text), headers=auth(keys["client"]))
    assert posted.status_code == 201
    purge(app.extensions["moderation"].store, utcnow() + timedelta(seconds=1))
    assert secret_text.encode() not in _database_bytes(sqlite_url)
