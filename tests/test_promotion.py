"""The promotion gate, rollback, thresholds that travel with the model and the fixed held-out split."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from moderation.classifier.bundle import (
    MANIFEST_FILE,
    ModelBundle,
    current_version,
    set_current_version,
    versions_dir,
)
from moderation.classifier.datasets import Dataset, Example, load_corpus
from moderation.classifier.history import HISTORY_FILE, read_history, record_switch
from moderation.classifier.promotion import Source, gate, suite_verdict
from moderation.classifier.split import (
    SPLIT_RULE,
    held_out_rows,
    is_held_out_key,
    near_duplicate_key,
    split,
)
from moderation.classifier.suite import load_suite
from moderation.classifier.train import DEFAULT_PARAMS, dedupe_key, fit, head_targets, head_weights, train
from moderation.cli import main
from moderation.config import ConfigError, Settings
from moderation.pipeline.domain import Thresholds
from tests.helpers import CORPUS, auth

# One xdist worker runs the whole module: its weak candidate is trained once.
pytestmark = pytest.mark.xdist_group("test_promotion")


def model_thresholds(bundle: ModelBundle) -> Thresholds:
    """What each model runs with when the configuration sets no threshold."""
    return Thresholds.resolve(bundle.thresholds)


def clone(model_dir: Path, name: str, thresholds: dict | None = None) -> str:
    """A copy of the current version under another name, optionally carrying other thresholds."""
    source = versions_dir(model_dir) / current_version(model_dir)
    target = versions_dir(model_dir) / name
    shutil.copytree(source, target)
    manifest = json.loads((target / MANIFEST_FILE).read_text())
    manifest["version"] = name
    if thresholds:
        for head, values in thresholds.items():
            manifest["thresholds"][head].update(values)
    (target / MANIFEST_FILE).write_text(json.dumps(manifest))
    return name


@pytest.fixture(scope="module")
def held_out():
    return held_out_rows(load_corpus(CORPUS), dedupe_key)


@pytest.fixture(scope="module")
def weak(model_dir, tmp_path_factory):
    """A folder with the session model as current (no promotion history) and a weak candidate.

    The candidate is trained on the first 60 comments of each corpus file: the same recipe on a
    twelfth of the data, worse at both heads.
    """
    folder = tmp_path_factory.mktemp("gate")
    shutil.copytree(versions_dir(model_dir), versions_dir(folder))
    shutil.copy2(model_dir / "CURRENT", folder / "CURRENT")
    (folder / "corpus").symlink_to(CORPUS, target_is_directory=True)
    small = [Dataset(d.path, d.format, d.examples[:60], d.sha256) for d in load_corpus(CORPUS)]
    path = train(small, folder, seed=5, params={"calibration_folds": 3}, make_current=False)
    return folder, path.name


@pytest.fixture
def gate_dir(weak, tmp_path):
    """A private copy of the weak fixture's folder that a test may promote in."""
    folder, candidate = weak
    target = tmp_path / "model"
    shutil.copytree(versions_dir(folder), versions_dir(target))
    shutil.copy2(folder / "CURRENT", target / "CURRENT")
    (target / "corpus").symlink_to(CORPUS, target_is_directory=True)
    return target, candidate


