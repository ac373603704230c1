"""The `moderation` command: serve, train, evaluate, score, promote, keys, db, purge, erase."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import click

from moderation.classifier import bundle as bundles
from moderation.config import ConfigError, Settings
from moderation.webhooks_cli import webhooks


def _settings() -> Settings:
    try:
        return Settings.load()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _store():
    from moderation.store.database import make_engine
    from moderation.store.repository import Store

    return Store(make_engine(_settings().resolved_database_url))


@click.group()
@click.version_option(package_name="moderation")
def main() -> None:
    """Self-hosted comment moderation."""


# --- database ---------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the latest schema."""
    from moderation.store.database import upgrade

    url = _settings().resolved_database_url
    upgrade(url)
    click.echo("database is up to date")


# --- keys -------------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--role", type=click.Choice(["client", "moderator", "admin"]), required=True)
@click.option("--name", required=True, help="Who the key is for, e.g. the site's name.")
def keys_create(role: str, name: str) -> None:
    """Create a key and print it once, as the last line."""
    key, secret = _store().create_key(role, name)
    click.echo(f"created {role} key {key.prefix} for {name!r}; store it now, it is not shown again:")
    click.echo(secret)


@keys.command("revoke")
@click.argument("prefix")
def keys_revoke(prefix: str) -> None:
    """Revoke the key with this prefix (the part after mk_)."""
    prefix = prefix.split("_")[1] if prefix.startswith("mk_") else prefix
    if not _store().revoke_key(prefix):
        raise click.ClickException(f"no active key with prefix {prefix}")
    click.echo(f"revoked {prefix}")


@keys.command("list")
def keys_list() -> None:
    """List keys (never their secrets)."""
    for key in _store().list_keys():
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        click.echo(f"{key.prefix}\t{key.role}\t{state}\t{key.name}")


@main.command()
@click.option("--older-than", "days", type=click.IntRange(min=0), required=True, help="Retention in days.")
@click.option("--keep-labels", is_flag=True, help="Keep training labels of purged comments, anonymized.")
def purge(days: int, keep_labels: bool) -> None:
    """Delete comments, reviews, labels and webhook events older than the retention period."""
    from datetime import timedelta

    from moderation.store.repository import purge as run_purge
    from moderation.store.repository import utcnow

    counts = run_purge(_store(), utcnow() - timedelta(days=days), keep_labels=keep_labels)
    click.echo(", ".join(f"{n} {what}" for what, n in counts.items()))


@main.command()
@click.option("--email", required=True, help="The commenter's email address (case does not matter).")
@click.option(
    "--include-blocklist",
    is_flag=True,
    help="Also delete blocked_author entries naming this address (kept by default: they stop an abuser).",
)
def erase(email: str, include_blocklist: bool) -> None:
    """Remove one person's comments, reviews, webhook events and training labels, by email."""
    from moderation.privacy import email_key, erase_email

    if not email_key(email):
        raise click.BadParameter("must not be empty", param_hint="--email")
    counts = erase_email(_store(), email, include_blocklist=include_blocklist)
    click.echo(", ".join(f"{n} {what}" for what, n in counts.items()))


# --- model ------------------------------------------------------------------------------------


