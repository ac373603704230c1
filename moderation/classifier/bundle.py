"""Model bundles on disk: data-only model files plus a manifest that vouches for them.

A version folder holds ``model.json`` and ``model.npz`` (see ``modelfile.py``: vocabularies, IDF,
weights and calibration, no code) and ``manifest.json`` with each file's sha256. Loading checks
every hash first, then reads the files as data; nothing in them can run code.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from moderation.classifier.features import (
    GROUP_PLACEHOLDER,
    PreparedRecord,
    Record,
    clause_parts,
    listed_words,
    prepare,
)
from moderation.classifier.modelfile import (
    LEGACY_FILE,
    MODEL_FILES,
    LinearModel,
    ModelFormatError,
)

log = logging.getLogger(__name__)

HEADS = ("spam", "toxicity")  # the heads that decide; a model may hold attribute heads too
# Every other head is scored as the highest of the comment and its clauses (ModelBundle.score_many):
# spam is a property of the whole message, abuse of any part of it.
WHOLE_ONLY_HEADS = frozenset({"spam"})
MANIFEST_FILE = "manifest.json"
POINTER_FILE = "CURRENT"
# The candidate version every worker also scores new comments with (`moderation shadow start`):
# its name on the first line and when the shadow started on the second. Never acted upon.
SHADOW_FILE = "SHADOW"
# Thresholds chosen by `moderation tune --apply` for one version, beside (never inside) its hashed
# files; the watcher of every worker notices it changing, as it notices CURRENT.
TUNED_FILE = "thresholds.json"
TUNED_HEADS = ("spam", "toxicity")
# Bundles loaded by this process, by folder and the state of its files (see _files_state): loading
# the same unchanged files again (another app in the same process, a test's) reuses the bundle
# instead of hashing and reading them again. Small: a process serves one version at a time.
_LOADED: dict[tuple[Any, ...], ModelBundle] = {}
_LOADED_MAX = 4
_LOADED_LOCK = threading.Lock()


def head_scores(pipeline: Any, matrix: Any) -> np.ndarray:
    """Probabilities of one fitted scikit-learn head from the shared feature matrix (training only)."""
    for _, step in pipeline.steps[1:-1]:
        matrix = step.transform(matrix)
    return pipeline.steps[-1][1].predict_proba(matrix)[:, 1]


class ModelError(RuntimeError):
    """A model bundle is missing, damaged, untrusted or in a format this code does not read."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def versions_dir(model_dir: Path) -> Path:
    return Path(model_dir) / "versions"


def current_version(model_dir: Path) -> str | None:
    """Return the version the pointer file names, or None when no model is current."""
    pointer = Path(model_dir) / POINTER_FILE
    try:
        value = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return value or None


def set_current_version(model_dir: Path, version: str) -> None:
    """Point at version atomically: readers see the old or the new name, never half of one."""
    pointer = Path(model_dir) / POINTER_FILE
    tmp = pointer.with_name(f".{POINTER_FILE}.{os.getpid()}.tmp")
    tmp.write_text(version + "\n", encoding="utf-8")
    os.replace(tmp, pointer)


def read_shadow(model_dir: Path) -> tuple[str, str | None] | None:
    """The shadow pointer as (version, started ISO time or None), or None when no shadow runs."""
    try:
        lines = (Path(model_dir) / SHADOW_FILE).read_text(encoding="utf-8").split("\n")
    except FileNotFoundError:
        return None
    version = lines[0].strip()
    if not version:
        return None
    started = lines[1].strip() if len(lines) > 1 and lines[1].strip() else None
    return version, started


def shadow_version(model_dir: Path) -> str | None:
    """The version the shadow pointer names, or None when no shadow runs."""
    found = read_shadow(model_dir)
    return found[0] if found else None


def set_shadow(model_dir: Path, version: str, started: str) -> None:
    """Start shadowing version, atomically as set_current_version does; started is an ISO time."""
    pointer = Path(model_dir) / SHADOW_FILE
    tmp = pointer.with_name(f".{SHADOW_FILE}.{os.getpid()}.tmp")
    tmp.write_text(f"{version}\n{started}\n", encoding="utf-8")
    os.replace(tmp, pointer)


def clear_shadow(model_dir: Path) -> str | None:
    """Stop the shadow; return the version it named (None if none ran)."""
    version = shadow_version(model_dir)
    (Path(model_dir) / SHADOW_FILE).unlink(missing_ok=True)
    return version


