"""The store's commands: `moderation db`, `keys`, `purge` and `erase`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from moderation.cli import pass_cli

if TYPE_CHECKING:
    from moderation.cli import CliContext
    from moderation.store.repository import Store


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_cli
def db_upgrade(cli: CliContext) -> None:
    """Create or migrate the database to the latest schema."""
    from moderation.store.database import upgrade

    url = cli.settings.resolved_database_url
    upgrade(url)
    click.echo("database is up to date")


# --- keys -------------------------------------------------------------------------------------


def _key_store(cli: CliContext) -> Store:
    """The store for the key commands, migrating a database that has no tables yet.

    Creating the first key is often the first thing done on a fresh install, before `serve` has
    migrated anything; an unreachable database is one line, not a traceback.
    """
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from moderation.store.database import upgrade

    url = cli.settings.resolved_database_url
    try:
        store = cli.store()
        if not inspect(store.engine).has_table("api_keys"):
            upgrade(url)
            click.echo("the database had no tables: migrated it (moderation db upgrade)", err=True)
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise click.ClickException(f"cannot use the database ({type(exc).__name__}: {reason})") from None
    return store


@click.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--role", type=click.Choice(["client", "moderator", "admin"]), required=True)
@click.option("--name", required=True, help="Who the key is for, e.g. the site's name.")
@click.option(
    "--site",
    default=None,
    help="Share author history (trust, flood, duplicates) with the other keys of this site "
    "(default: the key is a site of its own).",
)
@pass_cli
def keys_create(cli: CliContext, role: str, name: str, site: str | None) -> None:
    """Create a key and print it once, as the last line."""
    try:
        key, secret = _key_store(cli).create_key(role, name, site)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--site") from None
    click.echo(
        f"created {role} key {key.prefix} for {name!r} (site {key.site}); "
        "store it now, it is not shown again:"
    )
    click.echo(secret)


@keys.command("revoke")
@click.argument("prefix")
@pass_cli
def keys_revoke(cli: CliContext, prefix: str) -> None:
    """Revoke the key with this prefix (the part after mk_)."""
    prefix = prefix.split("_")[1] if prefix.startswith("mk_") else prefix
    if not _key_store(cli).revoke_key(prefix):
        raise click.ClickException(f"no active key with prefix {prefix}")
    click.echo(f"revoked {prefix}")


@keys.command("site")
@click.argument("prefix")
@click.argument("site")
@pass_cli
def keys_site(cli: CliContext, prefix: str, site: str) -> None:
    """Put the key with this prefix into SITE, whose keys share author history."""
    prefix = prefix.split("_")[1] if prefix.startswith("mk_") else prefix
    try:
        found = _key_store(cli).set_site(prefix, site)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="SITE") from None
    if not found:
        raise click.ClickException(f"no key with prefix {prefix}")
    click.echo(f"{prefix} is now in site {site.strip()}")


@keys.command("list")
@pass_cli
def keys_list(cli: CliContext) -> None:
    """List keys (never their secrets): prefix, role, state, site, name."""
    for key in _key_store(cli).list_keys():
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        click.echo(f"{key.prefix}\t{key.role}\t{state}\t{key.site}\t{key.name}")


@click.command()
@click.option("--older-than", "days", type=click.IntRange(min=0), required=True, help="Retention in days.")
@click.option(
    "--keep-labels",
    is_flag=True,
    help="Keep old training labels as text and verdict only (no link, no name).",
)
@pass_cli
def purge(cli: CliContext, days: int, keep_labels: bool) -> None:
    """Delete comments, reviews, labels and webhook events older than the retention period."""
    from datetime import timedelta

    from moderation.store.repository import purge as run_purge
    from moderation.store.repository import utcnow

    counts = run_purge(cli.store(), utcnow() - timedelta(days=days), keep_labels=keep_labels)
    click.echo(", ".join(f"{n} {what}" for what, n in counts.items()))


@click.command()
@click.option("--email", required=True, help="The commenter's email address (case does not matter).")
@click.option(
    "--include-blocklist",
    is_flag=True,
    help="Also delete blocked_author entries naming this address (kept by default: they stop an abuser).",
)
@pass_cli
def erase(cli: CliContext, email: str, include_blocklist: bool) -> None:
    """Remove one person's comments, reviews, webhook events and training labels, by email."""
    from moderation.store.privacy import email_key, erase_email

    if not email_key(email):
        raise click.BadParameter("must not be empty", param_hint="--email")
    counts = erase_email(cli.store(), email, include_blocklist=include_blocklist)
    click.echo(", ".join(f"{n} {what}" for what, n in counts.items()))
