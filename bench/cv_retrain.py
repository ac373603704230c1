"""Does retraining with extra data help? k-fold CV of our recipe against a plain baseline.

For each fold of the labelled file(s): our recipe (the seed corpus plus the other folds, as
`moderation train --data` would use them) and a plain word TF-IDF + logistic regression fitted on
the other folds alone are both scored on the held-out fold. Prints ROC-AUC per fold and the mean.

A third column scores the same folds with our recipe trained on the seed corpus alone: the gap
between it and the first column is what `--data` buys. Files passed that are part of the seed
corpus are left out of the corpus side, so they play the part of a site's own labels.

Usage: python bench/cv_retrain.py FILE [FILE ...] [--kind spam|toxic] [--folds 5]
Only pass data you may train on (not the project's measurement-only evaluation sets).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from moderation.classifier.datasets import load, load_corpus
from moderation.classifier.train import DEFAULT_PARAMS, HEAD_LABEL, fit, head_targets, score_examples

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--kind", choices=["spam", "toxic"], default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    extra = [ex for path in args.files for ex in load(path, args.kind).examples]
    passed = {Path(path).resolve() for path in args.files}
    corpus = [
        ex
        for ds in load_corpus(ROOT / "model" / "corpus")
        if Path(ds.path).resolve() not in passed
        for ex in ds.examples
    ]
    labels = {ex.label for ex in extra}
    head = "toxicity" if "toxic" in labels else "spam"
    y = head_targets(extra, head)
    ours, baseline, corpus_only = [], [], []
    scores_without = score_examples(fit(corpus, dict(DEFAULT_PARAMS), args.seed), extra)[head]
    folds = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    for number, (train_idx, test_idx) in enumerate(folds.split(np.zeros(len(y)), y), 1):
        train = [extra[i] for i in train_idx]
        test = [extra[i] for i in test_idx]
        fitted = fit(corpus + train, dict(DEFAULT_PARAMS), args.seed)
        ours.append(roc_auc_score(y[test_idx], score_examples(fitted, test)[head]))
        vectorizer = TfidfVectorizer(sublinear_tf=True)
        plain = LogisticRegression(max_iter=2000).fit(
            vectorizer.fit_transform([e.text for e in train]), y[train_idx]
        )
        baseline.append(
            roc_auc_score(
                y[test_idx], plain.predict_proba(vectorizer.transform([e.text for e in test]))[:, 1]
            )
        )
        corpus_only.append(roc_auc_score(y[test_idx], scores_without[test_idx]))
        print(
            f"fold {number}: ours {ours[-1]:.4f}  word TF-IDF + LR {baseline[-1]:.4f}  "
            f"ours without the file {corpus_only[-1]:.4f}"
        )
    print(
        f"mean ROC-AUC ({head}, {HEAD_LABEL[head]} vs rest): ours {statistics.mean(ours):.4f}, "
        f"baseline {statistics.mean(baseline):.4f}, ours without the file {statistics.mean(corpus_only):.4f}"
    )


if __name__ == "__main__":
    main()
