"""Scoring a CSV file of any size: strict reading with errors that name the line, atomic output.

`moderation score` uses this. Every problem with the input (bytes that are not in the named
encoding, a cell over the size limit, a row with more or fewer fields than the header, a quote
that is never closed) stops with a ScoreInputError naming the row and line; the output file is
written under a temporary name and only renamed into place when every row was scored.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

OUTPUT_COLUMNS = ("spam", "toxicity", "flag")
EMPTY_FLAG = "empty_text"
MAX_CELL = 10 * 1024 * 1024
# A record longer than this many physical lines is an unclosed quote far more often than a comment.
MAX_ROW_LINES = 500
# Decoding errors become this lone surrogate, which no valid input can decode to, then are reported
# with the line they are on.
_MARK = "\ud800"
_HANDLER = "moderation-score-mark"


def _mark(exc: UnicodeError) -> tuple[str, int]:
    if isinstance(exc, UnicodeDecodeError):
        return _MARK, exc.end
    raise exc


codecs.register_error(_HANDLER, _mark)


class ScoreInputError(ValueError):
    """The input cannot be scored as it is; the message names the row and line."""


@dataclass
class ScoreSummary:
    rows: int
    empty: int


def _encoding(name: str) -> str:
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        raise ScoreInputError(f"unknown encoding {name!r}") from None
    return "utf-8-sig" if canonical == "utf-8" else canonical


def _explain(exc: csv.Error) -> str:
    message = str(exc)
    if "field larger than field limit" in message:
        return f"a cell is larger than {MAX_CELL // (1024 * 1024)} MiB (or a quote is left unclosed)"
    if "end of data" in message:
        return "a quoted cell is never closed (the quote runs to the end of the file)"
    if "expected after" in message:
        return f"{message}; is a quote left unclosed?"
    return message


def score_csv(
    scorer: Any,
    input_path: Path,
    output_path: Path,
    text_column: str = "text",
    encoding: str = "utf-8",
    batch_size: int = 2000,
    progress: Callable[[int, int, int], None] = lambda rows, done, size: None,
) -> ScoreSummary:
    """Write input_path with spam, toxicity and flag columns to output_path, scoring in batches.

    scorer is a model bundle (its score_many). progress(rows, bytes read, file size) is called
    after each batch. Rows whose text is empty or only spaces are not scored: their flag is
    `empty_text` and their score cells are left empty.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    codec = _encoding(encoding)
    csv.field_size_limit(MAX_CELL)
    size = os.path.getsize(input_path)
    tmp = output_path.with_name(f".{output_path.name}.{os.getpid()}.tmp")
    line = 0

    def lines(text: io.TextIOWrapper) -> Iterator[str]:
        nonlocal line
        for physical in text:
            line += 1
            if _MARK in physical:
                raise ScoreInputError(
                    f"line {line}: bytes that are not valid {encoding}; name the file's encoding "
                    "with --encoding (for example latin-1 or utf-16)"
                )
            yield physical

    try:
        with (
            open(input_path, "rb") as raw,
            io.TextIOWrapper(raw, encoding=codec, errors=_HANDLER, newline="") as text,
            open(tmp, "w", encoding="utf-8", newline="") as dst,
        ):
            reader = csv.reader(lines(text), strict=True)
            try:
                header = next(reader)
            except StopIteration:
                raise ScoreInputError("the file is empty (no header row)") from None
            except csv.Error as exc:
                raise ScoreInputError(f"line {line}: the header row is not valid CSV: {exc}") from None
            if text_column not in header:
                raise ScoreInputError(f"no {text_column!r} column: {header}")
            taken = [c for c in OUTPUT_COLUMNS if c in header]
            if taken:
                raise ScoreInputError(f"already has the output column(s) {taken}; rename them first")
            position = header.index(text_column)
            writer = csv.writer(dst)
            writer.writerow([*header, *OUTPUT_COLUMNS])
            rows = empty = 0
            batch: list[list[str]] = []

            def flush() -> None:
                nonlocal empty
                texts = [r[position] for r in batch if r[position].strip()]
                scores = scorer.score_many(texts) if texts else {"spam": [], "toxicity": []}
                k = 0
                for r in batch:
                    if r[position].strip():
                        r += [f"{scores['spam'][k]:.6f}", f"{scores['toxicity'][k]:.6f}", ""]
                        k += 1
                    else:
                        r += ["", "", EMPTY_FLAG]
                        empty += 1
                writer.writerows(batch)
                batch.clear()
                progress(rows, raw.tell(), size)

            while True:
                start = line + 1
                try:
                    record = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    raise ScoreInputError(f"row {rows + 1} (line {start}): {_explain(exc)}") from None
                if not record:  # a blank line
                    continue
                rows += 1
                if line - start + 1 > MAX_ROW_LINES:
                    raise ScoreInputError(
                        f"row {rows} (line {start}) runs over {line - start + 1} lines; "
                        "is a quote left unclosed?"
                    )
                if len(record) != len(header):
                    raise ScoreInputError(
                        f"row {rows} (line {start}): {len(record)} fields, the header has {len(header)}"
                    )
                batch.append(record)
                if len(batch) >= batch_size:
                    flush()
            if batch:
                flush()
        os.replace(tmp, output_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ScoreSummary(rows, empty)