def verify_files(path: Path, manifest: dict[str, Any]) -> None:
    """Check that every model file exists and matches the sha256 its manifest gives."""
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise ModelError(f"model manifest {path / MANIFEST_FILE} lists no files")
    missing = [name for name in MODEL_FILES if name not in files]
    if missing:
        if LEGACY_FILE in files or (path / LEGACY_FILE).exists():
            raise ModelError(
                f"model {path} is in the old pickle format ({LEGACY_FILE}), which can run code when "
                "loaded; it is not loaded: retrain with `moderation train`"
            )
        raise ModelError(f"model manifest {path / MANIFEST_FILE} does not list {', '.join(missing)}")
    for name in MODEL_FILES:
        file = path / name
        if not file.is_file():
            raise ModelError(f"model file not found: {file}")
        entry = files.get(name)
        expected = entry.get("sha256") if isinstance(entry, dict) else None
        actual = sha256_file(file)
        if not expected or actual != expected:
            raise ModelError(
                f"model file {file} does not match its manifest "
                f"(sha256 {actual}, manifest says {expected}); refusing to load it"
            )


def tuned_state(path: Path) -> tuple[int, int, int] | None:
    """What identifies the version's thresholds file as written (inode, mtime, size); None if absent.

    `tune --apply` replaces the file by renaming a new one over it, so the inode changes even when
    the clock does not.
    """
    try:
        st = (Path(path) / TUNED_FILE).stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _files_state(path: Path) -> tuple[Any, ...] | None:
    """What identifies a version folder's files as written: each one's device, inode, size, mtime and
    ctime (a write or a rename changes one of them; ctime cannot be set back), None if one is missing."""
    states = []
    for name in (MANIFEST_FILE, *MODEL_FILES, TUNED_FILE):
        try:
            st = (path / name).stat()
        except FileNotFoundError:
            if name == TUNED_FILE:
                states.append(None)
                continue
            return None
        states.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return (str(path.resolve()), *states)


def validate_tuned(thresholds: Any) -> dict[str, dict[str, float]]:
    """Check the "thresholds" of a thresholds file and return them; raise ValueError if unusable."""
    if not isinstance(thresholds, dict):
        raise ValueError("no thresholds mapping")
    out: dict[str, dict[str, float]] = {}
    for head, values in thresholds.items():
        if head not in TUNED_HEADS or not isinstance(values, dict):
            raise ValueError(f"unknown head or malformed entry {head!r}")
        cuts: dict[str, float] = {}
        for which, value in values.items():
            if which not in ("hold", "reject"):
                raise ValueError(f"{head}: unknown threshold {which!r}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{head}.{which}: {value!r} is not a number between 0 and 1")
            cuts[which] = float(value)
        if "hold" in cuts and "reject" in cuts and cuts["hold"] > cuts["reject"]:
            raise ValueError(f"{head}: hold {cuts['hold']} is above reject {cuts['reject']}")
        out[head] = cuts
    return out


def read_tuned(path: Path) -> dict[str, Any] | None:
    """The version's thresholds file (`tune --apply`), or None without one; ModelError if unusable."""
    file = Path(path) / TUNED_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ModelError(f"thresholds file unreadable: {file}: {exc}") from None
    try:
        thresholds = validate_tuned(data.get("thresholds") if isinstance(data, dict) else None)
    except ValueError as exc:
        raise ModelError(f"thresholds file {file} is not usable: {exc}") from None
    return {**data, "thresholds": thresholds}


