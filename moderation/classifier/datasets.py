"""Labelled examples from our corpus and from public data-set formats."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

LABELS = ("ham", "spam", "toxic")
JIGSAW_COLUMNS = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
# The Jigsaw unintended-bias (Civil Comments) format: a toxicity fraction in `target`, fractions
# for each kind of toxicity, and the fraction of annotators who saw each identity mentioned.
BIAS_LABEL_COLUMNS = ("severe_toxicity", "obscene", "identity_attack", "insult", "threat", "sexual_explicit")
IDENTITY_COLUMNS = (
    "male", "female", "transgender", "other_gender", "heterosexual", "homosexual_gay_or_lesbian",
    "bisexual", "other_sexual_orientation", "christian", "jewish", "muslim", "hindu", "buddhist",
    "atheist", "other_religion", "black", "white", "asian", "latino", "other_race_or_ethnicity",
    "physical_disability", "intellectual_or_learning_disability", "psychiatric_or_mental_illness",
    "other_disability",
)  # fmt: skip
_JIGSAW_TAGS = {
    "severe_toxic": "severe",
    "obscene": "obscene",
    "threat": "threat",
    "insult": "insult",
    "identity_hate": "identity_attack",
}

csv.field_size_limit(10 * 1024 * 1024)


class DatasetError(ValueError):
    """A data file cannot be read as any supported format."""


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    tags: tuple[str, ...] = ()
    name: str = ""
    email: str = ""
    url: str = ""
    source: str = ""
    weight: float = 1.0
    # Multi-label files: each label column's 0/1 value ("toxic", "threat", ...), for per-label reports.
    label_columns: tuple[tuple[str, int], ...] = ()
    # The identity groups the row mentions (group columns >= 0.5, or a `groups` field), for subgroup reports.
    groups: tuple[str, ...] = ()

    def record(self) -> dict[str, str]:
        return {"text": self.text, "name": self.name, "email": self.email, "url": self.url}


@dataclass
class Dataset:
    """Examples read from one file, with what is needed to cite it in a manifest."""

    path: str
    format: str
    examples: list[Example] = field(default_factory=list)
    sha256: str = ""

    def describe(self) -> dict[str, object]:
        counts = {label: 0 for label in LABELS}
        for ex in self.examples:
            counts[ex.label] += 1
        return {"path": self.path, "format": self.format, "rows": len(self.examples),
                "labels": counts, "sha256": self.sha256}  # fmt: skip


def _label_from(value: object, kind: str | None, where: str) -> str:
    text = str(value).strip().lower()
    if text in LABELS:
        return text
    if text in {"toxicity", "abusive", "offensive", "hate"}:
        return "toxic"
    if text in {"1", "0", "true", "false", "1.0", "0.0"}:
        positive = text in {"1", "true", "1.0"}
        if kind is None:
            raise DatasetError(
                f"{where}: numeric label {value!r} needs to know which head it is for; "
                "pass the kind (spam or toxic), e.g. PATH with --kind"
            )
        return kind if positive else "ham"
    raise DatasetError(f"{where}: unknown label {value!r} (expected ham, spam, toxic, 0 or 1)")


def _truthy(value: object) -> bool:
    """A 0/1, true/false or annotator-fraction cell: set when 1, true or at least 0.5."""
    text = str(value if value is not None else "").strip().lower()
    if text in {"true", "yes"}:
        return True
    try:
        return float(text) >= 0.5
    except ValueError:
        return False


def _groups(row: dict[str, str], columns: dict[str, str]) -> tuple[str, ...]:
    """The identity groups a CSV row mentions: Jigsaw identity columns, or a `groups` column (a;b)."""
    found = [name for name in IDENTITY_COLUMNS if name in columns and _truthy(row.get(columns[name]))]
    for key in ("groups", "group"):
        if key in columns:
            found += [g.strip().lower() for g in str(row.get(columns[key]) or "").split(";") if g.strip()]
    return tuple(dict.fromkeys(found))


def _json_groups(value: object) -> tuple[str, ...]:
    items = value.split(";") if isinstance(value, str) else value if isinstance(value, list) else []
    return tuple(dict.fromkeys(str(g).strip().lower() for g in items if str(g).strip()))


def guess_kind(path: Path) -> str | None:
    """Guess which head a numerically labelled file is for from its name."""
    name = path.name.lower()
    if "spam" in name:
        return "spam"
    if any(word in name for word in ("toxic", "hate", "abus", "offens", "insult")):
        return "toxic"
    return None


def _read_jsonl(path: Path, lines: Iterable[str], kind: str | None) -> Iterator[Example]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise DatasetError(f"{where}: not JSON: {exc}") from None
        if not isinstance(row, dict) or not str(row.get("text") or "").strip():
            raise DatasetError(f"{where}: each line needs a non-empty text")
        yield Example(
            text=str(row["text"]),
            label=_label_from(row.get("label"), kind, where),
            tags=tuple(row.get("tags") or ()),
            name=str(row.get("name") or ""),
            email=str(row.get("email") or ""),
            url=str(row.get("url") or ""),
            source=str(path),
            groups=_json_groups(row.get("groups")),
        )


def _read_csv(path: Path, lines: Iterable[str], kind: str | None) -> tuple[str, Iterator[Example]]:
    reader = csv.DictReader(lines)
    columns = {c.strip().lower(): c for c in (reader.fieldnames or [])}
    if {"content", "class"} <= set(columns):
        content, klass = columns["content"], columns["class"]

        def youtube() -> Iterator[Example]:
            for n, row in enumerate(reader, 2):
                label = _label_from(row[klass], "spam", f"{path}:{n}")
                yield Example(row[content], label, name=row.get(columns.get("author", ""), "") or "",
                              source=str(path))  # fmt: skip

        return "youtube-spam-csv", youtube()
    if (
        set(JIGSAW_COLUMNS) <= set(columns)
        and "comment_text" in columns
        or (set(JIGSAW_COLUMNS) <= set(columns) and "text" in columns)
    ):
        text_col = columns.get("comment_text") or columns["text"]

        def jigsaw() -> Iterator[Example]:
            for row in reader:
                flags = {c: str(row[columns[c]]).strip() in {"1", "1.0", "true"} for c in JIGSAW_COLUMNS}
                tags = tuple(tag for col, tag in _JIGSAW_TAGS.items() if flags[col])
                label = "toxic" if any(flags.values()) else "ham"
                yield Example(row[text_col], label, tags, source=str(path),
                              label_columns=tuple((c, int(flags[c])) for c in JIGSAW_COLUMNS),
                              groups=_groups(row, columns))  # fmt: skip

        return "jigsaw-csv", jigsaw()
    if "target" in columns and ("comment_text" in columns or "text" in columns):
        text_col = columns.get("comment_text") or columns["text"]
        present = [c for c in BIAS_LABEL_COLUMNS if c in columns]

        def civil() -> Iterator[Example]:
            for row in reader:
                toxic = _truthy(row[columns["target"]])
                flags = [("toxicity", int(toxic))] + [(c, int(_truthy(row[columns[c]]))) for c in present]
                yield Example(row[text_col], "toxic" if toxic else "ham", source=str(path),
                              label_columns=tuple(flags), groups=_groups(row, columns))  # fmt: skip

        return "jigsaw-bias-csv", civil()
    if "text" in columns and "label" in columns:
        text_col, label_col = columns["text"], columns["label"]

        def plain() -> Iterator[Example]:
            for n, row in enumerate(reader, 2):
                yield Example(
                    row[text_col],
                    _label_from(row[label_col], kind, f"{path}:{n}"),
                    name=row.get(columns.get("name", ""), "") or "",
                    email=row.get(columns.get("email", ""), "") or "",
                    url=row.get(columns.get("url", ""), "") or "",
                    source=str(path),
                    groups=_groups(row, columns),
                )

        return "text-label-csv", plain()
    raise DatasetError(
        f"{path}: unrecognised CSV header {reader.fieldnames}; expected text,label or "
        "Jigsaw's six label columns, Jigsaw's comment_text,target or YouTube's CONTENT,CLASS"
    )


def _read_sms_tsv(path: Path, lines: Iterable[str]) -> Iterator[Example]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        label, sep, message = line.partition("\t")
        if not sep:
            raise DatasetError(f"{path}:{number}: expected 'ham<TAB>text' or 'spam<TAB>text'")
        yield Example(message, _label_from(label, "spam", f"{path}:{number}"), source=str(path))


def load(path: str | Path, kind: str | None = None) -> Dataset:
    """Read one data file, detecting its format: JSONL, CSV (plain, Jigsaw, YouTube) or SMS TSV."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None
    text = raw.decode("utf-8-sig", errors="replace")
    kind = kind or guess_kind(path)
    first_line = text.split("\n", 1)[0]
    fmt = _format(path, text.lstrip()[:1], first_line)
    if fmt == "jsonl":
        rows = _read_jsonl(path, text.splitlines(), kind)
    elif fmt == "sms-spam-tsv":
        rows = _read_sms_tsv(path, text.splitlines())
    else:
        fmt, rows = _read_csv(path, io.StringIO(text), kind)
    examples = [ex for ex in rows if ex.text and ex.text.strip()]
    if not examples:
        raise DatasetError(f"{path}: no examples")
    return Dataset(str(path), fmt, examples, hashlib.sha256(raw).hexdigest())


