"""The classifier's commands: `moderation train`, `evaluate`, `score`, `promote`, `tune` and `shadow`.

scikit-learn is imported inside each command, so listing the commands stays fast.
"""

from __future__ import annotations

import os
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import click

from moderation.cli import pass_cli

if TYPE_CHECKING:
    from moderation.classifier.bundle import ModelBundle
    from moderation.classifier.tune import Target
    from moderation.cli import CliContext


def _chosen_model(model_path: str | None, model_dir: str | Path) -> ModelBundle:
    """The version folder --model names, else the current version; ModelError when it cannot load."""
    from moderation.classifier.bundle import ModelBundle

    return ModelBundle.load(Path(model_path)) if model_path else ModelBundle.load_current(Path(model_dir))


@click.command()
@click.option(
    "--data",
    "data_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Extra labelled data: JSONL, CSV (text,label), Jigsaw CSV, YouTube spam CSV, SMS spam TSV.",
)
@click.option(
    "--kind",
    type=click.Choice(["spam", "toxic"]),
    default=None,
    help="For files with 0/1 labels: which head they label (else guessed from the file name).",
)
@click.option("--from-db", is_flag=True, help="Add trusted and moderator-confirmed labels from the database.")
@click.option(
    "--include-unverified",
    "include_unverified",
    multiple=True,
    metavar="KEYPREFIX",
    help="With --from-db: also use the unverified reports of this client key (its prefix, as "
    "`keys list` shows it); repeatable.",
)
@click.option("--no-corpus", is_flag=True, help="Train without the seed corpus.")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Model folder (default: MODERATION_MODEL_DIR).",
)
@click.option("--seed", type=int, default=13, show_default=True)
@click.option("--make-current", is_flag=True, help="Make the new version current even if one is.")
@click.option(
    "--streamed/--in-memory",
    "streamed",
    default=None,
    help="Force the streamed recipe (bounded memory, for millions of rows) or the in-memory one; "
    "by default training streams above 100,000 rows (the corpus plus the lines of the --data files).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Processes that turn rows into features in the streamed recipe.",
)
@click.option(
    "--if-needed",
    is_flag=True,
    help="Train (and make current) only when no model is current or this code cannot load the "
    "current one (e.g. it was trained with other feature code); `make run` uses it.",
)
@pass_cli
def train(
    cli: CliContext,
    data_paths: tuple[str, ...],
    kind: str | None,
    from_db: bool,
    include_unverified: tuple[str, ...],
    no_corpus: bool,
    out: str | None,
    seed: int,
    make_current: bool,
    streamed: bool | None,
    workers: int,
    if_needed: bool,
) -> None:
    """Train a new model version on the seed corpus plus any extra data.

    Database labels add examples and never change a corpus or --data example; the output and the
    manifest count the examples per source and label, and list what was left out or refused.
    """
    from moderation.classifier.datasets import DatasetError, count_lines, load, load_corpus
    from moderation.classifier.provenance import database_dataset
    from moderation.classifier.streamed import (
        STREAMED_ROWS,
        Progress,
        Source,
        choose_streamed,
        train_streamed,
    )
    from moderation.classifier.train import dedupe_key
    from moderation.classifier.train import train as run_training

    if include_unverified and not from_db:
        raise click.UsageError("--include-unverified needs --from-db")
    prefixes = [
        p.split("_")[1] if p.startswith("mk_") and p.count("_") >= 1 else p for p in include_unverified
    ]
    settings = cli.settings
    model_dir = Path(out or settings.model_dir)
    if if_needed:
        from moderation.classifier.bundle import ModelBundle, ModelError

        try:
            version = ModelBundle.load_current(model_dir).version
        except ModelError as exc:
            click.echo(f"training a model: {exc}")
            make_current = True
        else:
            click.echo(f"model {version} is current and loads; nothing to train")
            return
    try:
        corpus = [] if no_corpus else load_corpus(Path(settings.model_dir) / "corpus")
        labels = list(cli.store().training_labels()) if from_db else []
        rows = sum(len(ds.examples) for ds in corpus) + sum(count_lines(p) for p in data_paths) + len(labels)
        if choose_streamed(rows, streamed):
            why = "--streamed" if streamed else f"more than {STREAMED_ROWS:,} rows"
            click.echo(f"about {rows:,} rows: training with the streamed recipe ({why})")
            sources = [Source(ds.path, dataset=ds) for ds in corpus]
            sources += [Source(str(p), kind=kind) for p in data_paths]
            report = None
            if from_db:
                # The --data files are not loaded here: the reading pass reads them before the
                # database's labels and keeps the first copy of a text, so a label repeating a
                # file's row is dropped there and counted as a contradiction if it disagrees.
                database, report = database_dataset(labels, corpus, [], prefixes, dedupe_key)
                sources.append(Source(database.path, dataset=database))
                click.echo(f"{len(database.examples)} labels from the database")
                for line in report.lines():
                    click.echo(line)
            path = train_streamed(
                sources,
                model_dir,
                seed=seed,
                make_current=True if make_current else None,
                log=click.echo,
                progress=Progress(sys.stderr),
                expected_rows=rows,
                workers=workers,
                label_sources=report.as_manifest() if report is not None else None,
            )
            click.echo(f"wrote {path}")
            return
        files = [load(p, kind) for p in data_paths]
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    datasets = [*corpus, *files]
    sources = None
    if from_db:
        database, report = database_dataset(labels, corpus, files, prefixes, dedupe_key)
        datasets.append(database)
        sources = report.as_manifest()
        click.echo(f"{len(database.examples)} labels from the database")
        for line in report.lines():
            click.echo(line)
    if not datasets:
        raise click.ClickException("nothing to train on")
    path = run_training(
        datasets,
        model_dir,
        seed=seed,
        make_current=True if make_current else None,
        log=click.echo,
        sources=sources,
    )
    click.echo(f"wrote {path}")


