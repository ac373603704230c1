"""Deciding whether a candidate model may replace the current one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score

from moderation.classifier.bundle import HEADS, ModelBundle, versions_dir
from moderation.classifier.datasets import Example
from moderation.classifier.train import head_targets

TOLERANCE = 0.002  # ROC-AUC differences this small are noise, not a regression


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