def _format(path: Path, first_char: str, first_line: str) -> str:
    """The format of a file from its suffix, its first non-blank character and its first line."""
    if path.suffix in {".jsonl", ".ndjson"} or first_char == "{":
        return "jsonl"
    if path.suffix == ".tsv" or (
        "\t" in first_line and first_line.split("\t", 1)[0].strip().lower() in {"ham", "spam"}
    ):
        return "sms-spam-tsv"
    return "csv"


STREAM_BLOCK = 1 << 20  # bytes read at a time when hashing or counting a file


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file, read a block at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(STREAM_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def count_lines(path: str | Path) -> int:
    """The lines of a file (its rows, give or take a header or quoted line breaks), read in blocks."""
    lines, last = 0, b"\n"
    with open(path, "rb") as handle:
        while block := handle.read(STREAM_BLOCK):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def stream(path: str | Path, kind: str | None = None) -> tuple[str, Iterator[Example]]:
    """Read one data file an example at a time (the formats of load), never holding the whole file.

    Returns the format's name and the examples; the file stays open while they are read.
    """
    path = Path(path)
    kind = kind or guess_kind(path)
    try:
        handle = open(path, encoding="utf-8-sig", errors="replace", newline="")  # noqa: SIM115
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None
    peek = handle.readline()
    while peek and not peek.strip():
        peek = handle.readline()
    handle.seek(0)  # the codec skips a byte-order mark again
    fmt = _format(path, peek.lstrip()[:1], peek)
    lines = (line.rstrip("\r\n") for line in handle) if fmt != "csv" else handle
    if fmt == "jsonl":
        rows = _read_jsonl(path, lines, kind)
    elif fmt == "sms-spam-tsv":
        rows = _read_sms_tsv(path, lines)
    else:
        fmt, rows = _read_csv(path, lines, kind)

    def examples() -> Iterator[Example]:
        with handle:
            yield from (ex for ex in rows if ex.text and ex.text.strip())

    return fmt, examples()


def corpus_files(corpus_dir: Path) -> list[Path]:
    return sorted(Path(corpus_dir).glob("*.jsonl"))


def load_corpus(corpus_dir: Path) -> list[Dataset]:
    """Read every JSONL file of the seed corpus."""
    files = corpus_files(corpus_dir)
    if not files:
        raise DatasetError(f"no *.jsonl files in {corpus_dir}")
    return [load(p) for p in files]


def deduplicate(examples: Iterable[Example], key) -> list[Example]:  # noqa: ANN001
    """Keep the last example for each key (later sources win), in first-seen order."""
    chosen: dict[str, Example] = {}
    for ex in examples:
        k = key(ex)
        chosen.pop(k, None)
        chosen[k] = ex
    return list(chosen.values())