@main.command()
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
@click.option("--from-db", is_flag=True, help="Add moderator and CMS labels from the database.")
@click.option("--no-corpus", is_flag=True, help="Train without the seed corpus.")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Model folder (default: MODERATION_MODEL_DIR).",
)
@click.option("--seed", type=int, default=13, show_default=True)
@click.option("--make-current", is_flag=True, help="Make the new version current even if one is.")
def train(data_paths, kind, from_db, no_corpus, out, seed, make_current) -> None:  # noqa: ANN001
    """Train a new model version on the seed corpus plus any extra data."""
    from moderation.classifier.datasets import Dataset, DatasetError, Example, load, load_corpus
    from moderation.classifier.train import train as run_training

    settings = _settings()
    model_dir = Path(out or settings.model_dir)
    datasets = []
    try:
        if not no_corpus:
            datasets += load_corpus(Path(settings.model_dir) / "corpus")
        datasets += [load(p, kind) for p in data_paths]
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    if from_db:
        rows = list(_store().training_labels())
        label_of = {"toxic": "toxic", "spam": "spam", "ham": "ham"}
        examples = [
            Example(r["text"], label_of[r["label"]], name=r["name"], source=r["source"])
            for r in rows
            if r["label"] in label_of
        ]
        datasets.append(Dataset("database:labels", "labels", examples))
        click.echo(f"{len(examples)} labels from the database")
    if not datasets:
        raise click.ClickException("nothing to train on")
    from moderation.service import thresholds_from

    path = run_training(
        datasets, model_dir, seed=seed, thresholds=thresholds_from(settings),
        make_current=True if make_current else None, log=click.echo,
    )  # fmt: skip
    click.echo(f"wrote {path}")


@main.command()
@click.argument("version")
@click.option(
    "--force", is_flag=True, help="Promote even if it does worse than the current model (AUC or suite)."
)
@click.option(
    "--data",
    "data_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Labelled data neither model trained on, to compare them like for like.",
)
@click.option("--kind", type=click.Choice(["spam", "toxic"]), default=None)
def promote(version: str, force: bool, data_paths: tuple[str, ...], kind: str | None) -> None:
    """Make VERSION the current model; the running service switches within seconds."""
    model_dir = Path(_settings().model_dir)
    try:
        candidate = bundles.ModelBundle.load(bundles.versions_dir(model_dir) / version)
    except bundles.ModelError as exc:
        raise click.ClickException(f"cannot promote {version}: {exc}") from None
    current = bundles.current_version(model_dir)
    if current and current != version and not force:
        from moderation.classifier.datasets import DatasetError, load
        from moderation.classifier.promotion import compare, suite_verdict
        from moderation.classifier.suite import SuiteError
        from moderation.service import thresholds_from

        try:
            examples = [ex for p in data_paths for ex in load(p, kind).examples]
            thresholds = thresholds_from(_settings())
            verdicts = [compare(model_dir, candidate, current, examples),
                        suite_verdict(model_dir, candidate, current, thresholds)]  # fmt: skip
        except (DatasetError, SuiteError) as exc:
            raise click.ClickException(str(exc)) from None
        click.echo("\n".join(v.summary for v in verdicts))
        if not all(v.better_or_equal for v in verdicts):
            raise click.ClickException(f"{version} is worse than {current}; use --force to promote anyway")
    bundles.set_current_version(model_dir, candidate.version)
    click.echo(f"{candidate.version} is now current")


@main.command()
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
def evaluate(data_paths, kind, model_path, out, suite_name, no_suite) -> None:  # noqa: ANN001
    """Measure a model on labelled data and on the functional test suite."""
    from moderation.classifier.datasets import DatasetError, load
    from moderation.classifier.evaluate import EvaluationError
    from moderation.classifier.evaluate import evaluate as run_evaluation
    from moderation.classifier.suite import SuiteError, evaluate_suite, functionality_table, load_suite
    from moderation.service import thresholds_from

    settings = _settings()
    try:
        bundle = (
            bundles.ModelBundle.load(Path(model_path))
            if model_path
            else bundles.ModelBundle.load_current(Path(settings.model_dir))
        )
        datasets = [load(p, kind) for p in data_paths]
        cases = [] if no_suite else load_suite(suite_name)
    except (bundles.ModelError, DatasetError, SuiteError) as exc:
        raise click.ClickException(str(exc)) from None
    if not datasets and not cases:
        raise click.UsageError("nothing to evaluate: give --data files, or leave the suite on")
    name = Path(data_paths[0]).stem if data_paths else f"suite-{Path(suite_name).name}"
    target = Path(out) if out else bundle.path / "evaluations" / name
    if not datasets:
        click.echo(functionality_table(evaluate_suite(bundle, cases, thresholds_from(settings), target)))
        click.echo(f"report: {target / 'suite.md'}")
        return
    try:
        result = run_evaluation(bundle, datasets, thresholds_from(settings), target, cases)
    except EvaluationError as exc:
        raise click.ClickException(str(exc)) from None
    if result.suite:
        click.echo(functionality_table(result.suite))
    for head, m in result.metrics["heads"].items():
        hold, reject = m["at_hold"], m["at_reject"]
        click.echo(
            f"{head}: ROC-AUC {m['roc_auc']} PR-AUC {m['pr_auc']} | hold@{hold['threshold']} "
            f"P {hold['precision']} R {hold['recall']} | reject@{reject['threshold']} "
            f"P {reject['precision']} R {reject['recall']}"
        )
    click.echo(f"report: {target / 'report.md'}")


