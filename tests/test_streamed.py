"""The streamed training recipe for large data (moderation/classifier/streamed.py)."""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from moderation.classifier.bundle import ModelBundle, current_version
from moderation.classifier.datasets import DatasetError, count_lines, load, stream
from moderation.classifier.features import prepare
from moderation.classifier.split import is_held_out_key, near_duplicate_key
from moderation.classifier.streamed import STREAMED_ROWS, choose_streamed, chunked
from moderation.cli import main
from moderation.store.database import make_engine
from moderation.store.repository import Store
from tests.helpers import corpus_slice, make_comment

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "model" / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "datasets"


@pytest.mark.parametrize(
    ("rows", "forced", "expected"),
    [
        (21_000, None, False),
        (STREAMED_ROWS, None, False),
        (STREAMED_ROWS + 1, None, True),
        (2_000_000, None, True),
        (3_000, True, True),
        (2_000_000, False, False),
    ],
)
def test_training_streams_above_the_threshold_unless_told(rows, forced, expected):
    assert choose_streamed(rows, forced) is expected


def test_chunks_are_read_lazily_from_a_generator():
    consumed: list[int] = []

    def endless():
        n = 0
        while True:
            consumed.append(n)
            yield n
            n += 1

    chunks = chunked(endless(), 100)
    assert next(chunks) == list(range(100))
    assert len(consumed) == 100  # nothing beyond the first chunk was read
    assert next(chunks) == list(range(100, 200))
    assert len(consumed) == 200


@pytest.mark.parametrize(("items", "size", "lengths"), [(10, 3, [3, 3, 3, 1]), (6, 3, [3, 3]), (0, 4, [])])
def test_chunks_cover_every_item_once(items, size, lengths):
    chunks = list(chunked(iter(range(items)), size))
    assert [len(c) for c in chunks] == lengths
    assert [x for c in chunks for x in c] == list(range(items))


@pytest.mark.parametrize(
    "name",
    [
        "sample.jsonl",
        "plain.csv",
        "jigsaw_sample.csv",
        "youtube_spam.csv",
        "sms_spam.tsv",
        "toxic_numeric.csv",
    ],
)
def test_streamed_reading_gives_what_loading_gives(name):
    loaded = load(FIXTURES / name)
    fmt, rows = stream(FIXTURES / name)
    assert fmt == loaded.format
    assert list(rows) == loaded.examples


def test_streamed_reading_yields_rows_before_it_reaches_the_end(tmp_path):
    path = tmp_path / "big.jsonl"
    good = json.dumps({"text": "a perfectly fine comment", "label": "ham"})
    path.write_text(f"{good}\n{good}\nnot json at all\n", encoding="utf-8")
    with pytest.raises(DatasetError):
        load(path)  # reads the whole file first
    _, rows = stream(path)
    assert next(rows).text == "a perfectly fine comment"
    assert next(rows).label == "ham"
    with pytest.raises(DatasetError, match=":3: not JSON"):
        next(rows)
    assert count_lines(path) == 3


