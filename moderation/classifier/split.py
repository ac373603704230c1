"""The fixed held-out split: which corpus rows no model version is ever fitted on.

A row is held out when a stable hash of its near-duplicate key falls in the first fifth of the
hash space. The key is the folded text (the same normalizer that undoes disguises) with links,
e-mail addresses, digits, punctuation and repeated letters taken out, so that the copies of one
campaign ("Win $500 at pills-a.example", "win $750 at pills-b.example!!!") share a key and land on
one side. The rule depends on the text alone: the same rows are held out for every training run,
seed and model version, and `moderation promote` recomputes them from the corpus to compare two
models on rows neither was fitted on.

Only rows from files (the corpus and the files an operator names with `--data`) can be held out.
Database labels are written by moderators and by clients; they only ever go to the fitting side,
and one whose key matches a held-out row is left out of fitting too, so that nobody can teach a
model the held-out rows through the feedback API.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from moderation.classifier.datasets import Dataset, Example
from moderation.pipeline.normalize import normalize

HOLDOUT_SHARE = 0.2
# Changing the key or the salt moves rows between the sides: bump the rule's name with it, so
# that the gate knows when two models were split differently.
SPLIT_RULE = "near-duplicate-key-sha256/v1"
_SALT = b"moderation-holdout-v1\x00"
# Formats whose rows may be held out: files. Database labels ("labels") are fitted on only.
FIT_ONLY_FORMATS = frozenset({"labels"})

_LINK = re.compile(
    r"(?:https?://|www\.)\S*"  # URLs
    r"|\S+@\S+"  # e-mail addresses
    r"|\b[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b(?:/\S*)?"  # bare domains, "pills-a.example/buy"
)
_DIGITS = re.compile(r"\d+")
_NON_WORD = re.compile(r"[\W_]+")
_REPEATS = re.compile(r"(.)\1+")


def near_duplicate_key(text: str) -> str:
    """The text reduced to what a campaign's copies have in common."""
    return near_duplicate_key_of_folded(normalize(text)[1])


def near_duplicate_key_of_folded(folded: str) -> str:
    """near_duplicate_key of a text already folded by the normalizer."""
    reduced = _LINK.sub(" ", folded)
    reduced = _DIGITS.sub(" ", reduced)
    reduced = _NON_WORD.sub(" ", reduced)
    reduced = _REPEATS.sub(r"\1", reduced)
    return " ".join(reduced.split())


def key_digest(key: str) -> str:
    return hashlib.sha256(_SALT + key.encode("utf-8")).hexdigest()


def is_held_out_key(key: str) -> bool:
    """Whether rows with this near-duplicate key belong to the held-out side (a fifth of keys)."""
    return int(key_digest(key)[:15], 16) < HOLDOUT_SHARE * 16**15


def can_hold_out(dataset: Dataset) -> bool:
    return dataset.format not in FIT_ONLY_FORMATS


@dataclass
class Split:
    """The rows to fit on and the rows held out, with the counts the manifest records."""

    fitting: list[Example]
    held_out: list[Example]
    counts: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"rule": SPLIT_RULE, "held_out_share": HOLDOUT_SHARE, **self.counts}


def split(datasets: Sequence[Dataset], dedupe_key: Any) -> Split:
    """Split datasets into fitting and held-out rows by the fixed rule.

    dedupe_key maps an example to the key duplicates are removed by (the folded text); among
    duplicates the later source wins on each side, as before the split existed.
    """
    held: dict[str, Example] = {}
    held_keys: set[str] = set()
    fitting: list[Example] = []
    fit_only: list[Example] = []
    for ds in datasets:
        eligible = can_hold_out(ds)
        for ex in ds.examples:
            key = near_duplicate_key(ex.text)
            if eligible and is_held_out_key(key):
                held_keys.add(key)
                k = dedupe_key(ex)
                held.pop(k, None)
                held[k] = ex
            elif eligible:
                fitting.append(ex)
            else:
                fit_only.append(ex)
    near_held = [ex for ex in fit_only if near_duplicate_key(ex.text) in held_keys]
    fit_rows = _dedupe([*fitting, *(ex for ex in fit_only if near_duplicate_key(ex.text) not in held_keys)],
                       dedupe_key)  # fmt: skip
    held_out = list(held.values())
    # A text that is both held out and in the fitting rows (the same comment in two files) is
    # kept out of fitting: the held-out rows stay unseen.
    held_dedupe = {dedupe_key(ex) for ex in held_out}
    fit_rows = [ex for ex in fit_rows if dedupe_key(ex) not in held_dedupe]
    counts = {
        "fitted": len(fit_rows),
        "held_out": len(held_out),
        "held_out_labels": _label_counts(held_out),
        "fitted_labels": _label_counts(fit_rows),
        "database_rows_fitted_only": len(fit_only) - len(near_held),
        "database_rows_dropped_near_held_out": len(near_held),
    }
    return Split(fit_rows, held_out, counts)


def _dedupe(examples: Iterable[Example], key: Any) -> list[Example]:
    chosen: dict[str, Example] = {}
    for ex in examples:
        k = key(ex)
        chosen.pop(k, None)
        chosen[k] = ex
    return list(chosen.values())


def _label_counts(examples: Iterable[Example]) -> dict[str, int]:
    counts = {"ham": 0, "spam": 0, "toxic": 0}
    for ex in examples:
        counts[ex.label] = counts.get(ex.label, 0) + 1
    return counts


def held_out_rows(datasets: Sequence[Dataset], dedupe_key: Any) -> list[Example]:
    """The held-out rows of these files, recomputed (what `promote` compares models on)."""
    return split([ds for ds in datasets if can_hold_out(ds)], dedupe_key).held_out
