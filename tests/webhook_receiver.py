"""A real HTTP receiver of webhooks on 127.0.0.1: it verifies every request it gets with the
`standardwebhooks` library (as any receiver would) and answers as the test scripts it."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

# How long a held or hanging answer waits at most: far longer than any test needs.
HOLD_LIMIT = 60  # seconds
LARGE_BODY = 10 * 1024 * 1024


@dataclass
class Received:
    """One request as the receiver got it."""

    at: float  # time.monotonic()
    path: str
    headers: dict[str, str]
    body: bytes
    # The payload, when one of the receiver's secrets verified the request, else None;
    # and which secrets did.
    payload: dict | None
    verified_by: list[str] = field(default_factory=list)


class Receiver:
    """Answers each request with the next of the scripted answers, then with `then`.

    An answer is a status code, "hang" (never answer, until the receiver closes), "hold"
    (answer 200 once `release()` is called), ("redirect", url) (302 to url) or "large"
    (200 with a body of LARGE_BODY bytes, written until the client stops reading).
    """

    def __init__(self, *answers, then=200, delay: float = 0.0) -> None:
        self.secrets: list[str] = []
        self.received: list[Received] = []
        self.in_flight: dict[str, int] = {}
        self.most_in_flight: dict[str, int] = {}
        self.large_bytes_sent: int | None = None
        self._answers = list(answers)
        self._then = then
        self._delay = delay
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._closing = threading.Event()
        self.holding = threading.Event()  # set when a request is held or hanging
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = False  # server_close() waits for every handler
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def answer_from_now(self, answer) -> None:
        """Answer every request from now on with `answer`."""
        with self._lock:
            self._answers, self._then = [], answer

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self._closing.set()
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """The first `count` requests, once they came (AssertionError after timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return self.received[:count]
            time.sleep(0.01)
        raise AssertionError(f"{count} requests expected, {len(self.received)} came")

    def _next_answer(self):
        with self._lock:
            return self._answers.pop(0) if self._answers else self._then

    def _record(self, handler: BaseHTTPRequestHandler, body: bytes) -> str:
        headers = {name.lower(): value for name, value in handler.headers.items()}
        payload, verified_by = None, []
        for secret in self.secrets:
            try:
                payload = Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            verified_by.append(secret)
        received = Received(time.monotonic(), handler.path, headers, body, payload, verified_by)
        webhook_id = headers.get("webhook-id", "")
        with self._lock:
            self.received.append(received)
            self.in_flight[webhook_id] = self.in_flight.get(webhook_id, 0) + 1
            self.most_in_flight[webhook_id] = max(
                self.most_in_flight.get(webhook_id, 0), self.in_flight[webhook_id]
            )
        return webhook_id

    def _handler_class(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                webhook_id = receiver._record(self, body)
                try:
                    self._answer(receiver._next_answer())
                except OSError:
                    pass  # the client went away (a timeout, a worker killed)
                finally:
                    with receiver._lock:
                        receiver.in_flight[webhook_id] -= 1

            def _answer(self, answer):
                if receiver._delay:
                    time.sleep(receiver._delay)
                if answer in ("hang", "hold"):
                    receiver.holding.set()
                    if answer == "hang":
                        receiver._closing.wait(HOLD_LIMIT)
                        return
                    receiver._released.wait(HOLD_LIMIT)
                    answer = 200
                if answer == "large":
                    self._send_large()
                    return
                if isinstance(answer, tuple):
                    _, location = answer
                    self._reply(302, {"Location": location})
                    return
                self._reply(answer)

            def _reply(self, status: int, headers: dict | None = None) -> None:
                body = json.dumps({"status": status}).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _send_large(self) -> None:
                # A small send buffer: what the client did not read cannot hide in it.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
                self.send_response(200)
                self.send_header("Content-Length", str(LARGE_BODY))
                self.end_headers()
                chunk = b"x" * (64 * 1024)
                sent = 0
                try:
                    while sent < LARGE_BODY:
                        self.wfile.write(chunk)
                        sent += len(chunk)
                finally:
                    receiver.large_bytes_sent = sent
                    self.close_connection = True

            def log_message(self, format, *args):
                pass  # the tests read what they need from `received`

        return Handler
