"""Operator commands: `flask --app app tokens ...`, `db upgrade`, `idempotency purge`,
`events purge` and the webhook worker, `webhooks worker`."""

from __future__ import annotations

import logging.config
import signal

import click
import psycopg2
import psycopg2.errors
from flask import Flask, current_app
from flask.cli import AppGroup

from leads.config import ConfigError, ServerSettings
from leads.db.migrations import apply_migrations
from leads.db.pool import DatabaseUnavailable, current_pool, transaction
from leads.web import auth, idempotency
from leads.web.request_log import logging_config

UPGRADE = "flask --app app db upgrade"


class OperatorGroup(AppGroup):
    """Commands whose database problems are one line naming the problem and its fix, never a
    traceback: an operator meets them on a server not set up yet.

    AppGroup, not click.Group: its commands run inside an app context however they are
    invoked (`flask ...` pushes one, but app.test_cli_runner() and app.cli do not).
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except psycopg2.errors.UndefinedTable:
            raise click.ClickException(
                f"the database has no schema yet: run `{UPGRADE}` (the service also applies "
                "it when it starts)."
            ) from None
        except (DatabaseUnavailable, psycopg2.OperationalError) as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else "no reason"
            raise click.ClickException(
                f"cannot reach the database ({reason}): check DATABASE_URL and that the "
                "server is running."
            ) from None


tokens = OperatorGroup("tokens", help="Create, list and revoke API tokens.")
db = OperatorGroup("db", help="Database schema.")
idempotency_keys = OperatorGroup("idempotency", help="Idempotency-Key records.")
event_feed = OperatorGroup("events", help="The change feed.")
webhook_deliveries = OperatorGroup("webhooks", help="Webhook deliveries.")


@tokens.command("create")
@click.option("--workspace", required=True, help="Workspace name (created if it does not exist).")
def create_token(workspace: str) -> None:
    """Print a new token for WORKSPACE (shown once; only its hash is stored)."""
    workspace = workspace.strip()
    if not workspace:
        raise click.BadParameter("must not be blank", param_hint="--workspace")
    with transaction(current_pool()) as tx:
        token = auth.create_token(tx, workspace)
    click.echo(f"Token for workspace {workspace!r} (store it now, it is not shown again):")
    click.echo(token)


@tokens.command("list")
def list_tokens() -> None:
    """List tokens by prefix, workspace and state (never the tokens themselves)."""
    with transaction(current_pool(), read_only=True) as tx:
        rows = tx.fetch_all("list_tokens")
    if not rows:
        return
    table = [("PREFIX", "WORKSPACE", "CREATED", "STATE")] + [
        (
            row["token_prefix"],
            row["workspace"],
            f"{row['created_at']:%Y-%m-%d %H:%M}",
            f"revoked {row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else "active",
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in table) for column in range(3)]
    for line in table:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        click.echo("  ".join([*cells, line[3]]))


@tokens.command("revoke")
@click.argument("token_prefix")
def revoke_token(token_prefix: str) -> None:
    """Revoke the token whose listing starts with TOKEN_PREFIX (e.g. ld_AbCdEfGh)."""
    with transaction(current_pool()) as tx:
        row = tx.fetch_one("revoke_token", {"token_prefix": token_prefix[: auth.PREFIX_LENGTH]})
    if row is None:
        raise click.ClickException(f"No active token with prefix {token_prefix!r}.")
    click.echo(f"Revoked {row['token_prefix']}.")


@db.command("upgrade")
def upgrade() -> None:
    """Apply pending schema migrations, then every SQL function (leads/sql/functions)."""
    applied = apply_migrations(current_pool().dsn)
    click.echo(f"Applied {', '.join(applied)}." if applied else "The schema is up to date.")


@idempotency_keys.command("purge")
def purge_idempotency_keys() -> None:
    """Delete the records of keys older than 24 hours (run it daily, e.g. from cron)."""
    with transaction(current_pool()) as tx:
        purged = idempotency.purge_expired(tx)
    click.echo(f"Purged {purged} expired idempotency record{'' if purged == 1 else 's'}.")


@event_feed.command("purge")
def purge_events() -> None:
    """Delete the events older than LEADS_EVENTS_RETENTION days (run it daily)."""
    days = current_app.config["LEADS_SETTINGS"].events_retention_days
    with transaction(current_pool()) as tx:
        purged = tx.fetch_one("purge_events", {"retention": f"{days} days"})["purged"]
    click.echo(f"Purged {purged} event{'' if purged == 1 else 's'} older than {days} days.")


@webhook_deliveries.command("worker")
def run_webhook_worker() -> None:
    """Deliver the webhooks until SIGTERM or SIGINT, then finish the attempts in flight.

    Applies pending migrations first, as the web server does. Several may run at once.
    """
    # Imported here, not with the app: the worker's counters would show, always zero, in the
    # web server's /metrics.
    from leads.webhooks.metrics import MetricsServer
    from leads.webhooks.worker import Worker

    settings = current_app.config["LEADS_SETTINGS"]
    try:
        server_settings = ServerSettings.from_environment()
    except ConfigError as error:
        raise click.ClickException(f"invalid configuration: {error}") from None
    logging.config.dictConfig(logging_config(server_settings.log_level))
    # A connection per sender thread, one for the fan-out and one for a scrape of /metrics.
    pool = current_pool().with_size(settings.webhooks_concurrency + 2)
    apply_migrations(pool.dsn)
    worker = Worker(pool, settings)
    metrics_server = None
    if settings.webhooks_metrics_port:
        try:
            metrics_server = MetricsServer(
                pool, server_settings.host, settings.webhooks_metrics_port
            )
        except OSError as error:
            raise click.ClickException(
                f"cannot serve metrics on {server_settings.host}:"
                f"{settings.webhooks_metrics_port} ({error.strerror or error}): set "
                "LEADS_WEBHOOKS_METRICS_PORT to a free port, or 0 for none."
            ) from None
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: worker.stop())
    try:
        worker.run()
    finally:
        if metrics_server is not None:
            metrics_server.close()
        pool.close()


def register_cli(app: Flask) -> None:
    app.cli.add_command(tokens)
    app.cli.add_command(db)
    app.cli.add_command(idempotency_keys)
    app.cli.add_command(event_feed)
    app.cli.add_command(webhook_deliveries)