@click.command()
@click.argument("version", required=False)
@click.option(
    "--force",
    is_flag=True,
    help="Promote even if the gate finds it worse; recorded in the promotion history.",
)
@click.option(
    "--data",
    "data_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Labelled data neither model trained on, compared like for like besides the held-out split.",
)
@click.option("--kind", type=click.Choice(["spam", "toxic"]), default=None)
@click.option(
    "--rollback", is_flag=True, help="Switch back to the version that was current before this one (no gate)."
)
@pass_cli
def promote(
    cli: CliContext,
    version: str | None,
    force: bool,
    data_paths: tuple[str, ...],
    kind: str | None,
    rollback: bool,
) -> None:
    """Make VERSION the current model; the running service switches within seconds.

    The gate compares VERSION with the current model on the corpus's fixed held-out split, every
    --data file and the functional suite, each model at its own thresholds, and refuses a worse one.
    """
    from moderation.classifier import bundle as bundles
    from moderation.classifier.history import HistoryError, previous_version, record_switch

    model_dir = Path(cli.settings.model_dir)
    current = bundles.current_version(model_dir)
    if rollback:
        if version or force or data_paths:
            raise click.UsageError("--rollback takes no VERSION, --force or --data")
        try:
            target = previous_version(model_dir, current)
            bundles.ModelBundle.load(bundles.versions_dir(model_dir) / target)
        except HistoryError as exc:
            raise click.ClickException(f"cannot roll back: {exc}") from None
        except bundles.ModelError as exc:
            raise click.ClickException(f"cannot roll back to {target}: {exc}") from None
        bundles.set_current_version(model_dir, target)
        record_switch(model_dir, "rollback", target, current)
        click.echo(f"rolled back from {current} to {target}; {target} is now current")
        return
    if not version:
        raise click.UsageError("give the VERSION to promote, or --rollback")
    try:
        candidate = bundles.ModelBundle.load(bundles.versions_dir(model_dir) / version)
    except bundles.ModelError as exc:
        raise click.ClickException(f"cannot promote {version}: {exc}") from None
    if current == candidate.version:
        click.echo(f"{candidate.version} is already current")
        return
    gate_lines: list[str] | None = None
    if current:
        try:
            result = _run_gate(cli, model_dir, candidate, current, data_paths, kind)
        except click.ClickException as exc:
            if not force:
                raise
            gate_lines = [f"gate not run: {exc.message}"]
            click.echo(f"warning: {gate_lines[0]}", err=True)
        else:
            gate_lines = result.lines()
            click.echo("\n".join(gate_lines))
            if not result.ok and not force:
                raise click.ClickException(
                    f"{version} is worse than {current}; use --force to promote anyway (it is recorded)"
                )
            if not result.ok:
                click.echo(f"warning: promoting {version} past the gate with --force", err=True)
    bundles.set_current_version(model_dir, candidate.version)
    record_switch(model_dir, "promote", candidate.version, current, forced=force, gate=gate_lines)
    click.echo(f"{candidate.version} is now current")


