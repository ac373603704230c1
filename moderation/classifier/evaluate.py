"""Evaluation on labelled data the model did not train on: metrics, tables, plots and a report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from moderation.classifier.bundle import HEADS, ModelBundle
from moderation.classifier.datasets import Dataset
from moderation.classifier.suite import SuiteCase, SuiteResult, evaluate_suite, render_suite
from moderation.classifier.train import head_targets
from moderation.pipeline.domain import Thresholds
from moderation.pipeline.policy import decide

GRID = tuple(round(x, 2) for x in np.arange(0.05, 1.0, 0.05))


class EvaluationError(ValueError):
    """The data cannot be used to evaluate this model."""


@dataclass
class Evaluation:
    metrics: dict[str, Any]
    report: str
    suite: SuiteResult | None = None


def check_unseen(bundle: ModelBundle, datasets: Sequence[Dataset]) -> None:
    """Refuse data files the model was trained on (same sha256 as a training source)."""
    trained = {d.get("sha256") for d in bundle.manifest.get("data", [])}
    for ds in datasets:
        if ds.sha256 and ds.sha256 in trained:
            raise EvaluationError(
                f"{ds.path} was part of the training data of {bundle.version}; "
                "evaluate on data the model did not train on"
            )


def _at(y: np.ndarray, p: np.ndarray, cut: float) -> dict[str, Any]:
    predicted = p >= cut
    tp = int((predicted & (y == 1)).sum())
    fp = int((predicted & (y == 0)).sum())
    fn = int((~predicted & (y == 1)).sum())
    tn = int((~predicted & (y == 0)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold": cut,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "flagged_share": round(float(predicted.mean()), 4),
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
    }


def _calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            rows.append({
                "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "count": int(mask.sum()),
                "mean_predicted": round(float(p[mask].mean()), 4),
                "observed_rate": round(float(y[mask].mean()), 4),
            })  # fmt: skip
    return rows


def _plots(
    out: Path, head: str, y: np.ndarray, p: np.ndarray, calibration: list[dict[str, Any]]
) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    fpr, tpr, _ = roc_curve(y, p)
    axes[0].plot(fpr, tpr)
    axes[0].plot([0, 1], [0, 1], linestyle=":", color="grey")
    axes[0].set(title=f"{head}: ROC", xlabel="false positive rate", ylabel="true positive rate")
    precision, recall, _ = precision_recall_curve(y, p)
    axes[1].plot(recall, precision)
    axes[1].set(title=f"{head}: precision-recall", xlabel="recall", ylabel="precision")
    axes[2].plot([0, 1], [0, 1], linestyle=":", color="grey")
    axes[2].plot(
        [c["mean_predicted"] for c in calibration], [c["observed_rate"] for c in calibration], marker="o"
    )
    axes[2].set(title=f"{head}: calibration", xlabel="mean predicted", ylabel="observed rate")
    fig.tight_layout()
    name = f"{head}.png"
    fig.savefig(out / name, dpi=90)
    plt.close(fig)
    files.append(name)
    return files


def evaluate(
    bundle: ModelBundle,
    datasets: Sequence[Dataset],
    thresholds: Thresholds,
    out: Path | None = None,
    suite_cases: Sequence[SuiteCase] = (),
) -> Evaluation:
    """Score every example and measure each head that the data has both classes for.

    With suite cases, the functional suite runs too: its summary goes into metrics["suite"], its
    section into the report, and suite.md, suite.json and the heatmap next to them.
    """
    check_unseen(bundle, datasets)
    examples = [ex for ds in datasets for ex in ds.examples]
    if not examples:
        raise EvaluationError("no examples to evaluate on")
    scores = bundle.score_many([ex.record() for ex in examples])
    metrics: dict[str, Any] = {
        "model": bundle.version,
        "data": [ds.describe() for ds in datasets],
        "rows": len(examples),
        "heads": {},
    }
    if out:
        out.mkdir(parents=True, exist_ok=True)
    for head in HEADS:
        y = head_targets(examples, head)
        p = np.asarray(scores[head])
        if not 0 < y.sum() < len(y):
            continue
        calibration = _calibration(y, p)
        metrics["heads"][head] = {
            "positives": int(y.sum()),
            "roc_auc": round(float(roc_auc_score(y, p)), 4),
            "pr_auc": round(float(average_precision_score(y, p)), 4),
            "at_hold": _at(y, p, thresholds.hold(head)),
            "at_reject": _at(y, p, thresholds.reject(head)),
            "per_threshold": [_at(y, p, cut) for cut in GRID],
            "calibration": calibration,
            "plots": _plots(out, head, y, p, calibration) if out else [],
        }
    if not metrics["heads"]:
        raise EvaluationError("the data has no head with both positive and negative examples")
    outcomes = [
        decide([], {h: float(scores[h][i]) for h in HEADS}, thresholds).outcome.value
        for i in range(len(examples))
    ]
    metrics["policy_share"] = {
        o: round(outcomes.count(o) / len(outcomes), 4) for o in ("approve", "hold", "reject")
    }
    suite = evaluate_suite(bundle, suite_cases, thresholds, out) if suite_cases else None
    report = render(metrics)
    if suite:
        metrics["suite"] = suite.as_dict()
        report += "\n" + render_suite(suite, level=2, heatmap="suite_heatmap.png" if out else None)
    if out:
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        (out / "report.md").write_text(report, encoding="utf-8")
    return Evaluation(metrics, report, suite)


def render(metrics: dict[str, Any]) -> str:
    """Render metrics as a Markdown report."""
    lines = [f"# Evaluation of {metrics['model']}", "", f"{metrics['rows']} rows from:", ""]
    lines += [
        f"- `{d['path']}` ({d['format']}, sha256 {d['sha256'][:12]}…): {d['labels']}" for d in metrics["data"]
    ]
    share = metrics["policy_share"]
    lines += [
        "",
        "Classifier-only policy (no rule checks) would "
        f"approve {share['approve']:.1%}, hold {share['hold']:.1%}, reject {share['reject']:.1%}.",
    ]
    for head, m in metrics["heads"].items():
        lines += [
            "",
            f"## {head}",
            "",
            f"{m['positives']} positives. ROC-AUC {m['roc_auc']}, PR-AUC {m['pr_auc']}.",
            "",
            "| at | threshold | precision | recall | F1 | flagged | tp | fp | fn | tn |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name in ("at_hold", "at_reject"):
            r = m[name]
            c = r["confusion"]
            lines.append(
                f"| {name[3:]} | {r['threshold']} | {r['precision']} | {r['recall']} | {r['f1']} | "
                f"{r['flagged_share']} | {c['tp']} | {c['fp']} | {c['fn']} | {c['tn']} |"
            )
        lines += ["", "| threshold | precision | recall | F1 | flagged |", "|---|---|---|---|---|"]
        lines += [
            f"| {r['threshold']} | {r['precision']} | {r['recall']} | {r['f1']} | {r['flagged_share']} |"
            for r in m["per_threshold"]
        ]
        lines += ["", "| bin | count | mean predicted | observed rate |", "|---|---|---|---|"]
        lines += [
            f"| {c['bin']} | {c['count']} | {c['mean_predicted']} | {c['observed_rate']} |"
            for c in m["calibration"]
        ]
        lines += ["", *(f"![{head}]({plot})" for plot in m["plots"])]
    return "\n".join(lines) + "\n"
