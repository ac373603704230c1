"""The model file format: plain data (JSON and NumPy arrays), nothing that can run code when read.

A version folder holds two model files:

- ``model.json``: the format name and version, the heads with their intercept and sigmoid
  calibration ``(a, b)``, and the feature blocks in column order: for each n-gram block its
  analyzer, n-gram range, the text options of ``ModelText`` and its vocabulary (terms in column
  order); for the structural block the names of its features;
- ``model.npz``: float64 arrays only, read with ``allow_pickle=False``: each n-gram block's IDF
  weights and the weight matrix (features x heads).

Everything that computes with them (n-grams, sublinear TF-IDF, L2 norms, the dot products and the
sigmoid) is our code in ``moderation/classifier/fast.py``; nothing in the files names a class, a
function or a pattern to compile. Writing is byte-reproducible: sorted JSON keys, zip entries in
a fixed order with a fixed date and no other metadata that varies from run to run.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from moderation.classifier.features import FEATURES_VERSION, STRUCTURAL_NAMES

FORMAT = "moderation-linear-model"
FORMAT_VERSION = 1
SPEC_FILE = "model.json"
ARRAYS_FILE = "model.npz"
MODEL_FILES = (SPEC_FILE, ARRAYS_FILE)
LEGACY_FILE = "model.joblib"
# The only token pattern the word block supports (scikit-learn's `\w+` words of one character or more).
WORD_TOKEN_PATTERN = r"(?u)\b\w+\b"
_ANALYZERS = ("word", "char_wb")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# Sanity bounds against a crafted file asking for absurd allocations (a real model is ~10 MB).
MAX_SPEC_BYTES = 512 * 1024 * 1024
MAX_ARRAY_BYTES = 1024 * 1024 * 1024


class ModelFormatError(ValueError):
    """The model files are not a model this code can read."""


@dataclass(frozen=True)
class TextBlock:
    """An n-gram TF-IDF block: sublinear TF, IDF weights and an L2 norm over the block."""

    name: str
    analyzer: str  # "word" (token n-grams) or "char_wb" (character n-grams inside words)
    ngram_range: tuple[int, int]
    mask_groups: bool
    negation: bool
    group_context: bool
    vocabulary: tuple[str, ...]  # terms in column order
    idf: np.ndarray

    @property
    def width(self) -> int:
        return len(self.vocabulary)

    def feature_names(self) -> list[str]:
        return [f"{self.name}__{term}" for term in self.vocabulary]


@dataclass(frozen=True)
class StructureBlock:
    """The structural features of ``features.structural_row``, unscaled."""

    name: str
    features: tuple[str, ...]

    @property
    def width(self) -> int:
        return len(self.features)

    def feature_names(self) -> list[str]:
        return [f"{self.name}__structure:{feature}" for feature in self.features]


Block = TextBlock | StructureBlock


@dataclass(frozen=True)
class LinearModel:
    """Everything serving needs: feature blocks, per-head linear weights and sigmoid calibration."""

    heads: tuple[str, ...]
    blocks: tuple[Block, ...]
    weights: np.ndarray  # (features, heads)
    intercepts: np.ndarray  # (heads,)
    sigmoids: np.ndarray  # (heads, 2): a, b of p = 1 / (1 + exp(a * decision + b))

    @property
    def width(self) -> int:
        return sum(block.width for block in self.blocks)

    def feature_names(self) -> np.ndarray:
        return np.array([name for block in self.blocks for name in block.feature_names()], dtype=object)

    # -- from a fitted scikit-learn model (training only) -------------------------------------

    @classmethod
    def from_fitted(cls, features: Any, heads: Mapping[str, Any], names: Sequence[str]) -> LinearModel:
        """Read the fitted feature pipeline and per-head calibrated classifiers into plain data."""
        blocks = feature_blocks(features)
        weights, intercepts, sigmoids = [], [], []
        for head in names:
            clf = heads[head].steps[-1][1]
            if len(clf.calibrated_classifiers_) != 1:
                raise ModelFormatError("the model file needs classifiers calibrated with ensemble=False")
            calibrated = clf.calibrated_classifiers_[0]
            weights.append(np.asarray(calibrated.estimator.coef_, dtype=np.float64).ravel())
            intercepts.append(float(calibrated.estimator.intercept_[0]))
            calibrator = calibrated.calibrators[0]
            sigmoids.append((float(calibrator.a_), float(calibrator.b_)))
        model = cls(
            heads=tuple(names),
            blocks=tuple(blocks),
            weights=np.ascontiguousarray(np.column_stack(weights), dtype=np.float64),
            intercepts=np.array(intercepts, dtype=np.float64),
            sigmoids=np.array(sigmoids, dtype=np.float64),
        )
        model.validate()
        return model

    # -- writing ------------------------------------------------------------------------------

    def spec(self) -> dict[str, Any]:
        blocks: list[dict[str, Any]] = []
        for block in self.blocks:
            if isinstance(block, StructureBlock):
                blocks.append({"name": block.name, "kind": "structure", "features": list(block.features)})
            else:
                blocks.append(
                    {
                        "name": block.name,
                        "kind": "ngrams",
                        "analyzer": block.analyzer,
                        "ngram_range": list(block.ngram_range),
                        "token_pattern": WORD_TOKEN_PATTERN if block.analyzer == "word" else None,
                        "text": {
                            "mask_groups": block.mask_groups,
                            "negation": block.negation,
                            "group_context": block.group_context,
                        },
                        "tf": "sublinear",
                        "norm": "l2",
                        "vocabulary": list(block.vocabulary),
                    }
                )
        heads = [
            {"name": head, "intercept": float(self.intercepts[i]),
             "sigmoid": {"a": float(self.sigmoids[i, 0]), "b": float(self.sigmoids[i, 1])}}
            for i, head in enumerate(self.heads)
        ]  # fmt: skip
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "features_version": FEATURES_VERSION,
            "heads": heads,
            "blocks": blocks,
            "features": self.width,
            "arrays": {"weights": [self.width, len(self.heads)],
                       **{f"idf_{b.name}": [b.width] for b in self.blocks if isinstance(b, TextBlock)}},
        }  # fmt: skip

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"weights": self.weights}
        out.update({f"idf_{b.name}": b.idf for b in self.blocks if isinstance(b, TextBlock)})
        return out

    def write(self, folder: Path) -> dict[str, str]:
        """Write model.json and model.npz into folder; return each file's sha256."""
        folder = Path(folder)
        spec = json.dumps(self.spec(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        (folder / SPEC_FILE).write_bytes(spec.encode("utf-8") + b"\n")
        (folder / ARRAYS_FILE).write_bytes(_npz_bytes(self.arrays()))
        return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in MODEL_FILES}

    # -- reading ------------------------------------------------------------------------------

    @classmethod
    def read(cls, folder: Path) -> LinearModel:
        """Read and validate the model files in folder (their hashes are the caller's to check)."""
        folder = Path(folder)
        spec = _read_spec(folder / SPEC_FILE)
        arrays = _read_arrays(folder / ARRAYS_FILE)
        return cls.from_data(spec, arrays)

    @classmethod
    def from_data(cls, spec: Any, arrays: Mapping[str, np.ndarray]) -> LinearModel:
        if not isinstance(spec, dict):
            raise ModelFormatError("model.json is not an object")
        if spec.get("format") != FORMAT:
            raise ModelFormatError(f"model.json is not a {FORMAT} file")
        if spec.get("format_version") != FORMAT_VERSION:
            raise ModelFormatError(
                f"model format version {spec.get('format_version')!r} is not {FORMAT_VERSION}, "
                "the one this code reads"
            )
        # Files written before the version was recorded were trained with version 1.
        if spec.get("features_version", 1) != FEATURES_VERSION:
            raise ModelFormatError(
                f"the model was trained with feature code version {spec.get('features_version', 1)!r} "
                f"and this code computes version {FEATURES_VERSION}; retrain with `moderation train`"
            )
        heads_spec = _list(spec.get("heads"), "heads")
        heads = tuple(_str(h.get("name") if isinstance(h, dict) else None, "head name") for h in heads_spec)
        intercepts = np.array([_float(h.get("intercept"), "intercept") for h in heads_spec], dtype=np.float64)
        sigmoids = np.array(
            [
                (_float(_dict(h.get("sigmoid"), "sigmoid").get("a"), "sigmoid a"),
                 _float(_dict(h.get("sigmoid"), "sigmoid").get("b"), "sigmoid b"))
                for h in heads_spec
            ],
            dtype=np.float64,
        ).reshape(len(heads), 2)  # fmt: skip
        blocks: list[Block] = []
        expected_arrays = {"weights"}
        for raw in _list(spec.get("blocks"), "blocks"):
            raw = _dict(raw, "block")
            name = _str(raw.get("name"), "block name")
            if raw.get("kind") == "structure":
                listed = _list(raw.get("features"), "features")
                features = tuple(_str(f, "structural feature") for f in listed)
                if features != tuple(STRUCTURAL_NAMES):
                    raise ModelFormatError(
                        "the model's structural features differ from this code's; "
                        "retrain with `moderation train`"
                    )
                blocks.append(StructureBlock(name, features))
                continue
            if raw.get("kind") != "ngrams":
                raise ModelFormatError(f"block {name}: unknown kind {raw.get('kind')!r}")
            analyzer = raw.get("analyzer")
            if analyzer not in _ANALYZERS:
                raise ModelFormatError(f"block {name}: unknown analyzer {analyzer!r}")
            if analyzer == "word" and raw.get("token_pattern") != WORD_TOKEN_PATTERN:
                raise ModelFormatError(f"block {name}: unsupported token pattern")
            if raw.get("tf") != "sublinear" or raw.get("norm") != "l2":
                raise ModelFormatError(f"block {name}: only sublinear TF with an L2 norm is supported")
            low, high = (_int(v, "ngram_range") for v in _list(raw.get("ngram_range"), "ngram_range", 2))
            if not 1 <= low <= high <= 10:
                raise ModelFormatError(f"block {name}: n-gram range {low}..{high} out of bounds")
            text = _dict(raw.get("text"), "text")
            vocabulary = tuple(_str(t, "vocabulary term") for t in _list(raw.get("vocabulary"), "vocabulary"))
            if len(set(vocabulary)) != len(vocabulary):
                raise ModelFormatError(f"block {name}: the vocabulary repeats terms")
            idf = _array(arrays, f"idf_{name}", (len(vocabulary),))
            expected_arrays.add(f"idf_{name}")
            blocks.append(
                TextBlock(
                    name=name,
                    analyzer=analyzer,
                    ngram_range=(low, high),
                    mask_groups=_bool(text.get("mask_groups"), "mask_groups"),
                    negation=_bool(text.get("negation"), "negation"),
                    group_context=_bool(text.get("group_context"), "group_context"),
                    vocabulary=vocabulary,
                    idf=idf,
                )
            )
        names = [b.name for b in blocks]
        if len(set(names)) != len(names) or any("__" in n for n in names):
            raise ModelFormatError("block names must be distinct and contain no '__'")
        if set(arrays) != expected_arrays:
            raise ModelFormatError(f"model.npz holds {sorted(arrays)}, expected {sorted(expected_arrays)}")
        width = sum(b.width for b in blocks)
        model = cls(
            heads=heads,
            blocks=tuple(blocks),
            weights=_array(arrays, "weights", (width, len(heads))),
            intercepts=intercepts,
            sigmoids=sigmoids,
        )
        model.validate()
        return model

    def validate(self) -> None:
        if not self.heads or len(set(self.heads)) != len(self.heads):
            raise ModelFormatError("a model needs distinct heads")
        if self.weights.shape != (self.width, len(self.heads)):
            expected = (self.width, len(self.heads))
            raise ModelFormatError(f"weights are {self.weights.shape}, expected {expected}")
        idfs = [b.idf for b in self.blocks if isinstance(b, TextBlock)]
        for values in (self.weights, self.intercepts, self.sigmoids, *idfs):
            if not np.all(np.isfinite(values)):
                raise ModelFormatError("the model holds values that are not finite numbers")


def feature_blocks(features: Any) -> list[Block]:
    """The blocks of a fitted feature pipeline (features.build_features) as plain data."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from moderation.classifier.features import ModelText, Structural

    blocks: list[Block] = []
    for name, transformer in features.named_steps["union"].transformer_list:
        if isinstance(transformer, Structural):
            blocks.append(StructureBlock(name, tuple(STRUCTURAL_NAMES)))
            continue
        if not isinstance(transformer, TfidfVectorizer):
            raise ModelFormatError(f"feature block {name}: {type(transformer).__name__} is not supported")
        _check_vectorizer(name, transformer)
        text: ModelText = transformer.preprocessor
        vocabulary = sorted(transformer.vocabulary_.items(), key=lambda item: item[1])
        if [column for _, column in vocabulary] != list(range(len(vocabulary))):
            raise ModelFormatError(f"feature block {name}: vocabulary columns are not 0..n-1")
        blocks.append(
            TextBlock(
                name=name,
                analyzer=transformer.analyzer,
                ngram_range=(int(transformer.ngram_range[0]), int(transformer.ngram_range[1])),
                mask_groups=bool(text.mask_groups),
                negation=bool(text.negation),
                group_context=bool(text.group_context),
                vocabulary=tuple(term for term, _ in vocabulary),
                idf=np.asarray(transformer.idf_, dtype=np.float64),
            )
        )
    return blocks


def _check_vectorizer(name: str, vectorizer: Any) -> None:
    """Refuse at training time any option the file format (and fast.py) does not reproduce."""
    from moderation.classifier.features import ModelText

    expected = {
        "input": "content", "encoding": "utf-8", "decode_error": "strict", "strip_accents": None,
        "lowercase": False, "tokenizer": None, "stop_words": None, "binary": False, "norm": "l2",
        "use_idf": True, "sublinear_tf": True, "dtype": np.float64,
    }  # fmt: skip
    params = vectorizer.get_params()
    wrong = [k for k, v in expected.items() if params.get(k) != v]
    if vectorizer.analyzer not in _ANALYZERS:
        wrong.append("analyzer")
    if vectorizer.analyzer == "word" and vectorizer.token_pattern != WORD_TOKEN_PATTERN:
        wrong.append("token_pattern")
    if not isinstance(vectorizer.preprocessor, ModelText):
        wrong.append("preprocessor")
    if wrong:
        options = ", ".join(sorted(wrong))
        raise ModelFormatError(f"feature block {name}: the model file cannot express {options}")


def _npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """An .npz archive with no timestamps or other varying metadata: same arrays, same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in sorted(arrays):
            array = np.ascontiguousarray(arrays[name], dtype=np.float64)
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, version=(1, 0), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue(), compresslevel=6)
    return out.getvalue()


