"""Single-comment scoring without scikit-learn's per-call overhead.

The service scores one comment per request. Going through the Pipeline costs milliseconds of
validation and sparse-matrix bookkeeping for a handful of non-zero features, so this module reads
the fitted pipeline once and computes the same numbers directly: n-gram counts, sublinear TF times
IDF, L2 norm per block, a dot product with each head's weights and the fitted sigmoid. A test
checks it against the Pipeline's own predict_proba on the whole corpus.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from moderation.classifier.features import PreparedRecord, Structural, structural_row


class FastScorer:
    """Scores one prepared record with the weights of a fitted bundle."""

    def __init__(self, pipelines: dict[str, Any], heads: tuple[str, ...]) -> None:
        union = pipelines["features"].named_steps["union"]
        self.heads = heads
        weights = np.column_stack([pipelines["weights"][h] for h in heads])  # (features, heads)
        self.weights = weights
        # Per block of the feature union: (analyzer or None for structure, vocabulary, idf, weights).
        self.blocks: list[tuple[Any, dict[str, int], np.ndarray | None, np.ndarray]] = []
        self.offsets: list[int] = []
        offset = 0
        for _, transformer in union.transformer_list:
            width = len(transformer.get_feature_names_out())
            block = weights[offset : offset + width]
            if isinstance(transformer, Structural):
                self.blocks.append((None, {}, None, block))
            else:
                idf = getattr(transformer, "idf_", None)
                self.blocks.append((transformer.build_analyzer(), transformer.vocabulary_, idf, block))
            self.offsets.append(offset)
            offset += width
        self.intercepts = np.zeros(len(heads))
        self.sigmoids: list[tuple[float, float]] = []
        for i, head in enumerate(heads):
            clf = pipelines[head].steps[-1][1]
            if len(clf.calibrated_classifiers_) != 1:
                raise ValueError("fast scoring needs a calibrated classifier fitted with ensemble=False")
            calibrated = clf.calibrated_classifiers_[0]
            self.intercepts[i] = float(calibrated.estimator.intercept_[0])
            calibrator = calibrated.calibrators[0]
            self.sigmoids.append((float(calibrator.a_), float(calibrator.b_)))

    def features(self, record: PreparedRecord) -> tuple[np.ndarray, np.ndarray]:
        """Return the record's non-zero feature columns (over the whole union) and their values."""
        all_columns, all_values = [], []
        for (analyzer, vocabulary, idf, _), offset in zip(self.blocks, self.offsets, strict=True):
            if analyzer is None:
                values = np.asarray(structural_row(record), dtype=float)
                columns = np.arange(len(values))
            else:
                counts = Counter(analyzer(record))
                columns = np.fromiter((vocabulary.get(t, -1) for t in counts), np.int64, len(counts))
                known = columns >= 0
                columns = columns[known]
                if idf is None:  # binary counts (author tokens)
                    values = np.ones(len(columns))
                else:
                    values = np.fromiter(counts.values(), float, len(counts))[known]
                    values = (1.0 + np.log(values)) * idf[columns]
                    norm = math.sqrt(float(values @ values))
                    if norm:
                        values /= norm
            all_columns.append(columns + offset)
            all_values.append(values)
        return np.concatenate(all_columns), np.concatenate(all_values)

    def probabilities(self, columns: np.ndarray, values: np.ndarray) -> dict[str, float]:
        """Return calibrated probabilities per head for already extracted features."""
        decision = self.intercepts + values @ self.weights[columns]
        return {
            head: 1.0 / (1.0 + math.exp(a * float(d) + b))
            for head, d, (a, b) in zip(self.heads, decision, self.sigmoids, strict=True)
        }

    def score(self, record: PreparedRecord) -> dict[str, float]:
        """Return calibrated probabilities per head."""
        return self.probabilities(*self.features(record))