@dataclass
class ModelBundle:
    """The verified model of one version, ready to score, its manifest and any tuned thresholds."""

    version: str
    manifest: dict[str, Any]
    model: LinearModel
    path: Path
    feature_names: np.ndarray = field(init=False, repr=False)
    # The version's thresholds.json as read (None without one) and the file state it was read at.
    tuned: dict[str, Any] | None = field(default=None, repr=False)
    tuned_state: tuple[int, int, int] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        from moderation.classifier.fast import FastScorer
        from moderation.pipeline.domain import ATTRIBUTE_HEADS

        heads = tuple(self.model.heads)
        if heads[: len(HEADS)] != HEADS or not set(heads[len(HEADS) :]) <= set(ATTRIBUTE_HEADS):
            names = ", ".join(heads)
            raise ModelError(
                f"model {self.path} has the heads {names}, not {', '.join(HEADS)} and known attributes"
            )
        self.heads = heads
        self.fast = FastScorer(self.model)
        self.feature_names = self.model.feature_names()

    @classmethod
    def load(cls, path: Path) -> ModelBundle:
        """Load the bundle in path after checking every model file against its manifest's hash.

        The same files, unchanged since this process loaded them, give the same bundle back.
        """
        path = Path(path)
        state = _files_state(path)
        if state is not None:
            with _LOADED_LOCK:
                cached = _LOADED.get(state)
            if cached is not None and cached.path == path:
                return cached
        bundle = cls._read(path)
        if state is not None and state == _files_state(path):
            with _LOADED_LOCK:
                _LOADED.pop(state, None)
                _LOADED[state] = bundle
                while len(_LOADED) > _LOADED_MAX:
                    _LOADED.pop(next(iter(_LOADED)))
        return bundle

    @classmethod
    def _read(cls, path: Path) -> ModelBundle:
        manifest_path = path / MANIFEST_FILE
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"model manifest not found: {manifest_path}") from None
        except (OSError, ValueError) as exc:
            raise ModelError(f"model manifest unreadable: {manifest_path}: {exc}") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("version"), str):
            raise ModelError(f"model manifest {manifest_path} names no version")
        verify_files(path, manifest)
        try:
            model = LinearModel.read(path)
        except ModelFormatError as exc:
            raise ModelError(f"model {path} cannot be used: {exc}") from None
        state = tuned_state(path)
        return cls(manifest["version"], manifest, model, path, tuned=read_tuned(path), tuned_state=state)

    @classmethod
    def load_current(cls, model_dir: Path) -> ModelBundle:
        """Load the version the pointer names."""
        version = current_version(model_dir)
        if version is None:
            raise ModelError(
                f"no current model in {model_dir} (no {POINTER_FILE} file); run `moderation train`"
            )
        return cls.load(versions_dir(model_dir) / version)

    @property
    def thresholds(self) -> dict[str, Any]:
        """The thresholds the version was trained with (its manifest's)."""
        return self.manifest.get("thresholds", {})

    @property
    def tuned_thresholds(self) -> dict[str, dict[str, float]]:
        """The thresholds `tune --apply` chose for this version (empty without a thresholds file)."""
        return (self.tuned or {}).get("thresholds", {})

    def with_tuned(self, tuned: dict[str, Any] | None, state: tuple[int, int, int] | None) -> ModelBundle:
        """The same loaded model with other tuned thresholds: a new object, so caches keyed on the
        bundle notice, sharing the scorer (nothing is loaded or verified again)."""
        other = copy.copy(self)
        other.tuned = tuned
        other.tuned_state = state
        return other

    def score_many(self, records: Sequence[Record]) -> dict[str, np.ndarray]:
        """Score many records at once: one sparse matrix, one product per head.

        Every head but spam keeps the highest score of the whole comment and of its clauses that
        are scored on their own (``features.clause_parts``): a second batch, reduced per comment.
        """
        prepared = [r if isinstance(r, PreparedRecord) else prepare(r) for r in records]
        scores = self.fast.score_many(prepared)
        parts, owners = [], []
        for i, record in enumerate(prepared):
            for part in clause_parts(record):
                parts.append(part)
                owners.append(i)
        if parts:
            by_part = self.fast.score_many(parts)
            rows = np.array(owners)
            for head, values in scores.items():
                if head not in WHOLE_ONLY_HEADS:
                    np.maximum.at(values, rows, by_part[head])
        return scores

    def analyze(self, record: Record) -> Analysis:
        """Score one record on the fast path, keeping its features for an explanation.

        As in score_many, every head but spam takes its clauses' scores into account; a head's
        explanation then comes from the clause that scored highest.
        """
        prepared = record if isinstance(record, PreparedRecord) else prepare(record)
        columns, values = self.fast.features(prepared)
        scores = self.fast.probabilities(columns, values)
        analysis = Analysis(self, columns, values, scores, folded=prepared.folded)
        for part in clause_parts(prepared):
            part_columns, part_values = self.fast.features(part)
            for head, score in self.fast.probabilities(part_columns, part_values).items():
                if head not in WHOLE_ONLY_HEADS and score > analysis.scores[head]:
                    analysis.scores[head] = score
                    analysis.evidence[head] = (part_columns, part_values)
        return analysis

    def score(self, record: Record) -> dict[str, float]:
        """Score one record on the fast path: the probability of each head."""
        return self.analyze(record).scores

    def explain(self, record: Record, top: int = 8) -> dict[str, list[dict[str, Any]]]:
        """Return, per head, the features that pushed the score up the most."""
        return self.analyze(record).explain(top)


