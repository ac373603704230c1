"""Evaluation reports: metrics, confidence intervals, per-label and per-group results, plots, leakage."""

import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from moderation.classifier.bundle import ModelBundle
from moderation.classifier.datasets import JIGSAW_COLUMNS, Example, load
from moderation.classifier.evaluate import (
    GRID,
    bootstrap_ci,
    brier,
    content_overlap,
    evaluate,
    expected_calibration_error,
    figure,
    head_metrics,
    per_subgroup,
    ranking_metrics,
    thresholds_for_fpr,
)
from moderation.pipeline.domain import Thresholds
from tests.helpers import FIXTURES

DATA = FIXTURES / "datasets"


@pytest.fixture(scope="module")
def bundle(model_dir):
    return ModelBundle.load_current(model_dir)


def _scores(seed=0, n=400):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(np.round(rng.random(n) * 0.6 + y * 0.35, 2), 0, 1)  # rounded: plenty of ties
    return y, p


def test_the_threshold_grid_is_finer_near_both_ends():
    assert list(GRID) == sorted(GRID) and len(set(GRID)) == len(GRID)
    assert {0.001, 0.005, 0.01, 0.05, 0.5, 0.95, 0.99, 0.991, 0.999} <= set(GRID)
    assert 0.0 not in GRID and 1.0 not in GRID
    assert sum(c > 0.99 for c in GRID) == 9 and sum(c < 0.01 for c in GRID) == 9


def test_weighted_ranking_metrics_equal_scikit_learn_with_ties():
    y, p = _scores()
    auc, ap = ranking_metrics(y, p)
    assert auc == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert ap == pytest.approx(average_precision_score(y, p), abs=1e-12)
    # integer weights are the same as repeating rows
    w = np.arange(len(y)) % 3
    rows = np.repeat(np.arange(len(y)), w)
    auc_w, ap_w = ranking_metrics(y, p, w)
    assert auc_w == pytest.approx(roc_auc_score(y[rows], p[rows]), abs=1e-12)
    assert ap_w == pytest.approx(average_precision_score(y[rows], p[rows]), abs=1e-12)


def test_bootstrap_intervals_are_reproducible_and_bracket_the_estimate():
    y, p = _scores(1)
    first = bootstrap_ci(y, p, resamples=300, seed=13)
    assert first == bootstrap_ci(y, p, resamples=300, seed=13)
    assert first != bootstrap_ci(y, p, resamples=300, seed=14)
    low, high = first["roc_auc"]
    assert low < roc_auc_score(y, p) < high and high - low < 0.2
    low, high = first["pr_auc"]
    assert low < average_precision_score(y, p) < high


def test_brier_and_expected_calibration_error_on_known_values():
    y = np.array([1] * 7 + [0] * 3)
    p = np.full(10, 0.9)
    assert brier(y, p) == pytest.approx(0.7 * 0.01 + 0.3 * 0.81)
    assert expected_calibration_error(y, p) == pytest.approx(0.2)
    # two bins, each off by 0.1 and 0.3, weighted by their shares (half each)
    y2 = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 0])
    p2 = np.array([0.1] * 4 + [0.7] * 6)  # first bin: 0.1 vs 0.0; second: 0.7 vs 5/6
    assert expected_calibration_error(y2, p2) == pytest.approx(0.4 * 0.1 + 0.6 * abs(0.7 - 5 / 6))
    assert expected_calibration_error(np.array([0, 1]), np.array([0.0, 1.0])) == 0


def test_thresholds_for_a_false_positive_rate_are_the_lowest_that_keep_it():
    y, p = _scores(2, 2000)
    p = np.clip(p + np.random.default_rng(3).random(len(p)) / 1000, 0, 1)
    negatives = p[y == 0]
    for row in thresholds_for_fpr(y, p, (0.01, 0.05)):
        cut = row["threshold"]
        assert (negatives >= cut).mean() <= row["max_fpr"] and row["fpr"] <= row["max_fpr"]
        assert (negatives >= cut - 0.0001).mean() > row["max_fpr"], "a lower threshold would do"
        assert row["recall"] == pytest.approx(round((p[y == 1] >= cut).mean(), 4))