def _run_gate(cli: CliContext, model_dir: Path, candidate, current_name: str, data_paths, kind):  # noqa: ANN001, ANN202
    """Load the current model and every comparison source, and run the promotion gate."""
    from moderation.classifier import bundle as bundles
    from moderation.classifier.datasets import DatasetError, load, load_corpus
    from moderation.classifier.promotion import Source, gate
    from moderation.classifier.split import held_out_rows
    from moderation.classifier.suite import SuiteError, load_suite
    from moderation.classifier.train import dedupe_key

    try:
        current = bundles.ModelBundle.load(bundles.versions_dir(model_dir) / current_name)
    except bundles.ModelError as exc:
        raise click.ClickException(f"cannot load the current model {current_name}: {exc}") from None
    corpus_dir = model_dir / "corpus"
    try:
        held = held_out_rows(load_corpus(corpus_dir), dedupe_key)
    except DatasetError as exc:
        raise click.ClickException(f"cannot recompute the held-out split: {exc}") from None
    sources = [Source("held-out split", held)]
    try:
        sources += [Source(Path(p).name, load(p, kind).examples) for p in data_paths]
        cases = load_suite()
        return gate(candidate, current, sources, cli.thresholds, cases)
    except (DatasetError, SuiteError) as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@click.option(
    "--data",
    "data_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Labelled data the model did not train on (optional: the suite alone can be run).",
)
@click.option(
    "--kind",
    type=click.Choice(["spam", "toxic"]),
    default=None,
    help="For files with 0/1 labels: which head they label (else guessed from the file name).",
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(file_okay=False),
    default=None,
    help="A model version folder (default: the current model).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to write report.md, metrics.json and plots (default: evaluations/ in the version).",
)
@click.option("--suite", "suite_name", default="functional", show_default=True,
              help="Test suite to run too: a folder name in model/suites/ or a path.")  # fmt: skip
@click.option("--no-suite", is_flag=True, help="Skip the test suite.")
@click.option("--bootstrap", default=1000, show_default=True, type=click.IntRange(0, 100_000),
              help="Resamples for the ROC-AUC and PR-AUC confidence intervals (0: none).")  # fmt: skip
@click.option("--seed", default=13, show_default=True, type=int, help="Seed of the bootstrap resamples.")
@click.option("--drop-seen", is_flag=True,
              help="Leave out rows whose text is in the model's training data (always counted).")  # fmt: skip
@click.option("--card", is_flag=True,
              help="(Re)write the version's model_card.md (alone with --no-suite: only that).")  # fmt: skip
@pass_cli
def evaluate(
    cli: CliContext,
    data_paths: tuple[str, ...],
    kind: str | None,
    model_path: str | None,
    out: str | None,
    suite_name: str,
    no_suite: bool,
    bootstrap: int,
    seed: int,
    drop_seen: bool,
    card: bool,
) -> None:
    """Measure a model on labelled data and on the functional test suite."""
    from moderation.classifier import bundle as bundles
    from moderation.classifier.card import write_card
    from moderation.classifier.datasets import DatasetError, load
    from moderation.classifier.evaluate import EvaluationError
    from moderation.classifier.evaluate import evaluate as run_evaluation
    from moderation.classifier.suite import SuiteError, evaluate_suite, functionality_table, load_suite

    settings = cli.settings
    try:
        bundle = _chosen_model(model_path, settings.model_dir)
        datasets = [load(p, kind) for p in data_paths]
        cases = [] if no_suite else load_suite(suite_name)
    except (bundles.ModelError, DatasetError, SuiteError) as exc:
        raise click.ClickException(str(exc)) from None

    def refresh_card() -> None:
        click.echo(f"model card: {write_card(bundle.path)}")

    if not datasets and not cases:
        if card:
            refresh_card()
            return
        raise click.UsageError("nothing to evaluate: give --data files, or leave the suite on")
    name = Path(data_paths[0]).stem if data_paths else f"suite-{Path(suite_name).name}"
    target = Path(out) if out else bundle.path / "evaluations" / name
    if not datasets:
        click.echo(functionality_table(evaluate_suite(bundle, cases, cli.thresholds(bundle), target)))
        click.echo(f"report: {target / 'suite.md'}")
        if card:
            refresh_card()
        return
    try:
        result = run_evaluation(
            bundle, datasets, cli.thresholds(bundle), target, cases, bootstrap=bootstrap, seed=seed,
            drop_seen=drop_seen, warn=lambda message: click.secho(message, fg="red", bold=True, err=True),
        )  # fmt: skip
    except EvaluationError as exc:
        raise click.ClickException(str(exc)) from None
    if result.suite:
        click.echo(functionality_table(result.suite))
    for head, m in result.metrics["heads"].items():
        hold, reject = m["at_hold"], m["at_reject"]
        ci = m["ci"].get("roc_auc")
        click.echo(
            f"{head}: ROC-AUC {m['roc_auc']}"
            + (f" [{ci[0]}, {ci[1]}]" if ci else "")
            + f" PR-AUC {m['pr_auc']} ECE {m['ece']} | hold@{hold['threshold']} P {hold['precision']} "
            f"R {hold['recall']} FPR {hold['fpr']} | reject@{reject['threshold']} P {reject['precision']} "
            f"R {reject['recall']} FPR {reject['fpr']}"
        )
    for label, r in result.metrics.get("labels", {}).items():
        click.echo(
            f"  {label}: {r['positives']} positives, ROC-AUC {r['roc_auc']}, "
            f"recall@hold {r['recall_at_hold']}"
        )
    if card or not out:
        refresh_card()
    click.echo(f"report: {target / 'report.md'}")


