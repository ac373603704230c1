"""Model bundles: data-only files verified before loading, swapped in the background when promoted,
a bad one never replaces a good one, a crafted one never runs code."""

import hashlib
import json
import os
import pickle
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from moderation.app import create_app
from moderation.classifier.bundle import (
    MANIFEST_FILE,
    ModelBundle,
    ModelError,
    ModelHolder,
    current_version,
    set_current_version,
    versions_dir,
)
from moderation.classifier.features import FEATURES_VERSION
from moderation.classifier.modelfile import ARRAYS_FILE, LEGACY_FILE, SPEC_FILE
from moderation.cli import main
from moderation.pipeline.domain import ATTRIBUTE_HEADS

MODEL_FILE = ARRAYS_FILE


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
    assert set(scores) == {"spam", "toxicity", *ATTRIBUTE_HEADS} and all(
        0.0 <= v <= 1.0 for v in scores.values()
    )
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
    with pytest.raises(ModelError, match=r"model\.npz does not match its manifest"):
        ModelBundle.load(path)


def test_unchanged_files_load_once_and_changed_ones_are_verified_again(model_copy):
    path = current_path(model_copy)
    first = ModelBundle.load(path)
    assert ModelBundle.load(path) is first  # the process's cache: nothing read or hashed again
    data = (path / MODEL_FILE).read_bytes()
    (path / MODEL_FILE).write_bytes(data)  # the same bytes, written again: checked again
    again = ModelBundle.load(path)
    assert again is not first and again.version == first.version
    (path / MODEL_FILE).write_bytes(data + b"tampered")
    with pytest.raises(ModelError, match="does not match its manifest"):
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


def _rehash(path: Path, name: str) -> None:
    """Make the manifest vouch for the file as it now is, as someone who crafted both would."""
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    manifest["files"][name] = {"sha256": hashlib.sha256((path / name).read_bytes()).hexdigest()}
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))


def test_other_model_format_version_is_refused_even_with_a_matching_hash(model_copy):
    path = current_path(model_copy)
    spec = json.loads((path / SPEC_FILE).read_text())
    spec["format_version"] = 99
    (path / SPEC_FILE).write_text(json.dumps(spec))
    _rehash(path, SPEC_FILE)
    with pytest.raises(ModelError, match="model format version 99"):
        ModelBundle.load(path)


@pytest.mark.parametrize("features_version", [None, 1, 99])
def test_a_model_of_other_feature_code_is_refused_even_with_a_matching_hash(model_copy, features_version):
    """The same columns mean other things under other feature code: such a model must be retrained."""
    path = current_path(model_copy)
    spec = json.loads((path / SPEC_FILE).read_text())
    assert spec["features_version"] == FEATURES_VERSION
    if features_version is None:
        del spec["features_version"]  # written before the version was recorded: version 1
    else:
        spec["features_version"] = features_version
    (path / SPEC_FILE).write_text(json.dumps(spec))
    _rehash(path, SPEC_FILE)
    with pytest.raises(ModelError, match="feature code version .* retrain with `moderation train`"):
        ModelBundle.load(path)


def test_tampered_json_is_refused_and_a_wrong_shape_is_refused_even_with_a_matching_hash(model_copy):
    path = current_path(model_copy)
    spec = json.loads((path / SPEC_FILE).read_text())
    spec["blocks"][0]["vocabulary"].append("an extra term")
    (path / SPEC_FILE).write_text(json.dumps(spec))
    with pytest.raises(ModelError, match=r"model\.json does not match its manifest"):
        ModelBundle.load(path)
    _rehash(path, SPEC_FILE)
    with pytest.raises(ModelError, match="expected float64"):
        ModelBundle.load(path)


