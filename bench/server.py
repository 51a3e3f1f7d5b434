"""gunicorn as in production (gunicorn.conf.py) on a free port, other child processes, a
timing HTTP client, wrk."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


class BenchError(RuntimeError):
    """Something the bench needs did not happen (a server did not start, a wrong answer)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ChildProcess:
    """A command run in the project's root with its output in a log file; stopped by its pid
    only: SIGTERM, then SIGKILL if it has not exited after 40 s."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def stop(self) -> int:
        """Its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


class Gunicorn(ChildProcess):
    """One gunicorn master started with the production config."""

    def __init__(self, app: str, database_url: str, log_path: Path, extra_env=None) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "DATABASE_URL": database_url,
            # The production limiter runs, with a limit no bench run reaches (a 429 would
            # measure the limit, not the service).
            "LEADS_RATE_LIMIT": "1000000/second",
            **(extra_env or {}),
        }
        super().__init__([str(GUNICORN), "--config", "gunicorn.conf.py", app], env, log_path)

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"gunicorn exited with {self.process.returncode}; see its log")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", path)
                if connection.getresponse().status == 200:
                    connection.close()
                    # Both workers up: the pool's first connections are opened by warm-ups.
                    if len(self.workers()) == self.expected_workers():
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise BenchError(f"gunicorn did not answer {path} within {timeout} s")

    @staticmethod
    def expected_workers() -> int:
        return int(os.environ.get("WEB_CONCURRENCY", "2"))

    def workers(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children()
        except psutil.NoSuchProcess:
            return []

    def worker_rss(self) -> list[int]:
        return sorted(worker.memory_info().rss for worker in self.workers())


class Client:
    """One keep-alive connection; `request` times the whole exchange, body read included."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self._port = port
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._connection: http.client.HTTPConnection | None = None
        self._last_used = 0.0

    def _fresh_connection(self) -> http.client.HTTPConnection:
        # gunicorn closes a keep-alive connection idle for 5 s: never time a reconnect.
        if self._connection is None or time.monotonic() - self._last_used > 3:
            if self._connection is not None:
                self._connection.close()
            self._connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=600)
            self._connection.request("GET", "/healthz")
            self._connection.getresponse().read()
        return self._connection

    def request(
        self, method: str, path: str, body: bytes | None = None, status: int = 200
    ) -> tuple[float, bytes]:
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        connection = self._fresh_connection()
        started = time.perf_counter()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        self._last_used = time.monotonic()
        if response.status != status:
            raise BenchError(f"{method} {path}: {response.status} {data[:500]!r}")
        return elapsed, data

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


def one_shot(port: int, token: str, method: str, path: str, body: bytes) -> bytes:
    """A request on a new connection, so that successive ones reach either worker."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        connection.request(
            method,
            path,
            body=body,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Connection": "close",
            },
        )
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise BenchError(f"{method} {path}: {response.status} {data[:500]!r}")
        return data
    finally:
        connection.close()


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def run_wrk(url: str, seconds: int, connections: int, token: str | None = None) -> dict:
    """Requests per second and the p50/p99 latency (seconds) of a wrk run."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if not (rps and p50 and p99) or errors:
        raise BenchError(f"wrk output not understood or with errors:\n{output}")
    return {
        "rps": float(rps.group(1)),
        "p50": float(p50.group(1)) * _UNITS[p50.group(2)],
        "p99": float(p99.group(1)) * _UNITS[p99.group(2)],
    }