def _corpus_rows() -> list[dict]:
    rows = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def test_a_small_streamed_run_writes_a_verified_model_that_separates_spam(runner, tmp_path):
    rng = random.Random(3)
    rows = _corpus_rows()
    fitting = [r for r in rows if not is_held_out_key(near_duplicate_key(r["text"]))]
    unseen = [r for r in rows if is_held_out_key(near_duplicate_key(r["text"]))]
    chosen = rng.sample(fitting, 3000)
    duplicated = chosen[:40]  # the same texts again: the reading pass drops them
    data = tmp_path / "rows.jsonl"
    with open(data, "w", encoding="utf-8") as out:
        for row in chosen + duplicated:
            out.write(
                json.dumps({"text": row["text"], "label": row["label"], "tags": row.get("tags", [])}) + "\n"
            )
    out_dir = tmp_path / "models"
    result = runner.invoke(
        main,
        ["train", "--data", str(data), "--no-corpus", "--out", str(out_dir), "--streamed", "--workers", "1"],
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert "streamed recipe (--streamed)" in result.output
    # The progress lines go to stderr: rows read, then each epoch's rows fitted.
    assert "read 3,040 rows: " in result.stderr
    assert "epoch 3/3: " in result.stderr and "rows fitted" in result.stderr
    assert "held-out: " in result.stderr

    folder = out_dir / "versions" / current_version(out_dir)
    bundle = ModelBundle.load(folder)  # checks every model file against the manifest's sha256
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in ("model.json", "model.npz"):
        assert manifest["files"][name]["sha256"] == hashlib.sha256((folder / name).read_bytes()).hexdigest()
    assert manifest["recipe"]["name"] == "streamed"
    distinct = len({prepare(r["text"]).folded for r in chosen})
    assert manifest["examples"]["distinct"] == distinct
    assert manifest["data"][0]["rows"] == 3040 and manifest["data"][0]["path"] == "rows.jsonl"
    assert set(manifest["heads"]) >= {"spam", "toxicity"}
    assert "streamed recipe" in (folder / "model_card.md").read_text(encoding="utf-8")

    # Rows of the corpus's held-out side, which the run never read: spam scores above ham.
    spam = [r["text"] for r in unseen if r["label"] == "spam"][:150]
    ham = [r["text"] for r in unseen if r["label"] == "ham"][:300]
    scores = bundle.score_many(spam + ham)["spam"]
    assert roc_auc_score(np.r_[np.ones(len(spam)), np.zeros(len(ham))], scores) > 0.95


def test_streamed_training_takes_database_labels_by_the_learning_loops_rules(runner, tmp_path, monkeypatch):
    """`train --from-db` at a large site's scale streams too: trusted labels are added, unverified
    reports left out, a label contradicting the corpus refused, and one contradicting a --data row
    dropped by the reading pass (the file's copy comes first and stands)."""
    model_dir = tmp_path / "models"
    corpus = corpus_slice(model_dir, 60)
    monkeypatch.setenv("MODERATION_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("MODERATION_DATABASE_URL", f"sqlite:///{tmp_path / 'labels.sqlite3'}")
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    store = Store(make_engine(os.environ["MODERATION_DATABASE_URL"]))
    moderator, _ = store.create_key("moderator", "desk")
    client, _ = store.create_key("client", "site")
    reviewed = "Earn 900 a week stuffing envelopes at home, details at envelope-riches.example"
    file_text = "The bridge on Quay Street reopens on Monday after three weeks of repairs."
    corpus_ham = next(
        row["text"]
        for path in sorted(corpus.glob("*.jsonl"))
        for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())
        if row["label"] == "ham"
    )
    for text_, label in ((reviewed, "spam"), (file_text, "spam"), (corpus_ham, "spam")):
        stored, _ = store.insert_comment(make_comment(client.id, text=text_))
        store.add_label(stored, label, "moderator", moderator.id)
    unverified = "Totally normal comment, nothing to see, honest reader here"
    assert store.add_text_label(client.id, unverified, "ham", "akismet", unverified_cap=10) is not None
    data = tmp_path / "site.jsonl"
    data.write_text(json.dumps({"text": file_text, "label": "ham"}) + "\n", encoding="utf-8")

    result = runner.invoke(main, ["train", "--from-db", "--data", str(data), "--streamed", "--workers", "1"])
    assert result.exit_code == 0, result.output + result.stderr
    assert "streamed recipe (--streamed)" in result.output
    assert "2 labels from the database" in result.output  # the reviewed text and the file's text
    assert "refused: 1 database labels contradict a corpus or --data example" in result.output
    assert "left out: 1 unverified client reports" in result.output
    assert "(1 with another label than the first copy's" in result.stderr

    folder = model_dir / "versions" / current_version(model_dir)
    ModelBundle.load(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["recipe"]["name"] == "streamed"
    assert manifest["split"]["contradicting_duplicates"] == 1
    assert manifest["sources"]["counts"]["reviews"] == {"ham": 0, "spam": 2, "toxic": 0}
    assert manifest["sources"]["refused_corpus_conflicts"]["count"] == 1
    assert manifest["sources"]["left_out"]["unverified"] == 1
    labels = next(d for d in manifest["data"] if d["format"] == "labels")
    assert labels["rows"] == 2 and labels["labels"]["spam"] == 2
    snapshot = folder / labels["path"]
    assert hashlib.sha256(snapshot.read_bytes()).hexdigest() == labels["sha256"]
    texts = {json.loads(line)["text"] for line in snapshot.read_text(encoding="utf-8").splitlines()}
    assert texts == {reviewed, file_text}  # both were offered; the reading pass kept the file's copy
    assert corpus_ham not in texts and unverified not in texts