@click.command()
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False))
@click.option("--text-column", default="text", show_default=True)
@click.option("--batch-size", default=2000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--encoding", default="utf-8", show_default=True,
              help="The input's encoding, e.g. latin-1, utf-16 (the output is always UTF-8).")  # fmt: skip
@click.option("--progress-every", default=100_000, show_default=True, type=click.IntRange(1),
              help="When stderr is not a terminal: a progress line after every this many rows.")  # fmt: skip
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Processes that score batches side by side (1: all in this process; a file "
              "smaller than one batch is always scored here).")  # fmt: skip
@pass_cli
def score(
    cli: CliContext,
    input_path: str,
    output_path: str,
    text_column: str,
    batch_size: int,
    encoding: str,
    progress_every: int,
    workers: int,
) -> None:
    """Add spam, toxicity and flag columns to a CSV, streaming it in bounded memory.

    The output is written under a temporary name and renamed into place only when every row was
    scored. Rows with empty text are not scored: their flag column says empty_text.
    """
    from moderation.classifier import bundle as bundles
    from moderation.classifier.scorefile import ScoreInputError, score_csv

    try:
        bundle = bundles.ModelBundle.load_current(Path(cli.settings.model_dir))
    except bundles.ModelError as exc:
        raise click.ClickException(str(exc)) from None
    if not Path(output_path).resolve().parent.is_dir():
        raise click.ClickException(f"the folder of {output_path} does not exist")
    size = os.path.getsize(input_path)
    on_terminal = sys.stderr.isatty()
    shown = {"rows": 0, "bytes": 0}
    # On a terminal a progress bar; otherwise (a log, a pipe) a plain line every progress_every rows.
    bar_context = (
        click.progressbar(length=size, label="scoring", file=sys.stderr) if on_terminal else nullcontext()
    )
    with bar_context as bar:

        def progress(rows: int, done: int, total: int) -> None:
            if on_terminal:
                bar.update(done - shown["bytes"])
                shown["bytes"] = done
            elif rows // progress_every > shown["rows"] // progress_every:
                share = f" ({done / total:.0%} of the file)" if total else ""
                click.echo(f"scored {rows} rows{share}", err=True)
            shown["rows"] = rows

        try:
            summary = score_csv(bundle, Path(input_path), Path(output_path), text_column, encoding,
                                batch_size, progress, workers)  # fmt: skip
        except ScoreInputError as exc:
            raise click.ClickException(f"{input_path}: {exc}") from None
        except OSError as exc:
            raise click.ClickException(f"cannot score {input_path} into {output_path}: {exc}") from None
    flagged = f" ({summary.empty} with empty text flagged, not scored)" if summary.empty else ""
    processes = f" in {summary.processes} processes" if summary.processes > 1 else ""
    click.echo(f"scored {summary.rows} rows into {output_path}{processes}{flagged}")


