"""Operator commands on a database that is not ready: one line naming the problem and its fix."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import create_app
from tests.contract import connected, create_database, drop_database, free_port, query_rows

COMMANDS = [
    ["tokens", "create", "--workspace", "acme"],
    ["tokens", "list"],
    ["tokens", "revoke", "ld_AbCdEfGh"],
    ["idempotency", "purge"],
    ["events", "purge"],
]
NO_SCHEMA = (
    "Error: the database has no schema yet: run `flask --app app db upgrade` (the service "
    "also applies it when it starts)."
)


def relations(url: str) -> list[dict]:
    """The tables and types of the database's public schema."""
    with connected(url) as db:
        return query_rows(
            db,
            "SELECT c.relname, c.relkind FROM pg_class AS c"
            " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' ORDER BY c.relname",
        )


def run_command(database_url: str, args: list[str]):
    app = create_app({"database_url": database_url, "db_connect_timeout": 2})
    try:
        return app.test_cli_runner().invoke(args=args)
    finally:
        app.extensions["leads_pool"].close()


@pytest.fixture
def empty_database(server_url) -> Iterator[str]:
    """A database never migrated: the state `make test` alone leaves a new server in."""
    name = f"leads_commands_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = create_database(server_url, name)
    yield url
    drop_database(server_url, name)


class TestUnmigratedDatabase:
    @pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
    def test_one_line_naming_the_fix(self, empty_database, args):
        result = run_command(empty_database, args)
        assert (result.exit_code, result.output) == (1, NO_SCHEMA + "\n")
        assert relations(empty_database) == []  # nothing was created behind the operator's back

    def test_the_fix_works(self, empty_database):
        assert run_command(empty_database, ["db", "upgrade"]).exit_code == 0
        result = run_command(empty_database, ["tokens", "create", "--workspace", "acme"])
        assert result.exit_code == 0, result.output
        token = result.output.splitlines()[-1]
        with connected(empty_database) as db:
            stored = query_rows(
                db,
                "SELECT workspaces.name, api_tokens.token_prefix, api_tokens.revoked_at"
                " FROM api_tokens JOIN workspaces ON workspaces.id = api_tokens.workspace_id",
            )
        assert stored == [{"name": "acme", "token_prefix": token[:11], "revoked_at": None}]


class TestUnreachableDatabase:
    @pytest.mark.parametrize("args", [*COMMANDS, ["db", "upgrade"]], ids=" ".join)
    def test_one_line_naming_the_problem(self, args):
        url = f"postgresql://postgres@127.0.0.1:{free_port()}/leads"
        result = run_command(url, args)
        assert result.exit_code == 1
        assert len(result.output.splitlines()) == 1, result.output
        assert result.output.startswith("Error: cannot reach the database (")
        assert result.output.endswith("): check DATABASE_URL and that the server is running.\n")
        assert "Traceback" not in result.output


ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).with_name("flask")


def run_process(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """A command as an operator runs it, in a process of its own, with `env` on top of a
    clean environment (no DATABASE_URL unless given)."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("LEADS_")}
    base.pop("DATABASE_URL", None)
    return subprocess.run(
        args, cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


class TestConfigurationErrors:
    @pytest.mark.parametrize(
        ("env", "message"),
        [
            (
                {"LEADS_DB_POOL_SIZE": "ten", "DATABASE_URL": "postgresql://x@127.0.0.1/x"},
                "LEADS_DB_POOL_SIZE must be a whole number, got 'ten'",
            ),
            (
                {"LEADS_EMBEDDED_DATABASE": "false"},
                "DATABASE_URL must be set when LEADS_EMBEDDED_DATABASE is false",
            ),
        ],
        ids=["pool size", "no database"],
    )
    def test_one_line_and_exit_1(self, env, message):
        result = run_process([str(FLASK), "--app", "app", "tokens", "list"], **env)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", f"Error: {message}\n")


class TestEmbeddedServer:
    def test_a_command_says_it_started_the_server_and_db_stop_says_it_stopped_it(self, tmp_path):
        data_dir = tmp_path / "pgdata" / "data"
        env = {"LEADS_EMBEDDED_PGDATA": str(data_dir)}
        stop = [sys.executable, "-m", "leads.db.embedded", "stop"]
        try:
            started = run_process([str(FLASK), "--app", "app", "tokens", "list"], **env)
            assert started.stderr.splitlines() == [
                f"leads: started the embedded PostgreSQL (data in {data_dir}); it keeps "
                "running until `make db-stop`.",
                NO_SCHEMA,
            ]
            assert started.returncode == 1
            # Running already: nothing to say.
            again = run_process([str(FLASK), "--app", "app", "tokens", "list"], **env)
            assert again.stderr.splitlines() == [NO_SCHEMA]
        finally:
            stopped = run_process(stop, **env)
        assert (stopped.returncode, stopped.stdout) == (
            0,
            f"Stopped the embedded PostgreSQL (its data stays in {data_dir}).\n",
        )
        idle = run_process(stop, **env)
        assert idle.stdout == f"The embedded PostgreSQL is not running (data in {data_dir}).\n"
