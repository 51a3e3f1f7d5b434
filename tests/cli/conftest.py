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