def _read_spec(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise ModelFormatError(f"{path.name} is larger than any model this code writes")
        return json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, ModelFormatError):
            raise
        raise ModelFormatError(f"{path.name} is not readable JSON: {exc}") from None


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if sum(m.file_size for m in members) > MAX_ARRAY_BYTES:
                raise ModelFormatError(f"{path.name} is larger than any model this code writes")
            if any(not m.filename.endswith(".npy") or "/" in m.filename for m in members):
                raise ModelFormatError(f"{path.name} holds entries that are not arrays")
        # allow_pickle=False: an object array (the only kind that unpickles) raises instead of loading.
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except ModelFormatError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelFormatError(f"{path.name} cannot be read as arrays: {exc}") from None


def _array(arrays: Mapping[str, np.ndarray], key: str, shape: tuple[int, ...]) -> np.ndarray:
    array = arrays.get(key)
    if array is None:
        raise ModelFormatError(f"model.npz lacks {key}")
    if array.dtype != np.float64 or array.shape != shape:
        raise ModelFormatError(f"model.npz {key} is {array.dtype} {array.shape}, expected float64 {shape}")
    return array


def _list(value: Any, what: str, length: int | None = None) -> list[Any]:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        raise ModelFormatError(f"model.json: {what} is not a list" + (f" of {length}" if length else ""))
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ModelFormatError(f"model.json: {what} is not an object")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ModelFormatError(f"model.json: {what} is not a non-empty string")
    return value


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ModelFormatError(f"model.json: {what} is not true or false")
    return value


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ModelFormatError(f"model.json: {what} is not an integer")
    return value


def _float(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ModelFormatError(f"model.json: {what} is not a finite number")
    return float(value)
