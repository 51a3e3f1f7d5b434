"""Fixtures for the `leads` command: two ways to run it (in-process with click's runner, or the
installed `.venv/bin/leads` in a subprocess), against the live server of tests/conftest.py."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from leads_client.cli import cli
from tests.live_server import LEADS_BIN, process_env


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def invoke(leads_env, injector):
    """Run the command in this process (fast): click's runner, env from `leads_env`."""

    def invoke(*args: str, env: dict | None = None, input: str | None = None) -> Run:
        runner = CliRunner()
        full_env = {**leads_env, **(env or {})}
        result = runner.invoke(cli, list(args), env=full_env, input=input, prog_name="leads")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Run(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.fixture
def run_leads(leads_env, injector):
    """Run the installed `.venv/bin/leads` in a subprocess."""
    assert LEADS_BIN.exists(), f"{LEADS_BIN} is missing: run `make` (pip install -e .)"

    def run(*args: str, env: dict | None = None, input: str | None = None) -> Run:
        completed = subprocess.run(
            [str(LEADS_BIN), *args],
            env=process_env(**{**leads_env, **(env or {})}),
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Run(completed.returncode, completed.stdout, completed.stderr)

    return run


def simple_table(headers: list[str], rows: list[list]) -> str:
    """tabulate's "simple" format: headers, dashes, rows; two spaces between columns, each
    column at least two wider than its header."""
    cells = [[str(cell) if cell is not None else "" for cell in row] for row in rows]
    widths = [
        max(len(headers[column]) + 2, *(len(row[column]) for row in cells))
        for column in range(len(headers))
    ]

    def line(values):
        return "  ".join(
            value.ljust(width) for value, width in zip(values, widths, strict=True)
        ).rstrip()

    return "\n".join(
        [line(headers), line(["-" * width for width in widths]), *(line(row) for row in cells)]
    )


# What the commands' tests share.

# The summary of `lead add` that imported nothing.
LEAD_SUMMARY = {
    "rows": 0,
    "imported": 0,
    "duplicates": 0,
    "suppressed": 0,
    "rejected": [],
    "workspace_duplicates": [],
    "suppressed_rows": [],
    "replayed_batches": 0,
    "dry_run": False,
    "complete": True,
}


def lead_summary(**changes) -> dict:
    """The JSON summary of `lead add`, with these counts and lists."""
    return {**LEAD_SUMMARY, **changes}


def write(tmp_path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return str(path)


def item_reason(api, path: str, items_key: str, item: dict) -> str:
    """What the API says of one bad item POSTed alone to `path` as `{items_key: [item]}`
    (a request it refuses, so nothing is written), as an import's summary words it:
    `field: message`."""
    response = api.post(path, json={items_key: [item]})
    assert response.status_code == 400, response.json
    (problems,) = response.json["errors"]["json"][items_key].values()
    return "; ".join(
        message if message.startswith(f"{field} ") else f"{field}: {message}"
        for field, messages in problems.items()
        for message in messages
    )
