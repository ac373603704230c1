"""The learning loop cannot be poisoned by one client key (issue 15): label trust, the reports API,
the corpus that database labels cannot flip, per-site author history, and erasure of labels."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from prometheus_client import REGISTRY
from sqlalchemy import insert, select, text

from moderation.app import create_app
from moderation.classifier.bundle import ModelBundle, current_version
from moderation.classifier.datasets import Dataset, Example
from moderation.classifier.provenance import database_dataset
from moderation.classifier.train import dedupe_key
from moderation.cli import main
from moderation.store.database import make_engine, upgrade
from moderation.store.privacy import erase_email
from moderation.store.repository import Store, purge, utcnow
from moderation.store.tables import Comment, Label
from tests.helpers import auth, comment, corpus_slice

BLOG = "https://news.example.org"
CLEAN = "Thanks, the timetable change explains why the 7:40 bus was late all week."
FRESH_SPAM = (
    "Make $400 a day from your sofa, no experience needed: sign up today at easy-earnings-club.example"
)


def corpus_spam(corpus: Path) -> list[str]:
    """Every spam text of a corpus folder."""
    texts = []
    for path in sorted(corpus.glob("spam_*.jsonl")):
        texts += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]
    return texts


def report(client, path: str, key: str, text_: str, email: str = "someone@example.org"):
    form = {"blog": BLOG, "api_key": key, "comment_content": text_, "comment_author": "Someone",
            "comment_author_email": email, "user_ip": "203.0.113.9"}  # fmt: skip
    return client.post(f"/1.1/{path}", data=form)


def labels_of(store: Store) -> list[Label]:
    with store.sessions() as session:
        return list(session.scalars(select(Label).order_by(Label.id)))


def prefix_of(key: str) -> str:
    return key.split("_")[1]


# --- the attack -------------------------------------------------------------------------------


def test_one_client_key_reporting_corpus_spam_as_ham_does_not_reach_the_model(
    app_config, tmp_path, runner, monkeypatch
):
    """The attack of issue 15, end to end: reports through /1.1/submit-ham, then train --from-db.

    The model folder's corpus is a slice of ours (60 rows of every file, 150 of each spam file), and
    the attacker reports every spam example of it as ham: were one report used, the model would
    lose that spam example.
    """
    models = tmp_path / "models"
    poisoned = corpus_spam(corpus_slice(models, 60, spam=150))
    assert len(poisoned) == 450
    app = create_app(app_config)
    store = app.extensions["moderation"].store
    attacker = store.create_key("client", "attacker")[1]
    moderator = store.create_key("moderator", "desk")[1]
    client = app.test_client()
    for spam in poisoned:
        answer = report(client, "submit-ham", attacker, spam)
        assert answer.get_data(as_text=True) == "Thanks for making the web a better place."
    stored = labels_of(store)
    assert len(stored) == 450 and {(row.trust, row.comment_id) for row in stored} == {("unverified", None)}
    # Even a moderator's careless confirmation cannot flip the corpus.
    first = client.post(f"/v1/labels/{stored[0].id}/confirm", headers=auth(moderator))
    assert first.status_code == 200 and first.json["trust"] == "confirmed"

    monkeypatch.setenv("MODERATION_DATABASE_URL", app_config["database_url"])
    monkeypatch.setenv("MODERATION_MODEL_DIR", str(models))
    # The operator even opts in to the attacker's reports: they still cannot override the corpus.
    result = runner.invoke(main, ["train", "--from-db", "--include-unverified", prefix_of(attacker)])
    assert result.exit_code == 0, result.output
    assert "0 labels from the database" in result.output
    assert "refused: 450 database labels contradict a corpus" in result.output
    version = current_version(models)
    manifest = json.loads((models / "versions" / version / "manifest.json").read_text())
    sources = manifest["sources"]
    assert sources["refused_corpus_conflicts"]["count"] == 450
    assert {e["label"] for e in sources["refused_corpus_conflicts"]["examples"]} == {"ham"}
    assert {e["category"] for e in sources["refused_corpus_conflicts"]["examples"]} == {
        "unverified-confirmed", "unverified-included"
    }  # fmt: skip
    assert sources["counts"]["unverified-included"] == {"ham": 0, "spam": 0, "toxic": 0}
    assert sources["counts"]["corpus"]["spam"] == 450  # every one still spam
    assert FRESH_SPAM not in json.dumps(manifest) and poisoned[1] not in json.dumps(manifest)
    bundle = ModelBundle.load_current(models)
    assert bundle.analyze({"text": FRESH_SPAM}).scores["spam"] >= 0.5
    assert bundle.analyze({"text": poisoned[5]}).scores["spam"] >= 0.5

    # Without the opt-in the reports are left out and listed per key (the merge alone: no training).
    rows = list(store.training_labels())
    _, left = database_dataset(rows, [], [], [], dedupe_key)
    assert left.left_out["unverified"] == 449 and left.left_out["unverified_by_key"] == {
        prefix_of(attacker): 449
    }
    assert left.counts["unverified-confirmed"]["ham"] == 1  # the confirmed one, with no corpus to refuse it


# --- which label is trusted -------------------------------------------------------------------


def test_trust_follows_who_vouches_for_the_comment(app, client, keys):
    store = app.extensions["moderation"].store
    other = store.create_key("client", "another site")[1]
    own = client.post(
        "/v1/comments", json=comment(email="ann@example.org", text=CLEAN), headers=auth(keys["client"])
    )
    assert own.status_code == 201
    # The client's feedback on its own stored comment: trusted, linked.
    client.post(
        f"/v1/comments/{own.json['id']}/feedback", json={"label": "ham"}, headers=auth(keys["client"])
    )
    # Akismet's report matching the same key's comment: trusted, linked.
    report(client, "submit-spam", keys["client"], CLEAN, email="ann@example.org")
    # The same report from another key finds no comment of that key: unverified, unlinked.
    report(client, "submit-spam", other, CLEAN, email="ann@example.org")
    # A text nobody sent: unverified.
    report(client, "submit-ham", keys["client"], "A text this service never saw.")
    suggest = {
        "comment": {"text": "Another unseen text."},
        "attributeScores": {"SPAM": {"summaryScore": {"value": 1}}},
    }
    assert (
        client.post(f"/v1alpha1/comments:suggestscore?key={keys['client']}", json=suggest).status_code == 200
    )
    # A moderator's review: trusted.
    held = client.post(
        "/v1/comments",
        json=comment(text="Visit cheap-pills.example now", honeypot="x"),
        headers=auth(keys["client"]),
    ).json
    store_comment = store.get_comment(held["id"])
    from moderation.services.review import ReviewQueue

    ReviewQueue(store).review(store.authenticate(keys["moderator"]), store_comment.id, "reject", "spam", None)
    got = [(row.source, row.label, row.trust, row.comment_id is not None) for row in labels_of(store)]
    assert got == [
        ("cms_feedback", "ham", "trusted", True),
        ("cms_feedback", "spam", "trusted", True),
        ("cms_feedback", "spam", "unverified", False),
        ("cms_feedback", "ham", "unverified", False),
        ("perspective_suggest", "spam", "unverified", False),
        ("moderator", "spam", "trusted", True),
    ]
    # training_labels: one verdict per comment (the latest feedback), every report alone.
    rows = {(r["source"], r["label"], r["trust"], r["linked"]) for r in store.training_labels()}
    assert ("cms_feedback", "ham", "trusted", True) not in rows  # corrected by the later submit-spam
    assert ("cms_feedback", "spam", "trusted", True) in rows and len(rows) == 5


def test_a_moderator_review_outranks_the_clients_later_feedback(app, client, keys):
    store = app.extensions["moderation"].store
    posted = client.post("/v1/comments", json=comment(text=CLEAN), headers=auth(keys["client"])).json
    from moderation.services.review import ReviewQueue

    # Reviewing needs a held comment; the store is real, the status is set as a moderator would find it.
    with store.sessions.begin() as session:
        session.get(Comment, posted["id"]).status = "held"
    ReviewQueue(store).review(store.authenticate(keys["moderator"]), posted["id"], "reject", "spam", None)
    client.post(f"/v1/comments/{posted['id']}/feedback", json={"label": "ham"}, headers=auth(keys["client"]))
    assert [(r["source"], r["label"]) for r in store.training_labels()] == [("moderator", "spam")]


def test_unverified_reports_are_capped_per_key_per_day(app_config):
    app_config["unverified_labels_per_day"] = 3
    app = create_app(app_config)
    store = app.extensions["moderation"].store
    key = store.create_key("client", "busy")[1]
    other = store.create_key("client", "quiet")[1]
    client = app.test_client()

    def refused() -> float:
        value = REGISTRY.get_sample_value(
            "moderation_unverified_labels_total", {"source": "cms_feedback", "outcome": "over_cap"}
        )
        return value or 0.0

    before = refused()
    for n in range(5):
        answer = report(client, "submit-ham", key, f"Unseen text number {n} about the harbour.")
        assert answer.get_data(as_text=True) == "Thanks for making the web a better place."
    assert refused() - before == 2
    suggest = {
        "comment": {"text": "One more."},
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0}}},
    }
    assert client.post(f"/v1alpha1/comments:suggestscore?key={key}", json=suggest).status_code == 200
    assert [row.text for row in labels_of(store)] == [
        f"Unseen text number {n} about the harbour." for n in range(3)
    ]
    # The cap is per key, and a client's feedback on its own comment is never capped.
    report(client, "submit-ham", other, "Unseen text from the quiet site.")
    posted = client.post(
        "/v1/comments", json=comment(email="bo@example.org", text=CLEAN), headers=auth(key)
    ).json
    report(client, "submit-spam", key, CLEAN, email="bo@example.org")
    last_two = [(row.text, row.trust, row.comment_id) for row in labels_of(store)[-2:]]
    assert last_two == [
        ("Unseen text from the quiet site.", "unverified", None),
        (CLEAN, "trusted", posted["id"]),
    ]


# --- the reports API --------------------------------------------------------------------------


def test_moderators_list_confirm_and_discard_reports_clients_may_not(app, client, keys):
    store = app.extensions["moderation"].store
    for n in range(3):
        report(client, "submit-spam", keys["client"], f"Report {n}: cheap watches at replica.example")
    ids = [row.id for row in labels_of(store)]
    assert client.get("/v1/labels").status_code == 401
    assert client.get("/v1/labels", headers=auth(keys["client"])).status_code == 403
    assert client.post(f"/v1/labels/{ids[0]}/confirm", headers=auth(keys["client"])).status_code == 403
    page = client.get("/v1/labels?limit=2", headers=auth(keys["moderator"])).json
    assert [item["id"] for item in page["items"]] == ids[:2] and page["next_cursor"] == ids[1]
    item = page["items"][0]
    assert item["trust"] == "unverified" and item["key_prefix"] == prefix_of(keys["client"])
    assert item["key_name"] == "test client" and item["label"] == "spam" and item["comment_id"] is None
    rest = client.get(f"/v1/labels?cursor={page['next_cursor']}", headers=auth(keys["moderator"])).json
    assert [i["id"] for i in rest["items"]] == ids[2:] and rest["next_cursor"] is None

    confirmed = client.post(f"/v1/labels/{ids[0]}/confirm", headers=auth(keys["moderator"]))
    assert confirmed.status_code == 200
    assert confirmed.json == {"id": ids[0], "trust": "confirmed", "reviewed_by": "test moderator"}
    discarded = client.post(f"/v1/labels/{ids[1]}/discard", headers=auth(keys["admin"]))
    assert discarded.status_code == 200 and discarded.json["trust"] == "discarded"
    again = client.post(f"/v1/labels/{ids[0]}/discard", headers=auth(keys["moderator"]))
    assert again.status_code == 409
    assert client.post("/v1/labels/999999/confirm", headers=auth(keys["moderator"])).status_code == 404
    assert client.get("/v1/labels?trust=bogus", headers=auth(keys["moderator"])).status_code == 422
    rows = {row.id: row for row in labels_of(store)}
    moderator_id = store.authenticate(keys["moderator"]).key_id
    assert rows[ids[0]].trust == "confirmed" and rows[ids[0]].reviewed_by == moderator_id
    assert rows[ids[0]].reviewed_at is not None and rows[ids[2]].trust == "unverified"
    listed = client.get("/v1/labels?trust=confirmed", headers=auth(keys["moderator"])).json["items"]
    assert [i["id"] for i in listed] == [ids[0]]
    # A trusted label is no report: it cannot be discarded over this API.
    posted = client.post("/v1/comments", json=comment(text=CLEAN), headers=auth(keys["client"])).json
    client.post(f"/v1/comments/{posted['id']}/feedback", json={"label": "ham"}, headers=auth(keys["client"]))
    trusted = labels_of(store)[-1]
    assert client.post(f"/v1/labels/{trusted.id}/discard", headers=auth(keys["moderator"])).status_code == 409


# --- what training takes ----------------------------------------------------------------------


def row(id_: int, text_: str, label: str, trust: str = "trusted", source: str = "moderator", key: str = "k1"):
    return {"id": id_, "text": text_, "label": label, "name": "", "source": source, "trust": trust,
            "key_prefix": key, "linked": trust == "trusted"}  # fmt: skip


def test_database_labels_add_examples_and_never_flip_the_corpus():
    corpus = [Dataset("corpus/spam.jsonl", "jsonl", [Example("Buy pills at pills.example", "spam")])]
    files = [Dataset("extra.csv", "csv", [Example("Lovely photos of the harbour", "ham")])]
    rows = [
        row(1, "BUY  pills at PILLS.example", "ham", "unverified", "cms_feedback", "attacker"),
        row(2, "Buy pills at pills.example", "spam"),  # agrees with the corpus: a duplicate
        row(3, "lovely photos of the harbour", "toxic", "confirmed", "perspective_suggest"),
        row(4, "The vote is on Tuesday", "ham", source="cms_feedback"),
        row(5, "the vote is on tuesday", "spam"),  # a conflict inside the database
        row(6, "Great recipe, thanks", "ham", "unverified", "cms_feedback", "partner"),
        row(7, "Win a free cruise at cruise.example", "spam", "unverified", "cms_feedback", "stranger"),
        row(8, "Discarded report text", "spam", "discarded", "cms_feedback", "stranger"),
        row(9, "Our moderators call this one spam", "spam"),
        row(10, "Confirmed report text", "toxic", "confirmed", "cms_feedback", "stranger"),
        row(11, "Thanks for the clear write-up", "ham", source="cms_feedback"),
    ]
    dataset, report_ = database_dataset(rows, corpus, files, ["partner", "attacker"], dedupe_key)
    assert sorted((ex.text, ex.label) for ex in dataset.examples) == [
        ("Confirmed report text", "toxic"),
        ("Great recipe, thanks", "ham"),
        ("Our moderators call this one spam", "spam"),
        ("Thanks for the clear write-up", "ham"),
    ]
    assert dataset.format == "labels"
    assert report_.counts == {
        "corpus": {"ham": 0, "spam": 1, "toxic": 0},
        "files": {"ham": 1, "spam": 0, "toxic": 0},
        "reviews": {"ham": 0, "spam": 1, "toxic": 0},
        "feedback": {"ham": 1, "spam": 0, "toxic": 0},
        "unverified-confirmed": {"ham": 0, "spam": 0, "toxic": 1},
        "unverified-included": {"ham": 1, "spam": 0, "toxic": 0},
    }
    manifest = report_.as_manifest()
    assert manifest["refused_corpus_conflicts"]["count"] == 2
    refused = manifest["refused_corpus_conflicts"]["examples"]
    assert [(e["label_id"], e["label"], e["file_label"]) for e in refused] == [
        (1, "ham", "spam"),
        (3, "toxic", "ham"),
    ]
    assert manifest["dropped_corpus_duplicates"] == 1
    assert manifest["conflicts"] == {
        "texts": 1, "labels": 2, "examples": [{"label_ids": [4, 5], "labels": {"ham": 1, "spam": 1}}]
    }  # fmt: skip
    assert manifest["left_out"] == {"unverified": 1, "unverified_by_key": {"stranger": 1}, "discarded": 1}
    assert "text" not in json.dumps(manifest["refused_corpus_conflicts"]["examples"])
    printed = "\n".join(report_.lines())
    assert "conflicts: 1 texts have different labels" in printed and "'The vote is on Tuesday'" in printed
    assert "left out: 1 unverified client reports (stranger: 1)" in printed
    assert "refused: 2 database labels" in printed


def test_train_reports_conflicts_and_keeps_them_out_of_the_snapshot(
    runner, tmp_path, monkeypatch, sqlite_url
):
    models = tmp_path / "models"
    corpus_slice(models, 60)
    monkeypatch.setenv("MODERATION_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("MODERATION_MODEL_DIR", str(models))
    store = Store(make_engine(sqlite_url))
    key, secret = store.create_key("client", "site")
    store.add_text_label(key.id, "Is the ferry running on Sunday?", "ham", "cms_feedback", 10)
    store.add_text_label(key.id, "is the ferry running on sunday?", "spam", "cms_feedback", 10)
    assert runner.invoke(main, ["train", "--include-unverified", prefix_of(secret)]).exit_code == 2
    result = runner.invoke(
        main, ["train", "--from-db", "--include-unverified", secret]
    )  # the whole key works too
    assert result.exit_code == 0, result.output
    assert "conflicts: 1 texts have different labels in the database (2 labels, none used)" in result.output
    version_dir = models / "versions" / current_version(models)
    manifest = json.loads((version_dir / "manifest.json").read_text())
    assert manifest["sources"]["conflicts"]["texts"] == 1
    assert manifest["sources"]["include_unverified"] == [prefix_of(secret)]
    assert (version_dir / "labels.jsonl").read_text() == ""


# --- per-site history -------------------------------------------------------------------------


def test_author_trust_and_flood_are_per_site_unless_keys_are_linked(app_config):
    # Every score is at least "hold", so only a trusted author's comment is approved.
    app_config.update({"spam_hold": 0.0, "toxicity_hold": 0.0})
    app = create_app(app_config)
    store = app.extensions["moderation"].store
    client = app.test_client()
    site_a = store.create_key("client", "A")[1]
    site_b = store.create_key("client", "B")[1]
    a_second_key = store.create_key("client", "A, the Coral integration", site="site-a")[1]
    a_linked = store.create_key("client", "A, after rotation", site="site-a")[1]
    assert store.authenticate(site_a).site == f"key-{prefix_of(site_a)}"
    assert store.authenticate(a_linked).site == "site-a"

    def send(key: str, words: str, **fields) -> list[str]:
        body = comment(email="ann@example.org", text=f"{CLEAN} {words}", **fields)
        return [r["code"] for r in client.post("/v1/comments", json=body, headers=auth(key)).json["reasons"]]

    def approve_all() -> None:
        with store.sessions.begin() as session:
            session.execute(
                Comment.__table__.update().values(status="approved", created_at=utcnow() - timedelta(hours=1))
            )

    assert send(site_a, "one") == ["uncertain"]
    approve_all()
    assert send(site_a, "two")[0] == "trusted_author"
    # Site B never saw Ann: no trust, and A's comment a moment ago is no flood on B.
    assert send(site_b, "three") == ["uncertain"]
    # Nor does the linked site share A's history: it is another site.
    assert send(a_second_key, "four") == ["uncertain"]
    approve_all()
    # Keys of one site share it, both ways.
    assert send(a_linked, "five")[0] == "trusted_author"
    assert "flood" in send(a_second_key, "six")  # a_linked's comment just now counts on its site
    assert "flood" not in send(site_b, "seven", ip="198.51.100.3")


def test_keys_create_with_a_site_and_keys_list_shows_it(runner, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'keys.sqlite3'}"
    monkeypatch.setenv("MODERATION_DATABASE_URL", url)
    created = runner.invoke(
        main, ["keys", "create", "--role", "client", "--name", "wp", "--site", "daily-news"]
    )
    assert created.exit_code == 0, created.output
    alone = runner.invoke(main, ["keys", "create", "--role", "client", "--name", "other"])
    listing = runner.invoke(main, ["keys", "list"]).output.splitlines()
    prefix = prefix_of(alone.output.split()[-1])
    assert listing[0].split("\t")[3:] == ["daily-news", "wp"]
    assert listing[1].split("\t")[3:] == [f"key-{prefix}", "other"]
    # A key made alone (or before sites existed) is linked afterwards.
    moved = runner.invoke(main, ["keys", "site", alone.output.split()[-1], "daily-news"])
    assert moved.exit_code == 0, moved.output
    assert runner.invoke(main, ["keys", "list"]).output.splitlines()[1].split("\t")[3] == "daily-news"
    assert runner.invoke(main, ["keys", "site", "000000000000", "x"]).exit_code == 1
    assert runner.invoke(main, ["keys", "site", prefix, " "]).exit_code == 2
    too_long = runner.invoke(main, ["keys", "create", "--role", "client", "--name", "x", "--site", "s" * 101])
    assert too_long.exit_code == 2


def test_migration_gives_old_labels_trust_by_rule_and_every_old_key_its_own_site(database_url):
    # database_url is migrated to head; step back to 0004, write rows as the old schema had them.
    from alembic import command

    from moderation.store.database import alembic_config

    engine = make_engine(database_url)
    with engine.begin() as connection:
        config = alembic_config(database_url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0004_language")
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO api_keys (prefix, key_hash, name, role, created_at) "
                "VALUES ('abc', 'h', 'n', 'client', :t)"
            ),
            {"t": now},
        )
        key_id = connection.execute(text("SELECT id FROM api_keys")).scalar_one()
        connection.execute(
            text(
                "INSERT INTO comments (id, client_key_id, name, email, email_key, text, fingerprint, "
                "decision, status, reason_code, reasons, signals, scores, spam_score, toxicity_score, "
                "evidence, model_version, created_at) VALUES ('c1', :k, 'n', 'e@x.org', 'e@x.org', 't', "
                "'f', 'approve', 'approved', 'clean', '[]', '[]', '{}', 0, 0, '{}', 'v', :t)"
            ),
            {"k": key_id, "t": now},
        )
        for comment_id in ("c1", None):
            connection.execute(
                text(
                    "INSERT INTO labels (comment_id, source, label, text, key_id, created_at) "
                    "VALUES (:c, 'cms_feedback', 'spam', 't', :k, :t)"
                ),
                {"c": comment_id, "k": key_id, "t": now},
            )
    upgrade(database_url)
    with engine.connect() as connection:
        trust = connection.execute(text("SELECT comment_id, trust FROM labels ORDER BY id")).all()
        site = connection.execute(text("SELECT site FROM api_keys")).scalar_one()
    assert [tuple(r) for r in trust] == [("c1", "trusted"), (None, "unverified")]
    assert site == "key-abc"
    engine.dispose()


# --- erasure and retention --------------------------------------------------------------------


def _label(store: Store, text_: str, created_at, name: str | None = "Ann", comment_id=None) -> None:
    with store.engine.begin() as connection:
        connection.execute(
            insert(Label),
            {"comment_id": comment_id, "source": "cms_feedback", "label": "spam", "text": text_, "name": name,
             "key_id": None, "created_at": created_at, "trust": "unverified"},
        )  # fmt: skip


def test_erase_removes_unlinked_labels_by_folded_text(app, client, keys):
    store = app.extensions["moderation"].store
    client.post(
        "/v1/comments", json=comment(email="ann@example.org", text=CLEAN), headers=auth(keys["client"])
    )
    _label(store, CLEAN.upper().replace(" ", "   "), utcnow())  # folds to her text
    _label(store, CLEAN, utcnow())  # exactly her text
    _label(store, "Someone else's words entirely.", utcnow())
    counts = erase_email(store, "Ann@Example.org")
    assert counts["labels"] == 2
    assert [row.text for row in labels_of(store)] == ["Someone else's words entirely."]
    assert erase_email(store, "ann@example.org")["labels"] == 0


def test_purge_reaches_unlinked_labels_or_keeps_them_without_a_name(sqlite_url):
    store = Store(make_engine(sqlite_url))
    old, recent = utcnow() - timedelta(days=40), utcnow() - timedelta(days=1)
    _label(store, "an old report", old)
    _label(store, "a recent report", recent)
    kept = purge(store, utcnow() - timedelta(days=30), keep_labels=True)
    assert kept["unlinked_labels_anonymized"] == 1
    assert [(r.text, r.name) for r in labels_of(store)] == [
        ("an old report", None),
        ("a recent report", "Ann"),
    ]
    assert purge(store, utcnow() - timedelta(days=30), keep_labels=True)["unlinked_labels_anonymized"] == 0
    counts = purge(store, utcnow() - timedelta(days=30))
    assert counts["unlinked_labels"] == 1
    assert [r.text for r in labels_of(store)] == ["a recent report"]
    assert set(purge(store, utcnow() - timedelta(days=30)).values()) == {0}
