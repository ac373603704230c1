"""Model bundles on disk: a joblib file of per-head pipelines plus a manifest that vouches for it."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import joblib
import numpy as np
import sklearn

from moderation.classifier.features import GROUP_PLACEHOLDER, PreparedRecord, Record, prepare

log = logging.getLogger(__name__)

HEADS = ("spam", "toxicity")  # the heads that decide; a model may hold attribute heads too
MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
POINTER_FILE = "CURRENT"


def head_scores(pipeline: Any, matrix: Any) -> np.ndarray:
    """Probabilities of one head from the shared feature matrix (skipping the shared first step)."""
    for _, step in pipeline.steps[1:-1]:
        matrix = step.transform(matrix)
    return pipeline.steps[-1][1].predict_proba(matrix)[:, 1]


class ModelError(RuntimeError):
    """A model bundle is missing, damaged or was built by an incompatible library."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


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


@dataclass
class ModelBundle:
    """The loaded, verified pipelines of one model version and its manifest."""

    version: str
    manifest: dict[str, Any]
    pipelines: dict[str, Any]
    path: Path

    def __post_init__(self) -> None:
        from moderation.classifier.fast import FastScorer
        from moderation.pipeline.domain import ATTRIBUTE_HEADS

        self.heads = HEADS + tuple(h for h in ATTRIBUTE_HEADS if h in self.pipelines)
        self.fast = FastScorer(self.pipelines, self.heads)

    @classmethod
    def load(cls, path: Path) -> ModelBundle:
        """Load the bundle in path after checking its file hash and scikit-learn version."""
        path = Path(path)
        manifest_path = path / MANIFEST_FILE
        model_path = path / MODEL_FILE
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"model manifest not found: {manifest_path}") from None
        except (OSError, ValueError) as exc:
            raise ModelError(f"model manifest unreadable: {manifest_path}: {exc}") from None
        if not model_path.is_file():
            raise ModelError(f"model file not found: {model_path}")
        expected = manifest.get("files", {}).get(MODEL_FILE, {}).get("sha256")
        actual = sha256_file(model_path)
        if not expected or actual != expected:
            raise ModelError(
                f"model file {model_path} does not match its manifest "
                f"(sha256 {actual}, manifest says {expected}); refusing to load it"
            )
        built_with = manifest.get("libraries", {}).get("scikit-learn", "")
        if _minor(built_with) != _minor(sklearn.__version__):
            raise ModelError(
                f"model file {model_path} was built with scikit-learn {built_with or 'unknown'}, "
                f"this service runs {sklearn.__version__}; retrain with `moderation train`"
            )
        try:
            pipelines = joblib.load(model_path)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means a damaged file
            raise ModelError(f"model file {model_path} cannot be loaded: {exc}") from None
        if not isinstance(pipelines, dict) or set(HEADS) - set(pipelines):
            raise ModelError(f"model file {model_path} lacks the heads {', '.join(HEADS)}")
        return cls(manifest["version"], manifest, pipelines, path)

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
        return self.manifest.get("thresholds", {})

    def score_many(self, records: Sequence[Record]) -> dict[str, np.ndarray]:
        """Score many records at once on the vectorized path."""
        prepared = [r if isinstance(r, PreparedRecord) else prepare(r) for r in records]
        features = self.pipelines["features"]
        matrix = features.transform(prepared)
        return {head: head_scores(self.pipelines[head], matrix) for head in self.heads}

    def analyze(self, record: Record) -> Analysis:
        """Score one record on the fast path, keeping its features for an explanation."""
        prepared = record if isinstance(record, PreparedRecord) else prepare(record)
        columns, values = self.fast.features(prepared)
        return Analysis(self, columns, values, self.fast.probabilities(columns, values))

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

    def explain(self, top: int = 8) -> dict[str, list[dict[str, Any]]]:
        """Return, per head, the features that pushed the score up the most."""
        names = self.bundle.pipelines["feature_names"]
        result: dict[str, list[dict[str, Any]]] = {}
        for i, head in enumerate(HEADS):
            contributions = self.values * self.bundle.fast.weights[self.columns, i]
            order = np.argsort(-contributions, kind="stable")[:top]
            terms = []
            for j in order:
                if contributions[j] <= 0:
                    break
                kind, _, term = str(names[self.columns[j]]).partition("__")
                term = term.replace(GROUP_PLACEHOLDER, "<group name>")
                terms.append({"term": term, "kind": kind, "weight": round(float(contributions[j]), 4)})
            result[head] = terms
        return result


class ModelHolder:
    """The service's current bundle, swapped when the pointer file changes; a bad new one is refused."""

    def __init__(self, model_dir: Path, check_interval: float = 2.0) -> None:
        self.model_dir = Path(model_dir)
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._bundle: ModelBundle | None = None
        self._pointer_seen: tuple[float, str | None] | None = None
        self._next_check = 0.0
        self.last_error: str | None = None

    def load(self) -> ModelBundle:
        """Load the current bundle now, raising ModelError when it cannot be used."""
        bundle = ModelBundle.load_current(self.model_dir)
        with self._lock:
            self._bundle = bundle
            self._pointer_seen = self._pointer_state()
            self.last_error = None
        return bundle

    def _pointer_state(self) -> tuple[float, str | None]:
        pointer = self.model_dir / POINTER_FILE
        try:
            mtime = pointer.stat().st_mtime
        except FileNotFoundError:
            mtime = 0.0
        return mtime, current_version(self.model_dir)

    def get(self) -> ModelBundle:
        """Return the bundle to score with, reloading first when a new version was promoted."""
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + self.check_interval
            self._maybe_reload()
        if self._bundle is None:
            raise ModelError(self.last_error or "no model loaded")
        return self._bundle

    def _maybe_reload(self) -> None:
        state = self._pointer_state()
        if state == self._pointer_seen and self._bundle is not None:
            return
        try:
            bundle = ModelBundle.load_current(self.model_dir)
        except ModelError as exc:
            # Keep serving the model we have; a bad promote must not take the service down.
            self.last_error = str(exc)
            self._pointer_seen = state
            log.error("model reload refused: %s", exc)
            return
        with self._lock:
            if self._bundle is None or bundle.version != self._bundle.version:
                log.info("model version %s loaded", bundle.version)
            self._bundle = bundle
            self._pointer_seen = state
            self.last_error = None

    @property
    def loaded(self) -> ModelBundle | None:
        return self._bundle


def list_versions(model_dir: Path) -> Iterable[str]:
    root = versions_dir(model_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / MANIFEST_FILE).is_file())