def _targets(kind: str, values: tuple[str, ...], heads: tuple[str, ...]) -> list[Target]:
    """Read `PCT` (every head) or `HEAD=PCT` items of one target option into Target objects."""
    from moderation.classifier.tune import HEADS, Target

    out = []
    for item in values:
        head, sep, number = item.rpartition("=")
        try:
            value = float(number)
        except ValueError:
            raise click.BadParameter(f"{item!r}: expected a number or HEAD=NUMBER") from None
        if sep and head not in HEADS:
            raise click.BadParameter(f"{item!r}: the head is one of {', '.join(HEADS)}")
        limit = None if kind == "budget" else 100.0
        if value < 0 or (limit is not None and value > limit):
            raise click.BadParameter(f"{item!r}: {value:g} is not between 0 and 100")
        out += [Target(kind, h, value) for h in ((head,) if sep else heads)]
    return out


@click.command()
@click.option("--data", "data_paths", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Labelled data to tune on (same formats as evaluate); repeatable.")  # fmt: skip
@click.option("--kind", type=click.Choice(["spam", "toxic"]), default=None,
              help="For files with 0/1 labels: the head they label (else guessed).")  # fmt: skip
@click.option(
    "--from-db", is_flag=True, help="Tune on the database's trusted labels too (as train --from-db)."
)
@click.option("--model", "model_path", type=click.Path(file_okay=False), default=None,
              help="A model version folder (default: the current model).")  # fmt: skip
@click.option("--head", "heads", multiple=True, type=click.Choice(["spam", "toxicity"]),
              help="Tune only this head (repeatable; default: both).")  # fmt: skip
@click.option("--max-civil-held", "civil", multiple=True, metavar="[HEAD=]PCT",
              help="Hold threshold: the lowest that holds at most PCT % of civil (ham) rows.")  # fmt: skip
@click.option("--min-reject-precision", "precision", multiple=True, metavar="[HEAD=]PCT",
              help="Reject threshold: the lowest whose rejects are at least PCT % spam/toxic.")  # fmt: skip
@click.option("--hold-budget", "budget", multiple=True, metavar="[HEAD=]N",
              help="Hold threshold: the lowest holding at most N comments a day.")  # fmt: skip
@click.option("--budget-days", default=7, show_default=True, type=click.IntRange(1, 365),
              help="The days of stored comments --hold-budget measures the volume on.")  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for report.md, metrics.json, plots (default: tuning/ in the version)")  # fmt: skip
@click.option("--apply", "apply_", is_flag=True,
              help="Write the chosen thresholds to the version's thresholds.json (live).")  # fmt: skip
@pass_cli
def tune(
    cli: CliContext,
    data_paths: tuple[str, ...],
    kind: str | None,
    from_db: bool,
    model_path: str | None,
    heads: tuple[str, ...],
    civil: tuple[str, ...],
    precision: tuple[str, ...],
    budget: tuple[str, ...],
    budget_days: int,
    out: str | None,
    apply_: bool,
) -> None:
    """Choose hold and reject thresholds per head for targets an operator states.

    Prints what the thresholds in force and the chosen ones give (civil held %, precision, recall,
    queue a day) and writes a report; --apply makes the running service use them within seconds.
    """
    from datetime import UTC, datetime, timedelta

    import numpy as np

    from moderation.classifier import bundle as bundles
    from moderation.classifier import tune as tuning
    from moderation.classifier.datasets import DatasetError, load
    from moderation.classifier.evaluate import content_overlap, leakage_warning
    from moderation.classifier.provenance import database_dataset
    from moderation.classifier.train import dedupe_key

    explicit_heads = bool(heads)
    heads = heads or tuning.HEADS
    targets = [
        *_targets("civil", civil, heads), *_targets("precision", precision, heads),
        *_targets("budget", budget, heads),
    ]  # fmt: skip
    if not targets:
        raise click.UsageError("give a target: --max-civil-held, --min-reject-precision or --hold-budget")
    labelled = [t for t in targets if t.kind != "budget"]
    if labelled and not (data_paths or from_db):
        raise click.UsageError("--max-civil-held and --min-reject-precision need --data or --from-db")
    settings = cli.settings
    try:
        bundle = _chosen_model(model_path, settings.model_dir)
        datasets = [load(p, kind) for p in data_paths]
    except (bundles.ModelError, DatasetError) as exc:
        raise click.ClickException(str(exc)) from None
    if from_db:
        database, _ = database_dataset(cli.store().training_labels(), [], datasets, (), dedupe_key)
        click.echo(f"{len(database.examples)} trusted labels from the database")
        datasets.append(database)
    examples = [ex for ds in datasets for ex in ds.examples]
    if labelled and not examples:
        raise click.ClickException("no labelled rows to tune on")
    if examples:
        warning = leakage_warning(content_overlap(bundle, datasets), bundle.version)
        if warning:
            click.secho(warning, fg="red", bold=True, err=True)
    scores = bundle.score_many([ex.record() for ex in examples]) if examples else {}
    stored: np.ndarray | None = None
    if any(t.kind == "budget" for t in targets):
        rows = cli.store().stored_scores(datetime.now(UTC) - timedelta(days=budget_days))
        stored = np.array(rows, dtype=float).reshape(-1, 2)
    in_force = cli.thresholds(bundle)
    overridden = settings.threshold_overrides()
    metrics: dict = {
        "model": bundle.version,
        "sources": [
            Path(ds.path).name if not ds.path.startswith("database:") else ds.path for ds in datasets
        ],
        "rows": len(examples),
        "budget_days": budget_days if stored is not None else None,
        "heads": {},
    }
    target = Path(out) if out else bundle.path / "tuning"
    target.mkdir(parents=True, exist_ok=True)
    results = {}
    for index, head in enumerate(tuning.HEADS):
        mine = [t for t in targets if t.head == head]
        if not mine:
            continue
        data = tuning.head_data(examples, scores, head) if examples else None
        try:
            result = tuning.tune_head(
                head, mine, (in_force.hold(head), in_force.reject(head)), data,
                stored[:, index] if stored is not None else None, budget_days,
            )  # fmt: skip
        except tuning.TuneError as exc:
            hint = "" if explicit_heads else " (--head or HEAD=VALUE names the heads to tune)"
            raise click.ClickException(f"cannot tune: {exc}{hint}") from None
        m = tuning.summary(result, budget_days)
        m["plot"] = tuning.plot(result, mine, budget_days, target)
        metrics["heads"][head] = m
        results[head] = result
    tuning.write_report(target, metrics)
    for head in set(tuning.HEADS) - set(metrics["heads"]):
        (target / f"{head}_tradeoff.png").unlink(missing_ok=True)  # a plot from an earlier run
    for head, m in metrics["heads"].items():
        for which, value in sorted(m["chosen"].items()):  # hold, then reject
            line = f"{head} {which}: {m['current'][which]} -> {value} ({'; '.join(m['targets'][which])})"
            at = m.get("at", {}).get(which)
            if at:
                line += (
                    f" | civil held {at['civil_held']}% precision {at['precision']}% recall {at['recall']}%"
                )
            if "queue_per_day" in m and which == "hold":
                q = m["queue_per_day"]
                line += f" | held a day {q['current']} -> {q['chosen']}"
            click.echo(line)
        for note in m["notes"]:
            click.echo(f"note: {note}")
    click.echo(f"report: {target / 'report.md'}")
    if not apply_:
        return
    chosen = {h: {w: round(v, 4) for w, v in r.chosen.items()} for h, r in results.items()}
    path = apply_thresholds(bundle, chosen, {h: r.why for h, r in results.items()}, target)
    click.echo(f"applied: {path}")
    pinned = [f"MODERATION_{name.upper()}" for name in overridden
              if name.split("_")[1] in chosen.get(name.split("_")[0], {})]  # fmt: skip
    if pinned:
        click.echo(
            f"warning: the configuration sets {', '.join(pinned)}; it wins over the tuned value", err=True
        )
    current = bundles.current_version(Path(settings.model_dir))
    if current == bundle.version:
        click.echo("the running service applies them within seconds (no restart)")
    else:
        click.echo(f"{bundle.version} is not the current model; they apply once it is promoted")


def apply_thresholds(
    bundle: ModelBundle,
    chosen: dict[str, dict[str, float]],
    why: dict[str, dict[str, list[str]]],
    report: Path,
) -> Path:
    """Merge chosen into the version's thresholds.json, written whole under a temporary name and renamed.

    Earlier tuned values of heads or thresholds not tuned now are kept. The manifest and model files
    (which its hashes vouch for) are not touched.
    """
    import json
    from datetime import UTC, datetime

    from moderation.classifier.bundle import TUNED_FILE, ModelError, read_tuned, validate_tuned
    from moderation.classifier.history import _who

    try:
        previous = read_tuned(bundle.path) or {}
    except ModelError:
        previous = {}  # an unusable file is replaced, not merged
    thresholds = {h: dict(v) for h, v in previous.get("thresholds", {}).items()}
    targets = {h: dict(v) for h, v in previous.get("targets", {}).items()}
    for head, values in chosen.items():
        thresholds.setdefault(head, {}).update(values)
        targets.setdefault(head, {}).update({w: why[head][w] for w in values})
    try:
        validate_tuned(thresholds)
    except ValueError as exc:
        raise click.ClickException(f"not applied: with the thresholds tuned before, {exc}") from None
    data = {
        "model": bundle.version,
        "thresholds": thresholds,
        "targets": targets,
        "applied": datetime.now(UTC).isoformat(timespec="seconds"),
        "by": _who(),
        # Inside the version folder by its relative path, else by its name: no server paths here.
        "report": str(report.relative_to(bundle.path)) if report.is_relative_to(bundle.path) else report.name,
        "previous": previous.get("thresholds"),
    }
    path = bundle.path / TUNED_FILE
    tmp = path.with_name(f".{TUNED_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


@click.group()
def shadow() -> None:
    """Score every new comment with a candidate model too, never acting on it, and compare."""


@shadow.command("start")
@click.argument("version")
@pass_cli
def shadow_start(cli: CliContext, version: str) -> None:
    """Make every worker also score new comments with VERSION (at its own thresholds), within seconds.

    Its verdict is stored beside the live one and acted upon nowhere; starting another version
    replaces the running shadow.
    """
    from datetime import UTC, datetime

    from moderation.classifier import bundle as bundles

    model_dir = Path(cli.settings.model_dir)
    try:
        candidate = bundles.ModelBundle.load(bundles.versions_dir(model_dir) / version)
    except bundles.ModelError as exc:
        raise click.ClickException(f"cannot shadow {version}: {exc}") from None
    if candidate.version == bundles.current_version(model_dir):
        raise click.ClickException(f"{version} is the current model; shadow a candidate instead")
    previous = bundles.shadow_version(model_dir)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    bundles.set_shadow(model_dir, candidate.version, started)
    if previous and previous != candidate.version:
        click.echo(f"stopped the shadow of {previous}")
    click.echo(f"shadow scoring with {candidate.version} from {started}; every worker starts within seconds")


@shadow.command("stop")
@pass_cli
def shadow_stop(cli: CliContext) -> None:
    """Stop shadow scoring; the verdicts stored so far stay for `shadow report --version`."""
    from moderation.classifier import bundle as bundles

    found = bundles.read_shadow(Path(cli.settings.model_dir))
    bundles.clear_shadow(Path(cli.settings.model_dir))
    if found is None:
        click.echo("no shadow was running")
        return
    version, started = found
    since = f" --since {started}" if started else ""
    click.echo(f"stopped the shadow of {version}; it still reports with")
    click.echo(f"  moderation shadow report --version {version}{since}")


@shadow.command("report")
@click.option(
    "--version", "version", default=None, help="The shadowed version (default: the running shadow)."
)
@click.option(
    "--since",
    default=None,
    help="Only comments stored from this ISO time on (default: when the running shadow started).",
)
@click.option(
    "--examples", type=click.IntRange(0, 50), default=3, show_default=True, help="Examples per change."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_cli
def shadow_report(
    cli: CliContext, version: str | None, since: str | None, examples: int, as_json: bool
) -> None:
    """Count the stored comments whose verdict the shadow would change, by from->to and by reason."""
    import json
    from datetime import UTC, datetime

    from moderation.classifier import bundle as bundles
    from moderation.classifier.shadow import render, summarize

    running = bundles.read_shadow(Path(cli.settings.model_dir))
    if version is None:
        if running is None:
            raise click.UsageError("no shadow is running; name the one to report with --version")
        version = running[0]
    if since is None and running is not None and running[0] == version:
        since = running[1]
    start = None
    if since:
        try:
            start = datetime.fromisoformat(since)
        except ValueError:
            raise click.BadParameter(f"{since!r} is not an ISO date or time", param_hint="--since") from None
        start = start.replace(tzinfo=UTC) if start.tzinfo is None else start
    report = {"version": version, "since": start.isoformat() if start else None}
    report.update(summarize(cli.store().shadow_comments(version, start), examples=examples))
    click.echo(json.dumps(report, indent=2, ensure_ascii=False) if as_json else render(report))
