"""Evaluation on labelled data the model did not train on: metrics, tables, plots and a report.

Uses only the public side of a model bundle (version, path, manifest, score_many), so it works
whatever format the model file is stored in.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from moderation.classifier.bundle import HEADS, ModelBundle
from moderation.classifier.datasets import Dataset, DatasetError, Example, load
from moderation.classifier.features import prepare
from moderation.classifier.heads import head_labels
from moderation.classifier.suite import SuiteCase, SuiteResult, bias_score, evaluate_suite, render_suite
from moderation.classifier.train import head_targets
from moderation.pipeline.domain import Thresholds
from moderation.pipeline.policy import decide


def _grid() -> tuple[float, ...]:
    """Steps of 0.05, finer towards the ends: 0.001 apart below 0.01 and above 0.99, 0.01 apart to 0.1/0.9."""
    cuts = {round(x, 3) for x in np.arange(0.05, 1.0, 0.05)}
    cuts |= {round(x / 1000, 3) for x in range(1, 10)} | {round(x / 100, 3) for x in range(1, 11)}
    cuts |= {round(x / 100, 3) for x in range(90, 100)} | {round(x / 1000, 3) for x in range(991, 1000)}
    return tuple(sorted(cuts))


GRID = _grid()
# False-positive rates a site may accept; the report gives the threshold each needs.
TARGET_FPRS = (0.005, 0.01, 0.02, 0.05)
BOOTSTRAP = 1000
BOOTSTRAP_SEED = 13
CALIBRATION_BINS = 10


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


# --- leakage by content ------------------------------------------------------------------------


def text_key(text: str) -> str:
    """A hash of the text as the model reads it (normalized and folded), the key training deduplicates on."""
    return hashlib.blake2b(prepare(text).folded.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _source_candidates(bundle: ModelBundle, recorded: str) -> list[Path]:
    model_dir = Path(bundle.path).parent.parent
    repo_corpus = Path(__file__).resolve().parents[2] / "model" / "corpus"
    name = Path(recorded).name
    paths = [Path(recorded), model_dir / recorded, model_dir / "corpus" / name, repo_corpus / name]
    return list(dict.fromkeys(paths))


def training_keys(bundle: ModelBundle) -> tuple[set[str], list[str], list[str]]:
    """Text keys of every training file the manifest lists that can still be found unchanged.

    Returns the keys, the sources read and the sources that could not be checked (database
    labels, or files moved or changed since training).
    """
    keys: set[str] = set()
    checked: list[str] = []
    unchecked: list[str] = []
    for entry in bundle.manifest.get("data", []):
        recorded = str(entry.get("path", ""))
        found = None
        if recorded and not recorded.startswith("database:"):
            for candidate in _source_candidates(bundle, recorded):
                if not candidate.is_file():
                    continue
                digest = hashlib.sha256(candidate.read_bytes()).hexdigest()
                if not entry.get("sha256") or digest == entry["sha256"]:
                    found = candidate
                    break
        if found is None:
            unchecked.append(recorded or "?")
            continue
        try:
            dataset = load(found, "spam")  # the kind only names numeric labels; texts are what count
        except DatasetError:
            unchecked.append(recorded)
            continue
        keys.update(text_key(ex.text) for ex in dataset.examples)
        checked.append(recorded)
    return keys, checked, unchecked


def content_overlap(bundle: ModelBundle, datasets: Sequence[Dataset]) -> dict[str, Any]:
    """How many rows of each file have the same normalized text as a training row of the model."""
    keys, checked, unchecked = training_keys(bundle)
    files = []
    seen_total = 0
    for ds in datasets:
        seen = sum(text_key(ex.text) in keys for ex in ds.examples)
        seen_total += seen
        files.append({"path": ds.path, "rows": len(ds.examples), "seen": seen})
    rows = sum(f["rows"] for f in files)
    return {
        "rows": rows,
        "seen_rows": seen_total,
        "seen_share": round(seen_total / rows, 4) if rows else 0.0,
        "files": files,
        "sources_checked": checked,
        "sources_unchecked": unchecked,
        "_keys": keys,
    }


def leakage_warning(leak: dict[str, Any], version: str) -> str | None:
    """The loud warning for rows the model trained on, or None when there are none."""
    if not leak["seen_rows"]:
        return None
    where = ", ".join(f"{f['path']}: {f['seen']} of {f['rows']}" for f in leak["files"] if f["seen"])
    share = leak["seen_rows"] / leak["rows"]
    return (
        f"WARNING: {leak['seen_rows']} of {leak['rows']} rows ({share:.2%}) have the same "
        f"text as training rows of {version} ({where}); metrics on them overstate the model "
        "(use --drop-seen to measure only the unseen rows)"
    )


# --- metrics -----------------------------------------------------------------------------------


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
        "fpr": round(fp / (fp + tn), 4) if fp + tn else 0.0,
        "f1": round(f1, 4),
        "flagged_share": round(float(predicted.mean()), 4),
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
    }


def _calibration(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> list[dict[str, Any]]:
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


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared difference between the probability and the 0/1 label (0 is perfect)."""
    return float(np.mean((np.asarray(p, float) - np.asarray(y, float)) ** 2))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Over equal-width probability bins, |mean predicted - observed rate| weighted by the bin's share."""
    y = np.asarray(y, float)
    p = np.asarray(p, float)
    index = np.clip(np.digitize(p, np.linspace(0, 1, bins + 1)[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(total)


def _weighted_ranking(
    inverse: np.ndarray, y: np.ndarray, weights: np.ndarray, unique: int
) -> tuple[float, float] | None:
    """ROC-AUC and average precision with per-row weights (ties count half), from tied-score groups."""
    pos = np.bincount(inverse, weights=weights * y, minlength=unique)
    neg = np.bincount(inverse, weights=weights * (1 - y), minlength=unique)
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos == 0 or n_neg == 0:
        return None
    below = np.cumsum(neg) - neg
    auc = float((pos * (below + 0.5 * neg)).sum() / (n_pos * n_neg))
    tp = np.cumsum(pos[::-1])
    fp = np.cumsum(neg[::-1])
    flagged = tp + fp
    precision = np.divide(tp, flagged, out=np.zeros_like(tp), where=flagged > 0)
    recall_step = pos[::-1] / n_pos
    return auc, float((recall_step * precision).sum())


def ranking_metrics(y: np.ndarray, p: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float]:
    """(ROC-AUC, average precision) with optional row weights; equal to scikit-learn's unweighted."""
    y = np.asarray(y, float)
    _, inverse = np.unique(np.asarray(p, float), return_inverse=True)
    w = np.ones_like(y) if weights is None else np.asarray(weights, float)
    result = _weighted_ranking(inverse, y, w, int(inverse.max()) + 1)
    if result is None:
        raise ValueError("ranking metrics need positive and negative examples")
    return result


def bootstrap_ci(
    y: np.ndarray, p: np.ndarray, resamples: int = BOOTSTRAP, seed: int = BOOTSTRAP_SEED, level: float = 0.95
) -> dict[str, list[float]]:
    """Percentile confidence intervals of ROC-AUC and PR-AUC over resamples of the rows (fixed seed)."""
    y = np.asarray(y, float)
    _, inverse = np.unique(np.asarray(p, float), return_inverse=True)
    unique = int(inverse.max()) + 1
    n = len(y)
    rng = np.random.default_rng(seed)
    aucs, aps = [], []
    for _ in range(resamples):
        weights = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        result = _weighted_ranking(inverse, y, weights, unique)
        if result is not None:
            aucs.append(result[0])
            aps.append(result[1])
    if not aucs:
        return {}
    tail = (1 - level) / 2 * 100
    return {
        name: [round(float(np.percentile(v, tail)), 4), round(float(np.percentile(v, 100 - tail)), 4)]
        for name, v in (("roc_auc", aucs), ("pr_auc", aps))
    }


def thresholds_for_fpr(y: np.ndarray, p: np.ndarray, targets: Sequence[float] = TARGET_FPRS) -> list[dict]:
    """For each acceptable false-positive rate, the lowest threshold (4 decimals) that stays within it.

    The threshold is the smallest 4-decimal value above the highest score that would break the
    rate, so it flags the same rows as the exact boundary wherever 4 decimals can tell them apart.
    """
    fpr, _, cuts = roc_curve(y, p, drop_intermediate=False)
    rows = []
    for target in targets:
        i = int(np.searchsorted(fpr, target, side="right")) - 1
        if i + 1 >= len(cuts):
            cut = 0.0
        elif not np.isfinite(cuts[i]):
            cut = 1.0
        else:
            above_breaking = round(math.floor(float(cuts[i + 1]) * 10_000 + 1e-9) / 10_000 + 0.0001, 4)
            boundary = min(math.ceil(float(cuts[i]) * 10_000 - 1e-9) / 10_000, 1.0)
            cut = above_breaking if above_breaking <= float(cuts[i]) else boundary
        row = _at(y, p, cut)
        while row["fpr"] > target and cut < 1.0:  # guard against float edges
            cut = round(cut + 0.0001, 4)
            row = _at(y, p, cut)
        rows.append({"max_fpr": target, **row})
    return rows


def _ranking_summary(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    if not 0 < y.sum() < len(y):
        return {"roc_auc": None, "pr_auc": None}
    return {
        "roc_auc": round(float(roc_auc_score(y, p)), 4),
        "pr_auc": round(float(average_precision_score(y, p)), 4),
    }


# Each public label column and the head of ours that answers the same question (Jigsaw's
# toxic-comment columns and the Civil Comments ones); a column whose head the model lacks is
# measured against the toxicity head.
NEAREST_HEAD = {
    "toxic": "toxicity",
    "toxicity": "toxicity",
    "severe_toxic": "severe_toxicity",
    "severe_toxicity": "severe_toxicity",
    "obscene": "profanity",
    "threat": "threat",
    "insult": "insult",
    "identity_hate": "identity_attack",
    "identity_attack": "identity_attack",
    "sexual_explicit": "sexually_explicit",
}


def per_label(
    examples: Sequence[Example], scores: dict[str, np.ndarray], thresholds: Thresholds
) -> dict[str, Any]:
    """Each label column of a multi-label file against the scores of its nearest head."""
    names = list(dict.fromkeys(name for ex in examples for name, _ in ex.label_columns))
    out: dict[str, Any] = {}
    for name in names:
        head = NEAREST_HEAD.get(name, "toxicity")
        head = head if head in scores else "toxicity"
        hold, reject = thresholds.for_head(head)
        rows = [i for i, ex in enumerate(examples) if any(n == name for n, _ in ex.label_columns)]
        y = np.array([dict(examples[i].label_columns)[name] for i in rows], dtype=int)
        q = np.asarray(scores[head], dtype=float)[rows]
        positives = int(y.sum())
        out[name] = {
            "head": head,
            "rows": len(rows),
            "positives": positives,
            **_ranking_summary(y, q),
            "recall_at_hold": round(float((q[y == 1] >= hold).mean()), 4) if positives else None,
            "recall_at_reject": round(float((q[y == 1] >= reject).mean()), 4) if positives else None,
        }
    return out


def _auc_or_none(y: np.ndarray, p: np.ndarray) -> float | None:
    return round(float(roc_auc_score(y, p)), 4) if 0 < y.sum() < len(y) else None


def per_subgroup(
    examples: Sequence[Example], y: np.ndarray, p: np.ndarray, hold: float
) -> dict[str, Any] | None:
    """Borkan et al. subgroup, BPSN and BNSP ROC-AUC per identity group the rows mention.

    The background of a group is every row that does not mention it. Also each group's false-hold
    rate (civil rows at or above the hold threshold) next to the background's.
    """
    names = sorted({g for ex in examples for g in ex.groups})
    if not names:
        return None
    groups: dict[str, Any] = {}
    for name in names:
        inside = np.array([name in ex.groups for ex in examples])
        bpsn = (~inside & (y == 1)) | (inside & (y == 0))
        bnsp = (~inside & (y == 0)) | (inside & (y == 1))
        civil_in, civil_out = inside & (y == 0), ~inside & (y == 0)
        groups[name] = {
            "rows": int(inside.sum()),
            "positives": int(y[inside].sum()),
            "subgroup_auc": _auc_or_none(y[inside], p[inside]),
            "bpsn_auc": _auc_or_none(y[bpsn], p[bpsn]),
            "bnsp_auc": _auc_or_none(y[bnsp], p[bnsp]),
            "false_hold_rate": round(float((p[civil_in] >= hold).mean()), 4) if civil_in.any() else None,
            "background_false_hold_rate": round(float((p[civil_out] >= hold).mean()), 4)
            if civil_out.any()
            else None,
        }
    result: dict[str, Any] = {"head": "toxicity", "groups": groups}
    overall = _auc_or_none(y, p)
    if overall is not None:
        scores = bias_score(overall, groups)
        result["bias"] = {
            k: (round(v, 4) if math.isfinite(v) else None) if isinstance(v, float) else v
            for k, v in scores.items()
        }
    return result


def head_metrics(
    y: np.ndarray, p: np.ndarray, thresholds: Thresholds, head: str, bootstrap: int, seed: int
) -> dict[str, Any]:
    """Everything the report says about one head on one set of rows."""
    calibration = _calibration(y, p)
    return {
        "rows": int(len(y)),
        "positives": int(y.sum()),
        "prevalence": round(float(y.mean()), 4),
        "roc_auc": round(float(roc_auc_score(y, p)), 4),
        "pr_auc": round(float(average_precision_score(y, p)), 4),
        "ci": {**bootstrap_ci(y, p, bootstrap, seed), "resamples": bootstrap, "seed": seed}
        if bootstrap
        else {},
        "brier": round(brier(y, p), 4),
        "ece": round(expected_calibration_error(y, p), 4),
        "at_hold": _at(y, p, thresholds.for_head(head)[0]),
        "at_reject": _at(y, p, thresholds.for_head(head)[1]),
        "at_max_fpr": thresholds_for_fpr(y, p),
        "per_threshold": [_at(y, p, cut) for cut in GRID],
        "calibration": calibration,
    }


# --- plots -------------------------------------------------------------------------------------


def figure(head: str, y: np.ndarray, p: np.ndarray, m: dict[str, Any]) -> Any:
    """ROC, precision-recall and calibration of one head, on fixed [0, 1] axes (a matplotlib Figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (roc, pr, cal) = plt.subplots(1, 3, figsize=(15, 4.8))
    points = (("hold", m["at_hold"], "o", "tab:orange"), ("reject", m["at_reject"], "s", "tab:red"))
    fpr, tpr, _ = roc_curve(y, p)
    roc.plot(fpr, tpr, label=f"ROC-AUC {m['roc_auc']:.3f}")
    roc.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    for name, r, marker, color in points:
        roc.plot([r["fpr"]], [r["recall"]], marker=marker, color=color, linestyle="", clip_on=False,
                 label=f"{name} ≥ {r['threshold']}: FPR {r['fpr']:.3f}, TPR {r['recall']:.3f}")  # fmt: skip
    roc.set(title=f"{head}: ROC", xlabel="false positive rate", ylabel="true positive rate")
    precision, recall, _ = precision_recall_curve(y, p)
    pr.plot(recall, precision, label=f"PR-AUC {m['pr_auc']:.3f}")
    pr.axhline(m["prevalence"], linestyle="--", color="grey", label=f"prevalence {m['prevalence']:.3f}")
    for name, r, marker, color in points:
        pr.plot([r["recall"]], [r["precision"]], marker=marker, color=color, linestyle="", clip_on=False,
                label=f"{name} ≥ {r['threshold']}: P {r['precision']:.3f}, R {r['recall']:.3f}")  # fmt: skip
    pr.set(title=f"{head}: precision-recall", xlabel="recall", ylabel="precision")
    cal.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect")
    xs = [c["mean_predicted"] for c in m["calibration"]]
    ys = [c["observed_rate"] for c in m["calibration"]]
    cal.plot(xs, ys, marker="o", label=f"ECE {m['ece']:.3f}, Brier {m['brier']:.3f}")
    for c, x, yy in zip(m["calibration"], xs, ys, strict=True):
        cal.annotate(f"n={c['count']}", (x, yy), textcoords="offset points", xytext=(4, -11), fontsize=7)
    cal.set(title=f"{head}: calibration", xlabel="mean predicted", ylabel="observed rate")
    for ax in (roc, pr, cal):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(loc="lower right" if ax is not pr else "lower left", fontsize=7)
    fig.tight_layout()
    return fig


def _plots(out: Path, head: str, y: np.ndarray, p: np.ndarray, m: dict[str, Any]) -> list[str]:
    import matplotlib.pyplot as plt

    fig = figure(head, y, p, m)
    name = f"{head}.png"
    fig.savefig(out / name, dpi=90)
    plt.close(fig)
    return [name]


# --- the evaluation ----------------------------------------------------------------------------


def evaluate(
    bundle: ModelBundle,
    datasets: Sequence[Dataset],
    thresholds: Thresholds,
    out: Path | None = None,
    suite_cases: Sequence[SuiteCase] = (),
    bootstrap: int = BOOTSTRAP,
    seed: int = BOOTSTRAP_SEED,
    drop_seen: bool = False,
    warn: Callable[[str], None] = lambda message: None,
) -> Evaluation:
    """Score every example and measure each head that the data has both classes for.

    Rows whose normalized text is in the model's training data are counted and reported (and
    `warn` is called); with drop_seen they are left out. With suite cases, the functional suite
    runs too: its summary goes into metrics["suite"], its section into the report, and suite.md,
    suite.json and the heatmap next to them.
    """
    check_unseen(bundle, datasets)
    leak = content_overlap(bundle, datasets)
    keys = leak.pop("_keys")
    warning = leakage_warning(leak, bundle.version)
    if warning:
        warn(warning)
    examples = [ex for ds in datasets for ex in ds.examples]
    if drop_seen:
        examples = [ex for ex in examples if text_key(ex.text) not in keys]
        leak["dropped"] = leak["seen_rows"]
    if not examples:
        raise EvaluationError("no examples to evaluate on")
    scores = bundle.score_many([ex.record() for ex in examples])
    metrics: dict[str, Any] = {
        "model": bundle.version,
        "data": [ds.describe() for ds in datasets],
        "rows": len(examples),
        "leakage": {**leak, "warning": warning},
        "heads": {},
    }
    if out:
        out.mkdir(parents=True, exist_ok=True)
    for head in bundle.heads:
        y, known = head_labels(examples, head)  # attribute heads: rows whose tags say
        y, p = y[known], np.asarray(scores[head])[known]
        if not 0 < y.sum() < len(y):
            continue
        m = head_metrics(y, p, thresholds, head, bootstrap, seed)
        m["plots"] = _plots(out, head, y, p, m) if out else []
        metrics["heads"][head] = m
    if not metrics["heads"]:
        raise EvaluationError("the data has no head with both positive and negative examples")
    toxicity = np.asarray(scores["toxicity"], dtype=float)
    labels = per_label(examples, scores, thresholds)
    if labels:
        metrics["labels"] = labels
    subgroups = per_subgroup(
        examples, head_targets(examples, "toxicity"), toxicity, thresholds.hold("toxicity")
    )
    if subgroups:
        metrics["subgroups"] = subgroups
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


# --- the report --------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    return "-" if value is None else str(value)


def _ci(m: dict[str, Any], name: str) -> str:
    ci = m.get("ci", {}).get(name)
    return f" (95% CI {ci[0]}–{ci[1]})" if ci else ""


def render(metrics: dict[str, Any]) -> str:
    """Render metrics as a Markdown report."""
    lines = [f"# Evaluation of {metrics['model']}", ""]
    leak = metrics.get("leakage", {})
    if leak.get("warning"):
        lines += [f"> **{leak['warning']}**", ""]
    lines += [f"{metrics['rows']} rows from:", ""]
    lines += [
        f"- `{d['path']}` ({d['format']}, sha256 {d['sha256'][:12]}…): {d['labels']}" for d in metrics["data"]
    ]
    if leak:
        checked = f"{len(leak['sources_checked'])} files" if leak["sources_checked"] else "none"
        lines += [
            "",
            f"Overlap with the training data (normalized text): {leak['seen_rows']} of {leak['rows']} rows"
            + (f", left out of every measurement below ({leak['dropped']})" if "dropped" in leak else "")
            + f". Training sources compared: {checked}.",
        ]
        if leak["sources_unchecked"]:
            lines.append(
                "Not compared (database labels, or moved or changed since training): "
                + ", ".join(f"`{s}`" for s in leak["sources_unchecked"])
                + "."
            )
    share = metrics["policy_share"]
    lines += [
        "",
        "Classifier-only policy (no rule checks) would "
        f"approve {share['approve']:.1%}, hold {share['hold']:.1%}, reject {share['reject']:.1%}.",
    ]
    for head, m in metrics["heads"].items():
        ci = m.get("ci", {})
        lines += [
            "",
            f"## {head}",
            "",
            f"{m['positives']} positives of {m['rows']} (prevalence {m['prevalence']}). "
            f"ROC-AUC {m['roc_auc']}{_ci(m, 'roc_auc')}, PR-AUC {m['pr_auc']}{_ci(m, 'pr_auc')}"
            + (f"; bootstrap over {ci['resamples']} resamples, seed {ci['seed']}." if ci else "."),
            f"Brier score {m['brier']}, expected calibration error {m['ece']} "
            f"({CALIBRATION_BINS} equal-width bins).",
            "",
            "| at | threshold | precision | recall | FPR | F1 | flagged | tp | fp | fn | tn |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name in ("at_hold", "at_reject"):
            r = m[name]
            c = r["confusion"]
            lines.append(
                f"| {name[3:]} | {r['threshold']} | {r['precision']} | {r['recall']} | {r['fpr']} | "
                f"{r['f1']} | {r['flagged_share']} | {c['tp']} | {c['fp']} | {c['fn']} | {c['tn']} |"
            )
        lines += [
            "",
            "Lowest threshold for a false-positive rate of at most:",
            "",
            "| max FPR | threshold | FPR | recall | precision |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['max_fpr']:.1%} | {r['threshold']} | {r['fpr']} | {r['recall']} | {r['precision']} |"
            for r in m["at_max_fpr"]
        ]
        lines += [
            "",
            "| threshold | precision | recall | FPR | F1 | flagged |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['threshold']} | {r['precision']} | {r['recall']} | {r['fpr']} | {r['f1']} | "
            f"{r['flagged_share']} |"
            for r in m["per_threshold"]
        ]
        lines += ["", "| bin | count | mean predicted | observed rate |", "|---|---|---|---|"]
        lines += [
            f"| {c['bin']} | {c['count']} | {c['mean_predicted']} | {c['observed_rate']} |"
            for c in m["calibration"]
        ]
        lines += ["", *(f"![{head}]({plot})" for plot in m["plots"])]
    if metrics.get("labels"):
        lines += [
            "",
            "## Per label",
            "",
            "Each label column of the file against the score of its nearest head (obscene against "
            "profanity, identity_hate against identity_attack, ...; the toxicity head where the model "
            "has no such head): the label's rows are the positives, every other row a negative.",
            "",
            "| label | head | rows | positives | ROC-AUC | PR-AUC | recall@hold | recall@reject |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {name} | {r.get('head', 'toxicity')} | {r['rows']} | {r['positives']} | "
            f"{_fmt(r['roc_auc'])} | {_fmt(r['pr_auc'])} | "
            f"{_fmt(r['recall_at_hold'])} | {_fmt(r['recall_at_reject'])} |"
            for name, r in metrics["labels"].items()
        ]
    sub = metrics.get("subgroups")
    if sub:
        lines += [
            "",
            "## Per identity group (toxicity head)",
            "",
            "Subgroup AUC ranks the group's toxic rows against its civil ones; BPSN ranks toxic rows "
            "not mentioning the group against the group's civil rows (low: civil mentions score like "
            "abuse); BNSP ranks the group's toxic rows against civil rows not mentioning it (low: abuse "
            "of the group scores like civil text). `-` where a side is empty.",
            "",
            "| group | rows | positives | subgroup AUC | BPSN AUC | BNSP AUC | false holds | "
            "background false holds |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {name} | {g['rows']} | {g['positives']} | {_fmt(g['subgroup_auc'])} | "
            f"{_fmt(g['bpsn_auc'])} | {_fmt(g['bnsp_auc'])} | {_fmt(g['false_hold_rate'])} | "
            f"{_fmt(g['background_false_hold_rate'])} |"
            for name, g in sub["groups"].items()
        ]
        if "bias" in sub:
            lines += [
                "",
                f"Bias score (overall AUC and power means of the three): {_fmt(sub['bias'].get('final'))}.",
            ]
    return "\n".join(lines) + "\n"
