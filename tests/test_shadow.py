"""Shadow scoring (issue 15, item 5): a candidate scores every new comment too and decides nothing."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from moderation.classifier.bundle import (
    MANIFEST_FILE,
    TUNED_FILE,
    current_version,
    set_shadow,
    shadow_version,
    versions_dir,
)
from moderation.classifier.modelfile import ARRAYS_FILE as MODEL_FILE
from moderation.classifier.shadow import summarize
from moderation.cli import main
from moderation.store.database import make_engine
from moderation.store.repository import Store
from moderation.store.tables import Comment
from tests.helpers import sign_in

CANDIDATE = "v-candidate"


def _clone_version(model_dir: Path, name: str) -> Path:
    """A copy of the current version under another name: it scores exactly as the current one."""
    target = versions_dir(model_dir) / name
    shutil.copytree(versions_dir(model_dir) / current_version(model_dir), target)
    manifest = json.loads((target / MANIFEST_FILE).read_text())
    manifest["version"] = name
    (target / MANIFEST_FILE).write_text(json.dumps(manifest))
    (target / TUNED_FILE).unlink(missing_ok=True)
    return target


@pytest.fixture
def model_copy(model_dir, tmp_path) -> Path:
    """The session model copied, with a candidate whose own thresholds reject every comment as spam.

    Its thresholds file (as `tune --apply` writes it, outside the hashed files) is what makes its
    verdicts differ from the live model's on identical scores.
    """
    target = tmp_path / "model"
    shutil.copytree(model_dir, target, symlinks=True)
    candidate = _clone_version(target, CANDIDATE)
    tuned = {"model": CANDIDATE, "thresholds": {"spam": {"hold": 0.0, "reject": 0.0}}}
    (candidate / TUNED_FILE).write_text(json.dumps(tuned))
    return target


@pytest.fixture(autouse=True)
def cli_env(sqlite_url, model_copy, monkeypatch):
    """The CLI reads the app's database and model folder, through its environment."""
    monkeypatch.setenv("MODERATION_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("MODERATION_MODEL_DIR", str(model_copy))


@pytest.fixture
def app_config(app_config, model_copy):
    app_config["model_dir"] = str(model_copy)
    return app_config


@pytest.fixture
def moderation(app):
    return app.extensions["moderation"]


def _stored(moderation, comment_id: str) -> Comment:
    stored = moderation.store.get_comment(comment_id)
    assert stored is not None
    return stored


def _report(runner, *args: str) -> dict:
    result = runner.invoke(main, ["shadow", "report", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_start_stores_the_candidates_verdict_beside_the_live_one_and_stop_ends_it(
    runner, moderation, submit, model_copy
):
    before = submit()
    assert before.status_code == 201, before.json
    result = runner.invoke(main, ["shadow", "start", CANDIDATE])
    assert result.exit_code == 0, result.output
    assert shadow_version(model_copy) == CANDIDATE
    moderation.models.refresh()  # what each worker's watcher does within seconds
    assert moderation.models.shadow().version == CANDIDATE

    response = submit()
    assert response.status_code == 201
    # The live model decides: the candidate's reject-everything thresholds are acted on nowhere.
    assert response.json["decision"] == "approve", response.json
    stored = _stored(moderation, response.json["id"])
    assert stored.decision == "approve" and stored.model_version == current_version(model_copy)
    shadow = stored.shadow
    assert shadow["version"] == CANDIDATE
    assert (shadow["decision"], shadow["reason_code"]) == ("reject", "spam")
    assert shadow["reasons"][0]["code"] == "spam"
    # A clone scores as the live model does: only the candidate's own thresholds changed the verdict.
    assert shadow["scores"] == stored.scores
    assert shadow["ms"] >= 0
    assert _stored(moderation, before.json["id"]).shadow is None, "comments before the start are not scored"

    held = submit(elapsed_ms=100)  # held by a check (too fast) whatever the model says
    assert held.json["decision"] == "hold"
    assert _stored(moderation, held.json["id"]).shadow["decision"] == "reject"

    report = _report(runner)
    assert report["version"] == CANDIDATE and report["since"] is not None
    assert (report["compared"], report["changed"]) == (2, 2)
    changes = {(c["from"], c["to"]): c for c in report["changes"]}
    assert set(changes) == {("approve", "reject"), ("hold", "reject")}
    assert changes[("approve", "reject")]["reasons"] == {"spam": 1}
    assert report["by_reason"] == {"spam": 2}
    example = changes[("approve", "reject")]["examples"][0]
    assert example["id"] == response.json["id"]
    assert (example["live_reason"], example["shadow_reason"]) == ("clean", "spam")
    assert example["text"].startswith("Thanks, this explains")
    text = runner.invoke(main, ["shadow", "report"])
    assert text.exit_code == 0 and "approve -> reject: 1 (spam 1)" in text.output, text.output
    assert response.json["id"] in text.output

    stopped = runner.invoke(main, ["shadow", "stop"])
    assert stopped.exit_code == 0 and f"--version {CANDIDATE}" in stopped.output, stopped.output
    assert shadow_version(model_copy) is None
    moderation.models.refresh()
    assert moderation.models.shadow() is None
    after = submit()
    assert after.status_code == 201 and _stored(moderation, after.json["id"]).shadow is None
    # The verdicts stored while it ran still report, by name.
    assert _report(runner, "--version", CANDIDATE)["compared"] == 2
    # Without a running shadow the report must be told which one.
    assert runner.invoke(main, ["shadow", "report"]).exit_code != 0


def test_report_since_leaves_earlier_comments_out(runner, moderation, submit):
    assert runner.invoke(main, ["shadow", "start", CANDIDATE]).exit_code == 0
    moderation.models.refresh()
    assert submit().status_code == 201
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert _report(runner)["compared"] == 1
    assert _report(runner, "--since", later)["compared"] == 0
    assert runner.invoke(main, ["shadow", "report", "--since", "yesterday"]).exit_code != 0


def test_a_version_failing_its_hash_checks_is_refused_and_posting_still_works(
    runner, moderation, submit, model_copy
):
    broken = _clone_version(model_copy, "v-broken")
    (broken / MODEL_FILE).write_bytes(b"junk")
    refused = runner.invoke(main, ["shadow", "start", "v-broken"])
    assert refused.exit_code != 0 and "does not match" in refused.output
    assert shadow_version(model_copy) is None
    # Damaged after it was started: every worker refuses it, logs why, and keeps serving.
    set_shadow(model_copy, "v-broken", datetime.now(UTC).isoformat())
    assert moderation.models.refresh().state == "serving"
    assert moderation.models.shadow() is None
    assert "does not match" in moderation.models.shadow_error
    response = submit()
    assert response.status_code == 201 and response.json["decision"] == "approve"
    assert _stored(moderation, response.json["id"]).shadow is None
    assert moderation.models.get().version == current_version(model_copy)


def test_the_current_version_cannot_be_shadowed(runner, model_copy):
    result = runner.invoke(main, ["shadow", "start", current_version(model_copy)])
    assert result.exit_code != 0 and "current model" in result.output
    assert shadow_version(model_copy) is None


def test_shadow_scoring_failing_does_not_fail_the_request(runner, moderation, submit, model_copy):
    runner.invoke(main, ["shadow", "start", CANDIDATE])
    moderation.models.refresh()
    candidate = moderation.models.shadow()
    candidate.fast = None  # a candidate that breaks while scoring (nothing of the live model changes)
    response = submit()
    assert response.status_code == 201 and response.json["decision"] == "approve"
    assert _stored(moderation, response.json["id"]).shadow is None


def test_the_review_page_shows_the_shadow_verdict_where_it_differs(runner, moderation, client, keys, submit):
    unscored = submit(elapsed_ms=100)
    assert runner.invoke(main, ["shadow", "start", CANDIDATE]).exit_code == 0
    moderation.models.refresh()
    held = submit(elapsed_ms=100, text="Shadow line check: the budget tables add up this year.")
    assert held.json["decision"] == "hold"
    assert sign_in(client, keys["moderator"]).status_code == 303
    page = client.get("/moderate/").get_data(as_text=True)
    cards = page.split('<li class="comment ')
    card = next(c for c in cards if held.json["id"] in c)
    assert re.search(rf"Shadow model <code>{CANDIDATE}</code> would reject", card), card
    other = next(c for c in cards if unscored.json["id"] in c)
    assert "Shadow model" not in other


def test_summary_counts_a_laxer_verdict_under_the_live_reason_it_drops():
    now = datetime.now(UTC)
    laxer = {"decision": "approve", "reason_code": "clean", "scores": {}, "ms": 1.0}
    same = {"decision": "approve", "reason_code": "clean", "scores": {}, "ms": 3.0}
    rows = [
        {"id": "a", "text": "x " * 200, "decision": "hold", "reason_code": "uncertain", "scores": {},
         "shadow": laxer, "created_at": now},
        {"id": "b", "text": "same", "decision": "approve", "reason_code": "clean", "scores": {},
         "shadow": same, "created_at": now},
    ]  # fmt: skip
    report = summarize(rows, examples=1, width=20)
    assert (report["compared"], report["changed"]) == (2, 1)
    assert report["changes"][0]["reasons"] == {"uncertain": 1}
    assert len(report["changes"][0]["examples"][0]["text"]) == 20
    assert report["shadow_ms_median"] == 2.0


def test_the_store_selects_one_versions_shadow_rows(database_url):
    store = Store(make_engine(database_url))
    _, secret = store.create_key("client", "shadow test")
    principal = store.authenticate(secret)
    base = datetime.now(UTC)
    for n, version in enumerate(["v-a", "v-b", None, "v-a"]):
        values = {column.key: None for column in Comment.__table__.columns}
        values.update(
            id=f"c{n}", client_key_id=principal.key_id, name="R", email="r@example.org",
            email_key="r@example.org", text=f"text {n}", fingerprint=f"f{n}", decision="approve",
            status="approved", reason_code="clean", reasons=[], signals=[], scores={"spam": 0.1},
            evidence={}, model_version="v-live", created_at=base + timedelta(seconds=n),
            shadow={"version": version, "decision": "hold"} if version else None,
        )  # fmt: skip
        store.insert_values(values)
    assert [row["id"] for row in store.shadow_comments("v-a")] == ["c0", "c3"]
    assert [row["id"] for row in store.shadow_comments("v-a", base + timedelta(seconds=1))] == ["c3"]
    assert [row["shadow"]["decision"] for row in store.shadow_comments("v-b")] == ["hold"]
    store.engine.dispose()
