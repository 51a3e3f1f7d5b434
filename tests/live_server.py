"""The service served over real HTTP for clients that run as their own processes (the `leads`
command, the MCP server): a werkzeug server in a thread, with a fault injector in front of the
test app that records add requests (leads, suppression entries) and can break them."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.serving import WSGIRequestHandler, make_server

LEADS_BIN = Path(sys.executable).with_name("leads")


def interruptible() -> None:
    """The preexec_fn of a process that a test stops with SIGINT (Ctrl-C). A shell's
    background job (or nohup, or some CI runners) starts with SIGINT ignored, and the child
    would inherit that: give it the default disposition, so that Python installs its
    KeyboardInterrupt handler as in a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# The imports: lead adds, and suppression list adds.
ADD_PATH = re.compile(r"^/api/(campaigns/[^/]+/leads|suppressions)$")


def process_env(**variables: str | None) -> dict[str, str]:
    """This process's environment without the `leads` settings, plus `variables` (None
    removes one): the environment of a `leads` process under test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADS_API_", "LEADS_MCP_"))}
    env.update(variables)
    return {k: v for k, v in env.items() if v is not None}


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


@contextmanager
def serving(app) -> Iterator[LiveServer]:
    """The app on a free port of 127.0.0.1 until leaving."""
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
