"""The `moderation` command: one click group and one shared context; each layer's commands load on use."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from moderation.config import ConfigError, Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from moderation.classifier.bundle import ModelBundle
    from moderation.pipeline.domain import Thresholds
    from moderation.store.repository import Store

# Each layer keeps its commands beside it; they are imported only when listed or run, and none of
# these modules imports scikit-learn at load, so `moderation --help` stays quick.
LAYER_COMMANDS = {
    "db": "moderation.store.cli:db",
    "keys": "moderation.store.cli:keys",
    "purge": "moderation.store.cli:purge",
    "erase": "moderation.store.cli:erase",
    "train": "moderation.classifier.cli:train",
    "promote": "moderation.classifier.cli:promote",
    "evaluate": "moderation.classifier.cli:evaluate",
    "score": "moderation.classifier.cli:score",
    "tune": "moderation.classifier.cli:tune",
    "shadow": "moderation.classifier.cli:shadow",
    "webhooks": "moderation.webhooks.cli:webhooks",
}


class CliContext:
    """What every command shares: the settings, loaded once when a command first needs them."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = Settings.load()
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
        return self._settings

    def engine(self) -> Engine:
        from moderation.store.database import make_engine

        return make_engine(self.settings.resolved_database_url)

    def store(self) -> Store:
        from moderation.store.repository import Store

        return Store(self.engine())

    def thresholds(self, bundle: ModelBundle | None = None) -> Thresholds:
        """The thresholds bundle runs with: explicit settings, else the model's own, else defaults."""
        from moderation.services.submissions import thresholds_from

        return thresholds_from(self.settings, bundle)


# ensure=True: a command invoked on its own (as tests do) gets a fresh context instead of None.
pass_cli = click.make_pass_decorator(CliContext, ensure=True)


class LayeredGroup(click.Group):
    """A click group whose commands live in their layers' modules and are imported on first use."""

    def __init__(self, *args: Any, layer_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.layer_commands = layer_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.layer_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.layer_commands and cmd_name not in self.commands:
            module, _, name = self.layer_commands[cmd_name].partition(":")
            self.add_command(getattr(import_module(module), name), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LayeredGroup, layer_commands=LAYER_COMMANDS)
@click.version_option(package_name="moderation")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Self-hosted comment moderation."""
    ctx.ensure_object(CliContext)


# --- serving ----------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=None, type=int, help="Default: 2 x cores + 1, at most 8.")
@click.option(
    "--threads", default=32, show_default=True, type=click.IntRange(1, 256),
    help="Threads per worker: each slow client holds one for at most MODERATION_REQUEST_READ_SECONDS.",
)  # fmt: skip
@click.option("--no-migrate", is_flag=True, help="Skip `db upgrade` before starting.")
@pass_cli
def serve(cli: CliContext, host: str, port: int, workers: int | None, threads: int, no_migrate: bool) -> None:
    """Run the service under gunicorn with production settings."""
    from moderation.classifier import bundle as bundles

    settings = cli.settings
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
        "--config", "python:moderation.ops.gunicorn_conf",
        "--bind", f"{host}:{port}",
        "--workers", str(workers),
        "--threads", str(threads),
        "moderation.app:create_app()",
    ]  # fmt: skip
    click.echo(f"serving on {host}:{port} with {workers} workers of {threads} threads")
    os.execvpe(args[0], args, env)


if __name__ == "__main__":  # pragma: no cover
    main()