def test_head_metrics_carry_false_positive_rates_and_calibration():
    y, p = _scores(4)
    m = head_metrics(y, p, Thresholds(), "toxicity", bootstrap=200, seed=13)
    hold = m["at_hold"]
    c = hold["confusion"]
    assert hold["fpr"] == round(c["fp"] / (c["fp"] + c["tn"]), 4)
    assert m["prevalence"] == round(y.mean(), 4) and m["rows"] == len(y)
    assert m["ci"]["resamples"] == 200 and len(m["ci"]["roc_auc"]) == 2
    assert sum(b["count"] for b in m["calibration"]) == len(y)
    assert len(m["per_threshold"]) == len(GRID) and len(m["at_max_fpr"]) == 4


def _ex(label, groups=()):
    return Example(f"{label} {groups}", label, groups=tuple(groups))


def test_subgroup_bpsn_and_bnsp_aucs_follow_their_definitions():
    examples = [_ex("ham", ["a"]), _ex("ham", ["a"]), _ex("toxic", ["a"]), _ex("toxic", ["a", "b"]),
                _ex("ham"), _ex("ham", ["b"]), _ex("toxic"), _ex("toxic")]  # fmt: skip
    y = np.array([ex.label == "toxic" for ex in examples], dtype=int)
    # civil mentions of "a" score high: BPSN of a is poor, its subgroup AUC still perfect
    p = np.array([0.7, 0.75, 0.9, 0.95, 0.1, 0.2, 0.6, 0.65])
    result = per_subgroup(examples, y, p, hold=0.5)
    a = result["groups"]["a"]
    assert a["rows"] == 4 and a["positives"] == 2 and a["subgroup_auc"] == 1.0
    bpsn = np.array([0, 1, 0, 0, 0, 0, 1, 1], dtype=bool) | np.array([1, 1, 0, 0, 0, 0, 0, 0], dtype=bool)
    assert a["bpsn_auc"] == round(roc_auc_score(y[bpsn], p[bpsn]), 4) == 0.0
    bnsp = np.array([0, 0, 1, 1, 1, 1, 0, 0], dtype=bool)
    assert a["bnsp_auc"] == round(roc_auc_score(y[bnsp], p[bnsp]), 4) == 1.0
    assert a["false_hold_rate"] == 1.0 and a["background_false_hold_rate"] == 0.0
    b = result["groups"]["b"]
    assert b["rows"] == 2 and b["subgroup_auc"] == 1.0
    assert 0 < result["bias"]["final"] < 1
    assert per_subgroup([_ex("ham"), _ex("toxic")], np.array([0, 1]), np.array([0.1, 0.9]), 0.5) is None


def test_the_figure_shows_auc_operating_points_prevalence_and_bin_counts():
    y, p = _scores(5)
    m = head_metrics(y, p, Thresholds(), "spam", bootstrap=0, seed=13)
    fig = figure("spam", y, p, m)
    roc, pr, cal = fig.axes
    for ax in (roc, pr, cal):
        assert ax.get_xlim() == (0, 1) and ax.get_ylim() == (0, 1)
    roc_labels = [t.get_text() for t in roc.get_legend().get_texts()]
    assert roc_labels[0] == f"ROC-AUC {m['roc_auc']:.3f}"
    assert any(label.startswith("hold ≥ 0.5") for label in roc_labels)
    assert any(label.startswith("reject ≥ 0.9") for label in roc_labels)
    hold_point = [line for line in roc.get_lines() if line.get_label().startswith("hold")][0]
    assert tuple(hold_point.get_xydata()[0]) == (m["at_hold"]["fpr"], m["at_hold"]["recall"])
    pr_labels = [t.get_text() for t in pr.get_legend().get_texts()]
    assert pr_labels[0] == f"PR-AUC {m['pr_auc']:.3f}" and f"prevalence {y.mean():.3f}" in pr_labels
    prevalence = [line for line in pr.get_lines() if line.get_label().startswith("prevalence")][0]
    assert set(prevalence.get_ydata()) == {m["prevalence"]}
    counts = sorted(int(t.get_text()[2:]) for t in cal.texts if t.get_text().startswith("n="))
    assert counts == sorted(b["count"] for b in m["calibration"]) and sum(counts) == len(y)
    assert any("ECE" in t.get_text() for t in cal.get_legend().get_texts())


