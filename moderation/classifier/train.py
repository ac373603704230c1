"""Training: examples in, a verified model bundle with manifest and held-out report out."""

from __future__ import annotations

import hashlib
import json
import platform
import random
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import scipy
import sklearn
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import Pipeline

from moderation.classifier.augment import augment
from moderation.classifier.bundle import (
    HEADS,
    MANIFEST_FILE,
    ModelBundle,
    current_version,
    head_scores,
    set_current_version,
    versions_dir,
)
from moderation.classifier.card import write_card
from moderation.classifier.datasets import Dataset, Example
from moderation.classifier.features import build_features, prepare
from moderation.classifier.heads import ATTRIBUTE_HEADS, head_labels
from moderation.classifier.history import record_switch
from moderation.classifier.modelfile import FORMAT as MODEL_FORMAT
from moderation.classifier.modelfile import FORMAT_VERSION as MODEL_FORMAT_VERSION
from moderation.classifier.modelfile import LinearModel
from moderation.classifier.split import split as split_rows
from moderation.classifier.suite import SuiteError, functionality_table, load_suite, run_suite
from moderation.pipeline.domain import Thresholds

HEAD_LABEL = {"spam": "spam", "toxicity": "toxic"}
# Both heads judge what is written, never who wrote it: author fields (e-mail domain, name shape)
# learned how the corpus's writers picked addresses, and would mark a whole country's readers.
DEFAULT_PARAMS: dict[str, Any] = {
    "C": 3.0,
    "calibration_folds": 5,
    "augment": 0.25,
    "mask_groups": True,
    "negation": True,
    "group_context": True,
    # A second word block without negation marks (features.build_features); measured and left off:
    # it approved more civil cases but stopped fewer negative attributes (docs/model.md).
    "plain_words": False,
    # The attribute heads (insult, threat, ...) beside the two deciding heads; see heads.py. They
    # decide nothing unless configured, so three calibration folds (not five) keep training short.
    "attribute_heads": True,
    "attribute_calibration_folds": 3,
}


def head_targets(examples: Sequence[Example], head: str) -> np.ndarray:
    return np.array([ex.label == HEAD_LABEL[head] for ex in examples], dtype=int)


def model_heads(params: dict[str, Any]) -> tuple[str, ...]:
    """The heads a model trained with params holds: the deciding two, then the attributes."""
    return HEADS + (ATTRIBUTE_HEADS if params.get("attribute_heads") else ())


def _classifier(params: dict[str, Any], seed: int) -> CalibratedClassifierCV:
    base = LogisticRegression(
        C=params["C"], class_weight="balanced", max_iter=5000, solver="liblinear", random_state=seed
    )
    # ensemble=False: one linear model per head (fitted on all rows) plus a sigmoid fitted on
    # cross-validated scores, so scoring is one dot product and explanations are exact.
    return CalibratedClassifierCV(base, method="sigmoid", cv=params["calibration_folds"], ensemble=False)


def _with_augmentations(examples: list[Example], share: float, seed: int) -> list[Example]:
    rng = random.Random(seed)
    extra = [
        Example(augment(ex.text, rng), ex.label, ex.tags, ex.name, ex.email, ex.url, "augmented")
        for ex in examples
        if ex.label != "ham" and rng.random() < share
    ]
    return examples + extra


@dataclass
class Fitted:
    features: Pipeline
    heads: dict[str, Pipeline]


def dedupe_key(ex: Example) -> str:
    """Duplicates are rows with the same folded text."""
    return prepare(ex.text).folded


def fit(examples: list[Example], params: dict[str, Any], seed: int, n_jobs: int | None = None) -> Fitted:
    """Fit the shared features once and one calibrated linear head per score.

    The heads are fitted in parallel threads (liblinear releases the GIL while it fits); each
    head's fits are the same computation with the same seed whatever n_jobs is, so the result
    is identical to fitting them one after the other. n_jobs defaults to one thread per head.
    """
    examples = _with_augmentations(examples, params["augment"], seed)
    features = build_features(
        seed,
        params["mask_groups"],
        params["negation"],
        params["group_context"],
        params["plain_words"],
    )
    prepared = [prepare(ex.record()) for ex in examples]
    matrix = features.fit_transform(prepared)
    jobs = []
    for head in model_heads(params):
        y, known = head_labels(examples, head)
        y = y[known]
        if head in HEADS and y.min() == y.max():
            raise ValueError(f"training data has no positive and negative examples for {head}")
        head_params = (
            params
            if head in HEADS
            else {**params, "calibration_folds": params["attribute_calibration_folds"]}
        )
        if min(int(y.sum()), int(len(y) - y.sum())) < head_params["calibration_folds"]:
            continue  # an attribute the data hardly labels: the model goes without that head
        jobs.append((head, head_params, matrix if known.all() else matrix[known], y))
    fitted = Parallel(n_jobs=n_jobs or len(HEADS), prefer="threads")(
        delayed(_classifier(head_params, seed).fit)(rows, y) for _, head_params, rows, y in jobs
    )
    heads = {
        head: Pipeline([("features", features), ("classifier", clf)])
        for (head, *_), clf in zip(jobs, fitted, strict=True)
    }
    return Fitted(features, heads)


