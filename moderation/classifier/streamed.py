"""Training at a large site's scale: bounded memory, time linear in the rows.

The in-memory recipe (train.fit) holds every example, its feature matrix and five calibration
fits of each head in memory: about 2 GB at 100,000 rows, and it grows faster than the rows. Above
``STREAMED_ROWS`` rows (or with ``moderation train --streamed``) training runs this recipe instead:

1. **Read** every source an example at a time (``datasets.stream``). Each text is normalized once;
   duplicates are dropped with a map from 8-byte hashes of the folded text to the first copy's
   label (the first copy wins: sources are read corpus first, then the --data files, then the
   database's labels, so a label never flips an earlier example; a duplicate whose label differs
   is counted as a contradiction), and the fixed held-out split (split.py) sends a fifth of
   near-duplicate keys to a held-out spool file. Of the rest, a slice chosen by the text's hash
   (``CALIBRATION_SHARE``, at most ``CALIBRATION_MAX`` rows) is held back for calibration; the
   others are spooled, with their augmented copies, to chunk files in random order, so every chunk
   is a random draw of the data. A bounded reservoir sample (``VOCABULARY_SAMPLE`` rows) of the
   fitting rows is kept.
2. **Vocabulary**: the feature pipeline (features.build_features, the same blocks, n-grams and
   caps as the in-memory recipe) is fitted on the reservoir sample: the vocabulary is the sample's
   most frequent n-grams and the IDF weights are the sample's.
3. **Fit**: each chunk is turned into features with the model-file scorer (fast.py, so the fitted
   columns are exactly the ones served), in ``workers`` processes, and spilled to a temporary
   file; one ``SGDClassifier(loss="log_loss")`` per head is fitted with ``partial_fit`` on the
   chunks over ``EPOCHS`` passes (chunks and rows shuffled each pass), with balanced class weights
   counted while reading and the in-memory recipe's regularization (alpha = 1 / (C x rows)).
4. **Calibrate**: a sigmoid per head on the held-back slice's decision values.
5. The model is written in the same data-only format, checked to reproduce itself when read back,
   and scored on the held-out spool a chunk at a time for the manifest's held-out metrics.

Nothing is held per row but the 8-byte hashes and their labels (and, with ``--from-db``, the
database's labels, which `train` reads and checks before streaming); every other structure is
bounded by the sample, the chunk size or the vocabulary caps.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import random
import shutil
import sys
import tempfile
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence, TextIO, TypeVar

import numpy as np
import scipy.sparse as sp

from moderation.classifier.augment import augment
from moderation.classifier.bundle import HEADS, ModelBundle
from moderation.classifier.datasets import LABELS, Dataset, Example, stream
from moderation.classifier.features import build_features, prepare
from moderation.classifier.heads import target
from moderation.classifier.modelfile import LinearModel, feature_blocks
from moderation.classifier.split import (
    HOLDOUT_SHARE,
    SPLIT_RULE,
    can_hold_out,
    is_held_out_key,
    near_duplicate_key_of_folded,
)
from moderation.pipeline.domain import PreparedRecord, Thresholds

# Above this many rows (the corpus's plus the lines of the --data files) `moderation train` streams.
STREAMED_ROWS = 100_000
CHUNK_ROWS = 20_000
READ_BATCH = 2_000  # rows per batch of the reading pass's worker jobs
IN_FLIGHT = 6  # batches handed to the workers ahead of the one being spooled
HELD_OUT_CHUNK_ROWS = 5_000
VOCABULARY_SAMPLE = 60_000
EPOCHS = 3
CALIBRATION_SHARE = 0.1
CALIBRATION_MAX = 50_000
MIN_HEAD_EXAMPLES = 5  # an attribute head needs this many positives and negatives to be fitted
LABEL_INDEX = {label: i for i, label in enumerate(LABELS)}

T = TypeVar("T")


def choose_streamed(rows: int, forced: bool | None, threshold: int = STREAMED_ROWS) -> bool:
    """Whether to train with this recipe: as forced (--streamed / --in-memory), else above threshold rows."""
    return forced if forced is not None else rows > threshold


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of at most size consecutive items, read lazily: one chunk is held at a time."""
    if size < 1:
        raise ValueError("chunk size must be positive")
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def text_digest(folded: str) -> int:
    """An 8-byte hash of a folded text: what duplicates are recognized by."""
    return int.from_bytes(hashlib.blake2b(folded.encode("utf-8"), digest_size=8).digest(), "little")