def test_a_multi_label_file_is_reported_per_label_against_its_nearest_head(bundle, tmp_path):
    result = evaluate(bundle, [load(DATA / "jigsaw_sample.csv")], Thresholds(), tmp_path, bootstrap=50)
    labels = result.metrics["labels"]
    assert list(labels) == list(JIGSAW_COLUMNS)
    assert labels["toxic"]["positives"] == 4 and labels["threat"]["positives"] == 1
    assert labels["severe_toxic"]["positives"] == 0 and labels["severe_toxic"]["roc_auc"] is None
    assert labels["toxic"]["roc_auc"] == result.metrics["heads"]["toxicity"]["roc_auc"]
    heads = {name: r["head"] for name, r in labels.items()}
    assert heads == {
        "toxic": "toxicity",
        "severe_toxic": "severe_toxicity",
        "obscene": "profanity",
        "threat": "threat",
        "insult": "insult",
        "identity_hate": "identity_attack",
    }
    assert "## Per label" in result.report and "| threat | threat | 6 | 1 |" in result.report
    plain = evaluate(bundle, [load(DATA / "plain.csv")], Thresholds(), bootstrap=0)
    assert "labels" not in plain.metrics and "Per label" not in plain.report


def test_identity_columns_give_per_group_results(bundle, tmp_path):
    data = load(DATA / "civil_identities.csv")
    assert data.format == "jigsaw-bias-csv" and [ex.label for ex in data.examples].count("toxic") == 6
    assert data.examples[1].groups == ("muslim",) and data.examples[0].groups == ()
    result = evaluate(bundle, [data], Thresholds(), tmp_path, bootstrap=50)
    groups = result.metrics["subgroups"]["groups"]
    assert set(groups) == {"muslim", "female", "christian"}
    assert groups["muslim"]["rows"] == 4 and groups["muslim"]["positives"] == 2
    assert groups["muslim"]["subgroup_auc"] is not None and groups["christian"]["rows"] == 2
    labels = result.metrics["labels"]
    assert labels["toxicity"]["positives"] == 6 and labels["threat"]["positives"] == 1
    assert labels["identity_attack"]["positives"] == 4
    assert "## Per identity group (toxicity head)" in result.report and "| muslim | 4 | 2 |" in result.report
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["subgroups"]["groups"]["female"]["rows"] == 3


def test_leakage_is_found_by_content_in_a_new_file(bundle, tmp_path):
    from tests.helpers import CORPUS

    sources = [CORPUS / "ham_talk.jsonl", CORPUS / "toxic_talk.jsonl"]
    corpus_rows = sum(len(load(p).examples) for p in sources)
    mixed = tmp_path / "mixed.jsonl"
    fresh = [
        json.dumps({"text": "Parish news: the hedge trimming rota moves to Thursdays.", "label": "ham"}),
        json.dumps({"text": "Zebra-striped bollards by the quay confuse ferry pilots.", "label": "ham"}),
    ]
    mixed.write_text("".join(p.read_text() for p in sources) + "\n".join(fresh) + "\n")
    data = load(mixed)
    leak = content_overlap(bundle, [data])
    assert leak["seen_rows"] == corpus_rows and leak["rows"] == corpus_rows + 2
    assert leak["sources_checked"] and not leak["sources_unchecked"]
    assert "_keys" in leak
    clean = content_overlap(bundle, [load(DATA / "plain.csv")])
    assert clean["seen_rows"] == 0
