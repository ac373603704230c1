"""Feature extraction shared by every head: word and character n-grams, structure and author cues."""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Mapping, NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from moderation.classifier.lexicon import lexicon_counts
from moderation.normalize import normalize


class PreparedRecord(NamedTuple):
    folded: str
    cleaned: str
    name: str
    email: str
    url: str


Record = Mapping[str, Any] | str


def prepare(record: Record) -> PreparedRecord:
    """Normalize one raw record (a text or a mapping with text, name, email, url)."""
    if isinstance(record, str):
        record = {"text": record}
    cleaned, folded = normalize(str(record.get("text") or ""))
    return PreparedRecord(
        folded,
        cleaned,
        str(record.get("name") or ""),
        str(record.get("email") or ""),
        str(record.get("url") or ""),
    )


class Prepare(BaseEstimator, TransformerMixin):
    """First pipeline step: raw records in, normalized records out."""

    def fit(self, records: Iterable[Record], y: Any = None) -> Prepare:
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True  # stateless

    def transform(self, records: Iterable[Record]) -> list[PreparedRecord]:
        return [r if isinstance(r, PreparedRecord) else prepare(r) for r in records]


def folded_of(record: PreparedRecord) -> str:
    return record.folded


_URL = re.compile(r"(?:\b(?:https?|ftp)://|\bwww\.)([^\s/<>\"':?#]*)", re.IGNORECASE)
_OBFUSCATED_URL = re.compile(
    r"\w\s*(?:\(|\[)?\s*(?:dot|\.)\s*(?:\)|\])?\s*(?:com|net|org|info|xyz|top|ru|io|co|online|site|biz)\b"
    r"|\[\.\]|hxxp",
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"[$£€¥₹]\s?\d|\d\s?(?:usd|eur|gbp|btc|eth|usdt|dollars|pounds|k\b)|\b(?:bitcoin|crypto|forex)\b",
    re.IGNORECASE,
)
_PHONE = re.compile(r"(?:\+\d[\d\s\-().]{7,}\d)|(?:\b\d[\d\-\s]{8,}\d\b)")
# Anchored at the start of a run: unanchored, every position of a long word was retried (quadratic).
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+\.[\w.]+")
_REPEAT = re.compile(r"(.)\1{3,}")
_WORD = re.compile(r"\w+")

STRUCTURAL_NAMES = (
    "log_length", "log_words", "links", "domains", "obfuscated_links", "money", "phone",
    "email_in_text", "upper_ratio", "exclaim_ratio", "digit_ratio", "symbol_ratio",
    "non_ascii_ratio", "repeats", "lexicon_obscene", "lexicon_insult", "lexicon_identity",
    "lexicon_threat", "second_person",
)  # fmt: skip
_SECOND_PERSON = re.compile(r"(?<!\w)(?:you|your|youre|ur|u|yourself|ya)(?!\w)")


def structural_row(record: PreparedRecord) -> list[float]:
    """Return the structural features of one record, each roughly within [0, 1]."""
    text = record.cleaned
    n = max(len(text), 1)
    letters = sum(map(str.isalpha, text)) or 1
    words = _WORD.findall(text)
    urls = _URL.findall(text)
    symbols = n - sum(map(str.isalnum, text)) - sum(map(str.isspace, text))
    return [
        math.log1p(len(text)) / 10,
        math.log1p(len(words)) / 7,
        min(len(urls), 5) / 5,
        min(len({u.lower() for u in urls}), 5) / 5,
        min(len(_OBFUSCATED_URL.findall(text)), 3) / 3,
        min(len(_MONEY.findall(text)), 5) / 5,
        min(len(_PHONE.findall(text)), 3) / 3,
        min(len(_EMAIL.findall(text)), 3) / 3,
        sum(map(str.isupper, text)) / letters,
        min(text.count("!") / n * 10, 1.0),
        sum(map(str.isdigit, text)) / n,
        symbols / n,
        (n - len(text.encode("ascii", "ignore"))) / n if text else 0.0,
        min(len(_REPEAT.findall(text)), 3) / 3,
        *(min(count, 3) / 3 for count in lexicon_counts(record.folded).values()),
        min(len(_SECOND_PERSON.findall(record.folded)), 3) / 3,
    ]


class Structural(BaseEstimator, TransformerMixin):
    """Links, domains, money and phone patterns, casing, repetition and length."""

    def fit(self, records: Iterable[PreparedRecord], y: Any = None) -> Structural:
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True  # stateless

    def transform(self, records: Iterable[PreparedRecord]) -> sp.csr_matrix:
        return sp.csr_matrix(np.array([structural_row(r) for r in records], dtype=np.float64))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array([f"structure:{n}" for n in STRUCTURAL_NAMES], dtype=object)


def author_tokens(record: PreparedRecord) -> str:
    """Describe the author fields as tokens: email domain and TLD, website TLD, name shape."""
    tokens = []
    if record.email:
        domain = record.email.rpartition("@")[2].lower()
        tokens += [f"email_domain={domain}", f"email_tld={domain.rpartition('.')[2]}"]
        local = record.email.partition("@")[0]
        if sum(ch.isdigit() for ch in local) >= 3:
            tokens.append("email_local_digits")
    if record.url:
        host = _URL.findall(record.url)
        host_name = host[0].lower() if host else record.url.lower()
        tokens += ["has_url", f"url_tld={host_name.rpartition('.')[2]}"]
        if host_name.count("-") >= 2:
            tokens.append("url_hyphens")
    if record.name:
        tokens.append(f"name_words={min(len(record.name.split()), 4)}")
        if any(ch.isdigit() for ch in record.name):
            tokens.append("name_digits")
    return " ".join(tokens) or "no_author"


AUTHOR_PREFIX = "author__"


class SelectColumns(BaseEstimator, TransformerMixin):
    """Keep only some feature columns: the toxicity head must not learn from who the author is."""

    def __init__(self, keep: np.ndarray | None = None) -> None:
        self.keep = keep

    def fit(self, matrix: Any, y: Any = None) -> SelectColumns:
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return self.keep is not None

    def transform(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        return sp.csr_matrix(matrix)[:, self.keep]


def text_columns(feature_names: np.ndarray) -> np.ndarray:
    """Indices of the features computed from the comment text alone."""
    return np.flatnonzero([not str(n).startswith(AUTHOR_PREFIX) for n in feature_names])


def build_features(seed: int = 0) -> Pipeline:
    """Return the unfitted feature pipeline shared by every head."""
    return Pipeline(
        [
            ("prepare", Prepare()),
            (
                "union",
                FeatureUnion(
                    [
                        (
                            "word",
                            TfidfVectorizer(
                                preprocessor=folded_of,
                                lowercase=False,
                                token_pattern=r"(?u)\b\w+\b",
                                ngram_range=(1, 2),
                                min_df=2,
                                sublinear_tf=True,
                                max_features=100_000,
                                dtype=np.float64,
                            ),
                        ),
                        (
                            "char",
                            TfidfVectorizer(
                                preprocessor=folded_of,
                                lowercase=False,
                                analyzer="char_wb",
                                ngram_range=(2, 5),
                                min_df=2,
                                sublinear_tf=True,
                                max_features=150_000,
                                dtype=np.float64,
                            ),
                        ),
                        ("structure", Structural()),
                        (
                            "author",
                            CountVectorizer(
                                preprocessor=author_tokens,
                                lowercase=False,
                                token_pattern=r"\S+",
                                binary=True,
                            ),
                        ),
                    ]
                ),
            ),
        ]
    )
