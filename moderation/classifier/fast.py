"""Scoring from the data of a model file, for one comment and for many.

The service scores one comment per request. Going through a scikit-learn Pipeline costs
milliseconds of validation and sparse-matrix bookkeeping for a handful of non-zero features, and a
pickled Pipeline can run code when loaded, so the model file holds data only
(``modelfile.LinearModel``) and this module computes the probabilities from it directly: n-gram
counts, sublinear TF times IDF, L2 norm per block, a dot product with each head's weights and the
fitted sigmoid. Tests check it against the fitted Pipeline's own predict_proba on the whole corpus,
and training refuses to write a model file that does not reproduce the fitted model.

Character n-grams dominate the cost: a 40-word comment has about a thousand of them. They never
cross a word boundary (``char_wb``), so each distinct word's known columns are computed once and
kept in a bounded cache; a comment's counts are then one ``np.unique`` over the cached arrays.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Callable, Sequence

import numpy as np
import scipy.sparse as sp

from moderation.classifier.features import ModelText, PreparedRecord, structural_row
from moderation.classifier.modelfile import WORD_TOKEN_PATTERN, LinearModel, StructureBlock, TextBlock

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


def word_ngrams(tokens: Sequence[str], min_n: int, max_n: int) -> list[str]:
    """The n-grams scikit-learn's ``word`` analyzer makes of a token list (no stop words)."""
    grams = list(tokens) if min_n == 1 else []
    for n in range(max(min_n, 2), min(max_n, len(tokens)) + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def _vocabulary(block: TextBlock) -> dict[str, int]:
    return {term: column for column, term in enumerate(block.vocabulary)}


class _CharWordColumns:
    """Known feature columns of a char_wb block, computed per distinct word and cached."""

    def __init__(self, block: TextBlock) -> None:
        self.preprocess = ModelText(block.mask_groups, block.negation, block.group_context)
        self.vocabulary = _vocabulary(block)
        self.min_n, self.max_n = block.ngram_range
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


class _WordColumns:
    """Known feature columns of a word n-gram block."""

    def __init__(self, block: TextBlock) -> None:
        self.preprocess = ModelText(block.mask_groups, block.negation, block.group_context)
        self.tokens = re.compile(WORD_TOKEN_PATTERN).findall
        self.vocabulary = _vocabulary(block)
        self.min_n, self.max_n = block.ngram_range

    def __call__(self, record: PreparedRecord) -> tuple[np.ndarray, np.ndarray]:
        counts = Counter(word_ngrams(self.tokens(self.preprocess(record)), self.min_n, self.max_n))
        known = counts.keys() & self.vocabulary.keys()
        columns = np.fromiter(map(self.vocabulary.__getitem__, known), np.int64, len(known))
        values = np.fromiter(map(counts.__getitem__, known), float, len(known))
        return columns, values


ColumnFinder = Callable[[PreparedRecord], tuple[np.ndarray, np.ndarray]]


class FastScorer:
    """Scores prepared records with the data of a model file."""

    def __init__(self, model: LinearModel) -> None:
        self.heads = model.heads
        self.weights = model.weights  # (features, heads)
        # Per block: (column finder or None for structure, idf or None, offset).
        self.blocks: list[tuple[ColumnFinder | None, np.ndarray | None, int]] = []
        offset = 0
        for block in model.blocks:
            if isinstance(block, StructureBlock):
                self.blocks.append((None, None, offset))
            else:
                finder = _CharWordColumns(block) if block.analyzer == "char_wb" else _WordColumns(block)
                self.blocks.append((finder, block.idf, offset))
            offset += block.width
        self.width = offset
        self.intercepts = model.intercepts
        self.sigmoids: list[tuple[float, float]] = [(float(a), float(b)) for a, b in model.sigmoids]

    def features(self, record: PreparedRecord) -> tuple[np.ndarray, np.ndarray]:
        """Return the record's non-zero feature columns (over every block) and their values."""
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

    def matrix(self, records: Sequence[PreparedRecord]) -> sp.csr_matrix:
        """The feature matrix of many records (one row each), as the fitted FeatureUnion made it."""
        indptr = [0]
        columns, values = [], []
        for record in records:
            c, v = self.features(record)
            columns.append(c)
            values.append(v)
            indptr.append(indptr[-1] + len(c))
        data = np.concatenate(values) if values else np.empty(0)
        indices = np.concatenate(columns) if columns else _EMPTY
        return sp.csr_matrix((data, indices, np.array(indptr)), shape=(len(records), self.width))

    def score_many(self, records: Sequence[PreparedRecord]) -> dict[str, np.ndarray]:
        """Calibrated probabilities per head for many records at once."""
        decision = self.matrix(records) @ self.weights + self.intercepts  # (records, heads)
        return {
            head: 1.0 / (1.0 + np.exp(a * decision[:, i] + b))
            for i, (head, (a, b)) in enumerate(zip(self.heads, self.sigmoids, strict=True))
        }
