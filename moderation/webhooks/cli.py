"""The `moderation webhooks` verbs: run the dispatcher, read the delivery log."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING

import click

from moderation.cli import pass_cli

if TYPE_CHECKING:
    from moderation.cli import CliContext


@click.group()
def webhooks() -> None:
    """CMS webhooks: deliver the outbox, read the delivery log."""


@webhooks.command("run")
@click.option("--once", is_flag=True, help="Try every due event once, then exit.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    help="Seconds between rounds.",
)
@pass_cli
def run(cli: CliContext, once: bool, interval: float) -> None:
    """Deliver outbox events to MODERATION_WEBHOOK_URL, retrying failures with back-off."""
    from moderation.store.outbox import Outbox
    from moderation.webhooks.dispatcher import Dispatcher

    settings = cli.settings
    if not settings.webhook_url:
        raise click.ClickException("MODERATION_WEBHOOK_URL is not set: events stay in the outbox")
    try:
        dispatcher = Dispatcher(cli.engine(), settings.webhook_url, settings.webhook_secret)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if once:
        result = dispatcher.deliver_due()
        pending = Outbox(dispatcher.engine).summary()["pending"]
        click.echo(
            f"attempted {result.attempted}, delivered {result.delivered}, failed {result.failed}; "
            f"{pending} pending"
        )
        return
    stop, wake = threading.Event(), threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        wake.set()  # the loop sleeps on this, so it ends now rather than after the interval

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    click.echo(f"delivering to {settings.webhook_url} every {interval:g}s; stop with Ctrl-C")
    dispatcher.run(stop, interval, wake=wake)
    click.echo("stopped")


@webhooks.command("deliveries")
@click.option("--outbox-id", type=int, default=None, help="Only attempts for this outbox event.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@pass_cli
def deliveries(cli: CliContext, outbox_id: int | None, limit: int) -> None:
    """Show the latest delivery attempts, newest first."""
    from moderation.store.outbox import Outbox

    items = Outbox(cli.engine()).deliveries(outbox_id, None, limit)["items"]
    for item in items:
        status = item["status_code"] if item["status_code"] is not None else "-"
        outcome = "ok" if item["ok"] else item["error"] or f"HTTP {status}"
        click.echo(
            f"{item['attempted_at']:%Y-%m-%d %H:%M:%S}\tevent {item['outbox_id']}\t{status}\t"
            f"{item['duration_ms']:.0f} ms\t{outcome}"
        )
    if not items:
        click.echo("no delivery attempts yet")
