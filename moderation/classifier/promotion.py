"""Deciding whether a candidate model may replace the current one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from sklearn.metrics import roc_auc_score

from moderation.classifier.bundle import HEADS, ModelBundle, versions_dir
from moderation.classifier.datasets import Example
from moderation.classifier.suite import SuiteCase, SuiteResult, load_suite, run_suite, summary_of
from moderation.classifier.train import head_targets
from moderation.pipeline.domain import Thresholds

TOLERANCE = 0.002  # ROC-AUC differences this small are noise, not a regression
# The suite gate: a functionality may lose at most 5 points of pass rate. The worst identity's
# false-hold rate may not rise; a rise of at most half a point is one or two cases out of a
# few hundred, within the run-to-run noise of a retrained model, and is let through.
FUNCTIONALITY_DROP = 0.05
FALSE_HOLD_NOISE = 0.005


@dataclass(frozen=True)
class Verdict:
    better_or_equal: bool
    summary: str


def _aucs(bundle: ModelBundle, examples: Sequence[Example]) -> dict[str, float]:
    scores = bundle.score_many([ex.record() for ex in examples])
    out = {}
    for head in HEADS:
        y = head_targets(examples, head)
        if 0 < y.sum() < len(y):
            out[head] = float(roc_auc_score(y, np.asarray(scores[head])))
    return out


def compare(
    model_dir: Path, candidate: ModelBundle, current_version: str, examples: Sequence[Example] = ()
) -> Verdict:
    """Compare ROC-AUC per head on examples, or on each manifest's held-out metrics without them."""
    current = ModelBundle.load(versions_dir(model_dir) / current_version)
    if examples:
        new, old = _aucs(candidate, examples), _aucs(current, examples)
        basis = f"{len(examples)} evaluation examples"
    else:

        def held_out(b: ModelBundle) -> dict[str, float]:
            metrics = b.manifest.get("metrics", {}).get("held_out", {})
            return {h: m["roc_auc"] for h, m in metrics.items() if "roc_auc" in m}

        new, old = held_out(candidate), held_out(current)
        basis = "each model's own held-out split (pass --data for a like-for-like comparison)"
    lines = [f"ROC-AUC on {basis}:"]
    ok = True
    for head in HEADS:
        if head in new and head in old:
            worse = new[head] < old[head] - TOLERANCE
            ok = ok and not worse
            lines.append(f"  {head}: {candidate.version} {new[head]:.4f} vs {current.version} {old[head]:.4f}"
                         + ("  (worse)" if worse else ""))  # fmt: skip
    return Verdict(ok, "\n".join(lines))


def _worst_false_hold(summary: Mapping[str, Any]) -> float:
    rates = [
        row["false_hold_rate"] for row in summary["identities"].values() if row["false_hold_rate"] is not None
    ]
    return max(rates, default=0.0)


def compare_suite(
    candidate: SuiteResult | Mapping[str, Any], current: SuiteResult | Mapping[str, Any]
) -> tuple[bool, list[str]]:
    """Refuse a candidate that loses more than 5 points on any functionality or holds more civil text.

    Either argument is a SuiteResult or its as_dict() summary. Functionalities present in only one
    of them are listed but not judged (the suites differ; rerun both on the same cases).
    """
    new, old = summary_of(candidate), summary_of(current)
    ok = True
    lines = [f"functional suite, {new['model']} vs {old['model']} (pass rate per functionality):"]
    for name in sorted(set(new["functionalities"]) | set(old["functionalities"])):
        a = new["functionalities"].get(name, {}).get("pass_rate")
        b = old["functionalities"].get(name, {}).get("pass_rate")
        if a is None or b is None:
            lines.append(f"  {name}: only in {'the candidate' if b is None else 'the current model'}")
            continue
        worse = b - a > FUNCTIONALITY_DROP + 1e-9
        ok = ok and not worse
        lines.append(
            f"  {name}: {a:.1%} vs {b:.1%}" + (f"  (worse by {(b - a) * 100:.1f} points)" if worse else "")
        )
    a, b = _worst_false_hold(new), _worst_false_hold(old)
    worse = a > b + FALSE_HOLD_NOISE + 1e-9
    ok = ok and not worse
    lines.append(f"  worst identity false-hold rate: {a:.1%} vs {b:.1%}" + ("  (worse)" if worse else ""))
    return ok, lines


def suite_verdict(
    model_dir: Path,
    candidate: ModelBundle,
    current_version: str,
    thresholds: Thresholds,
    cases: Sequence[SuiteCase] | None = None,
) -> Verdict:
    """Run the functional suite on both models at the same thresholds and compare them."""
    current = ModelBundle.load(versions_dir(model_dir) / current_version)
    cases = load_suite() if cases is None else cases
    ok, lines = compare_suite(run_suite(candidate, cases, thresholds), run_suite(current, cases, thresholds))
    return Verdict(ok, "\n".join(lines))
