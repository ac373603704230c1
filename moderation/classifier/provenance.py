"""Which database labels training believes, and what it refuses: the learning loop's safeguards.

The database holds verdicts of different weight (moderation/store/tables.py, Label.trust):
moderators' reviews and a client's feedback on its own stored comment are trusted; a client's report
on a text no stored comment matches is unverified, and counts only once a moderator confirmed it or
the operator names that client's key (`train --from-db --include-unverified PREFIX`). Whatever is
used adds examples and never changes the files': a label whose folded text is a corpus (or --data)
example's is dropped, and one text with different labels in the database is dropped and reported
rather than settled by whichever came last. Without these rules one ordinary client key could report
the corpus's spam as ham and teach every site's model to publish spam (issue 15).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from moderation.classifier.datasets import LABELS, Dataset, Example

# The source categories the manifest counts, in the order they are printed.
CORPUS, FILES = "corpus", "files"
REVIEWS, FEEDBACK = "reviews", "feedback"
CONFIRMED, INCLUDED = "unverified-confirmed", "unverified-included"
SOURCES = (CORPUS, FILES, REVIEWS, FEEDBACK, CONFIRMED, INCLUDED)
DATABASE_FORMAT = "labels"
DATABASE_PATH = "database:labels"
EXAMPLES_SHOWN = 5
TEXT_SHOWN = 80


def category(row: dict[str, Any], include: frozenset[str]) -> str | None:
    """The source category a database label trains as, or None when training must not use it."""
    trust = row["trust"]
    if trust == "trusted":
        return REVIEWS if row["source"] == "moderator" else FEEDBACK
    if trust == "confirmed":
        return CONFIRMED
    if trust == "unverified" and row["key_prefix"] in include:
        return INCLUDED
    return None  # unverified from a key not named, or discarded by a moderator


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TEXT_SHOWN else text[: TEXT_SHOWN - 1] + "…"


@dataclass
class LabelReport:
    """What training took from where, and what it left out or refused, for its output and manifest.

    The manifest names refused labels by their database id (GET /v1/labels finds them), never by
    text: manifests are copied around, and the texts are comments.
    """

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    left_out: dict[str, Any] = field(default_factory=dict)
    corpus_conflicts: list[dict[str, Any]] = field(default_factory=list)
    corpus_duplicates: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    include_unverified: list[str] = field(default_factory=list)

    def as_manifest(self) -> dict[str, Any]:
        def strip(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{k: v for k, v in item.items() if k != "text"} for item in items[:EXAMPLES_SHOWN]]

        return {
            "counts": self.counts,
            "include_unverified": self.include_unverified,
            "left_out": self.left_out,
            "refused_corpus_conflicts": {
                "count": len(self.corpus_conflicts),
                "examples": strip(self.corpus_conflicts),
            },
            "dropped_corpus_duplicates": self.corpus_duplicates,
            "conflicts": {
                "texts": len(self.conflicts),
                "labels": sum(len(c["label_ids"]) for c in self.conflicts),
                "examples": strip(self.conflicts),
            },
        }

    def lines(self) -> list[str]:
        """The summary `train` prints: counts per source and label, then what was not used and why."""
        out = ["examples by source:"]
        for source, labels in self.counts.items():
            total = sum(labels.values())
            parts = ", ".join(f"{n} {label}" for label, n in labels.items() if n)
            out.append(f"  {source}: {total}" + (f" ({parts})" if parts else ""))
        left = self.left_out
        if left.get("unverified"):
            keys = ", ".join(f"{prefix or '?'}: {n}" for prefix, n in left["unverified_by_key"].items())
            out.append(
                f"left out: {left['unverified']} unverified client reports ({keys}); a moderator confirms "
                "them over /v1/labels, or name a key with --include-unverified"
            )
        if left.get("discarded"):
            out.append(f"left out: {left['discarded']} reports discarded by moderators")
        if self.corpus_conflicts:
            out.append(
                f"refused: {len(self.corpus_conflicts)} database labels contradict a corpus or --data "
                "example with the same folded text (the file's label stands), e.g.:"
            )
            out += [
                f"  label {c['label_id']} ({c['category']}, key {c['key_prefix'] or '-'}): {c['label']} "
                f"against {c['file_label']}: {_short(c['text'])!r}"
                for c in self.corpus_conflicts[:EXAMPLES_SHOWN]
            ]
        if self.corpus_duplicates:
            out.append(f"dropped: {self.corpus_duplicates} database labels that repeat a file example")
        if self.conflicts:
            rows = sum(len(c["label_ids"]) for c in self.conflicts)
            out.append(
                f"conflicts: {len(self.conflicts)} texts have different labels in the database "
                f"({rows} labels, none used), e.g.:"
            )
            out += [
                f"  labels {c['label_ids']}: {c['labels']}: {_short(c['text'])!r}"
                for c in self.conflicts[:EXAMPLES_SHOWN]
            ]
        return out


def _label_counts(examples: Iterable[Example]) -> dict[str, int]:
    counts = dict.fromkeys(LABELS, 0)
    for ex in examples:
        counts[ex.label] = counts.get(ex.label, 0) + 1
    return counts


def database_dataset(
    rows: Iterable[dict[str, Any]],
    corpus: Sequence[Dataset],
    files: Sequence[Dataset],
    include_unverified: Iterable[str],
    dedupe_key: Callable[[Example], str],
) -> tuple[Dataset, LabelReport]:
    """Turn the store's training_labels() rows into the database dataset, by the rules above.

    corpus and files are the file datasets training also reads; dedupe_key folds an example's text
    as training compares them. The report counts every source, the file ones included.
    """
    include = frozenset(include_unverified)
    report = LabelReport(include_unverified=sorted(include))
    for name, datasets in ((CORPUS, corpus), (FILES, files)):
        if datasets:
            report.counts[name] = _label_counts(ex for ds in datasets for ex in ds.examples)
    file_labels: dict[str, str] = {}
    for ds in (*corpus, *files):
        for ex in ds.examples:
            file_labels[dedupe_key(ex)] = ex.label  # files agree with themselves; the last stands
    left_by_key: Counter[str] = Counter()
    discarded = 0
    candidates: dict[str, list[tuple[Example, dict[str, Any], str]]] = defaultdict(list)
    for row in rows:
        if row["label"] not in LABELS:
            continue
        where = category(row, include)
        if where is None:
            if row["trust"] == "discarded":
                discarded += 1
            else:
                left_by_key[row["key_prefix"]] += 1
            continue
        ex = Example(row["text"], row["label"], name=row.get("name") or "", source=row["source"])
        key = dedupe_key(ex)
        if key in file_labels:
            if file_labels[key] == ex.label:
                report.corpus_duplicates += 1
            else:
                report.corpus_conflicts.append(
                    {"label_id": row["id"], "label": ex.label, "file_label": file_labels[key],
                     "category": where, "key_prefix": row["key_prefix"], "text": ex.text}
                )  # fmt: skip
            continue
        candidates[key].append((ex, row, where))
    used: list[tuple[Example, str]] = []
    for group in candidates.values():
        labels = Counter(ex.label for ex, _, _ in group)
        if len(labels) > 1:
            report.conflicts.append(
                {"label_ids": [row["id"] for _, row, _ in group], "labels": dict(sorted(labels.items())),
                 "text": group[0][0].text}
            )  # fmt: skip
            continue
        used += [(ex, where) for ex, _, where in group]
    for name in (REVIEWS, FEEDBACK, CONFIRMED, INCLUDED):
        report.counts[name] = _label_counts(ex for ex, where in used if where == name)
    report.left_out = {
        "unverified": sum(left_by_key.values()),
        "unverified_by_key": dict(sorted(left_by_key.items())),
        "discarded": discarded,
    }
    return Dataset(DATABASE_PATH, DATABASE_FORMAT, [ex for ex, _ in used]), report
