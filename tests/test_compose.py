"""compose.yaml, run as an operator runs it: podman-compose builds every image and creates
the stack, its services start in the order the file declares, and a smoke test goes through
both replicas of the service: a campaign created on one, leads added on the other, read back
from the first, the rate-limit count shared through Redis.

Debian 12's podman-compose (1.0) creates the containers but ignores `condition:
service_healthy`, and no systemd runs the health checks here on a timer: the test starts the
services itself, each once the services it depends on pass their health checks
(`podman healthcheck run`), which is what Docker Compose does with the same file. Skipped,
with the reason, where podman or podman-compose is not installed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import yaml

from tests.contract import http_request
from tests.podman import (
    BUILD_TIMEOUT,
    ENVIRONMENT,
    ROOT,
    ensure_base_images,
    is_healthy,
    logs,
    podman,
    require_podman,
    run,
    wait_until,
)

require_podman()
# A first run builds images from the package registries.
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT)
if shutil.which("podman-compose") is None:
    pytest.skip(
        "podman-compose is not installed: `.ci/podman-setup` installs it",
        allow_module_level=True,
    )

COMPOSE_FILE = ROOT / "compose.yaml"
HEALTHY_TIMEOUT = 120  # seconds: PostgreSQL's first start creates its cluster


class Stack:
    """The stack of compose.yaml under a project name of its own, with a random password."""

    def __init__(self) -> None:
        self.project = f"leads-test-{os.getpid()}"
        self.password = secrets.token_hex(16)
        self.services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]

    def compose(self, *arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
        command = ["podman-compose", "--file", str(COMPOSE_FILE), "--project-name", self.project]
        return run(
            [*command, *arguments],
            timeout=timeout,
            environment={**ENVIRONMENT, "LEADS_DB_PASSWORD": self.password},
        )

    def containers(self, service: str) -> list[str]:
        """The service's containers, by replica number."""
        listed = json.loads(
            podman(
                "ps",
                "--all",
                "--format",
                "json",
                "--filter",
                f"label=com.docker.compose.project={self.project}",
                "--filter",
                f"label=com.docker.compose.service={service}",
            )  # fmt: skip
        )
        listed.sort(key=lambda c: int(c["Labels"]["com.docker.compose.container-number"]))
        return [container["Names"][0] for container in listed]

    def start(self, service: str, started: set[str]) -> None:
        """Start the service after what it depends on, waiting for health where the file
        says `condition: service_healthy`."""
        if service in started:
            return
        dependencies = self.services[service].get("depends_on") or {}
        if isinstance(dependencies, list):
            dependencies = {name: {"condition": "service_started"} for name in dependencies}
        for dependency, how in dependencies.items():
            self.start(dependency, started)
            if how.get("condition") == "service_healthy":
                self.wait_until_healthy(dependency)
        podman("start", *self.containers(service))
        started.add(service)

    def wait_until_healthy(self, service: str) -> None:
        for container in self.containers(service):
            wait_until(
                lambda container=container: is_healthy(container),
                HEALTHY_TIMEOUT,
                lambda container=container: f"{container} is not healthy:\n{logs(container)}",
            )

    def up(self) -> None:
        # --no-start: podman-compose 1.0 creates them; self.start keeps the declared order.
        self.compose("up", "--no-start", "--build", timeout=BUILD_TIMEOUT)
        started: set[str] = set()
        for service in self.services:
            self.start(service, started)
        for service in self.services:
            self.wait_until_healthy(service)

    def down(self) -> None:
        self.compose("down", "--volumes")
        # podman-compose 1.0 leaves the project's network behind.
        podman("network", "rm", "--force", f"{self.project}_default", check=False)

    def base_url(self, service: str, replica: int) -> str:
        """The address the replica's port 8000 is published on."""
        published = podman("port", self.containers(service)[replica - 1], "8000").strip()
        return f"http://{published}"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    ensure_base_images()
    stack = Stack()
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


class TestComposeFile:
    def test_the_service_runs_in_two_replicas_after_its_dependencies_are_healthy(self):
        services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
        assert set(services) == {"postgres", "pgbouncer", "redis", "leads"}
        assert services["leads"]["deploy"]["replicas"] == 2
        healthy = {"condition": "service_healthy"}
        assert services["leads"]["depends_on"] == {"pgbouncer": healthy, "redis": healthy}
        assert services["pgbouncer"]["depends_on"] == {"postgres": healthy}
        for name in ("postgres", "pgbouncer", "redis"):
            assert services[name]["healthcheck"]["test"][0] == "CMD"


class TestStack:
    def test_every_container_is_healthy(self, stack):
        for service in stack.services:
            for container in stack.containers(service):
                assert is_healthy(container), logs(container)
        assert len(stack.containers("leads")) == 2

    def test_a_roster_through_both_replicas(self, stack):
        first, second = stack.base_url("leads", 1), stack.base_url("leads", 2)
        token = podman(
            "exec", stack.containers("leads")[0],
            "flask", "--app", "app", "tokens", "create", "--workspace", "smoke",
        ).splitlines()[-1]  # fmt: skip
        auth = {"Authorization": f"Bearer {token}"}

        status, _, body = http_request(
            first,
            "POST",
            "/api/campaigns",
            body={"name": "Through compose", "type": "email"},
            headers=auth,
        )
        assert status == 201, body
        campaign_id = json.loads(body)["campaign"]["id"]

        status, _, body = http_request(
            second,
            "POST",
            f"/api/campaigns/{campaign_id}/leads",
            body={
                "prospects": [
                    {"email": "ada@example.com", "first_name": "Ada"},
                    {"email": "grace@example.com"},
                    {"email": " ADA@example.com "},
                ]
            },
            headers=auth,
        )
        assert status == 200, body
        added = json.loads(body)
        assert (added["imported"], added["duplicates"]) == (2, 1)

        status, _, body = http_request(
            first, "GET", f"/api/campaigns/{campaign_id}/leads", headers=auth
        )
        assert status == 200, body
        listed = json.loads(body)["prospects"]
        assert [(lead["email"], lead["first_name"]) for lead in listed] == [
            ("ada@example.com", "Ada"),
            ("grace@example.com", None),
        ]
        # What PostgreSQL holds, asked inside its own container.
        stored = podman(
            "exec", stack.containers("postgres")[0],
            "psql", "--no-align", "--tuples-only", "--dbname=leads",
            "--command=SELECT email FROM leads ORDER BY email",
        )  # fmt: skip
        assert stored.split() == ["ada@example.com", "grace@example.com"]

    def test_the_replicas_share_the_rate_limit_counts(self, stack):
        token = podman(
            "exec", stack.containers("leads")[1],
            "flask", "--app", "app", "tokens", "create", "--workspace", "limits",
        ).splitlines()[-1]  # fmt: skip

        def remaining_after_a_call(replica: int) -> tuple[int, int]:
            status, headers, _ = http_request(
                stack.base_url("leads", replica),
                "GET",
                "/api/campaigns",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert status == 200
            return int(headers["RateLimit-Remaining"]), int(headers["RateLimit-Reset"])

        # The calls below fall in one window of the limit: a new one starts the count again.
        _, seconds_left = remaining_after_a_call(1)
        if seconds_left < 5:
            time.sleep(seconds_left + 1)
        counts = [remaining_after_a_call(replica)[0] for replica in (1, 2, 1, 2)]
        # One count in Redis: each call takes one, whichever replica answers it.
        assert counts == [counts[0] - taken for taken in range(4)]
