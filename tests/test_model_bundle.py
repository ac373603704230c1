"""Model bundles: verified before loading, swapped when promoted, a bad one never replaces a good one."""

import json
import shutil
from pathlib import Path

import pytest

from moderation.app import create_app
from moderation.classifier.bundle import (
    MANIFEST_FILE,
    MODEL_FILE,
    ModelBundle,
    ModelError,
    ModelHolder,
    current_version,
    set_current_version,
    versions_dir,
)


@pytest.fixture
def model_copy(model_dir, tmp_path) -> Path:
    """A private copy of the session model that a test may damage."""
    target = tmp_path / "model"
    shutil.copytree(model_dir, target)
    return target


def current_path(model_dir: Path) -> Path:
    return versions_dir(model_dir) / current_version(model_dir)


def test_bundle_scores_probabilities_and_explains(model_dir):
    bundle = ModelBundle.load_current(model_dir)
    scores = bundle.score({"text": "Buy cheap followers now at http://cheap-followers.example !!!"})
    assert set(scores) == {"spam", "toxicity"} and all(0.0 <= v <= 1.0 for v in scores.values())
    assert scores["spam"] > scores["toxicity"]
    why = bundle.explain({"text": "you stupid idiot"})
    assert any(t["term"] in {"stupid", "idiot"} for t in why["toxicity"])
    assert all(t["weight"] > 0 for t in why["toxicity"])


def test_batch_and_single_scores_agree(model_dir):
    bundle = ModelBundle.load_current(model_dir)
    texts = ["Great analysis, thanks.", "WIN a free iPhone, text YES to 80088", "shut up moron"]
    batch = bundle.score_many(texts)
    for i, text in enumerate(texts):
        single = bundle.score(text)
        assert single["spam"] == pytest.approx(batch["spam"][i], abs=1e-12)


def test_hash_mismatch_is_refused_naming_the_file(model_copy):
    path = current_path(model_copy)
    with (path / MODEL_FILE).open("ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(ModelError, match=r"model\.joblib does not match its manifest"):
        ModelBundle.load(path)


def test_truncated_and_missing_files_are_refused(model_copy):
    path = current_path(model_copy)
    data = (path / MODEL_FILE).read_bytes()
    (path / MODEL_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="does not match"):
        ModelBundle.load(path)
    (path / MODEL_FILE).unlink()
    with pytest.raises(ModelError, match="model file not found"):
        ModelBundle.load(path)


def test_other_scikit_learn_version_is_refused(model_copy):
    path = current_path(model_copy)
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    manifest["libraries"]["scikit-learn"] = "0.24.2"
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="built with scikit-learn 0.24.2"):
        ModelBundle.load(path)


def test_service_refuses_to_start_with_a_damaged_model(app_config, model_copy):
    (current_path(model_copy) / MODEL_FILE).write_bytes(b"not a model")
    app_config["model_dir"] = str(model_copy)
    with pytest.raises(ModelError, match="does not match its manifest"):
        create_app(app_config)


def test_service_refuses_to_start_without_a_model(app_config, tmp_path):
    app_config["model_dir"] = str(tmp_path / "empty")
    with pytest.raises(ModelError, match="no current model"):
        create_app(app_config)


def _clone_version(model_dir: Path, name: str) -> Path:
    source = current_path(model_dir)
    target = versions_dir(model_dir) / name
    shutil.copytree(source, target)
    manifest = json.loads((target / MANIFEST_FILE).read_text())
    manifest["version"] = name
    (target / MANIFEST_FILE).write_text(json.dumps(manifest))
    return target


def test_holder_switches_on_promotion_and_keeps_old_model_on_a_bad_one(model_copy):
    holder = ModelHolder(model_copy, check_interval=0)
    first = holder.load().version
    _clone_version(model_copy, "v-next")
    set_current_version(model_copy, "v-next")
    assert holder.get().version == "v-next"
    broken = _clone_version(model_copy, "v-broken")
    (broken / MODEL_FILE).write_bytes(b"junk")
    set_current_version(model_copy, "v-broken")
    assert holder.get().version == "v-next"
    assert "does not match" in holder.last_error
    set_current_version(model_copy, first)
    assert holder.get().version == first and holder.last_error is None


def test_running_app_reports_promoted_version(app_config, model_copy):
    app_config["model_dir"] = str(model_copy)
    app = create_app(app_config)
    app.extensions["moderation"].models.check_interval = 0
    key = app.extensions["moderation"].store.create_key("client", "c")[1]
    client = app.test_client()
    _clone_version(model_copy, "v-promoted")
    set_current_version(model_copy, "v-promoted")
    body = client.get("/v1/model", headers={"Authorization": f"Bearer {key}"}).json
    assert body["version"] == "v-promoted"
    submitted = client.post(
        "/v1/comments",
        json={"name": "A", "email": "a@example.org", "text": "Fine article."},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert submitted.json["model_version"] == "v-promoted"


def test_fast_single_comment_path_equals_the_pipeline_on_the_whole_corpus(model_dir):
    from tests.conftest import CORPUS

    bundle = ModelBundle.load_current(model_dir)
    records = [
        {k: row.get(k, "") for k in ("text", "name", "email", "url")}
        for path in sorted(CORPUS.glob("*.jsonl"))
        for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())
    ]
    batch = bundle.score_many(records)  # scikit-learn's own transform and predict_proba
    for i, record in enumerate(records):
        single = bundle.score(record)
        for head in ("spam", "toxicity"):
            assert single[head] == pytest.approx(batch[head][i], abs=1e-9)


def test_submission_record_scores_like_the_raw_record(model_dir):
    from moderation.pipeline.domain import Submission

    bundle = ModelBundle.load_current(model_dir)
    sub = Submission(name="N1ck", email="n@example.org", text="Fr\u200bee m0ney at http://x.example", url="")
    assert bundle.score(sub.classifier_record()) == pytest.approx(
        bundle.score({"text": sub.text, "name": sub.name, "email": sub.email})
    )


@pytest.mark.parametrize(
    "text",
    ["", "a", "ab cd", "  spaced\tout\n words  ", "supercalifragilistic", "x y z", "é ñ 漢字", "a\u3000b"],
)
def test_cached_character_ngrams_match_scikit_learn(text):
    from collections import Counter

    from sklearn.feature_extraction.text import TfidfVectorizer

    from moderation.classifier.fast import char_wb_ngrams

    analyzer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), lowercase=False).build_analyzer()
    ours = Counter(gram for word in text.split() for gram in char_wb_ngrams(word, 2, 5))
    assert ours == Counter(analyzer(text))
