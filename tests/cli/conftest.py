"""Fixtures for the `leads` command: the test app served over real HTTP, with a fault injector
in front of it, and two ways to run the command (in-process with click's runner, or the
installed `.venv/bin/leads` in a subprocess)."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.serving import WSGIRequestHandler, make_server

from leads_client.cli import cli

LEADS_BIN = Path(sys.executable).with_name("leads")
# The imports: lead adds, and suppression list adds.
ADD_PATH = re.compile(r"^/api/(campaigns/[^/]+/leads|suppressions)$")


@dataclass
class AddRequest:
    """One POST /api/campaigns/{id}/leads or /api/suppressions as the server saw it; `items`
    are its prospects or entries."""

    path: str
    idempotency_key: str | None
    query: str
    body: dict
    items: list
    fault: str | None
    status: int | None = None
    replayed: bool | None = None


@dataclass
class Fault:
    """Make add requests (of leads or suppression entries) number `first`, `first + 1`, ...
    fail (`times` of them, or all from `first` on when None). kind: an HTTP status ("503",
    "429", "413"), "drop-before" (connection closed before the app sees the request),
    "drop-after" (the app writes, then the connection is closed before the response), or
    "hold" (the request waits until `release` is set, then goes through)."""

    kind: str
    first: int
    times: int | None = None
    retry_after: str | None = "0"
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    def applies_to(self, number: int) -> bool:
        if number < self.first:
            return False
        return self.times is None or number < self.first + self.times


class FaultInjector:
    """WSGI middleware in front of the test app: records add requests (of leads or suppression
    entries), injects faults."""

    def __init__(self, app) -> None:
        self.app = app
        self._lock = threading.Lock()
        self.requests: list[AddRequest] = []
        self.fault: Fault | None = None

    def reset(self) -> None:
        with self._lock:
            if self.fault is not None:
                self.fault.release.set()
            self.requests = []
            self.fault = None

    def arm(self, fault: Fault) -> Fault:
        with self._lock:
            self.fault = fault
        return fault

    def disarm(self) -> None:
        with self._lock:
            if self.fault is not None:
                self.fault.release.set()
            self.fault = None

    def __call__(self, environ, start_response):
        if environ["PATH_INFO"].startswith("/not-json/"):
            # Stands for a wrong URL: a web page where the API was expected.
            start_response("200 OK", [("Content-Type", "text/html")])
            return [b"<html><body>Welcome</body></html>"]
        if environ["REQUEST_METHOD"] != "POST" or not ADD_PATH.match(environ["PATH_INFO"]):
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            document = json.loads(body)
            items = document.get("prospects", document.get("entries", []))
        except (ValueError, AttributeError):
            document, items = {}, []
        with self._lock:
            number = len(self.requests) + 1
            fault = self.fault if self.fault and self.fault.applies_to(number) else None
            record = AddRequest(
                environ["PATH_INFO"],
                environ.get("HTTP_IDEMPOTENCY_KEY"),
                environ.get("QUERY_STRING", ""),
                document,
                items,
                fault.kind if fault else None,
            )
            self.requests.append(record)
        if fault is None:
            return self._recorded(record, environ, start_response)
        if fault.kind == "hold":
            fault.held.set()
            fault.release.wait(timeout=60)
            try:
                return list(self._recorded(record, environ, start_response))
            finally:
                fault.done.set()
        if fault.kind == "drop-before":
            return self._drop(environ)
        if fault.kind == "drop-after":
            list(self.app(environ, lambda status, headers, exc_info=None: None))
            return self._drop(environ)
        status = record.status = int(fault.kind)
        headers = [("Content-Type", "application/json")]
        if fault.retry_after is not None:
            headers.append(("Retry-After", fault.retry_after))
        start_response(f"{status} Injected", headers)
        return [
            json.dumps(
                {"code": status, "status": "Injected", "message": f"Injected {status}."}
            ).encode()
        ]

    def _recorded(self, record: AddRequest, environ, start_response):
        def recording_start_response(status, headers, exc_info=None):
            values = {name.lower(): value for name, value in headers}
            record.status = int(status.split()[0])
            record.replayed = values.get("idempotent-replayed", "").lower() == "true"
            return start_response(status, headers, exc_info)

        return self.app(environ, recording_start_response)

    @staticmethod
    def _drop(environ):
        environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
        return []


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


@dataclass
class LiveServer:
    url: str
    injector: FaultInjector


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[LiveServer]:
    injector = FaultInjector(app)
    server = make_server("127.0.0.1", 0, injector, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", injector)
    finally:
        injector.disarm()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def injector(live_server) -> Iterator[FaultInjector]:
    live_server.injector.reset()
    yield live_server.injector
    live_server.injector.reset()


@pytest.fixture
def leads_env(live_server, token) -> dict[str, str]:
    return {"LEADS_API_URL": live_server.url, "LEADS_API_TOKEN": token}


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
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LEADS_API_")},
            **leads_env,
            **(env or {}),
        }
        full_env = {k: v for k, v in full_env.items() if v is not None}
        completed = subprocess.run(
            [str(LEADS_BIN), *args],
            env=full_env,
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


@pytest.fixture
def leads_bin() -> Path:
    return LEADS_BIN
