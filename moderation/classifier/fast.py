"""Single-comment scoring without scikit-learn's per-call overhead.

The service scores one comment per request. Going through the Pipeline costs milliseconds of
validation and sparse-matrix bookkeeping for a handful of non-zero features, so this module reads
the fitted pipeline once and computes the same numbers directly: n-gram counts, sublinear TF times
IDF, L2 norm per block, a dot product with each head's weights and the fitted sigmoid. A test
checks it against the Pipeline's own predict_proba on the whole corpus.

Character n-grams dominate the cost: a 40-word comment has about a thousand of them. They never
cross a word boundary (``char_wb``), so each distinct word's known columns are computed once and
kept in a bounded cache; a comment's counts are then one ``np.unique`` over the cached arrays.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Callable

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from moderation.classifier.features import PreparedRecord, Structural, structural_row

WORD_CACHE_SIZE = 50_000
_EMPTY = np.empty(0, dtype=np.int64)


def char_wb_ngrams(word: str, min_n: int, max_n: int) -> list[str]:
    """The n-grams scikit-learn's ``char_wb`` analyzer makes of one whitespace-free word."""
    padded = f" {word} "
    size = len(padded)
    grams: list[str] = []
    for n in range(min_n, max_n + 1):
        if n >= size:  # a word shorter than n counts once, whole, and ends the loop
            grams.append(padded)
            break
        grams.extend(padded[i : i + n] for i in range(size - n + 1))
    return grams


class _CharWordColumns:
    """Known feature columns of a char_wb vectorizer, computed per distinct word and cached."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.preprocess = vectorizer.build_preprocessor()
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.min_n, self.max_n = vectorizer.ngram_range
        self.cache: dict[str, np.ndarray] = {}

    def word(self, word: str) -> np.ndarray:
        columns = self.cache.get(word)
        if columns is None:
            get = self.vocabulary.get
            found = [c for c in map(get, char_wb_ngrams(word, self.min_n, self.max_n)) if c is not None]
            columns = np.array(found, dtype=np.int64) if found else _EMPTY
            if len(self.cache) >= WORD_CACHE_SIZE:
                self.cache.clear()  # bounded memory; the common words come back at once
            self.cache[word] = columns
        return columns

    def __call__(self, record: PreparedRecord) -> tuple[np.ndarray, np.ndarray]:
        words = self.preprocess(record).split()
        if not words:
            return _EMPTY, np.empty(0)
        columns, counts = np.unique(np.concatenate([self.word(w) for w in words]), return_counts=True)
        return columns, counts.astype(float)


class _TokenColumns:
    """Known feature columns of any other vectorizer, from its own analyzer."""

    def __init__(self, vectorizer: Any) -> None:
        self.analyzer: Callable[[Any], list[str]] = vectorizer.build_analyzer()
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_

    def __call__(self, record: PreparedRecord) -> tuple[np.ndarray, np.ndarray]:
        counts = Counter(self.analyzer(record))
        known = counts.keys() & self.vocabulary.keys()
        columns = np.fromiter(map(self.vocabulary.__getitem__, known), np.int64, len(known))
        values = np.fromiter(map(counts.__getitem__, known), float, len(known))
        return columns, values


def _columns_of(transformer: Any) -> Callable[[PreparedRecord], tuple[np.ndarray, np.ndarray]]:
    if isinstance(transformer, TfidfVectorizer) and transformer.analyzer == "char_wb":
        return _CharWordColumns(transformer)
    return _TokenColumns(transformer)


class FastScorer:
    """Scores one prepared record with the weights of a fitted bundle."""

    def __init__(self, pipelines: dict[str, Any], heads: tuple[str, ...]) -> None:
        union = pipelines["features"].named_steps["union"]
        self.heads = heads
        weights = np.column_stack([pipelines["weights"][h] for h in heads])  # (features, heads)
        self.weights = weights
        # Per block of the feature union: (column finder or None for structure, idf or None, offset).
        self.blocks: list[tuple[Any, np.ndarray | None, int]] = []
        offset = 0
        for _, transformer in union.transformer_list:
            if isinstance(transformer, Structural):
                self.blocks.append((None, None, offset))
            else:
                self.blocks.append((_columns_of(transformer), getattr(transformer, "idf_", None), offset))
            offset += len(transformer.get_feature_names_out())
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
        for columns_of, idf, offset in self.blocks:
            if columns_of is None:
                values = np.asarray(structural_row(record), dtype=float)
                columns = np.arange(len(values))
            else:
                columns, values = columns_of(record)
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
