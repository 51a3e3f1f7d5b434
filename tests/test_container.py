"""The container image, checked without a Docker engine: the Dockerfile is read, its final
stage's files are laid out as the image would hold them, its start command (CMD) runs in a
fresh virtual environment built from requirements.txt alone, and the service must answer.

The virtual environment is cached in .cache/ (git-ignored), keyed by requirements.txt and
the interpreter, so reruns are fast; pip reuses its wheel cache for a new one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from prometheus_client.parser import text_string_to_metric_families

from tests.contract import free_port, http_request

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
REQUIREMENTS = ROOT / "requirements.txt"
VENV_CACHE = ROOT / ".cache" / "container-venv"
BASE_IMAGE = "python:3.11-slim"
BUILD_TOOLS = ("gcc", "g++", "make", "build-essential", "libpq-dev", "python3-dev", "clang")
START_TIMEOUT = 90


@dataclass
class Instruction:
    keyword: str
    arguments: str


def read_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            result.append([])
        result[-1].append(instruction)
    return result


def exec_form(arguments: str) -> list[str]:
    """A JSON array (exec form, so that signals reach gunicorn), or AssertionError."""
    parsed = json.loads(arguments)
    assert isinstance(parsed, list) and all(isinstance(item, str) for item in parsed)
    return parsed


def only(stage: list[Instruction], keyword: str) -> Instruction:
    found = [instruction for instruction in stage if instruction.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {len(found)}"
    return found[0]


def requirement_lines() -> list[str]:
    return [
        line.strip()
        for line in REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def installed_pins(environment: dict[str, str] | None = None) -> list[str]:
    """The `name==version` pins of requirements.txt that pip installs where `environment`
    (this interpreter's, unless given) meets each line's environment marker, if any."""
    pins = []
    for line in requirement_lines():
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            pins.append(line.partition(";")[0].strip())
    return pins


FINAL_STAGE = stages(read_dockerfile(DOCKERFILE.read_text()))[-1]


def start_command() -> list[str]:
    entrypoint = [i for i in FINAL_STAGE if i.keyword == "ENTRYPOINT"]
    command = exec_form(only(FINAL_STAGE, "CMD").arguments)
    return (exec_form(entrypoint[-1].arguments) if entrypoint else []) + command


def healthcheck_command() -> list[str]:
    arguments = only(FINAL_STAGE, "HEALTHCHECK").arguments
    _, _, command = arguments.partition("CMD ")
    return exec_form(command)


def image_environment() -> dict[str, str]:
    """The final stage's ENV, PATH aside (the image's venv is replaced by the test's)."""
    environment = {}
    for instruction in FINAL_STAGE:
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.arguments):
                name, _, value = pair.partition("=")
                if name != "PATH":
                    environment[name] = value
    return environment


def lay_out_image(image_root: Path) -> Path:
    """Copy what the final stage COPYs from the build context, as Docker would (a directory's
    contents go into the destination); return the WORKDIR."""
    workdir = image_root / only(FINAL_STAGE, "WORKDIR").arguments.lstrip("/")
    workdir.mkdir(parents=True)
    for instruction in FINAL_STAGE:
        if instruction.keyword != "COPY" or "--from=" in instruction.arguments:
            continue
        words = [word for word in shlex.split(instruction.arguments) if not word.startswith("--")]
        *sources, destination = words
        if destination.startswith("/"):
            target = image_root / destination.lstrip("/")
        else:
            target = workdir / destination
        for source in sources:
            path = ROOT / source
            if path.is_dir():
                shutil.copytree(
                    path,
                    target,
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )
            elif destination.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target / path.name)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    return workdir


