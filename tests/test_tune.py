"""`moderation tune`: thresholds for targets an operator states, its report, and `--apply` live.

The labelled fixture (tests/fixtures/tuning.jsonl) is our own: civic comments, link spam and
insults, with a few near misses each way. "Hits a target" is checked against the model's scores
computed here, independently of the tuning code: the chosen threshold meets the target on the
data, and one grid step (0.0001, the stated tolerance) lower does not.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from moderation.app import create_app
from moderation.classifier.bundle import (
    MANIFEST_FILE,
    TUNED_FILE,
    ModelBundle,
    ModelError,
    ModelHolder,
    current_version,
    versions_dir,
)
from moderation.classifier.datasets import load
from moderation.cli import main
from moderation.pipeline.domain import Thresholds
from moderation.store.repository import utcnow
from moderation.store.tables import Comment
from tests.helpers import FIXTURES, auth

DATA = FIXTURES / "tuning.jsonl"
STEP = 0.0001
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def folder(model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the session model folder: tune writes into the version folder."""
    target = tmp_path / "model"
    shutil.copytree(versions_dir(model_dir), versions_dir(target))
    shutil.copy2(model_dir / "CURRENT", target / "CURRENT")
    return target


@pytest.fixture
def env(folder: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("MODERATION_MODEL_DIR", str(folder))
    monkeypatch.setenv("MODERATION_DATABASE_URL", sqlite_url)
    for name in ("SPAM_HOLD", "SPAM_REJECT", "TOXICITY_HOLD", "TOXICITY_REJECT", "CONFIG"):
        monkeypatch.delenv(f"MODERATION_{name}", raising=False)
    return {"model_dir": str(folder), "database_url": sqlite_url}


def version_path(folder: Path) -> Path:
    return versions_dir(folder) / current_version(folder)


def fixture_scores(folder: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    examples = load(DATA).examples
    scores = ModelBundle.load(version_path(folder)).score_many([ex.record() for ex in examples])
    labels = np.array([ex.label for ex in examples])
    return labels, {h: np.asarray(scores[h]) for h in ("spam", "toxicity")}


def civil_held(labels: np.ndarray, p: np.ndarray, cut: float) -> float:
    return float((p[labels == "ham"] >= cut).mean())


def precision(labels: np.ndarray, p: np.ndarray, kind: str, cut: float) -> float:
    flagged = p >= cut
    return float((labels[flagged] == kind).mean()) if flagged.any() else float("nan")


def run(runner, *args: str):
    return runner.invoke(main, ["tune", *args], catch_exceptions=False)


def test_tune_meets_each_target_at_the_lowest_threshold(runner, env, folder, tmp_path):
    out = tmp_path / "report"
    result = run(runner, "--data", str(DATA), "--max-civil-held", "5", "--min-reject-precision", "95",
                 "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    labels, scores = fixture_scores(folder)
    for head, kind in (("spam", "spam"), ("toxicity", "toxic")):
        chosen = metrics["heads"][head]["chosen"]
        hold, reject = chosen["hold"], chosen["reject"]
        p = scores[head]
        assert civil_held(labels, p, hold) <= 0.05
        assert hold == 0 or civil_held(labels, p, hold - STEP) > 0.05
        assert precision(labels, p, kind, reject) >= 0.95
        # The lowest such threshold: every grid point below it falls short of 95%.
        below = [precision(labels, p, kind, c) for c in np.round(np.arange(0, reject, STEP), 4)]
        assert all(not v >= 0.95 for v in below)
        assert hold <= reject
        assert f"{head} hold: 0.5 -> {hold}" in result.output
        assert metrics["heads"][head]["at"]["hold"]["civil_held"] <= 5
        assert metrics["heads"][head]["at"]["reject"]["precision"] >= 95
    # Nothing applied without --apply.
    assert not (version_path(folder) / TUNED_FILE).exists()


def test_the_report_folder_has_report_metrics_and_a_png_per_head(runner, env, folder):
    out = version_path(folder) / "tuning"  # the default
    out.mkdir()
    (out / "toxicity_tradeoff.png").write_bytes(PNG_MAGIC)  # an earlier run's plot
    result = run(runner, "--data", str(DATA), "--max-civil-held", "spam=3")
    assert result.exit_code == 0, result.output
    assert (out / "spam_tradeoff.png").read_bytes()[:8] == PNG_MAGIC
    assert not (out / "toxicity_tradeoff.png").exists()  # spam only was asked for
    report = (out / "report.md").read_text()
    assert "## spam" in report and "at most 3% of civil comments held" in report
    assert "](spam_tradeoff.png)" in report
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["heads"]) == {"spam"}
    assert metrics["rows"] == len(load(DATA).examples)


def test_refusals_are_clear(runner, env, folder, tmp_path):
    def refused(*args: str) -> str:
        result = runner.invoke(main, ["tune", *args])
        assert result.exit_code != 0
        return result.output

    assert "give a target" in refused("--data", str(DATA))
    assert "need --data or --from-db" in refused("--max-civil-held", "2")
    assert "between 0 and 100" in refused("--data", str(DATA), "--max-civil-held", "150")
    assert "the head is one of" in refused("--data", str(DATA), "--max-civil-held", "threat=2")
    # No spam rows: precision of spam rejects cannot be measured.
    only_toxic = tmp_path / "no_spam.jsonl"
    rows = [r for r in map(json.loads, DATA.read_text().splitlines()) if r["label"] != "spam"]
    only_toxic.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert "no spam rows" in refused(
        "--data", str(only_toxic), "--head", "spam", "--min-reject-precision", "90"
    )
    # No civil rows: civil comments held cannot be measured.
    no_ham = tmp_path / "no_ham.jsonl"
    no_ham.write_text("".join(json.dumps(r) + "\n" for r in rows if r["label"] != "ham"))
    assert "no civil (ham) rows" in refused("--data", str(no_ham), "--max-civil-held", "2")
    # A civil comment with the very text of the highest-scoring spam: no threshold rejects only spam.
    labels, scores = fixture_scores(folder)
    texts = [ex.text for ex in load(DATA).examples]
    top = texts[int(np.argmax(scores["spam"]))]
    poisoned = tmp_path / "tie.jsonl"
    poisoned.write_text(DATA.read_text() + json.dumps({"text": top, "label": "ham"}) + "\n")
    message = refused("--data", str(poisoned), "--head", "spam", "--min-reject-precision", "100")
    assert "no threshold gives 100% precision on rejects" in message
    # The hold target needs a hold threshold above the reject threshold the configuration pins.
    pins = {"MODERATION_SPAM_HOLD": "0.0001", "MODERATION_SPAM_REJECT": "0.001"}
    args = ["tune", "--data", str(DATA), "--head", "spam", "--max-civil-held", "0"]
    result = runner.invoke(main, args, env=pins)
    assert result.exit_code != 0
    assert "above the reject threshold 0.0010" in result.output
    # A hold budget needs stored comments.
    assert "no comments stored in the last 7 days" in refused("--hold-budget", "5")
    assert not (version_path(folder) / TUNED_FILE).exists()


def test_hold_budget_counts_the_queue_of_the_last_days_at_stored_scores(runner, env, folder, tmp_path):
    app = create_app({**env, "instance_dir": str(tmp_path / "instance"), "rate_limit": "off"})
    store = app.extensions["moderation"].store
    client, key = app.test_client(), store.create_key("client", "c")[1]
    examples = load(DATA).examples
    for i, ex in enumerate(examples[:60]):
        body = {"name": f"Reader {i}", "email": f"r{i}@example.org", "text": ex.text}
        assert client.post("/v1/comments", json=body, headers=auth(key)).status_code in (200, 201)
    # Ten of them are older than the week the budget looks at.
    with store.engine.begin() as connection:
        old = [row.id for row in connection.execute(Comment.__table__.select().limit(10))]
        connection.execute(
            update(Comment).where(Comment.id.in_(old)).values(created_at=utcnow() - timedelta(days=10))
        )
    recent = np.array(store.stored_scores(utcnow() - timedelta(days=7)))
    assert len(recent) == 50
    out = tmp_path / "budget"
    result = run(runner, "--hold-budget", "spam=1", "--out", str(out))
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    hold = metrics["heads"]["spam"]["chosen"]["hold"]
    reject = metrics["heads"]["spam"]["current"]["reject"]
    spam = recent[:, 0]

    def queued(cut: float) -> int:
        return int(((spam >= cut) & (spam < reject)).sum())

    assert queued(hold) <= 7
    assert hold == 0 or queued(hold - STEP) > 7
    assert metrics["heads"]["spam"]["queue_per_day"]["comments"] == 50
    assert metrics["heads"]["spam"]["queue_per_day"]["chosen"] == round(queued(hold) / 7, 2)
    assert (out / "spam_tradeoff.png").read_bytes()[:8] == PNG_MAGIC


def test_apply_reaches_a_running_app_without_restart_and_configuration_still_wins(
    runner, env, folder, tmp_path
):
    config = {**env, "instance_dir": str(tmp_path / "instance"), "rate_limit": "off"}
    app = create_app(config)
    ext = app.extensions["moderation"]
    admin = auth(ext.store.create_key("admin", "a")[1])
    client = app.test_client()
    before = client.get("/v1/model", headers=admin).json
    assert before["threshold_sources"]["spam"] == {"hold": "model", "reject": "model"}
    manifest = (version_path(folder) / MANIFEST_FILE).read_bytes()

    result = run(runner, "--data", str(DATA), "--head", "spam", "--max-civil-held", "5", "--apply")
    assert result.exit_code == 0, result.output
    assert "applies them within seconds" in result.output
    tuned = json.loads((version_path(folder) / TUNED_FILE).read_text())
    hold = tuned["thresholds"]["spam"]["hold"]
    assert tuned["targets"]["spam"]["hold"] == ["at most 5% of civil comments held"]

    ext.models.wake()  # what the watcher does every few seconds anyway
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        model = client.get("/v1/model", headers=admin).json
        if model["threshold_sources"]["spam"]["hold"] == "tuned":
            break
        time.sleep(0.05)
    assert model["threshold_sources"]["spam"] == {"hold": "tuned", "reject": "model"}
    assert model["thresholds"]["spam"]["hold"] == hold
    assert model["trained_thresholds"]["spam"]["hold"] == before["trained_thresholds"]["spam"]["hold"]
    assert ext.service.thresholds.spam_hold == hold  # what decisions use
    # The hashed files are untouched and the version still loads.
    assert (version_path(folder) / MANIFEST_FILE).read_bytes() == manifest
    assert ModelBundle.load(version_path(folder)).tuned_thresholds == {"spam": {"hold": hold}}

    # A later tune of the reject threshold keeps the tuned hold.
    result = run(runner, "--data", str(DATA), "--head", "spam", "--min-reject-precision", "95", "--apply")
    assert result.exit_code == 0, result.output
    both = json.loads((version_path(folder) / TUNED_FILE).read_text())["thresholds"]["spam"]
    assert both["hold"] == hold and both["reject"] >= hold

    # An explicit setting wins over the tuned value.
    pinned = create_app({**config, "spam_hold": 0.42})
    pinned_admin = auth(pinned.extensions["moderation"].store.create_key("admin", "b")[1])
    model = pinned.test_client().get("/v1/model", headers=pinned_admin).json
    assert model["threshold_sources"]["spam"] == {"hold": "configuration", "reject": "tuned"}
    assert model["thresholds"]["spam"]["hold"] == 0.42
    result = runner.invoke(main, ["tune", "--data", str(DATA), "--head", "spam", "--max-civil-held", "5",
                                  "--apply"], env={"MODERATION_SPAM_HOLD": "0.42"})  # fmt: skip
    assert "MODERATION_SPAM_HOLD; it wins over the tuned value" in result.output


def test_the_watcher_follows_the_thresholds_file_and_keeps_them_when_it_is_broken(folder):
    holder = ModelHolder(folder, watch=False)
    bundle = holder.load()
    path = bundle.path / TUNED_FILE
    path.write_text(json.dumps({"thresholds": {"toxicity": {"hold": 0.3, "reject": 0.8}}}))
    holder.refresh()
    assert holder.get().tuned_thresholds == {"toxicity": {"hold": 0.3, "reject": 0.8}}
    assert holder.get().fast is bundle.fast  # the loaded model is shared, not loaded again
    # A broken file: logged, the thresholds in force stay; a fresh load refuses the version.
    path.write_text(json.dumps({"thresholds": {"toxicity": {"hold": 0.9, "reject": 0.2}}}))
    holder.refresh()
    assert holder.get().tuned_thresholds == {"toxicity": {"hold": 0.3, "reject": 0.8}}
    with pytest.raises(ModelError, match="hold 0.9 is above reject 0.2"):
        ModelBundle.load(bundle.path)
    # Removed: the model's own thresholds apply again.
    path.unlink()
    holder.refresh()
    assert holder.get().tuned_thresholds == {}


def test_thresholds_resolve_configuration_then_tuned_then_model_then_default():
    model = {"spam": {"hold": 0.5, "reject": 0.9}}
    tuned = {"spam": {"hold": 0.3}, "toxicity": {"reject": 0.8}}
    resolved = Thresholds.resolve(model, {"spam_reject": 0.95}, tuned)
    assert resolved.as_dict()["spam"] == {"hold": 0.3, "reject": 0.95}
    assert resolved.toxicity_reject == 0.8
    assert resolved.sources_dict() == {
        "spam": {"hold": "tuned", "reject": "configuration"},
        "toxicity": {"hold": "default", "reject": "tuned"},
    }


def test_from_db_tunes_on_trusted_labels_only(runner, env, folder, tmp_path):
    app = create_app({**env, "instance_dir": str(tmp_path / "instance"), "rate_limit": "off"})
    store = app.extensions["moderation"].store
    client, key = app.test_client(), store.create_key("client", "c")[1]
    examples = load(DATA).examples[:40]
    for i, ex in enumerate(examples):
        body = {"name": f"Reader {i}", "email": f"r{i}@example.org", "text": ex.text}
        posted = client.post("/v1/comments", json=body, headers=auth(key)).json
        # The site's own verdict on its own stored comment: a trusted label.
        answer = client.post(
            f"/v1/comments/{posted['id']}/feedback", json={"label": ex.label}, headers=auth(key)
        )
        assert answer.status_code in (200, 201, 204)
    # Reports on texts no stored comment matches stay unverified: they must not count.
    for n in range(25):
        suggest = {
            "comment": {"text": f"Cheap watches at bargain-watch{n}.example, best price"},
            "attributeScores": {"SPAM": {"summaryScore": {"value": 0}}},
        }
        assert client.post(f"/v1alpha1/comments:suggestscore?key={key}", json=suggest).status_code == 200
    assert sum(row["trust"] == "unverified" for row in store.training_labels()) == 25
    out = tmp_path / "db"
    result = run(runner, "--from-db", "--max-civil-held", "spam=10", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "40 trusted labels from the database" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    spam = metrics["heads"]["spam"]
    assert metrics["rows"] == 40
    assert spam["civil_rows"] == sum(ex.label == "ham" for ex in examples)
    assert spam["positives"] == sum(ex.label == "spam" for ex in examples)