class _Payload:
    """Pickled, this creates a file when it is loaded: what a crafted model file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (open, (str(self.marker), "w"))


def _crafted_pickle(marker: Path) -> bytes:
    data = pickle.dumps({"features": _Payload(marker)})
    proof = marker.with_name("proof-the-payload-works")
    pickle.loads(pickle.dumps(_Payload(proof))).close()  # the payload is live: loading it creates a file
    assert proof.exists()
    return data


def _crafted_version(root: Path, marker: Path) -> Path:
    """A version folder whose only model file is a malicious pickle, with a manifest vouching for it."""
    folder = root / "versions" / "v-crafted"
    folder.mkdir(parents=True)
    (folder / LEGACY_FILE).write_bytes(_crafted_pickle(marker))
    digest = hashlib.sha256((folder / LEGACY_FILE).read_bytes()).hexdigest()
    manifest = {"version": "v-crafted", "files": {LEGACY_FILE: {"sha256": digest}}, "data": []}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    return folder


def test_a_crafted_pickle_with_a_matching_hash_is_never_loaded(tmp_path, runner, monkeypatch, model_dir):
    marker = tmp_path / "pwned"
    folder = _crafted_version(tmp_path / "elsewhere", marker)
    with pytest.raises(ModelError, match="old pickle format.*retrain"):
        ModelBundle.load(folder)
    monkeypatch.setenv("MODERATION_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    monkeypatch.setenv("MODERATION_MODEL_DIR", str(model_dir))
    result = runner.invoke(main, ["evaluate", "--model", str(folder)])
    assert result.exit_code != 0 and "retrain" in result.output
    assert not marker.exists(), "the crafted file ran"


def test_a_pickle_inside_the_arrays_file_is_never_unpickled(tmp_path, model_copy):
    path = current_path(model_copy)
    marker = tmp_path / "pwned"
    payload = np.empty(1, dtype=object)
    payload[0] = _Payload(marker)
    with np.load(path / ARRAYS_FILE) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["weights"] = payload  # an object array: only unpickling could read it
    np.savez(path / ARRAYS_FILE, **arrays)
    _rehash(path, ARRAYS_FILE)
    with pytest.raises(ModelError, match="cannot be used"):
        ModelBundle.load(path)
    assert not marker.exists(), "the pickled object in model.npz was loaded"


def test_a_crafted_pickle_pointed_at_by_current_is_refused_by_the_service(app_config, tmp_path):
    marker = tmp_path / "pwned"
    _crafted_version(tmp_path / "models", marker)
    set_current_version(tmp_path / "models", "v-crafted")
    app_config["model_dir"] = str(tmp_path / "models")
    with pytest.raises(ModelError, match="retrain"):
        create_app(app_config)
    assert not marker.exists()


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
    holder = ModelHolder(model_copy, watch=False)  # refresh() by hand: what the watcher thread runs
    first = holder.load().version
    _clone_version(model_copy, "v-next")
    set_current_version(model_copy, "v-next")
    assert holder.get().version == first, "get() never loads; the watcher does"
    assert holder.refresh().state == "serving" and holder.get().version == "v-next"
    broken = _clone_version(model_copy, "v-broken")
    (broken / MODEL_FILE).write_bytes(b"junk")
    set_current_version(model_copy, "v-broken")
    status = holder.refresh()
    assert holder.get().version == "v-next"
    assert (status.serving, status.current, status.state) == ("v-next", "v-broken", "refused")
    assert "does not match" in holder.last_error
    set_current_version(model_copy, first)
    assert holder.refresh().state == "serving"
    assert holder.get().version == first and holder.last_error is None


def test_a_refused_version_is_retried_and_taken_once_repaired_in_place(model_copy):
    holder = ModelHolder(model_copy, retry_interval=0, watch=False)
    holder.load()
    fixed = _clone_version(model_copy, "v-repaired")
    good = (fixed / MODEL_FILE).read_bytes()
    (fixed / MODEL_FILE).write_bytes(good[:100])
    set_current_version(model_copy, "v-repaired")
    assert holder.refresh().state == "refused"
    (fixed / MODEL_FILE).write_bytes(good)  # the pointer does not change; the file is fixed
    assert holder.refresh().state == "serving" and holder.get().version == "v-repaired"


def _wait_for(predicate, what: str, bound: float = 60.0):  # noqa: ANN001, ANN202
    """Poll until predicate() is true; the bound only keeps a broken build from hanging."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"gave up waiting: {what}")


def test_requests_keep_the_current_model_while_the_new_one_loads(model_copy):
    """The load runs in the watcher thread: a FIFO stands in for a version that is still arriving."""
    holder = ModelHolder(model_copy, check_interval=0.05)
    first = holder.load().version
    slow = _clone_version(model_copy, "v-slow")
    content = (slow / MANIFEST_FILE).read_bytes()
    (slow / MANIFEST_FILE).unlink()
    os.mkfifo(slow / MANIFEST_FILE)
    set_current_version(model_copy, "v-slow")
    assert holder.get().version == first  # starts the watcher, which blocks reading the FIFO
    _wait_for(lambda: holder.status().state == "loading", "the watcher to start loading")
    answers = []
    reader = threading.Thread(target=lambda: answers.extend(holder.get().version for _ in range(50)))
    reader.start()
    reader.join(timeout=30)
    assert answers == [first] * 50, "requests were answered with the current model during the load"
    status = holder.status()
    assert (status.serving, status.current, status.state) == (first, "v-slow", "loading")
    with (slow / MANIFEST_FILE).open("wb") as fifo:
        fifo.write(content)  # the manifest arrives; the load goes on
    _wait_for(lambda: holder.get().version == "v-slow", "the switch")
    assert holder.status().state == "serving"