def head_weights(pipeline: Pipeline) -> np.ndarray:
    """Average the calibrated folds' linear weights over the shared feature columns."""
    clf = pipeline.named_steps["classifier"]
    return np.mean([c.estimator.coef_.ravel() for c in clf.calibrated_classifiers_], axis=0)


def score_examples(fitted: Fitted, examples: Sequence[Example]) -> dict[str, np.ndarray]:
    """The fitted Pipelines' scores of whole comments (no clause scores): for quick comparisons of
    recipes (bench/cv_retrain.py); a saved model is measured as the service scores, with ModelBundle."""
    matrix = fitted.features.transform([prepare(ex.record()) for ex in examples])
    return {h: head_scores(fitted.heads[h], matrix) for h in fitted.heads}


def holdout_metrics(y: np.ndarray, p: np.ndarray, hold: float, reject: float) -> dict[str, Any]:
    """Ranking metrics plus precision and recall at the two thresholds."""
    out: dict[str, Any] = {"rows": int(len(y)), "positives": int(y.sum())}
    if 0 < y.sum() < len(y):
        out["roc_auc"] = round(float(roc_auc_score(y, p)), 4)
        out["pr_auc"] = round(float(average_precision_score(y, p)), 4)
    for name, cut in (("hold", hold), ("reject", reject)):
        predicted = p >= cut
        tp = int((predicted & (y == 1)).sum())
        out[f"precision_at_{name}"] = round(tp / max(int(predicted.sum()), 1), 4)
        out[f"recall_at_{name}"] = round(tp / max(int(y.sum()), 1), 4)
    return out


def _version_name(now: datetime) -> str:
    return now.strftime("v%Y%m%d-%H%M%S")


def train(
    datasets: list[Dataset],
    model_dir: Path,
    seed: int = 13,
    params: dict[str, Any] | None = None,
    thresholds: Thresholds | None = None,
    make_current: bool | None = None,
    log: Callable[[str], None] = lambda msg: None,
    sources: dict[str, Any] | None = None,
) -> Path:
    """Train on datasets, write model_dir/versions/<version>/ and return its path.

    sources, when the database was read, is the provenance.LabelReport of its labels for the
    manifest: examples per source and label, and the labels left out, refused or in conflict.
    """
    params = {**DEFAULT_PARAMS, **(params or {})}
    if "holdout" in params:
        raise ValueError("the held-out split is fixed (moderation.classifier.split); it has no share to set")
    # The model's own operating points, written into its manifest: the service applies them
    # unless its configuration sets a threshold explicitly. `moderation tune` may change them.
    thresholds = thresholds or Thresholds()
    started = time.perf_counter()
    parts = split_rows(datasets, dedupe_key)
    train_part, held_out = parts.fitting, parts.held_out
    log(
        f"{len(train_part) + len(held_out)} distinct examples; {len(train_part)} to fit, "
        f"{len(held_out)} held out by {parts.describe()['rule']}"
    )
    # One fit: the shipped model never sees the held-out rows, so its held-out metrics are its
    # own and `promote` can compare any two versions on the same unseen rows.
    final = fit(train_part, params, seed)
    now = datetime.now(UTC)
    out = new_version_dir(model_dir, now)
    model = LinearModel.from_fitted(final.features, final.heads, tuple(final.heads))
    hashes = model.write(out)
    bundle_model = LinearModel.read(out)
    _check_reproduces(final, bundle_model, train_part)
    # Held-out metrics as the service scores (ModelBundle: clause scores included), so that they
    # are what `promote` and `evaluate` measure on the same rows.
    scorer = ModelBundle(out.name, {}, bundle_model, out)
    scores = scorer.score_many([ex.record() for ex in held_out]) if held_out else {}
    metrics = {}
    for head in scores:
        y, known = head_labels(held_out, head)
        hold, reject = thresholds.for_head(head)
        metrics[head] = holdout_metrics(y[known], scores[head][known], hold, reject)
    log(f"held-out: {json.dumps(metrics)}")
    return finish_version(
        out,
        now,
        model_dir,
        bundle_model,
        hashes,
        seed=seed,
        params=params,
        recipe={"name": "in-memory"},
        data=[_describe_data(ds, model_dir, out) for ds in datasets],
        examples={
            "distinct": len(train_part) + len(held_out),
            "fitted": len(train_part),
            "held_out": len(held_out),
        },
        split=parts.describe(),
        sources=sources,
        thresholds=thresholds,
        metrics=metrics,
        started=started,
        make_current=make_current,
        log=log,
    )