@dataclass
class Analysis:
    """One record's scores and the features behind them."""

    bundle: ModelBundle
    columns: np.ndarray
    values: np.ndarray
    scores: dict[str, float]
    # Per head, the features of the clause that gave its score when that was not the whole comment.
    evidence: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    folded: str = ""  # the comment's folded text: where the words behind a word-list feature are

    def explain(self, top: int = 8) -> dict[str, list[dict[str, Any]]]:
        """Return, per head, the features that pushed the score up the most."""
        names = self.bundle.feature_names
        result: dict[str, list[dict[str, Any]]] = {}
        for i, head in enumerate(HEADS):
            columns, values = self.evidence.get(head, (self.columns, self.values))
            contributions = values * self.bundle.fast.weights[columns, i]
            order = np.argsort(-contributions, kind="stable")[:top]
            terms = []
            for j in order:
                if contributions[j] <= 0:
                    break
                kind, _, term = str(names[columns[j]]).partition("__")
                term = term.replace(GROUP_PLACEHOLDER, "<group name>")
                weight = round(float(contributions[j]), 4)
                terms.append({"term": term, "kind": kind, "weight": weight})
                if kind == "structure":
                    # A count of our lists' words: name the words too, with the count's weight.
                    terms.extend(
                        {"term": word, "kind": "listed", "weight": weight, "feature": term}
                        for word in listed_words(self.folded, term.removeprefix("structure:"))
                    )
            result[head] = terms
        return result


@dataclass(frozen=True)
class ModelStatus:
    """What a worker serves against what the pointer names, for /readyz and the logs."""

    serving: str | None  # the version requests are scored with
    current: str | None  # the version CURRENT names now
    state: str  # "serving" (they agree), "loading" (the new one loads meanwhile) or "refused"
    error: str | None = None

    @property
    def consistent(self) -> bool:
        return self.serving is not None and self.serving == self.current

    def as_dict(self) -> dict[str, Any]:
        """Versions and state only: the reason for a refusal names server paths and goes to the log."""
        return {"serving": self.serving, "current": self.current, "state": self.state}