def test_running_app_reports_promoted_version(app_config, model_copy):
    app_config["model_dir"] = str(model_copy)
    app = create_app(app_config)
    models = app.extensions["moderation"].models
    models.check_interval = 0.05
    key = app.extensions["moderation"].store.create_key("client", "c")[1]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    first = client.get("/v1/model", headers=headers).json["version"]
    _clone_version(model_copy, "v-promoted")
    set_current_version(model_copy, "v-promoted")
    models.wake()
    _wait_for(lambda: client.get("/v1/model", headers=headers).json["version"] == "v-promoted", "the switch")
    assert first != "v-promoted"
    submitted = client.post(
        "/v1/comments",
        json={"name": "A", "email": "a@example.org", "text": "Fine article."},
        headers=headers,
    )
    assert submitted.json["model_version"] == "v-promoted"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["model"] == {"serving": "v-promoted", "current": "v-promoted", "state": "serving"}


def test_readyz_reports_a_refused_version_as_a_mismatch(app_config, model_copy):
    app_config["model_dir"] = str(model_copy)
    app = create_app(app_config)
    models = app.extensions["moderation"].models
    models.check_interval = 0.05
    first = models.get().version
    client = app.test_client()
    broken = _clone_version(model_copy, "v-broken")
    (broken / MODEL_FILE).write_bytes(b"junk")
    set_current_version(model_copy, "v-broken")
    models.wake()
    _wait_for(lambda: client.get("/readyz").status_code == 503, "readyz to report the refusal")
    body = client.get("/readyz").json
    assert body["status"] == "unavailable"
    assert body["model"] == {"serving": first, "current": "v-broken", "state": "refused"}
    assert body["checks"]["model"].startswith(f"mismatch: serving {first}, CURRENT names v-broken")
    assert str(model_copy) not in json.dumps(body), "no server path on an unauthenticated endpoint"
    key = app.extensions["moderation"].store.create_key("client", "c")[1]
    scored = client.post(
        "/v1/comments",
        json={"name": "A", "email": "a@example.org", "text": "Nice."},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert scored.status_code == 201 and scored.json["model_version"] == first
    set_current_version(model_copy, first)  # the operator points back at the good version
    models.wake()
    _wait_for(lambda: client.get("/readyz").status_code == 200, "readyz to recover")


@pytest.mark.slow
def test_every_gunicorn_worker_refuses_a_bad_version_and_keeps_serving_one_version(tmp_path, model_dir):
    from tests.serving import (
        create_key,
        db_upgrade,
        service_env,
        start_instance,
        stop_instances,
        wait_until_ready,
    )

    models = tmp_path / "models"
    shutil.copytree(model_dir, models)
    first = current_version(models)
    broken = _clone_version(models, "v-broken")
    (broken / MODEL_FILE).write_bytes((broken / MODEL_FILE).read_bytes()[:1000])
    _clone_version(models, "v-good")
    env = service_env(f"sqlite:///{tmp_path / 'one.sqlite3'}", models, rate_limit="off", flood_seconds="0")
    db_upgrade(env)
    key = create_key(env, "client")
    headers = {"Authorization": f"Bearer {key}"}
    server = start_instance(env, tmp_path / "serve.log", workers=3, migrate=True)
    base = server.base

    def survey(n: int = 30) -> tuple[set, set, set]:
        """Status codes and model states of /readyz, and versions of /v1/model, over n requests each."""
        ready = [requests.get(f"{base}/readyz", timeout=10) for _ in range(n)]
        answers = [requests.get(f"{base}/v1/model", headers=headers, timeout=10) for _ in range(n)]
        states = {json.dumps(r.json()["model"], sort_keys=True) for r in ready}
        return {r.status_code for r in ready}, states, {r.json()["version"] for r in answers}

    try:
        wait_until_ready(server)
        set_current_version(models, "v-broken")
        refused = json.dumps({"current": "v-broken", "serving": first, "state": "refused"}, sort_keys=True)
        # Every worker's watcher refuses the same file: all answer 503 with the same mismatch. Ten
        # answers may all come from the workers that refused first, so wait for each one's log line.
        _wait_for(lambda: server.log.read_text().count("model v-broken refused") >= 3, "three refusals", 90)
        _wait_for(lambda: survey(10)[:2] == ({503}, {refused}), "every worker to refuse v-broken", 90)
        statuses, states, served = survey()
        assert statuses == {503} and states == {refused} and served == {first}
        comment = requests.post(
            f"{base}/v1/comments",
            headers=headers,
            timeout=10,
            json={"name": "R", "email": "r@example.org", "text": "Good read."},
        )
        assert comment.status_code == 201 and comment.json()["model_version"] == first
        set_current_version(models, "v-good")
        switched = json.dumps({"current": "v-good", "serving": "v-good", "state": "serving"}, sort_keys=True)
        _wait_for(lambda: survey(10) == ({200}, {switched}, {"v-good"}), "every worker to switch", 90)
    finally:
        stop_instances(server)
    assert server.process.returncode == 0, server.tail()
    assert "refused" in server.log.read_text()


def _corpus_records() -> list[dict[str, str]]:
    """A sixth of the corpus (about 3,700 rows of every file), the same rows on every run."""
    from tests.helpers import corpus_sample

    return [{k: row.get(k, "") for k in ("text", "name", "email", "url")} for row in corpus_sample(6)]


def test_fast_single_comment_path_equals_the_batch_path_on_a_sample_of_the_corpus(model_dir):
    bundle = ModelBundle.load_current(model_dir)
    records = _corpus_records()
    batch = bundle.score_many(records)
    for i, record in enumerate(records):
        single = bundle.score(record)
        for head in ("spam", "toxicity"):
            assert single[head] == pytest.approx(batch[head][i], abs=1e-9)


def test_saved_model_scores_like_the_fitted_scikit_learn_pipelines_on_a_sample_of_the_corpus(tmp_path):
    """Fit on a tenth of the corpus, save, load as data, and compare with predict_proba on a sixth of
    it (mostly rows it was not fitted on)."""
    from moderation.classifier.datasets import load_corpus
    from moderation.classifier.features import prepare
    from moderation.classifier.modelfile import LinearModel
    from moderation.classifier.train import DEFAULT_PARAMS, fit
    from tests.helpers import CORPUS

    examples = [ex for ds in load_corpus(CORPUS) for ex in ds.examples][::10]
    fitted = fit(examples, dict(DEFAULT_PARAMS), 5)
    LinearModel.from_fitted(fitted.features, fitted.heads, ("spam", "toxicity")).write(tmp_path)
    model = LinearModel.read(tmp_path)
    bundle = ModelBundle("v-test", {}, model, tmp_path)
    records = _corpus_records()
    prepared = [prepare(r) for r in records]
    matrix = fitted.features.transform(prepared)
    # The model file's scorer, whole comments only (the bundle adds clause scores on top of it).
    batch = bundle.fast.score_many(prepared)
    for head in ("spam", "toxicity"):
        expected = fitted.heads[head].named_steps["classifier"].predict_proba(matrix)[:, 1]
        assert np.max(np.abs(batch[head] - expected)) < 1e-9
        singles = np.array([bundle.fast.score(r)[head] for r in prepared[::7]])
        assert np.max(np.abs(singles - expected[::7])) < 1e-9
    names = fitted.features.named_steps["union"].get_feature_names_out()
    assert list(bundle.feature_names) == list(names)


def test_abuse_scores_are_the_most_abusive_clause_and_spam_the_whole_comment(model_dir):
    from moderation.classifier.features import clause_parts, prepare

    bundle = ModelBundle.load_current(model_dir)
    text = (
        "Thanks for the detailed piece on the ferry timetable, really useful for commuters like me. "
        "Muslims should be shot."
    )
    record = prepare(text)
    whole = bundle.fast.score(record)
    (part,) = clause_parts(record)
    clause = bundle.fast.score(part)
    scores = bundle.score(text)
    for head in scores:
        expected = whole[head] if head == "spam" else max(whole[head], clause[head])
        assert scores[head] == pytest.approx(expected, abs=1e-12)
        assert bundle.score_many([text])[head][0] == pytest.approx(expected, abs=1e-12)
    # The threat is diluted in the whole comment, not in its clause.
    assert clause["toxicity"] > whole["toxicity"]
    assert scores["toxicity"] >= 0.9
    # The explanation is the clause's: nothing of the friendly opener pushes toxicity up.
    terms = {t["term"] for t in bundle.explain(text)["toxicity"]}
    assert terms and not terms & {"ferry", "timetable", "commuters", "thanks"}


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


@pytest.mark.parametrize(
    "text", ["", "one", "one two", "one two three four", "a  b\tc", "naïve café 漢字 x", "it's a x-ray, ok?"]
)
def test_word_ngrams_match_scikit_learn(text):
    import re
    from collections import Counter

    from sklearn.feature_extraction.text import TfidfVectorizer

    from moderation.classifier.fast import word_ngrams
    from moderation.classifier.modelfile import WORD_TOKEN_PATTERN

    analyzer = TfidfVectorizer(
        lowercase=False, token_pattern=WORD_TOKEN_PATTERN, ngram_range=(1, 2)
    ).build_analyzer()
    ours = word_ngrams(re.findall(WORD_TOKEN_PATTERN, text), 1, 2)
    assert Counter(ours) == Counter(analyzer(text))
