"""Loaders for our corpus format and the public formats, on small fixtures written by us."""

import json

import pytest

from moderation.classifier.datasets import DatasetError, load, load_corpus
from tests.helpers import CORPUS, FIXTURES

DATA = FIXTURES / "datasets"


def labels(dataset):
    return [ex.label for ex in dataset.examples]


def test_jsonl_keeps_tags_and_author_fields():
    ds = load(DATA / "sample.jsonl")
    assert ds.format == "jsonl" and labels(ds) == ["ham", "spam", "toxic"]
    assert ds.examples[0].email == "mina@example.org" and ds.examples[2].tags == ("insult", "harassment")
    assert len(ds.sha256) == 64


def test_jigsaw_csv_maps_six_columns_to_toxic_and_tags():
    ds = load(DATA / "jigsaw_sample.csv")
    assert ds.format == "jigsaw-csv"
    assert labels(ds) == ["ham", "toxic", "ham", "toxic", "toxic", "toxic"]
    assert ds.examples[3].tags == ("obscene", "insult")
    assert ds.examples[4].tags == ("threat",) and ds.examples[5].tags == ("identity_attack",)


def test_youtube_spam_csv():
    ds = load(DATA / "youtube_spam.csv")
    assert ds.format == "youtube-spam-csv" and labels(ds) == ["ham", "spam", "ham", "spam"]
    assert ds.examples[1].name == "Promo King"


def test_sms_spam_tsv():
    ds = load(DATA / "sms_spam.tsv")
    assert ds.format == "sms-spam-tsv" and labels(ds) == ["ham", "spam", "ham", "spam"]
    assert ds.examples[1].text.startswith("URGENT")


def test_plain_csv_with_word_labels_and_author_columns():
    ds = load(DATA / "plain.csv")
    assert ds.format == "text-label-csv" and labels(ds) == ["ham", "spam", "toxic", "ham"]
    assert ds.examples[1].name == "Essay Fast"


def test_numeric_labels_take_the_kind_from_the_name_or_the_caller(tmp_path):
    assert labels(load(DATA / "toxic_numeric.csv")) == ["ham", "toxic", "ham", "toxic"]
    anonymous = tmp_path / "labels.csv"
    anonymous.write_text((DATA / "toxic_numeric.csv").read_text())
    with pytest.raises(DatasetError, match="needs to know which head"):
        load(anonymous)
    assert labels(load(anonymous, "spam")) == ["ham", "spam", "ham", "spam"]


def test_unknown_formats_and_labels_are_clear_errors(tmp_path):
    odd = tmp_path / "odd.csv"
    odd.write_text("body,verdict\nhello,fine\n")
    with pytest.raises(DatasetError, match="unrecognised CSV header"):
        load(odd)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "label": "maybe"}\n')
    with pytest.raises(DatasetError, match="unknown label"):
        load(bad)


def test_seed_corpus_meets_its_size_and_label_targets():
    examples = [ex for ds in load_corpus(CORPUS) for ex in ds.examples]
    counts = {label: sum(ex.label == label for ex in examples) for label in ("ham", "spam", "toxic")}
    assert counts["ham"] >= 2000 and counts["spam"] >= 1000 and counts["toxic"] >= 1000
    texts = [ex.text.strip().lower() for ex in examples]
    assert len(set(texts)) >= 0.99 * len(texts), "the corpus should not repeat itself"
    spam_tags = {t for ex in examples if ex.label == "spam" for t in ex.tags}
    toxic_tags = {t for ex in examples if ex.label == "toxic" for t in ex.tags}
    assert spam_tags >= {"link_spam", "scam", "promo", "adult", "pharma", "gibberish", "seo"}
    assert toxic_tags >= {"insult", "threat", "obscene", "identity_attack", "harassment"}


def test_multi_label_and_identity_columns_are_kept_per_row(tmp_path):
    jigsaw = load(DATA / "jigsaw_sample.csv")
    assert [dict(ex.label_columns)["insult"] for ex in jigsaw.examples] == [0, 1, 0, 1, 0, 0]
    assert [name for name, _ in jigsaw.examples[0].label_columns] == [
        "toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate",
    ]  # fmt: skip
    civil = load(DATA / "civil_identities.csv")
    assert civil.format == "jigsaw-bias-csv"
    # target >= 0.5 is toxic; 0.1 (c3) is not; blank identity cells are no mention
    assert [ex.label for ex in civil.examples][:5] == ["ham", "ham", "ham", "toxic", "toxic"]
    assert civil.examples[3].groups == ("muslim",) and civil.examples[7].groups == ("female",)
    assert dict(civil.examples[10].label_columns) == {
        "toxicity": 1, "severe_toxicity": 1, "obscene": 0, "identity_attack": 0, "insult": 1, "threat": 1,
    }  # fmt: skip
    plain = tmp_path / "grouped.csv"
    plain.write_text("text,label,groups\nhello neighbours,ham,Muslim; women\nok,ham,\n")
    assert [ex.groups for ex in load(plain).examples] == [("muslim", "women"), ()]
    lines = tmp_path / "grouped.jsonl"
    rows = [
        {"text": "a", "label": "ham", "groups": ["Jewish"]},
        {"text": "b", "label": "ham", "groups": "x;y"},
    ]
    lines.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert [ex.groups for ex in load(lines).examples] == [("jewish",), ("x", "y")]