class Progress:
    """One status line on stderr (rewritten in place on a terminal), at most every `every` seconds."""

    def __init__(self, out: TextIO | None = None, every: float = 1.0) -> None:
        self.out = out if out is not None else sys.stderr
        self.every = every
        self.last = 0.0
        self.started = time.perf_counter()
        self.tty = bool(getattr(self.out, "isatty", lambda: False)())

    def update(self, message: str, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.last < self.every:
            return
        self.last = now
        line = f"[{now - self.started:7.1f} s] {message}"
        self.out.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        self.out.flush()

    def done(self, message: str) -> None:
        self.update(message, force=True)
        if self.tty:
            self.out.write("\n")
            self.out.flush()


@dataclass
class Source:
    """A data source for the streamed recipe: a file read as it goes, or examples already in memory."""

    path: str
    kind: str | None = None
    dataset: Dataset | None = None  # in memory (the corpus); else the file at path is streamed
    format: str = ""
    rows: int = 0
    labels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))

    def examples(self) -> Iterator[Example]:
        if self.dataset is not None:
            self.format = self.dataset.format
            yield from self.dataset.examples
            return
        self.format, rows = stream(self.path, self.kind)
        yield from rows

    def holdable(self) -> bool:
        return self.dataset is None or can_hold_out(self.dataset)


@dataclass
class Spooled:
    """What the reading pass leaves: spool files and the counts the fit and the manifest need."""

    folder: Path
    chunks: list[Path]
    calibration: Path
    held_out: list[Path]
    sample: list[PreparedRecord]
    rows_read: int = 0
    duplicates: int = 0
    contradictions: int = 0  # duplicates whose label differs from the first copy's (which stands)
    fitted: int = 0  # distinct fitting rows (augmented copies not counted)
    augmented: int = 0
    calibration_rows: int = 0
    held_out_rows: int = 0
    fitted_labels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    held_out_labels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    # Per head: (negatives, positives) among the rows fitted (augmented copies included) and calibrated on.
    fit_counts: dict[str, list[int]] = field(default_factory=dict)
    calibration_counts: dict[str, list[int]] = field(default_factory=dict)


def _count(counts: dict[str, list[int]], heads: Sequence[str], ex: Example) -> None:
    for head in heads:
        value = target(ex, head)
        if value is not None:
            counts.setdefault(head, [0, 0])[value] += 1


def _row(record: PreparedRecord, ex: Example) -> str:
    return json.dumps([record.folded, record.cleaned, ex.label, list(ex.tags)], ensure_ascii=False) + "\n"


def prepare_batch(job: tuple[int, int, float, list[tuple[str, str]]]) -> list[tuple[Any, ...]]:
    """The reading pass's per-row work (in worker processes): normalize, hash, split, augment.

    For each (text, label): the folded and cleaned text, the text's 8-byte hash, whether its
    near-duplicate key is held out, and for a spam or toxic row drawn for augmentation its disguised
    copy (text, folded, cleaned), else None. Seeded per batch: the same data gives the same rows.
    """
    seed, number, share, rows = job
    rng = random.Random(f"{seed}-{number}")
    out = []
    for text, label in rows:
        record = prepare(text)
        held = is_held_out_key(near_duplicate_key_of_folded(record.folded))
        disguised = None
        if label != "ham" and rng.random() < share:
            copy = augment(text, rng)
            prepared = prepare(copy)
            disguised = (copy, prepared.folded, prepared.cleaned)
        out.append((record.folded, record.cleaned, text_digest(record.folded), held, disguised))
    return out


