"""What runs once when the service starts, before any worker: database and migrations."""

from __future__ import annotations

import os

import psycopg2
import psycopg2.extras

from leads.config import Settings
from leads.db.embedded import resolve_database_url
from leads.db.migrations import apply_migrations
from leads.db.pool import Transaction
from leads.web import auth


class StartupError(RuntimeError):
    """The service cannot start (gunicorn prints the message and exits with status 1)."""


def prepare_database(log) -> None:
    """Resolve the database (starting the embedded one if DATABASE_URL is unset), apply
    migrations, and hand the URL to the workers through DATABASE_URL."""
    settings = Settings.from_environment()
    embedded = settings.database_url is None
    url = resolve_database_url(settings.database_url, settings.embedded_data_dir)
    try:
        applied = apply_migrations(url)
    except psycopg2.OperationalError as error:
        # Exit rather than serve without a schema; the orchestrator restarts the service.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "no reason given"
        raise StartupError(
            f"cannot apply migrations, the database is unreachable: {reason}"
        ) from None
    log.info("migrations applied: %s", ", ".join(applied) if applied else "none pending")
    os.environ["DATABASE_URL"] = url
    if embedded:
        _print_development_token(url)


def _print_development_token(url: str) -> None:
    # A plain connection, not a pool: the master process serves no request, and a pool
    # would show in its metrics (gauges of live processes are added up).
    connection = psycopg2.connect(url)
    try:
        with connection, connection.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            token = auth.create_token(Transaction(cur), "development")
    finally:
        connection.close()
    port = os.environ.get("PORT", "8000")
    print(
        "\nEmbedded PostgreSQL in use (data in .pgdata/). A development token for workspace "
        f"'development':\n\n    {token}\n\nTry it:\n\n"
        f"    curl -s -H 'Authorization: Bearer {token}' http://127.0.0.1:{port}/api/campaigns\n\n"
        f"API docs: http://127.0.0.1:{port}/docs\n",
        flush=True,
    )
