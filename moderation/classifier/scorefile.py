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
import multiprocessing
import os
from collections import deque
from contextlib import ExitStack
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


# Batches handed to the worker processes ahead of the one being written, per worker.
AHEAD_PER_WORKER = 2
_BUNDLES: dict[str, Any] = {}


def _score_batch(job: tuple[str, list[str]]) -> dict[str, list[float]]:
    """In a worker process: the spam and toxicity scores of a batch of texts, by the bundle in folder.

    Each worker loads the version once (its files checked against the manifest, as everywhere).
    """
    from moderation.classifier.bundle import ModelBundle

    folder, texts = job
    if folder not in _BUNDLES:
        _BUNDLES.clear()
        _BUNDLES[folder] = ModelBundle.load(Path(folder))
    scores = _BUNDLES[folder].score_many(texts)
    return {"spam": list(map(float, scores["spam"])), "toxicity": list(map(float, scores["toxicity"]))}


class ScoreInputError(ValueError):
    """The input cannot be scored as it is; the message names the row and line."""


@dataclass
class ScoreSummary:
    rows: int
    empty: int
    processes: int = 1  # the worker processes that scored, or 1 when this process did


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
    workers: int = 1,
) -> ScoreSummary:
    """Write input_path with spam, toxicity and flag columns to output_path, scoring in batches.

    scorer is a model bundle (its score_many and path). progress(rows, bytes read, file size) is
    called after each batch is written. Rows whose text is empty or only spaces are not scored:
    their flag is `empty_text` and their score cells are left empty. With workers > 1, batches are
    scored in that many processes (started when the first whole batch is read: a file smaller than
    one batch never starts them), at most AHEAD_PER_WORKER batches each ahead of the one being
    written; rows are written in the input's order, and memory stays bounded by the batches in
    flight.
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
            ExitStack() as stack,  # the worker pool, when one is started, ends with the file
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
            rows = empty = written = 0
            batch: list[list[str]] = []
            pending: deque[tuple[list[list[str]], Any]] = deque()
            pool = None
            ahead = AHEAD_PER_WORKER * workers if workers > 1 else 0

            def write(done: list[list[str]], scores: dict[str, Any]) -> None:
                nonlocal empty, written
                k = 0
                for r in done:
                    if r[position].strip():
                        r += [f"{scores['spam'][k]:.6f}", f"{scores['toxicity'][k]:.6f}", ""]
                        k += 1
                    else:
                        r += ["", "", EMPTY_FLAG]
                        empty += 1
                writer.writerows(done)
                written += len(done)
                progress(written, raw.tell(), size)

            def flush(final: bool = False) -> None:
                nonlocal batch, pool
                if batch:
                    texts = [r[position] for r in batch if r[position].strip()]
                    if workers > 1 and pool is None and not final:
                        pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(workers))
                    if not texts:
                        pending.append((batch, {"spam": [], "toxicity": []}))
                    elif pool is not None:
                        pending.append((batch, pool.apply_async(_score_batch, ((str(scorer.path), texts),))))
                    else:
                        pending.append((batch, scorer.score_many(texts)))
                    batch = []
                while pending and (final or len(pending) > ahead):
                    done, scores = pending.popleft()
                    write(done, scores if isinstance(scores, dict) else scores.get())

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
            flush(final=True)
            processes = workers if pool is not None else 1
        os.replace(tmp, output_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ScoreSummary(rows, empty, processes)
