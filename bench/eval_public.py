"""Measure the current model on labelled public data sets (never trained on): ROC-AUC per file.

Usage: python bench/eval_public.py FILE:HEAD [FILE:HEAD ...]
  e.g. held_out/sms_spam.csv:spam held_out/jigsaw_toxic.csv:toxicity
Each FILE is a CSV with `text` and a 0/1 `label`.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from moderation.classifier.bundle import ModelBundle
from moderation.config import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="FILE:HEAD where HEAD is spam or toxicity")
    parser.add_argument("--model-dir", default=Settings.load().model_dir)
    args = parser.parse_args()
    bundle = ModelBundle.load_current(Path(args.model_dir))
    print(f"model {bundle.version}")
    print("| data | head | rows | positives | ROC-AUC | PR-AUC |")
    print("|---|---|---|---|---|---|")
    for spec in args.files:
        path, _, head = spec.rpartition(":")
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        y = np.array([int(r["label"]) for r in rows])
        scores = bundle.score_many([r["text"] for r in rows])[head]
        print(
            f"| {Path(path).name} | {head} | {len(y)} | {int(y.sum())} | "
            f"{roc_auc_score(y, scores):.4f} | {average_precision_score(y, scores):.4f} |"
        )


if __name__ == "__main__":
    main()