def new_version_dir(model_dir: Path, now: datetime) -> Path:
    """Create and return model_dir/versions/<version>/, named after now (suffixed if taken)."""
    version = _version_name(now)
    out = versions_dir(model_dir) / version
    suffix = 1
    while out.exists():
        suffix += 1
        out = versions_dir(model_dir) / f"{version}-{suffix}"
    out.mkdir(parents=True)
    return out


def finish_version(
    out: Path,
    now: datetime,
    model_dir: Path,
    bundle_model: LinearModel,
    hashes: dict[str, str],
    *,
    seed: int,
    params: dict[str, Any],
    recipe: dict[str, Any],
    data: list[dict[str, Any]],
    examples: dict[str, int],
    split: dict[str, Any],
    sources: dict[str, Any] | None,
    thresholds: Thresholds,
    metrics: dict[str, Any],
    started: float,
    make_current: bool | None,
    log: Callable[[str], None],
) -> Path:
    """Write the manifest, report and model card of a version whose model files are written."""
    version = out.name
    manifest = {
        "version": version,
        "created": now.isoformat(timespec="seconds"),
        "seed": seed,
        "parameters": params,
        "recipe": recipe,
        "code": code_version(),
        "data": data,
        "examples": examples,
        "split": split,
        **({"sources": sources} if sources is not None else {}),
        "libraries": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
        "heads": list(bundle_model.heads),
        "thresholds": thresholds.as_dict(),
        "thresholds_from": "training",
        "metrics": {"held_out": metrics},
        "model_format": {"name": MODEL_FORMAT, "version": MODEL_FORMAT_VERSION},
        "files": {name: {"sha256": digest} for name, digest in sorted(hashes.items())},
        "training_seconds": round(time.perf_counter() - started, 2),
    }
    suite = _suite_summary(ModelBundle(version, manifest, bundle_model, out), thresholds, log)
    if suite:
        manifest["suite"] = suite
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(_report(manifest), encoding="utf-8")
    write_card(out)  # model_card.md from the manifest just written (moderation/classifier/card.py)
    previous = current_version(model_dir)
    if make_current or (make_current is None and previous is None):
        set_current_version(model_dir, version)
        record_switch(model_dir, "train", version, previous)
        log(f"{version} is now the current model")
    return out


# The saved model must give the fitted model's probabilities; checked on this many training rows.
REPRODUCE_SAMPLE = 1000
REPRODUCE_TOLERANCE = 1e-9