@main.command()
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False))
@click.option("--text-column", default="text", show_default=True)
@click.option("--batch-size", default=2000, show_default=True, type=click.IntRange(1, 100_000))
def score(input_path: str, output_path: str, text_column: str, batch_size: int) -> None:
    """Add spam and toxicity probability columns to a CSV, streaming it in bounded memory."""
    import csv

    csv.field_size_limit(10 * 1024 * 1024)
    try:
        bundle = bundles.ModelBundle.load_current(Path(_settings().model_dir))
    except bundles.ModelError as exc:
        raise click.ClickException(str(exc)) from None
    size = os.path.getsize(input_path)
    rows_done = 0
    with (
        open(input_path, encoding="utf-8-sig", newline="") as src,
        open(output_path, "w", encoding="utf-8", newline="") as dst,
        click.progressbar(length=size, label="scoring", file=sys.stderr) as progress,
    ):
        reader = csv.DictReader(src)
        if not reader.fieldnames or text_column not in reader.fieldnames:
            raise click.ClickException(f"{input_path} has no {text_column!r} column: {reader.fieldnames}")
        writer = csv.DictWriter(dst, fieldnames=[*reader.fieldnames, "spam", "toxicity"])
        writer.writeheader()

        def flush(batch: list[dict[str, str]]) -> None:
            scores = bundle.score_many([row[text_column] or "" for row in batch])
            for i, row in enumerate(batch):
                row["spam"] = f"{scores['spam'][i]:.6f}"
                row["toxicity"] = f"{scores['toxicity'][i]:.6f}"
            writer.writerows(batch)
            progress.update(sum(len(v or "") + 1 for row in batch for v in row.values()))

        batch: list[dict[str, str]] = []
        for row in reader:
            batch.append(row)
            if len(batch) >= batch_size:
                flush(batch)
                rows_done += len(batch)
                batch = []
        if batch:
            flush(batch)
            rows_done += len(batch)
    click.echo(f"scored {rows_done} rows into {output_path}")


# --- serving ----------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=None, type=int, help="Default: 2 x cores + 1, at most 8.")
@click.option("--no-migrate", is_flag=True, help="Skip `db upgrade` before starting.")
def serve(host: str, port: int, workers: int | None, no_migrate: bool) -> None:
    """Run the service under gunicorn with production settings."""
    settings = _settings()
    if not no_migrate:
        from moderation.store.database import upgrade

        upgrade(settings.resolved_database_url)
    # Fail here, with one clear message, rather than in every worker.
    try:
        bundles.ModelBundle.load_current(Path(settings.model_dir))
    except bundles.ModelError as exc:
        raise click.ClickException(str(exc)) from None
    workers = workers or min(2 * (os.cpu_count() or 1) + 1, 8)
    metrics_dir = tempfile.mkdtemp(prefix="moderation-metrics-")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir}
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    args = [
        gunicorn,
        "--config", "python:moderation.gunicorn_conf",
        "--bind", f"{host}:{port}",
        "--workers", str(workers),
        "moderation.app:create_app()",
    ]  # fmt: skip
    click.echo(f"serving on {host}:{port} with {workers} workers")
    os.execvpe(args[0], args, env)


main.add_command(webhooks)


if __name__ == "__main__":  # pragma: no cover
    main()
