"""podman for the tests of the image and of compose.yaml: this machine's engine settings
(.ci/containers.conf), the stand-in base images (.ci/base-images), and a skip that says why
where podman is not installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Images are built in Docker's format: the OCI format has no HEALTHCHECK, and podman drops it.
ENVIRONMENT = {
    **os.environ,
    "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF") or str(ROOT / ".ci" / "containers.conf"),
    "BUILDAH_FORMAT": "docker",
}
BUILD_TIMEOUT = 900  # seconds: a first build installs from the package registries


def require_podman() -> None:
    if shutil.which("podman") is None:
        pytest.skip(
            "podman is not installed: `.ci/podman-setup` installs it (Debian's podman, runc, "
            "mmdebstrap, podman-compose)",
            allow_module_level=True,
        )


def podman(*arguments: str, timeout: float = 120, check: bool = True) -> str:
    """podman's standard output; a failure fails the test with podman's own words."""
    return run(["podman", *arguments], timeout=timeout, check=check).stdout


def run(
    command: list[str], *, timeout: float, check: bool = True, environment: dict | None = None
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command,
        env=environment or ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr}")
    return result


def ensure_base_images() -> None:
    """The stand-in python:3.11-slim and debian:bookworm-slim (at once when cached)."""
    run([str(ROOT / ".ci" / "base-images")], timeout=BUILD_TIMEOUT)


def inspect(container: str) -> dict:
    return json.loads(podman("container", "inspect", container))[0]


def is_healthy(container: str) -> bool:
    """Runs the container's health check now (no systemd here runs it on a timer)."""
    return run(["podman", "healthcheck", "run", container], timeout=60, check=False).returncode == 0


def wait_until(condition: Callable[[], bool], timeout: float, failure: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(failure())
        time.sleep(0.5)


def logs(container: str) -> str:
    result = run(["podman", "logs", container], timeout=60, check=False)
    return result.stdout + result.stderr


def remove(*containers: str) -> None:
    """Gone, whatever state they are in, without waiting for a graceful stop."""
    if containers:
        run(["podman", "rm", "--force", "--time", "0", *containers], timeout=120, check=False)