@pytest.fixture
def env(gate_dir, tmp_path, monkeypatch):
    folder, _ = gate_dir
    monkeypatch.setenv("MODERATION_MODEL_DIR", str(folder))
    monkeypatch.setenv("MODERATION_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    for name in ("SPAM_HOLD", "SPAM_REJECT", "TOXICITY_HOLD", "TOXICITY_REJECT"):
        monkeypatch.delenv(f"MODERATION_{name}", raising=False)


def load(folder: Path, version: str) -> ModelBundle:
    return ModelBundle.load(versions_dir(folder) / version)


# --- the fixed held-out split -------------------------------------------------------------------


def test_campaign_copies_share_a_near_duplicate_key():
    variants = [
        "Win $500 now at http://pills-a.example/buy !!!",
        "WIN $750 NOW at www.pills-b.example",
        "win 1000 now at pills-c.example/offer?id=7",
        "Wiiiin $20 now at pills.example",
        "w1n $5 now at https://x.example",
    ]
    keys = {near_duplicate_key(text) for text in variants}
    assert keys == {"win now at"}
    assert near_duplicate_key("Great article, thanks") != near_duplicate_key("Great article, thanks a lot")


def test_near_duplicates_land_on_one_side_and_campaigns_on_both():
    sides = []
    for n in range(60):
        words = f"campaign {n} " + " ".join(chr(97 + (n * 7 + i) % 26) * 2 for i in range(6))
        rows = [Example(f"{words} ${k}0 off at shop{k}.example{'!' * k}", "spam") for k in range(1, 6)] + [
            Example(f"{words.upper()} ${k * 3} OFF   AT https://deal{k}.example/x?id={k}", "spam")
            for k in range(3)
        ]
        result = split([Dataset("file.jsonl", "jsonl", rows)], dedupe_key)
        assert {len(result.held_out), len(result.fitting)} & {0}, "a campaign's copies were split"
        sides.append(bool(result.held_out))
    assert 0 < sum(sides) < len(sides)


def test_the_split_is_the_same_whatever_the_order_seed_or_data_slice(model_dir, held_out, weak):
    corpus = load_corpus(CORPUS)
    again = held_out_rows(list(reversed(corpus)), dedupe_key)
    assert {dedupe_key(ex) for ex in again} == {dedupe_key(ex) for ex in held_out}
    assert 0.15 < len(held_out) / sum(len(d.examples) for d in corpus) < 0.25
    # The session model (seed 13, whole corpus) and the weak one (seed 5, a slice) were split by the
    # same rule, and a row the slice held out is held out in the whole corpus.
    full = load(model_dir, current_version(model_dir)).manifest
    folder, version = weak
    small = load(folder, version).manifest
    assert full["split"]["rule"] == small["split"]["rule"] == SPLIT_RULE
    assert full["split"]["held_out"] == len(held_out) == full["examples"]["held_out"]
    sliced = [Dataset(d.path, d.format, d.examples[:60], d.sha256) for d in corpus]
    small_held = {dedupe_key(ex) for ex in held_out_rows(sliced, dedupe_key)}
    assert small["split"]["held_out"] == len(small_held)
    assert small_held <= {dedupe_key(ex) for ex in held_out}


def test_database_labels_are_never_held_out_and_never_near_a_held_out_row(held_out):
    corpus = [Dataset("corpus.jsonl", "jsonl", list(held_out[:50]))]
    held_text = held_out[0].text
    # Texts whose key falls on the held-out side: as file rows they would be held out.
    unseen = [f"moderator label {chr(97 + n % 26)}x{chr(97 + n // 26)}y about the budget" for n in range(260)]
    held_side = [t for t in unseen if is_held_out_key(near_duplicate_key(t))]
    assert held_side
    labels = [Example(t, "ham", source="moderator") for t in held_side]
    labels.append(Example(held_text.upper() + " !!!", "ham", source="api"))  # a held-out row, relabelled
    result = split([*corpus, Dataset("database:labels", "labels", labels)], dedupe_key)
    held = {ex.text for ex in result.held_out}
    assert not held & {ex.text for ex in labels}
    fitted = {ex.text for ex in result.fitting}
    assert set(held_side) <= fitted
    assert held_text.upper() + " !!!" not in fitted
    assert result.counts["database_rows_dropped_near_held_out"] == 1
    assert result.counts["database_rows_fitted_only"] == len(held_side)


def test_the_shipped_model_was_not_fitted_on_the_held_out_rows(model_dir, held_out):
    """One fit: the saved model's held-out metrics are its own scores on the recomputed rows."""
    bundle = ModelBundle.load_current(model_dir)
    manifest = bundle.manifest
    assert (
        manifest["examples"]["fitted"] + manifest["examples"]["held_out"] == manifest["examples"]["distinct"]
    )
    scores = bundle.score_many([ex.record() for ex in held_out])
    for head in ("spam", "toxicity"):
        auc = roc_auc_score(head_targets(held_out, head), scores[head])
        assert round(float(auc), 4) == manifest["metrics"]["held_out"][head]["roc_auc"]
    assert manifest["thresholds"] == Thresholds().as_dict() and manifest["thresholds_from"] == "training"


def test_parallel_head_fits_equal_sequential_ones():
    rows = [ex for d in load_corpus(CORPUS) for ex in d.examples[:25]]
    params = {**DEFAULT_PARAMS, "calibration_folds": 3}
    one, two = fit(rows, params, seed=3, n_jobs=1), fit(rows, params, seed=3, n_jobs=2)
    for head in ("spam", "toxicity"):
        assert np.array_equal(head_weights(one.heads[head]), head_weights(two.heads[head]))
        a = one.heads[head].named_steps["classifier"].calibrated_classifiers_[0].calibrators[0]
        b = two.heads[head].named_steps["classifier"].calibrated_classifiers_[0].calibrators[0]
        assert (a.a_, a.b_) == (b.a_, b.b_)


def test_the_split_share_cannot_be_set(tmp_path):
    with pytest.raises(ValueError, match="fixed"):
        train([Dataset("x", "jsonl", [Example("a", "ham")])], tmp_path, params={"holdout": 0.5})


# --- the gate: every refusal path ---------------------------------------------------------------


def test_gate_refuses_a_candidate_worse_on_the_held_out_split(weak, held_out):
    folder, version = weak
    candidate, current = load(folder, version), ModelBundle.load_current(folder)
    result = gate(candidate, current, [Source("held-out split", held_out)], model_thresholds)
    assert not result.ok
    assert {c.head for c in result.comparisons} == {"spam", "toxicity"}, "every head is compared"
    assert any(c.worse and c.measure == "roc_auc" for c in result.comparisons)
    assert any(r.startswith("held-out split") for r in result.refusals)
    table = "\n".join(result.lines())
    assert "WORSE" in table and "gate refused" in table and "ROC-AUC" in table
    # The same models the other way round: the stronger one passes.
    assert gate(current, candidate, [Source("held-out split", held_out)], model_thresholds).ok


def test_gate_refuses_a_candidate_worse_at_its_operating_point(gate_dir, held_out):
    folder, _ = gate_dir
    # Same weights, same AUC; it would reject at 0.5 what the current model rejects at 0.9.
    name = clone(folder, "v-eager", {"toxicity": {"reject": 0.5}})
    candidate, current = load(folder, name), ModelBundle.load_current(folder)
    result = gate(candidate, current, [Source("held-out split", held_out)], model_thresholds)
    worse = {(c.head, c.measure) for c in result.comparisons if c.worse}
    assert not result.ok and ("toxicity", "civil_rejected") in worse
    assert not any(m == "roc_auc" for _, m in worse)
    assert "toxicity hold 0.5 reject 0.5 (model)" in "\n".join(result.lines())
    # A configuration that sets the reject threshold makes both run at it: nothing left to refuse.
    overrides = {"toxicity_reject": 0.9}
    same = gate(candidate, current, [Source("held-out split", held_out)],
                lambda b: Thresholds.resolve(b.thresholds, overrides))  # fmt: skip
    assert same.ok


def test_gate_compares_every_head_of_every_data_file(weak, held_out, tmp_path):
    folder, version = weak
    candidate, current = load(folder, version), ModelBundle.load_current(folder)
    spam_file = [ex for ex in held_out if ex.label in ("ham", "spam")]
    result = gate(candidate, current, [Source("sms.csv", spam_file)], model_thresholds)
    assert {c.head for c in result.comparisons} == {"spam"}, "the file has no toxic rows"
    assert not result.ok and all(r.startswith("sms.csv") for r in result.refusals)
    civil_only = gate(candidate, current, [Source("civil.csv", [e for e in held_out if e.label == "ham"])],
                      model_thresholds)  # fmt: skip
    assert civil_only.comparisons == [] and any("not compared" in n for n in civil_only.notes)


def test_gate_refuses_a_candidate_worse_on_the_suite(gate_dir):
    folder, _ = gate_dir
    # Holding everything from 0.05 on holds the suite's civil cases: the suite alone refuses it.
    name = clone(folder, "v-jumpy", {"toxicity": {"hold": 0.05}})
    candidate, current = load(folder, name), ModelBundle.load_current(folder)
    cases = load_suite()
    result = gate(candidate, current, [], model_thresholds, cases)
    assert result.comparisons == [] and not result.ok and result.refusals == ["functional suite"]
    verdict = suite_verdict(folder, candidate, current.version, model_thresholds(candidate), cases,
                            model_thresholds(current))  # fmt: skip
    assert not verdict.better_or_equal and "worse" in verdict.summary
    same = suite_verdict(folder, candidate, current.version, Thresholds(), cases)
    assert same.better_or_equal, "at the same thresholds the clone is the same model"


# --- the promote command: refusal, --force, rollback ---------------------------------------------


def test_promote_refuses_a_worse_candidate_and_names_every_source(runner, env, gate_dir, held_out, tmp_path):
    folder, version = gate_dir
    before = current_version(folder)
    data = tmp_path / "site_spam.csv"
    with data.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows([ex.text, ex.label] for ex in held_out if ex.label in ("ham", "spam"))
    result = runner.invoke(main, ["promote", version, "--data", str(data)])
    assert result.exit_code == 1, result.output
    assert "worse than" in result.output and "--force" in result.output
    rows = [line.split() for line in result.output.splitlines()]
    assert any(r[:2] == ["site_spam.csv", "spam"] for r in rows)
    assert not any(r[:2] == ["site_spam.csv", "toxicity"] for r in rows)
    assert any(r[:3] == ["held-out", "split", "toxicity"] for r in rows), "toxicity is compared too"
    assert "functional suite" in result.output
    assert current_version(folder) == before and read_history(folder) == []


def test_force_promotes_and_is_recorded_and_rollback_returns(runner, env, gate_dir):
    folder, version = gate_dir
    before = current_version(folder)
    forced = runner.invoke(main, ["promote", version, "--force"])
    assert forced.exit_code == 0, forced.output
    assert current_version(folder) == version and "past the gate with --force" in forced.stderr
    entry = read_history(folder)[-1]
    assert entry["action"] == "promote" and entry["forced"] is True
    assert entry["version"] == version and entry["previous"] == before
    assert any("WORSE" in line for line in entry["gate"]) and entry["by"]

    back = runner.invoke(main, ["promote", "--rollback"])
    assert back.exit_code == 0, back.output
    assert current_version(folder) == before and f"rolled back from {version} to {before}" in back.output
    assert read_history(folder)[-1] | {"at": None, "by": None} == {
        "at": None, "by": None, "action": "rollback", "version": before, "previous": version, "forced": False,
    }  # fmt: skip
    again = runner.invoke(main, ["promote", "--rollback"])
    assert again.exit_code == 1 and "no previous version" in again.output
    assert current_version(folder) == before


def test_rollback_walks_back_through_the_history(runner, env, gate_dir):
    folder, _ = gate_dir
    first = current_version(folder)
    second, third = clone(folder, "v-second"), clone(folder, "v-third")
    assert runner.invoke(main, ["promote", second]).exit_code == 0  # the same model: the gate passes
    # The next switch as `promote` records it (its gate is the one just run).
    set_current_version(folder, third)
    record_switch(folder, "promote", third, second)
    assert [e["version"] for e in read_history(folder)] == [second, third]
    assert runner.invoke(main, ["promote", "--rollback"]).exit_code == 0
    assert current_version(folder) == second
    assert runner.invoke(main, ["promote", "--rollback"]).exit_code == 0
    assert current_version(folder) == first


def test_rollback_needs_a_history_and_no_version(runner, env, gate_dir):
    folder, version = gate_dir
    result = runner.invoke(main, ["promote", "--rollback"])
    assert result.exit_code == 1 and "cannot roll back" in result.output
    assert runner.invoke(main, ["promote", version, "--rollback"]).exit_code == 2
    assert runner.invoke(main, ["promote"]).exit_code == 2
    # The pointer changed by hand: the history no longer ends with the current version.
    set_current_version(folder, clone(folder, "v-hand"))
    (folder / HISTORY_FILE).write_text(
        json.dumps({"action": "promote", "version": version, "previous": "x"}) + "\n"
    )
    result = runner.invoke(main, ["promote", "--rollback"])
    assert result.exit_code == 1 and "does not end with the current version" in result.output


def test_promote_without_a_corpus_refuses_unless_forced(runner, env, gate_dir):
    folder, _ = gate_dir
    (folder / "corpus").unlink()
    name = clone(folder, "v-same")
    result = runner.invoke(main, ["promote", name])
    assert result.exit_code == 1 and "cannot recompute the held-out split" in result.output
    forced = runner.invoke(main, ["promote", name, "--force"])
    assert forced.exit_code == 0 and current_version(folder) == name
    assert read_history(folder)[-1]["gate"][0].startswith("gate not run")


# --- thresholds travel with the model -----------------------------------------------------------


def test_thresholds_resolve_from_the_model_unless_the_configuration_sets_them():
    model = {"spam": {"hold": 0.4, "reject": 0.8}, "toxicity": {"hold": 0.6, "reject": "junk"}}
    t = Thresholds.resolve(model, {"spam_reject": 0.95})
    assert (t.spam_hold, t.spam_reject, t.toxicity_hold, t.toxicity_reject) == (0.4, 0.95, 0.6, 0.9)
    assert t.sources_dict() == {
        "spam": {"hold": "model", "reject": "configuration"},
        "toxicity": {"hold": "model", "reject": "default"},
    }
    assert Thresholds.resolve(None) == Thresholds()


def test_threshold_settings_are_unset_unless_given():
    assert Settings.load(environ={}).threshold_overrides() == {}
    settings = Settings.load(environ={"MODERATION_SPAM_HOLD": "0.3", "MODERATION_TOXICITY_REJECT": ""})
    assert settings.threshold_overrides() == {"spam_hold": 0.3}
    with pytest.raises(ConfigError):
        Settings.load(environ={"MODERATION_SPAM_HOLD": "1.5"})


def test_the_service_uses_the_models_thresholds_unless_configured(app_config, gate_dir):
    from moderation.app import create_app

    folder, _ = gate_dir
    # A model whose own spam hold threshold is 0: every comment's spam score is uncertain.
    set_current_version(folder, clone(folder, "v-cautious", {"spam": {"hold": 0.0}}))
    app_config["model_dir"] = str(folder)
    for overrides, decision in (({}, "hold"), ({"spam_hold": 0.5}, "approve")):
        app = create_app({**app_config, **overrides})
        store = app.extensions["moderation"].store
        client_key, admin_key = store.create_key("client", "c")[1], store.create_key("admin", "a")[1]
        client = app.test_client()
        who = "configured" if overrides else "default"
        body = {
            "name": who,
            "email": f"{who}@example.org",
            "text": f"Thanks, a clear and fair article ({who}).",
        }
        answer = client.post("/v1/comments", json=body, headers=auth(client_key)).json
        assert answer["decision"] == decision
        model = client.get("/v1/model", headers=auth(admin_key)).json
        expected = overrides.get("spam_hold", 0.0)
        assert model["thresholds"]["spam"]["hold"] == expected
        assert model["threshold_sources"]["spam"] == {
            "hold": "configuration" if overrides else "model",
            "reject": "model",
        }
        assert model["trained_thresholds"]["spam"]["hold"] == 0.0
