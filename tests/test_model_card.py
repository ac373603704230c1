"""The model card written into each version folder."""

import json
import shutil

from moderation.classifier.bundle import ModelBundle
from moderation.classifier.card import CARD_FILE, render_card, write_card
from moderation.classifier.datasets import load
from moderation.classifier.evaluate import evaluate
from moderation.pipeline.domain import Thresholds
from tests.helpers import FIXTURES

MANIFEST = {
    "version": "v20260101-000000",
    "created": "2026-01-01T00:00:00+00:00",
    "seed": 13,
    "heads": ["spam", "toxicity"],
    "thresholds": {"spam": {"hold": 0.5, "reject": 0.9}, "toxicity": {"hold": 0.6, "reject": 0.95}},
    "data": [
        {
            "path": "model/corpus/ham.jsonl",
            "format": "jsonl",
            "rows": 120,
            "labels": {"ham": 120, "spam": 0, "toxic": 0},
        },
        {
            "path": "database:labels",
            "format": "labels",
            "rows": 7,
            "labels": {"ham": 3, "spam": 2, "toxic": 2},
        },
    ],  # fmt: skip
    "examples": {"distinct": 125, "fitted": 100, "held_out": 25},
    "metrics": {
        "held_out": {
            "spam": {
                "rows": 25,
                "positives": 4,
                "roc_auc": 0.97,
                "pr_auc": 0.9,
                "precision_at_hold": 0.8,
                "recall_at_hold": 0.75,
                "precision_at_reject": 1.0,
                "recall_at_reject": 0.5,
            },
            "toxicity": {
                "rows": 25,
                "positives": 5,
                "roc_auc": 0.93,
                "pr_auc": 0.81,
                "precision_at_hold": 0.7,
                "recall_at_hold": 0.8,
                "precision_at_reject": 0.9,
                "recall_at_reject": 0.4,
            },
        }
    },  # fmt: skip
    "suite": {
        "cases": 40,
        "hateful_stopped": {"rate": 0.85},
        "worst_false_hold": {"rate": 0.25, "identity": "gay people"},
        "bias": {"final": 0.81},
        "identities": {
            "gay people": {
                "cases": 8,
                "pass_rate": 0.75,
                "false_hold_rate": 0.25,
                "missed_rate": 0.0,
                "subgroup_auc": 0.9,
                "bpsn_auc": 0.7,
                "bnsp_auc": 0.95,
            }
        },
    },  # fmt: skip
}


def test_the_card_has_every_section_from_the_manifest():
    card = render_card(MANIFEST)
    for heading in ("## Intended use", "## Data", "## Metrics", "## Fairness", "## Limitations"):
        assert heading in card
    assert card.startswith("# Model card: v20260101-000000")
    assert "| `ham.jsonl` | jsonl | 120 | ham 120, spam 0, toxic 0 |" in card
    assert "| `database:labels` | labels | 7 |" in card
    assert "125 distinct examples" in card
    assert "| toxicity | 25 | 5 | 0.93 | 0.81 | 0.7 | 0.8 | 0.9 | 0.4 |" in card
    assert "- toxicity: hold at 0.6, reject at 0.95" in card
    assert "(gay people)" in card and "| gay people | 8 | 0.75 | 0.25 |" in card
    assert "model/corpus" not in card, "only file names, not the paths of the training machine"


def test_a_card_without_a_suite_says_so():
    manifest = {k: v for k, v in MANIFEST.items() if k != "suite"}
    assert "functional suite was not run" in render_card(manifest)


def test_a_card_survives_a_sparse_or_differently_shaped_manifest():
    card = render_card(
        {"version": "v1", "metrics": {"held_out": {"spam": "n/a"}}, "data": ["x"], "suite": []}
    )
    assert card.startswith("# Model card: v1") and "## Limitations" in card
    assert "| spam |" not in card and "functional suite was not run" in card


def test_write_card_includes_evaluations_of_the_version(model_dir, tmp_path):
    source = ModelBundle.load_current(model_dir).path
    version = tmp_path / source.name
    shutil.copytree(source, version, ignore=shutil.ignore_patterns("evaluations", CARD_FILE))
    path = write_card(version)
    assert path == version / CARD_FILE
    first = path.read_text()
    manifest = json.loads((version / "manifest.json").read_text())
    assert f"# Model card: {manifest['version']}" in first and "On other data" not in first
    bundle = ModelBundle.load(version)
    data = load(FIXTURES / "datasets" / "civil_identities.csv")
    evaluate(bundle, [data], Thresholds(), version / "evaluations" / "civil_identities", bootstrap=20)
    card = write_card(version).read_text()
    assert "On other data" in card and "| civil_identities | toxicity | 14 |" in card
    assert "Identity groups in `civil_identities`" in card and "| muslim | 4 |" in card