def spool(
    sources: Sequence[Source],
    folder: Path,
    heads: Sequence[str],
    params: dict[str, Any],
    seed: int,
    expected_rows: int,
    progress: Progress,
    pool: Any = None,
) -> Spooled:
    """The reading pass (step 1 of the module's description)."""
    rng = random.Random(seed)
    n_chunks = max(1, math.ceil(expected_rows * (1 - HOLDOUT_SHARE) / CHUNK_ROWS))
    chunk_paths = [folder / f"fit-{i:05d}.jsonl" for i in range(n_chunks)]
    calibration_share = min(CALIBRATION_SHARE, CALIBRATION_MAX / max(expected_rows * (1 - HOLDOUT_SHARE), 1))
    calibration_cut = int(calibration_share * 2**32)
    seen: dict[int, int] = {}  # text hash -> the first copy's label (its index in LABELS)
    out = Spooled(folder, chunk_paths, folder / "calibration.jsonl", [], [])
    handles = [open(p, "w", encoding="utf-8") for p in chunk_paths]  # noqa: SIM115
    held = None
    sampled = 0

    def fit_row(record: PreparedRecord, ex: Example) -> None:
        nonlocal sampled
        handles[rng.randrange(n_chunks)].write(_row(record, ex))
        _count(out.fit_counts, heads, ex)
        sampled += 1  # reservoir sampling (Algorithm R) over every row fitted on
        if len(out.sample) < VOCABULARY_SAMPLE:
            out.sample.append(record)
        else:
            slot = rng.randrange(sampled)
            if slot < VOCABULARY_SAMPLE:
                out.sample[slot] = record

    def batches() -> Iterator[tuple[tuple[int, int, float, list[tuple[str, str]]], list[Example], bool]]:
        number = 0
        for source in sources:
            holdable = source.holdable()
            for examples in chunked(source.examples(), READ_BATCH):
                for ex in examples:
                    source.rows += 1
                    source.labels[ex.label] = source.labels.get(ex.label, 0) + 1
                number += 1
                yield (
                    (seed, number, params["augment"], [(ex.text, ex.label) for ex in examples]),
                    examples,
                    holdable,
                )

    try:
        with open(out.calibration, "w", encoding="utf-8") as calibration:
            for (examples, holdable), results in _bounded_map(pool, prepare_batch, batches()):
                for ex, (folded, cleaned, digest, held_key, disguised) in zip(examples, results, strict=True):
                    out.rows_read += 1
                    label = LABEL_INDEX.get(ex.label, -1)
                    first = seen.get(digest)
                    if first is not None:
                        out.duplicates += 1
                        out.contradictions += first != label
                        continue
                    seen[digest] = label
                    record = PreparedRecord(folded, cleaned, "", "", "")
                    if holdable and held_key:
                        if out.held_out_rows % HELD_OUT_CHUNK_ROWS == 0:  # a new file every so many rows
                            if held is not None:
                                held.close()
                            out.held_out.append(folder / f"held-{len(out.held_out):05d}.jsonl")
                            held = open(out.held_out[-1], "w", encoding="utf-8")  # noqa: SIM115
                        held.write(json.dumps([ex.text, ex.label, list(ex.tags)], ensure_ascii=False) + "\n")
                        out.held_out_rows += 1
                        out.held_out_labels[ex.label] += 1
                    elif digest >> 32 < calibration_cut:
                        calibration.write(_row(record, ex))
                        _count(out.calibration_counts, heads, ex)
                        out.calibration_rows += 1
                    else:
                        fit_row(record, ex)
                        out.fitted += 1
                        out.fitted_labels[ex.label] += 1
                        if disguised is not None:
                            copy = Example(disguised[0], ex.label, ex.tags, source="augmented")
                            fit_row(PreparedRecord(disguised[1], disguised[2], "", "", ""), copy)
                            out.augmented += 1
                progress.update(
                    f"read {out.rows_read:,} rows: {out.duplicates:,} duplicates, "
                    f"{out.fitted:,} to fit, {out.calibration_rows:,} to calibrate, "
                    f"{out.held_out_rows:,} held out"
                )
    finally:
        for handle in [*handles, *([held] if held is not None else [])]:
            handle.close()
    progress.done(
        f"read {out.rows_read:,} rows: {out.duplicates:,} duplicates "
        f"({out.contradictions:,} with another label than the first copy's), {out.fitted:,} to fit "
        f"(+{out.augmented:,} augmented), {out.calibration_rows:,} to calibrate, "
        f"{out.held_out_rows:,} held out"
    )
    return out