class ModelHolder:
    """The bundle a process serves, following the pointer file from a background thread.

    A watcher thread checks CURRENT every ``check_interval`` seconds; when it names another
    version, the thread loads and verifies it while requests keep being scored with the bundle in
    hand, then swaps it in. A version that fails its checks is refused: the process keeps what it
    serves (every worker refuses the same file, so they stay on one version) and retries the same
    pointer every ``retry_interval`` seconds in case the file is repaired in place.
    """

    def __init__(
        self,
        model_dir: Path,
        check_interval: float = 2.0,
        retry_interval: float = 30.0,
        on_switch: Callable[[str, str | None], None] | None = None,
        watch: bool = True,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.check_interval = check_interval
        self.retry_interval = retry_interval
        self.on_switch = on_switch
        self.watch = watch  # False: nothing follows the pointer unless refresh() is called
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._bundle: ModelBundle | None = None
        self._pointer_seen: tuple[float, str | None] | None = None
        self._loading: str | None = None
        self._refused: str | None = None
        self._retry_at = 0.0
        self._tuned_refused: tuple[int, int, int] | None = None
        self._watcher_pid: int | None = None
        self._wake = threading.Event()
        self.last_error: str | None = None
        # The shadow candidate (SHADOW file), followed like CURRENT but on its own: its failures are
        # logged and never touch the bundle that decides.
        self._shadow: ModelBundle | None = None
        self._shadow_seen: tuple[float, str | None] | None = None
        self._shadow_refused: str | None = None
        self._shadow_retry_at = 0.0
        self._shadow_tuned_refused: tuple[int, int, int] | None = None
        self.shadow_error: str | None = None

    def load(self) -> ModelBundle:
        """Load the current bundle now, raising ModelError when it cannot be used (at start-up)."""
        state = self._pointer_state()
        bundle = ModelBundle.load_current(self.model_dir)
        self._install(bundle, state)
        return bundle

    def _pointer_state(self) -> tuple[float, str | None]:
        pointer = self.model_dir / POINTER_FILE
        try:
            mtime = pointer.stat().st_mtime_ns / 1e9
        except FileNotFoundError:
            mtime = 0.0
        return mtime, current_version(self.model_dir)

    def get(self) -> ModelBundle:
        """Return the bundle to score with now; never waits for a new version to load."""
        if self.watch and self._watcher_pid != os.getpid():
            self.start_watching()
        bundle = self._bundle
        if bundle is None:
            raise ModelError(self.last_error or "no model loaded")
        return bundle

    def shadow(self) -> ModelBundle | None:
        """The candidate to score beside the live model now, or None (no shadow, or it is refused)."""
        if self.watch and self._watcher_pid != os.getpid():
            self.start_watching()
        return self._shadow

    def start_watching(self) -> None:
        """Start this process's watcher thread (gunicorn's post_fork hook calls it in each worker)."""
        with self._start_lock:
            if self._watcher_pid == os.getpid():
                return
            self._wake = threading.Event()
            thread = threading.Thread(
                target=_watch, args=(weakref.ref(self), self._wake), name="model-watcher", daemon=True
            )
            thread.start()
            self._watcher_pid = os.getpid()

    def wake(self) -> None:
        """Ask the watcher to look at the pointer now rather than at its next tick."""
        self._wake.set()

    def refresh(self) -> ModelStatus:
        """Look at the pointer and, if it names another version, load it here and now.

        The watcher thread calls this; so does gunicorn's master before it forks a worker, so a
        new worker starts on the version the others serve rather than the one loaded at start-up.
        """
        try:
            self._refresh_tuned()
        except Exception:  # noqa: BLE001 - a thresholds file must never keep a version switch from happening
            log.exception("model watcher: checking the thresholds file failed")
        try:
            return self._refresh_live()
        finally:
            try:
                self.refresh_shadow()
            except Exception:  # noqa: BLE001 - the shadow must never keep the live model from switching
                log.exception("model watcher: checking the shadow pointer failed")

    def _refresh_live(self) -> ModelStatus:
        state = self._pointer_state()
        version = state[1]
        with self._lock:
            served = self._bundle.version if self._bundle else None
            retry = self._refused is not None and time.monotonic() >= self._retry_at
            if (state == self._pointer_seen and not retry) or self._loading:
                return self.status()
            if version is None or version == served:
                # No pointer (keep serving what we have) or the pointer names what we serve.
                self._pointer_seen = state
                self._refused = None
                self.last_error = None if version else f"no {POINTER_FILE} file in {self.model_dir}"
                return self.status()
            self._loading = version
        try:
            bundle = ModelBundle.load(versions_dir(self.model_dir) / version)
        except ModelError as exc:
            with self._lock:
                self._loading = None
                self._pointer_seen = state
                self._refused = version
                self._retry_at = time.monotonic() + self.retry_interval
                self.last_error = str(exc)
            log.error("model %s refused, still serving %s: %s", version, served, exc)
            return self.status()
        except BaseException:
            with self._lock:
                self._loading = None
            raise
        self._install(bundle, state)
        return self.status()

    def refresh_shadow(self) -> ModelBundle | None:
        """Follow the SHADOW pointer: load (and verify) the version it names, drop it when removed.

        A version failing its checks is refused and logged, and retried every ``retry_interval``
        seconds as a refused CURRENT is; the shadow's own thresholds file is followed too.
        """
        pointer = self.model_dir / SHADOW_FILE
        try:
            mtime = pointer.stat().st_mtime_ns / 1e9
        except FileNotFoundError:
            mtime = 0.0
        state = (mtime, shadow_version(self.model_dir))
        version = state[1]
        retry = self._shadow_refused is not None and time.monotonic() >= self._shadow_retry_at
        if state == self._shadow_seen and not retry:
            self._refresh_shadow_tuned()
            return self._shadow
        if version is None:
            if self._shadow is not None:
                log.info("shadow model %s stopped", self._shadow.version)
            self._shadow, self._shadow_seen, self._shadow_refused, self.shadow_error = None, state, None, None
            return None
        if self._shadow is not None and self._shadow.version == version:
            self._shadow_seen = state
            self._refresh_shadow_tuned()
            return self._shadow
        try:
            bundle = ModelBundle.load(versions_dir(self.model_dir) / version)
        except ModelError as exc:
            self._shadow = None
            self._shadow_seen = state
            self._shadow_refused = version
            self._shadow_retry_at = time.monotonic() + self.retry_interval
            self.shadow_error = str(exc)
            log.error("shadow model %s refused, nothing is shadow-scored: %s", version, exc)
            return None
        self._shadow, self._shadow_seen, self._shadow_refused, self.shadow_error = bundle, state, None, None
        log.info("shadow model %s loaded", version)
        return bundle

    def _refresh_shadow_tuned(self) -> None:
        """Swap in the shadow version's thresholds file when it changed; keep the old on a bad one."""
        bundle = self._shadow
        if bundle is None:
            return
        state = tuned_state(bundle.path)
        if state == bundle.tuned_state or state == self._shadow_tuned_refused:
            return
        try:
            tuned = read_tuned(bundle.path)
        except ModelError as exc:
            self._shadow_tuned_refused = state
            log.error("shadow model %s: thresholds file refused: %s", bundle.version, exc)
            return
        self._shadow = bundle.with_tuned(tuned, state)
        self._shadow_tuned_refused = None

    def _refresh_tuned(self) -> None:
        """Swap in the served version's thresholds file when it changed (written, replaced, removed).

        An unusable file is logged once per state and the thresholds in force stay: every worker
        reads the same file, so they all keep the same thresholds.
        """
        bundle = self._bundle
        if bundle is None:
            return
        state = tuned_state(bundle.path)
        if state == bundle.tuned_state or state == self._tuned_refused:
            return
        try:
            tuned = read_tuned(bundle.path)
        except ModelError as exc:
            self._tuned_refused = state
            log.error(
                "model %s: thresholds file refused, keeping the thresholds in force: %s", bundle.version, exc
            )
            return
        with self._lock:
            if self._bundle is not bundle:
                return  # another version was installed meanwhile; it read its own file
            self._bundle = bundle.with_tuned(tuned, state)
            self._tuned_refused = None
        log.info(
            "model %s: tuned thresholds %s",
            bundle.version,
            json.dumps(tuned["thresholds"]) if tuned else "removed (the model's own apply)",
        )

    def _install(self, bundle: ModelBundle, state: tuple[float, str | None]) -> None:
        with self._lock:
            previous = self._bundle.version if self._bundle else None
            self._bundle = bundle
            self._pointer_seen = state
            self._loading = None
            self._refused = None
            self.last_error = None
        if previous != bundle.version:
            log.info("model version %s loaded (was %s)", bundle.version, previous)
            if self.on_switch:
                self.on_switch(bundle.version, previous)

    def status(self) -> ModelStatus:
        """Compare what this process serves with what the pointer names right now."""
        current = current_version(self.model_dir)
        bundle = self._bundle
        serving = bundle.version if bundle else None
        if serving is not None and serving == current:
            return ModelStatus(serving, current, "serving")
        # A refused version stays refused while the watcher retries it: readiness must not flicker
        # back to "loading" (ready) for the moment each retry takes.
        if self._refused is not None and self._refused == current:
            return ModelStatus(serving, current, "refused", self.last_error)
        if self._loading is not None and self._loading == current:
            return ModelStatus(serving, current, "loading")
        if current is None:
            return ModelStatus(serving, current, "refused", self.last_error or f"no {POINTER_FILE} file")
        return ModelStatus(serving, current, "loading")  # noticed at the watcher's next tick

    @property
    def loaded(self) -> ModelBundle | None:
        return self._bundle


def _watch(holder_ref: weakref.ref[ModelHolder], wake: threading.Event) -> None:
    """The watcher loop; it ends when its holder is garbage (an app a test threw away)."""
    while True:
        holder = holder_ref()
        if holder is None or holder._wake is not wake:
            return
        interval = max(holder.check_interval, 0.05)
        try:
            holder.refresh()
        except Exception:  # noqa: BLE001 - the watcher must outlive any one failed check
            log.exception("model watcher: checking %s failed", holder.model_dir)
        del holder
        wake.wait(interval)
        wake.clear()


def list_versions(model_dir: Path) -> Iterable[str]:
    root = versions_dir(model_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / MANIFEST_FILE).is_file())