def _check_reproduces(fitted: Fitted, model: LinearModel, examples: Sequence[Example]) -> None:
    """Refuse to finish a model whose files, read back, do not score like the fitted Pipelines."""
    step = max(1, len(examples) // REPRODUCE_SAMPLE)
    sample = [prepare(ex.record()) for ex in examples[::step]]
    matrix = fitted.features.transform(sample)
    check_saved_scores(model, sample, {h: head_scores(fitted.heads[h], matrix) for h in fitted.heads})


def check_saved_scores(model: LinearModel, sample: Sequence[Any], expected: dict[str, np.ndarray]) -> None:
    """Raise unless the saved model's batch and single-comment scores of sample equal expected
    (per head, the fitted model's probabilities) within REPRODUCE_TOLERANCE."""
    from moderation.classifier.fast import FastScorer

    scorer = FastScorer(model)
    batch = scorer.score_many(sample)
    single = [scorer.score(record) for record in sample]
    for head, wanted in expected.items():
        for path, scores in (("batch", batch[head]), ("single-comment", [s[head] for s in single])):
            worst = float(np.max(np.abs(np.asarray(scores) - wanted), initial=0.0))
            if worst > REPRODUCE_TOLERANCE:
                raise RuntimeError(
                    f"the saved model's {path} {head} scores differ from the fitted model's by {worst:.3g}"
                )


SNAPSHOT_FILE = "labels.jsonl"


def _describe_data(dataset: Dataset, model_dir: Path, out: Path) -> dict[str, Any]:
    """A data source for the manifest: no absolute paths; labels not read from a file are exported.

    A file is named relative to the model folder when it lies inside it, else by its name alone;
    its sha256 identifies it. Labels from the database (``train --from-db``) are written to
    ``labels.jsonl`` in the version folder (text and label, no author fields: the model reads
    neither) with that file's sha256, so ``train --data versions/V/labels.jsonl`` rebuilds the model.
    """
    entry = dataset.describe()
    if dataset.sha256 and not dataset.path.startswith("database:"):
        entry["path"] = _portable_path(dataset.path, model_dir)
        return entry
    name, n = SNAPSHOT_FILE, 1
    while (out / name).exists():
        n += 1
        name = f"labels-{n}.jsonl"
    lines = [
        json.dumps({"text": ex.text, "label": ex.label, "tags": list(ex.tags), "source": ex.source},
                   ensure_ascii=False, sort_keys=True)
        for ex in dataset.examples
    ]  # fmt: skip
    raw = ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
    (out / name).write_bytes(raw)
    entry.update(path=name, origin=dataset.path, snapshot=name, sha256=hashlib.sha256(raw).hexdigest())
    return entry


def _portable_path(path: str, model_dir: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(model_dir).resolve()).as_posix()
    except (ValueError, OSError):
        return Path(path).name


def code_version() -> dict[str, Any]:
    """The package version and, in a git checkout of it, the commit (and whether files differ from it)."""
    from moderation import __version__

    out: dict[str, Any] = {"package": __version__, "commit": "unknown"}
    root = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
        )
        return done.stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != root:
            return out  # installed inside some other repository: its commit says nothing about ours
        out["commit"] = git("rev-parse", "HEAD")
        out["dirty"] = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def _suite_summary(
    bundle: ModelBundle, thresholds: Thresholds, log: Callable[[str], None]
) -> dict[str, Any] | None:
    """The functional suite's summary for the manifest, without the worst cases (they quote comments)."""
    try:
        cases = load_suite()
    except SuiteError as exc:
        log(f"functional suite not run: {exc}")
        return None
    result = run_suite(bundle, cases, thresholds)
    log(functionality_table(result))
    return result.as_dict(include_worst=False)


def _report(manifest: dict[str, Any]) -> str:
    lines = [
        f"# Model {manifest['version']}",
        "",
        f"Created {manifest['created']} with seed {manifest['seed']} in {manifest['training_seconds']} s.",
        "",
        f"Held-out metrics: this model scored on the {manifest['examples']['held_out']} rows of the fixed "
        f"held-out split ({manifest['split']['rule']}), which it was not fitted on, at its thresholds.",
        "",
        "| head | rows | positives | ROC-AUC | PR-AUC | precision@hold | recall@hold | "
        "precision@reject | recall@reject |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for head, m in manifest["metrics"]["held_out"].items():
        lines.append(
            f"| {head} | {m['rows']} | {m['positives']} | {m.get('roc_auc', '-')} | "
            f"{m.get('pr_auc', '-')} | {m['precision_at_hold']} | {m['recall_at_hold']} | "
            f"{m['precision_at_reject']} | {m['recall_at_reject']} |"
        )
    suite = manifest.get("suite")
    if suite:
        lines += [
            "",
            f"Functional suite ({suite['cases']} cases, `moderation evaluate --suite functional` for the "
            f"full report): hateful or abusive stopped {suite['hateful_stopped']['rate']}, worst identity "
            f"false-hold rate {suite['worst_false_hold']['rate']} ({suite['worst_false_hold']['identity']}), "
            f"bias score {suite['bias'].get('final')}.",
            "",
            "| functionality | expected | cases | pass rate |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {name} | {f['expected']} | {f['cases']} | {f['pass_rate']} |"
            for name, f in suite["functionalities"].items()
        ]
    lines += ["", "Data:", ""]
    for ds in manifest["data"]:
        lines.append(f"- `{ds['path']}` ({ds['format']}): {ds['rows']} rows, {ds['labels']}")
    return "\n".join(lines) + "\n"


def clone_classifier(params: dict[str, Any], seed: int) -> CalibratedClassifierCV:
    return clone(_classifier({**DEFAULT_PARAMS, **params}, seed))