def _bounded_map(pool: Any, function: Callable[[Any], T], jobs: Iterable[tuple[Any, ...]]) -> Iterator[Any]:
    """For each (job, *context) of jobs: (context, function(job)), in order, with at most
    ``IN_FLIGHT`` jobs read ahead of the one returned (Pool.imap would read them all at once)."""
    if pool is None:
        for job, *context in jobs:
            yield tuple(context), function(job)
        return
    pending: deque[tuple[tuple[Any, ...], Any]] = deque()
    for job, *context in jobs:
        pending.append((tuple(context), pool.apply_async(function, (job,))))
        if len(pending) >= IN_FLIGHT:
            context_, result = pending.popleft()
            yield context_, result.get()
    while pending:
        context_, result = pending.popleft()
        yield context_, result.get()


# -- turning spooled rows into feature chunks (in worker processes) ---------------------------

_SCORERS: dict[str, Any] = {}


def _scorer(model_folder: str) -> Any:
    from moderation.classifier.fast import FastScorer

    if model_folder not in _SCORERS:
        _SCORERS.clear()
        _SCORERS[model_folder] = FastScorer(LinearModel.read(Path(model_folder)))
    return _SCORERS[model_folder]


def _read_rows(path: Path) -> list[list[Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def transform_chunk(job: tuple[str, str, str, tuple[str, ...]]) -> tuple[str, int]:
    """Features and targets of one spooled chunk, saved next to it; returns the file and its rows."""
    rows_path, model_folder, out_path, heads = job
    rows = _read_rows(Path(rows_path))
    matrix = _scorer(model_folder).matrix([PreparedRecord(r[0], r[1], "", "", "") for r in rows])
    targets = np.full((len(rows), len(heads)), -1, dtype=np.int8)
    for i, (_, _, label, tags) in enumerate(rows):
        ex = Example("", label, tuple(tags))
        for j, head in enumerate(heads):
            value = target(ex, head)
            if value is not None:
                targets[i, j] = value
    with open(out_path, "wb") as handle:
        np.savez(
            handle,
            data=matrix.data.astype(np.float32),
            indices=matrix.indices.astype(np.int32),
            indptr=matrix.indptr.astype(np.int64),
            shape=np.array(matrix.shape, dtype=np.int64),
            targets=targets,
        )
    return out_path, len(rows)


def load_chunk(path: str | Path) -> tuple[sp.csr_matrix, np.ndarray]:
    with np.load(path, allow_pickle=False) as arrays:
        matrix = sp.csr_matrix(
            (arrays["data"].astype(np.float64), arrays["indices"], arrays["indptr"]),
            shape=tuple(arrays["shape"]),
        )
        return matrix, arrays["targets"]


def _map(pool: Any, function: Callable[[Any], T], jobs: list[Any]) -> Iterator[T]:
    """function over jobs, in the worker processes when there is a pool; results in the jobs' order."""
    return iter(map(function, jobs)) if pool is None else pool.imap(function, jobs)


@contextmanager
def worker_pool(workers: int) -> Iterator[Any]:
    """A pool of worker processes, or None (work in this process) for one worker."""
    if workers <= 1:
        yield None
        return
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no copy of this process's memory
    with context.Pool(workers) as pool:
        yield pool


def _fit_block(job: tuple[Any, list[PreparedRecord]]) -> Any:
    """One feature block of build_features, fitted on the vocabulary sample."""
    transformer, sample = job
    return transformer.fit(sample)


def _sigmoid(decision: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt's sigmoid p = 1 / (1 + exp(a * decision + b)), as CalibratedClassifierCV fits it."""
    from sklearn.calibration import _SigmoidCalibration

    calibrator = _SigmoidCalibration().fit(decision, y)
    return float(calibrator.a_), float(calibrator.b_)


def _score_held_out(job: tuple[str, str]) -> tuple[list[list[Any]], dict[str, np.ndarray]]:
    """Scores of one held-out spool file as the service scores; returns its rows' labels and tags too."""
    folder, rows_path = job
    if folder not in _SCORERS:
        _SCORERS.clear()
        _SCORERS[folder] = ModelBundle(Path(folder).name, {}, LinearModel.read(Path(folder)), Path(folder))
    rows = _read_rows(Path(rows_path))
    scores = _SCORERS[folder].score_many([{"text": r[0]} for r in rows])
    return [r[1:] for r in rows], scores


def train_streamed(
    sources: Sequence[Source],
    model_dir: Path,
    seed: int = 13,
    params: dict[str, Any] | None = None,
    thresholds: Thresholds | None = None,
    make_current: bool | None = None,
    log: Callable[[str], None] = lambda msg: None,
    progress: Progress | None = None,
    expected_rows: int | None = None,
    workers: int = 2,
    epochs: int = EPOCHS,
    label_sources: dict[str, Any] | None = None,
) -> Path:
    """Train with the streamed recipe (module description); write and return a version folder.

    label_sources, when the database was read, is its provenance.LabelReport for the manifest.
    """
    from moderation.classifier.train import DEFAULT_PARAMS, model_heads

    params = {**DEFAULT_PARAMS, **(params or {})}
    thresholds = thresholds or Thresholds()
    progress = progress or Progress()
    started = time.perf_counter()
    heads = model_heads(params)
    if expected_rows is None:
        expected_rows = sum(len(s.dataset.examples) if s.dataset else CHUNK_ROWS for s in sources)
    temp = Path(tempfile.mkdtemp(prefix="moderation-train-"))
    try:
        with worker_pool(workers) as pool:
            return _train(sources, model_dir, seed, params, thresholds, make_current, log, progress,
                          expected_rows, pool, epochs, temp, heads, started, label_sources)  # fmt: skip
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _train(
    sources: Sequence[Source],
    model_dir: Path,
    seed: int,
    params: dict[str, Any],
    thresholds: Thresholds,
    make_current: bool | None,
    log: Callable[[str], None],
    progress: Progress,
    expected_rows: int,
    pool: Any,
    epochs: int,
    temp: Path,
    heads: tuple[str, ...],
    started: float,
    label_sources: dict[str, Any] | None,
) -> Path:
    from sklearn.linear_model import SGDClassifier

    from moderation.classifier.train import (
        _describe_data,
        _portable_path,
        finish_version,
        holdout_metrics,
        new_version_dir,
    )

    spooled = spool(sources, temp, heads, params, seed, expected_rows, progress, pool)
    for head in HEADS:
        negatives, positives = spooled.fit_counts.get(head, [0, 0])
        if not negatives or not positives:
            raise ValueError(f"training data has no positive and negative examples for {head}")
    fitted_heads = tuple(
        h
        for h in heads
        if h in HEADS
        or (
            min(spooled.fit_counts.get(h, [0, 0])) >= MIN_HEAD_EXAMPLES
            and min(spooled.calibration_counts.get(h, [0, 0])) >= 1
        )
    )
    for head in HEADS:
        if min(spooled.calibration_counts.get(head, [0, 0])) < 1:
            raise ValueError(f"the calibration slice has no positive and negative examples for {head}")
    log(
        f"{spooled.rows_read} rows read, {spooled.duplicates} duplicates "
        f"({spooled.contradictions} with another label than the first copy's, which stands); "
        f"{spooled.fitted} to fit (+{spooled.augmented} augmented), {spooled.calibration_rows} to calibrate, "
        f"{spooled.held_out_rows} held out by {SPLIT_RULE}"
    )

    # 2. Vocabulary and IDF from the reservoir sample.
    progress.done(f"choosing the vocabulary on a sample of {len(spooled.sample):,} rows")
    features = build_features(seed, params["mask_groups"], params["negation"], params["group_context"])
    union = features.named_steps["union"]
    # The n-gram blocks are fitted side by side in the workers (each on the whole sample).
    jobs = [(transformer, spooled.sample) for _, transformer in union.transformer_list]
    union.transformer_list = [
        (name, fitted)
        for (name, _), fitted in zip(union.transformer_list, _map(pool, _fit_block, jobs), strict=True)
    ]
    blocks = feature_blocks(features)
    spooled.sample.clear()
    del features
    width = sum(b.width for b in blocks)
    vocabulary_folder = temp / "vocabulary"
    vocabulary_folder.mkdir()
    zeros = len(fitted_heads)
    LinearModel(
        fitted_heads, tuple(blocks), np.zeros((width, zeros)), np.zeros(zeros), np.zeros((zeros, 2))
    ).write(vocabulary_folder)

    # 3. Features per chunk (in workers), the first pass of SGD as they arrive, then the others.
    total = spooled.fitted + spooled.augmented
    alpha = 1.0 / (params["C"] * max(total, 1))
    classifiers = {}
    for head in fitted_heads:
        negatives, positives = spooled.fit_counts[head]
        n = negatives + positives
        classifiers[head] = SGDClassifier(
            loss="log_loss",
            alpha=alpha,
            class_weight={0: n / (2 * negatives), 1: n / (2 * positives)},
            random_state=seed,
        )
    shuffle = np.random.default_rng(seed)

    def fit_chunk(path: str) -> int:
        matrix, targets = load_chunk(path)
        order = shuffle.permutation(matrix.shape[0])
        matrix, targets = matrix[order], targets[order]
        for j, head in enumerate(fitted_heads):
            known = targets[:, j] >= 0
            if known.any():
                classifiers[head].partial_fit(matrix[known], targets[known, j], classes=np.array([0, 1]))
        return matrix.shape[0]

    jobs = [
        (str(p), str(vocabulary_folder), str(p.with_suffix(".npz")), fitted_heads)
        for p in spooled.chunks
        if p.stat().st_size
    ]
    calibration_job = (
        str(spooled.calibration),
        str(vocabulary_folder),
        str(spooled.calibration.with_suffix(".npz")),
        fitted_heads,
    )
    done_rows = 0
    feature_files: list[str] = []
    for path, _rows in _map(pool, transform_chunk, [*jobs, calibration_job]):
        if path == calibration_job[2]:
            continue
        feature_files.append(path)
        done_rows += fit_chunk(path)
        Path(path).with_suffix(".jsonl").unlink()
        progress.update(f"epoch 1/{epochs}: {done_rows:,} of {total:,} rows turned into features and fitted")
    progress.done(f"epoch 1/{epochs}: {done_rows:,} rows fitted ({len(feature_files)} chunks)")
    for epoch in range(2, epochs + 1):
        done_rows = 0
        for path in shuffle.permutation(sorted(feature_files)):
            done_rows += fit_chunk(str(path))
            progress.update(f"epoch {epoch}/{epochs}: {done_rows:,} of {total:,} rows fitted")
        progress.done(f"epoch {epoch}/{epochs}: {done_rows:,} rows fitted")

    # 4. A sigmoid per head on the held-back slice.
    matrix, targets = load_chunk(calibration_job[2])
    weights = np.column_stack([classifiers[h].coef_.ravel() for h in fitted_heads])
    intercepts = np.array([float(classifiers[h].intercept_[0]) for h in fitted_heads])
    decision = matrix @ weights + intercepts
    sigmoids = []
    for j, _head in enumerate(fitted_heads):
        known = targets[:, j] >= 0
        sigmoids.append(_sigmoid(decision[known, j], targets[known, j]))
    model = LinearModel(fitted_heads, tuple(blocks), weights, intercepts, np.array(sigmoids))
    model.validate()
    progress.done(f"calibrated on {matrix.shape[0]:,} held-back rows")

    # 5. Write, check, and score the held-out rows.
    now = datetime.now(UTC)
    out = new_version_dir(model_dir, now)
    hashes = model.write(out)
    bundle_model = LinearModel.read(out)
    _check_reproduces(model, bundle_model, spooled.calibration, vocabulary_folder)
    metrics = _held_out_metrics(out, bundle_model, spooled, thresholds, pool, progress, holdout_metrics)
    log(f"held-out: {json.dumps(metrics)}")
    recipe = {
        "name": "streamed",
        "chunk_rows": CHUNK_ROWS,
        "vocabulary_sample": VOCABULARY_SAMPLE,
        "epochs": epochs,
        "classifier": "SGDClassifier(loss=log_loss), balanced class weights",
        "alpha": alpha,
        "calibration": "sigmoid on a held-back slice",
        "calibration_rows": spooled.calibration_rows,
        "duplicates": "first copy kept",
    }
    data = [
        {**_describe_data(source.dataset, model_dir, out), "rows": source.rows, "labels": dict(source.labels)}
        if source.dataset is not None and source.dataset.path.startswith("database:")
        else {
            "path": source.path
            if source.dataset is not None and not source.dataset.sha256
            else _portable_path(source.path, model_dir),
            "format": source.format,
            "rows": source.rows,
            "labels": dict(source.labels),
            "sha256": source.dataset.sha256 if source.dataset is not None else _file_sha(source.path),
        }
        for source in sources
    ]
    split = {
        "rule": SPLIT_RULE,
        "held_out_share": HOLDOUT_SHARE,
        "fitted": spooled.fitted,
        "held_out": spooled.held_out_rows,
        "held_out_labels": spooled.held_out_labels,
        "fitted_labels": spooled.fitted_labels,
        "calibration": spooled.calibration_rows,
        "duplicates": spooled.duplicates,
        "contradicting_duplicates": spooled.contradictions,
    }
    return finish_version(
        out,
        now,
        model_dir,
        bundle_model,
        hashes,
        seed=seed,
        params=params,
        recipe=recipe,
        data=data,
        examples={
            "distinct": spooled.fitted + spooled.calibration_rows + spooled.held_out_rows,
            "fitted": spooled.fitted,
            "held_out": spooled.held_out_rows,
        },
        split=split,
        sources=label_sources,
        thresholds=thresholds,
        metrics=metrics,
        started=started,
        make_current=make_current,
        log=log,
    )


def _file_sha(path: str) -> str:
    from moderation.classifier.datasets import file_sha256

    return file_sha256(path)


def _check_reproduces(
    model: LinearModel, read: LinearModel, rows_path: Path, vocabulary_folder: Path
) -> None:
    """Refuse to finish a model whose files, read back, do not score like the fitted weights."""
    from moderation.classifier.fast import FastScorer
    from moderation.classifier.train import REPRODUCE_SAMPLE, check_saved_scores

    rows = _read_rows(rows_path)
    step = max(1, len(rows) // REPRODUCE_SAMPLE)
    sample = [PreparedRecord(r[0], r[1], "", "", "") for r in rows[::step]]
    matrix = FastScorer(LinearModel.read(vocabulary_folder)).matrix(sample)
    decision = matrix @ model.weights + model.intercepts
    expected = {
        head: 1.0 / (1.0 + np.exp(a * decision[:, j] + b))
        for j, (head, (a, b)) in enumerate(zip(model.heads, model.sigmoids, strict=True))
    }
    check_saved_scores(read, sample, expected)


def _held_out_metrics(
    out: Path,
    model: LinearModel,
    spooled: Spooled,
    thresholds: Thresholds,
    pool: Any,
    progress: Progress,
    holdout_metrics: Callable[..., dict[str, Any]],
) -> dict[str, Any]:
    """Score the held-out spool as the service scores (clause scores included), a chunk at a time."""
    scores: dict[str, list[np.ndarray]] = {h: [] for h in model.heads}
    targets: dict[str, list[int]] = {h: [] for h in model.heads}
    done = 0
    for labels, chunk_scores in _map(pool, _score_held_out, [(str(out), str(p)) for p in spooled.held_out]):
        for head in model.heads:
            values = [target(Example("", label, tuple(tags)), head) for label, tags in labels]
            known = np.array([v is not None for v in values], dtype=bool)
            scores[head].append(chunk_scores[head][known])
            targets[head] += [v for v in values if v is not None]
        done += len(labels)
        progress.update(f"held-out: {done:,} of {spooled.held_out_rows:,} rows scored")
    progress.done(f"held-out: {done:,} rows scored")
    metrics = {}
    if not done:
        return metrics
    for head in model.heads:
        hold, reject = thresholds.for_head(head)
        y = np.array(targets[head], dtype=int)
        p = np.concatenate(scores[head]) if scores[head] else np.empty(0)
        metrics[head] = holdout_metrics(y, p, hold, reject)
    return metrics