def fresh_venv() -> Path:
    """A virtual environment holding requirements.txt and nothing else (cached)."""
    key = hashlib.sha256(REQUIREMENTS.read_bytes() + sys.version.encode()).hexdigest()[:16]
    venv = VENV_CACHE / key
    VENV_CACHE.mkdir(parents=True, exist_ok=True)
    with open(VENV_CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent test runs build it once
        if not (venv / ".complete").exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run(
                [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
                + ["-r", str(REQUIREMENTS)],
                check=True,
                timeout=900,
            )
            (venv / ".complete").touch()
    return venv


class Service:
    """The image's start command, running; its output in files."""

    def __init__(self, workdir: Path, venv: Path, database_url: str, scratch: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.environment = {
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
            "HOME": str(scratch),
            "TMPDIR": str(scratch),
            "LANG": "C.UTF-8",
            **image_environment(),
            # What an operator passes to `docker run`; loopback rather than 0.0.0.0 here.
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "DATABASE_URL": database_url,
        }
        self.workdir = workdir
        self.stdout_path = scratch / f"stdout-{self.port}.log"
        self.stderr_path = scratch / f"stderr-{self.port}.log"
        command = start_command()
        command[0] = shutil.which(command[0], path=self.environment["PATH"]) or command[0]
        with open(self.stdout_path, "wb") as stdout, open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                command, cwd=workdir, env=self.environment, stdout=stdout, stderr=stderr
            )
        self._wait_until_healthy()

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the service exited with {self.process.returncode}:\n{self.output()}")
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"the service did not answer within {START_TIMEOUT} s:\n{self.output()}")

    def request(self, method: str, path: str, *, body=None, headers=None):
        return http_request(self.base_url, method, path, body=body, headers=headers)

    def output(self) -> str:
        return self.stdout_path.read_text() + self.stderr_path.read_text()

    def stdout_lines(self) -> list[str]:
        return [line for line in self.stdout_path.read_text().splitlines() if line.strip()]

    def healthcheck(self) -> int:
        command = healthcheck_command()
        command[0] = shutil.which(command[0], path=self.environment["PATH"]) or command[0]
        return subprocess.run(command, env=self.environment, timeout=30).returncode

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> tuple[Path, Path]:
    """(the WORKDIR as the image holds it, the fresh virtual environment)."""
    return lay_out_image(tmp_path_factory.mktemp("image")), fresh_venv()


@pytest.fixture(scope="module")
def service(image, database_url, tmp_path_factory):
    workdir, venv = image
    service = Service(workdir, venv, database_url, tmp_path_factory.mktemp("service"))
    yield service
    service.stop()


def metric_value(service: Service, name: str, labels: dict[str, str] | None = None) -> float:
    status, _, body = service.request("GET", "/metrics")
    assert status == 200
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == name and (labels or {}).items() <= sample.labels.items():
                return sample.value
    return 0.0


class TestDockerfile:
    def test_stages_build_on_the_slim_python_image(self):
        froms = [
            i.arguments.split()[0]
            for i in read_dockerfile(DOCKERFILE.read_text())
            if i.keyword == "FROM"
        ]
        assert len(froms) >= 2  # a build stage, then a final one
        assert froms[-1] == BASE_IMAGE
        assert BASE_IMAGE.split(":")[1].startswith(f"{sys.version_info[0]}.{sys.version_info[1]}")

    def test_the_final_stage_runs_as_a_numeric_non_root_user(self):
        user = [i for i in FINAL_STAGE if i.keyword == "USER"][-1].arguments
        uid = user.split(":")[0]
        assert uid.isdigit() and int(uid) != 0, user

    @pytest.mark.parametrize("tool", BUILD_TOOLS)
    def test_the_final_stage_installs_no_build_tool(self, tool):
        runs = " ".join(i.arguments for i in FINAL_STAGE if i.keyword == "RUN")
        assert not re.search(rf"(?<![\w-]){re.escape(tool)}(?![\w-])", runs)
        assert "pip install" not in runs  # packages come from the build stage, built there

    def test_the_final_stage_copies_the_venv_from_the_build_stage(self):
        copies = [i.arguments for i in FINAL_STAGE if i.keyword == "COPY"]
        assert any(arguments.startswith("--from=") for arguments in copies)

    def test_commands_are_in_exec_form(self):
        assert start_command()[:3] == ["gunicorn", "--config", "gunicorn.conf.py"]
        assert healthcheck_command()[0] == "python"
        assert "/healthz" in " ".join(healthcheck_command())

    @pytest.mark.parametrize("line", requirement_lines())
    def test_every_requirement_is_pinned(self, line):
        pin = line.partition(";")[0]
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[A-Za-z0-9_.+!\-]+", pin.strip()), line
        Requirement(line)  # an environment marker, if any, is one pip reads

    def test_requirements_pin_every_package_installed(self, image):
        _, venv = image
        frozen = subprocess.run(
            [str(venv / "bin" / "pip"), "freeze", "--all", "--disable-pip-version-check"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        pinned = installed_pins()

        def normalized(lines):
            return sorted(re.sub(r"[-_.]+", "-", line.lower()) for line in lines)

        def name(line):
            return normalized([line.split("==")[0]])[0]

        # pip and setuptools come with every virtual environment, pinned or not.
        pinned_names = {name(line) for line in pinned}
        frozen = [
            line
            for line in frozen
            if name(line) not in {"pip", "setuptools"} or name(line) in pinned_names
        ]
        assert normalized(frozen) == normalized(pinned)


class TestStartCommand:
    def test_liveness_and_readiness(self, service):
        assert service.request("GET", "/healthz")[::2] == (200, b'{"status":"ok"}\n')
        assert service.request("GET", "/readyz")[::2] == (200, b'{"status":"ready"}\n')

    def test_the_healthcheck_command_passes(self, service):
        assert service.healthcheck() == 0

    def test_authenticated_calls(self, service, token, db):
        headers = {"Authorization": f"Bearer {token}"}
        status, _, body = service.request("GET", "/api/campaigns", headers=headers)
        assert (status, json.loads(body)) == (200, {"campaigns": []})
        status, _, body = service.request(
            "POST",
            "/api/campaigns",
            body={"name": "From the container", "type": "email"},
            headers=headers,
        )
        assert status == 201, body
        campaign = json.loads(body)["campaign"]
        with db.cursor() as cursor:
            cursor.execute("SELECT id::text, name, type::text, status::text FROM campaigns")
            assert cursor.fetchall() == [(campaign["id"], "From the container", "email", "draft")]

    def test_a_missing_token_is_401(self, service):
        status, headers, body = service.request("GET", "/api/campaigns")
        assert status == 401
        assert headers["WWW-Authenticate"] == 'Bearer realm="leads"'
        assert json.loads(body) == {
            "code": 401,
            "status": "Unauthorized",
            "message": "Authentication required: send Authorization: Bearer <token>.",
        }

    def test_one_json_line_per_request_without_token_or_personal_data(self, service, token, db):
        request_id = f"container-{uuid.uuid4()}"
        campaign_status, _, body = service.request(
            "POST",
            "/api/campaigns",
            body={"name": "Logged", "type": "email"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert campaign_status == 201
        campaign_id = json.loads(body)["campaign"]["id"]
        status, _, _ = service.request(
            "POST",
            f"/api/campaigns/{campaign_id}/leads",
            body={"prospects": [{"email": "very.private.person@example.com", "last_name": "Q"}]},
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_id},
        )
        assert status == 200
        with db.cursor() as cursor:
            cursor.execute("SELECT workspace_id::text FROM campaigns WHERE id = %s", (campaign_id,))
            (workspace_id,) = cursor.fetchone()

        lines = [json.loads(line) for line in service.stdout_lines()]  # every line is JSON
        logged = [line for line in lines if line.get("request_id") == request_id]
        assert len(logged) == 1
        line = logged[0]
        assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
        datetime.fromisoformat(line["time"])
        assert line == {
            "level": "INFO",
            "logger": "leads.requests",
            "message": "POST /api/campaigns/<campaign_id>/leads 200",
            "method": "POST",
            "route": "/api/campaigns/<campaign_id>/leads",
            "status": 200,
            "duration_ms": line["duration_ms"],
            "request_id": request_id,
            "workspace_id": workspace_id,
            "time": line["time"],
        }
        output = service.output()
        assert token not in output
        assert token[3:] not in output
        assert "very.private.person" not in output

    def test_metrics_add_up_every_worker(self, service):
        # Each worker's pool sets the size gauge; the sum proves the workers are added up.
        workers = int(image_environment().get("WEB_CONCURRENCY", "2"))
        pool_size = int(image_environment().get("LEADS_DB_POOL_SIZE", "10"))
        deadline = time.monotonic() + 20
        while metric_value(service, "leads_db_pool_size") != workers * pool_size:
            assert time.monotonic() < deadline, metric_value(service, "leads_db_pool_size")
            time.sleep(0.2)
        labels = {"method": "GET", "route": "/healthz", "status": "200"}
        before = metric_value(service, "leads_http_requests_total", labels)
        for _ in range(20):
            assert service.request("GET", "/healthz")[0] == 200
        assert metric_value(service, "leads_http_requests_total", labels) == before + 20


class TestShutdown:
    def test_sigterm_stops_gracefully_and_the_healthcheck_then_fails(
        self, image, database_url, tmp_path
    ):
        workdir, venv = image
        service = Service(workdir, venv, database_url, tmp_path)
        assert service.healthcheck() == 0
        started = time.monotonic()
        assert service.stop() == 0
        assert time.monotonic() - started < 30
        assert service.healthcheck() != 0
        assert "Shutting down: Master" in service.output()
