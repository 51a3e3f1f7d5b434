"""Webhook delivery: the worker (`flask --app app webhooks worker`, run as the operator runs
it) against a real HTTP receiver on 127.0.0.1 that verifies every request with the
`standardwebhooks` library. Time is scaled by LEADS_WEBHOOKS_TIME_SCALE, so that the
backoff and the 24-hour windows take fractions of a second."""

from __future__ import annotations

import ipaddress
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app import create_app
from leads.db.queries import QUERIES
from leads.domain.webhook_urls import NOT_PUBLIC
from leads.webhooks.sender import Outcome, Sender
from tests.contract import ApiClient, free_port, open_transaction, query_rows
from tests.webhook_receiver import LARGE_BODY, Receiver

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")
# What every worker of these tests runs with, unless a test says otherwise.
WORKER_SETTINGS = {
    "LEADS_WEBHOOKS_ALLOW_PRIVATE_URLS": "true",
    "LEADS_WEBHOOKS_POLL_INTERVAL": "0.05",
    "LEADS_WEBHOOKS_TIME_SCALE": "0.01",  # 5 s -> 50 ms, 30 s -> 300 ms
    "LEADS_WEBHOOKS_CONCURRENCY": "2",
    "LEADS_WEBHOOKS_METRICS_PORT": "0",
}
WAIT = 30  # seconds a test waits for the worker at most: far more than it needs


@pytest.fixture(scope="module")
def private_app(database_url):
    """The API as development runs it: webhook URLs may point at 127.0.0.1."""
    app = create_app(
        {"database_url": database_url, "rate_limit": None, "webhooks_allow_private_urls": True}
    )
    yield app
    app.extensions["leads_pool"].close()


@pytest.fixture
def client(private_app, token) -> ApiClient:
    return ApiClient(private_app, token)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


class Worker:
    """A worker process, its output in a file."""

    def __init__(self, database_url: str, log: Path, **settings: str) -> None:
        environment = {
            **os.environ,
            **WORKER_SETTINGS,
            **settings,
            "DATABASE_URL": database_url,
        }
        self.log = log
        self._output = log.open("w")
        self.process = subprocess.Popen(
            [FLASK, "--app", "app", "webhooks", "worker"],
            cwd=ROOT,
            env=environment,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )

    def wait_started(self) -> None:
        eventually(lambda: "webhook worker started" in self.log.read_text())

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(WAIT)
        finally:
            self._output.close()

    def lines(self, text: str) -> int:
        return self.log.read_text().count(text)


@pytest.fixture
def start_worker(database_url, tmp_path):
    workers = []

    def start(**settings: str) -> Worker:
        worker = Worker(database_url, tmp_path / f"worker-{len(workers)}.log", **settings)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.kill()
        worker.stop()


def eventually(check, timeout: float = WAIT):
    """check()'s first true value, polling (AssertionError after timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"not true within {timeout} s: {check}")


def create_webhook(client: ApiClient, receiver: Receiver, **body) -> dict:
    response = client.post(
        "/api/webhooks", json={"url": receiver.url, "event_types": ["*"], **body}
    )
    assert response.status_code == 201, response.json
    receiver.secrets.append(response.json["secret"])
    return response.json["webhook"]


def deliveries(db, webhook: dict) -> list[dict]:
    """The webhook's deliveries as stored, in event order."""
    return query_rows(
        db,
        "SELECT state::text, attempts, last_status_code, last_error, next_attempt_at,"
        " event_position FROM webhook_deliveries WHERE endpoint_id = %s"
        " ORDER BY event_position",
        (webhook["id"],),
    )


def ended(db, webhook: dict, count: int = 1):
    """The deliveries once `count` of them exist and none is pending."""

    def check():
        rows = deliveries(db, webhook)
        return rows if len(rows) == count and all(r["state"] != "pending" for r in rows) else None

    return eventually(check)


def attempted(db, webhook: dict) -> dict:
    """The webhook's one delivery, once attempted."""

    def check():
        rows = deliveries(db, webhook)
        return rows[0] if rows and rows[0]["attempts"] else None

    return eventually(check)


def feed(client: ApiClient) -> list[dict]:
    response = client.get("/api/events")
    assert response.status_code == 200
    return response.json["events"]


def delivered_as(event: dict) -> dict:
    """The body a receiver gets for an event of the feed."""
    return {"type": event["type"], "timestamp": event["occurred_at"], "data": event}


class TestDelivery:
    def test_a_signed_delivery_of_each_event(self, client, receiver, start_worker, db):
        webhook = create_webhook(client, receiver)
        client.create_campaign("Spring")
        client.create_campaign("Summer")
        start_worker()
        first, second = receiver.wait_for(2)
        events = feed(client)
        # Each verified by the library with the webhook's secret, in full.
        assert [first.payload, second.payload] == [delivered_as(event) for event in events]
        for request, event in zip((first, second), events, strict=True):
            assert request.verified_by == receiver.secrets
            assert request.path == "/hooks"
            assert request.headers["webhook-id"] == event["id"]
            assert request.headers["content-type"] == "application/json"
            assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
            assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < WAIT
            assert request.headers["webhook-signature"].startswith("v1,")
        rows = ended(db, webhook, 2)
        assert [
            (r["state"], r["attempts"], r["last_status_code"], r["last_error"]) for r in rows
        ] == [("delivered", 1, 200, None)] * 2
        assert [r["next_attempt_at"] for r in rows] == [None, None]

    def test_only_the_types_asked_for(self, client, receiver, start_worker, db):
        webhook = create_webhook(client, receiver, event_types=["campaign.status_changed"])
        campaign = client.create_campaign()
        assert client.post(f"/api/campaigns/{campaign['id']}/launch").status_code == 200
        start_worker()
        (request,) = receiver.wait_for(1)
        assert request.payload["type"] == "campaign.status_changed"
        assert request.payload["data"]["data"] == {"from": "draft", "to": "active"}
        assert len(ended(db, webhook)) == 1

    def test_500_twice_then_200_is_delivered_on_the_third_attempt(self, client, start_worker, db):
        with Receiver(500, 500, then=200) as receiver:
            webhook = create_webhook(client, receiver)
            client.create_campaign()
            start_worker()
            requests = receiver.wait_for(3)
            (row,) = ended(db, webhook)
        assert [request.verified_by for request in requests] == [receiver.secrets] * 3
        assert len({request.headers["webhook-id"] for request in requests}) == 1
        assert requests[0].headers["webhook-id"] == feed(client)[0]["id"]
        # The backoff, scaled by 0.01: 5 s and 30 s become 50 ms and 300 ms, no less (and
        # not the unscaled seconds).
        gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(requests)]
        assert 0.05 <= gaps[0] < 5 and 0.3 <= gaps[1] < 10, gaps
        assert (row["state"], row["attempts"], row["last_status_code"]) == ("delivered", 3, 200)
        listing = client.get(f"/api/webhooks/{webhook['id']}/deliveries").json["deliveries"]
        assert [(d["state"], d["attempts"], d["last_status_code"]) for d in listing] == [
            ("delivered", 3, 200)
        ]

    def test_a_delivery_failing_for_24_hours_fails(self, client, start_worker, db):
        # At this scale the 24 hours of retries last 4.3 s, the hourly retries come every
        # 0.18 s.
        with Receiver(then=500) as receiver:
            webhook = create_webhook(client, receiver)
            client.create_campaign()
            start_worker(LEADS_WEBHOOKS_TIME_SCALE="0.00005")
            (row,) = ended(db, webhook)
            assert len(receiver.received) == row["attempts"]
        assert (row["state"], row["last_status_code"], row["next_attempt_at"]) == (
            "failed",
            500,
            None,
        )
        # Attempted again and again for the 24 hours (5 attempts in the first 1.2 hours, then
        # one an hour, each a little later than its hour when the machine is busy), and
        # then no more.
        span = receiver.received[-1].at - receiver.received[0].at
        assert 4.32 - 0.18 - 0.1 < span < 4.32 + 2 and row["attempts"] >= 10

    def test_a_webhook_failing_for_24_hours_is_disabled_until_enabled(
        self, client, start_worker, db
    ):
        with Receiver(then=500) as receiver:
            webhook = create_webhook(client, receiver)
            # Its attempts have failed since yesterday.
            with db.cursor() as cursor:
                cursor.execute(
                    "UPDATE webhook_endpoints SET failing_since = now() - interval '25 hours'"
                )
            client.create_campaign("First")
            client.create_campaign("Second")
            start_worker()
            path = f"/api/webhooks/{webhook['id']}"
            disabled = eventually(lambda: not client.get(path).json["webhook"]["enabled"])
            # Its deliveries wait, unscheduled: no attempt comes any more.
            held = eventually(
                lambda: [r["next_attempt_at"] for r in deliveries(db, webhook)] == [None, None]
            )
            attempts = len(receiver.received)
            time.sleep(0.3)
            assert disabled and held and len(receiver.received) == attempts
            assert {r["state"] for r in deliveries(db, webhook)} == {"pending"}

            receiver.answer_from_now(200)
            assert client.patch(path, json={"enabled": True}).status_code == 200
            rows = ended(db, webhook, 2)
        assert [row["state"] for row in rows] == ["delivered", "delivered"]
        assert client.get(path).json["webhook"]["failing_since"] is None

    def test_enabling_again_sends_what_was_held(self, client, start_worker, db):
        with Receiver(500, then=200) as receiver:
            webhook = create_webhook(client, receiver)
            path = f"/api/webhooks/{webhook['id']}"
            assert client.patch(path, json={"enabled": False}).status_code == 200
            client.create_campaign("While disabled")  # not delivered: the feed has it
            assert client.patch(path, json={"enabled": True}).status_code == 200
            client.create_campaign("After")
            start_worker()
            requests = receiver.wait_for(2)
            ended(db, webhook)
        assert [request.payload["data"]["data"]["name"] for request in requests] == [
            "After",
            "After",
        ]

    def test_a_rotated_secret_signs_beside_the_new_one(self, client, receiver, start_worker):
        webhook = create_webhook(client, receiver)
        rotated = client.post(f"/api/webhooks/{webhook['id']}/rotate-secret")
        assert rotated.status_code == 200
        receiver.secrets.append(rotated.json["secret"])
        client.create_campaign()
        start_worker()
        (request,) = receiver.wait_for(1)
        assert request.verified_by == receiver.secrets  # the old secret and the new one
        assert len(request.headers["webhook-signature"].split(" ")) == 2


class TestWorkers:
    def test_killed_mid_delivery_the_delivery_is_made_after_a_restart(
        self, client, database_url, start_worker, db
    ):
        with Receiver("hold", then=200) as receiver:
            webhook = create_webhook(client, receiver)
            client.create_campaign()
            worker = start_worker()
            assert receiver.holding.wait(WAIT)
            worker.signal(signal.SIGKILL)
            assert worker.process.wait(WAIT) == -signal.SIGKILL
            # Nothing recorded, and the row is free again: the server rolled back the
            # killed worker's transaction.
            (row,) = deliveries(db, webhook)
            assert (row["state"], row["attempts"]) == ("pending", 0)
            with open_transaction(database_url) as cursor:
                cursor.execute("SELECT id FROM webhook_deliveries FOR UPDATE NOWAIT")
            receiver.release()
            start_worker()
            first, second = receiver.wait_for(2)
            (row,) = ended(db, webhook)
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        assert second.verified_by == receiver.secrets
        assert (row["state"], row["attempts"], row["last_status_code"]) == ("delivered", 1, 200)

    def test_two_workers_never_attempt_one_delivery_at_once(self, client, start_worker, db):
        count = 40
        with Receiver(delay=0.05) as receiver:
            webhook = create_webhook(client, receiver)
            workers = [start_worker(LEADS_WEBHOOKS_CONCURRENCY="4") for _ in range(2)]
            for worker in workers:
                worker.wait_started()
            for number in range(count):
                client.create_campaign(f"Campaign {number}")
            requests = receiver.wait_for(count)
            rows = ended(db, webhook, count)
            for worker in workers:
                assert worker.stop() == 0
        assert sorted(r.headers["webhook-id"] for r in requests) == sorted(
            event["id"] for event in feed(client)
        )
        assert set(receiver.most_in_flight.values()) == {1}
        assert {(row["state"], row["attempts"]) for row in rows} == {("delivered", 1)}
        attempts = [worker.lines('"webhook attempt delivered"') for worker in workers]
        assert sum(attempts) == count and min(attempts) > 0, attempts

    def test_sigterm_finishes_the_attempt_in_flight_then_stops(self, client, start_worker, db):
        with Receiver("hold") as receiver:
            webhook = create_webhook(client, receiver)
            client.create_campaign()
            worker = start_worker()
            assert receiver.holding.wait(WAIT)
            worker.signal(signal.SIGTERM)
            time.sleep(0.3)
            assert worker.process.poll() is None  # still waiting for its answer
            receiver.release()
            assert worker.process.wait(WAIT) == 0
        (row,) = deliveries(db, webhook)
        assert (row["state"], row["attempts"], row["last_status_code"]) == ("delivered", 1, 200)
        assert worker.lines("webhook worker stopped") == 1

    def test_an_unreachable_database_stops_it_with_one_line(self, tmp_path):
        unused = free_port()
        worker = Worker(f"postgresql://leads:secret@127.0.0.1:{unused}/leads", tmp_path / "w.log")
        assert worker.process.wait(WAIT) == 1
        worker.stop()
        output = worker.log.read_text()
        assert output.startswith("Error: cannot reach the database (connection to server at")
        assert (
            output.endswith("check DATABASE_URL and that the server is running.\n")
            and output.count("\n") == 1
        )

    def test_metrics(self, client, receiver, start_worker):
        port = free_port()
        create_webhook(client, receiver)
        client.create_campaign()
        start_worker(LEADS_WEBHOOKS_METRICS_PORT=str(port))
        receiver.wait_for(1)

        def scraped():
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            return (
                text if 'leads_webhook_deliveries_total{outcome="delivered"} 1.0' in text else None
            )

        text = eventually(scraped)
        assert 'leads_webhook_attempts_total{result="delivered"} 1.0' in text
        assert "leads_webhook_deliveries_pending 0.0" in text
        assert "leads_webhook_oldest_pending_age_seconds 0.0" in text
        assert "leads_webhook_attempt_duration_seconds_count 1.0" in text


class TestReceivers:
    def test_one_that_hangs_times_out_and_is_attempted_again(self, client, start_worker, db):
        with Receiver("hang", then=200) as receiver:
            webhook = create_webhook(client, receiver)
            client.create_campaign()
            start_worker(LEADS_WEBHOOKS_TIMEOUT="1")
            first, second = receiver.wait_for(2)
            (row,) = ended(db, webhook)
        assert second.at - first.at >= 1
        assert (row["state"], row["attempts"], row["last_status_code"]) == ("delivered", 2, 200)

    def test_a_timeout_is_the_attempts_error(self, client, start_worker, db):
        with Receiver("hang", then="hang") as receiver:
            webhook = create_webhook(client, receiver)
            client.create_campaign()
            start_worker(LEADS_WEBHOOKS_TIMEOUT="1")
            row = attempted(db, webhook)
        assert (row["state"], row["last_status_code"], row["last_error"]) == (
            "pending",
            None,
            "timeout: no answer within 1 s",
        )

    def test_a_redirect_is_not_followed(self, client, start_worker, db):
        with Receiver() as target, Receiver(then=("redirect", target.url)) as receiver:
            webhook = create_webhook(client, receiver)
            client.create_campaign()
            start_worker()
            receiver.wait_for(2)
            row = deliveries(db, webhook)[0]
        assert target.received == []
        assert (row["state"], row["last_status_code"], row["last_error"]) == ("pending", 302, None)

    def test_of_a_large_answer_64_kib_are_read(self, client, start_worker, db):
        with Receiver("large") as receiver:
            webhook = create_webhook(client, receiver)
            client.create_campaign()
            start_worker()
            (row,) = ended(db, webhook)
            eventually(lambda: receiver.large_bytes_sent is not None)
        assert (row["state"], row["attempts"], row["last_status_code"]) == ("delivered", 1, 200)
        # The worker closed the connection: the receiver could not write it all.
        assert receiver.large_bytes_sent < LARGE_BODY

    def test_a_name_that_resolves_privately_at_delivery_is_refused(
        self, client, receiver, start_worker, db
    ):
        # Created while private URLs were allowed; the worker allows none. `localhost`
        # resolves to loopback, with no DNS server involved.
        webhook = create_webhook(client, receiver)
        path = f"/api/webhooks/{webhook['id']}"
        url = f"http://localhost:{receiver.port}/hooks"
        assert client.patch(path, json={"url": url}).json["webhook"]["url"] == url
        client.create_campaign()
        start_worker(LEADS_WEBHOOKS_ALLOW_PRIVATE_URLS="false")
        row = attempted(db, webhook)
        assert receiver.received == []
        assert (row["state"], row["last_status_code"], row["last_error"]) == (
            "pending",
            None,
            "refused: " + NOT_PUBLIC[0].lower() + NOT_PUBLIC[1:],
        )


# The audit events of the thread that makes an attempt in
# TestTheCheckedAddressIsTheOneConnected (an audit hook stays for the process's life).
AUDITED: dict = {"thread": None, "events": []}


def _audit(event: str, args: tuple) -> None:
    if event in ("socket.getaddrinfo", "socket.connect"):
        if threading.get_ident() == AUDITED["thread"]:
            AUDITED["events"].append((event, args))


class TestTheCheckedAddressIsTheOneConnected:
    """No second DNS lookup between the check and the connection: the attempt resolves the
    name once and connects to an address of that answer. Python's audit events report
    every lookup and connection the attempt's thread makes."""

    def test_one_lookup_and_a_connection_to_its_answer(self, receiver):
        if _audit not in AUDITED.setdefault("hooks", []):
            sys.addaudithook(_audit)
            AUDITED["hooks"].append(_audit)
        sender = Sender(timeout=5, allow_private=True)
        AUDITED.update(thread=threading.get_ident(), events=[])
        try:
            outcome = sender.send(f"http://localhost:{receiver.port}/hooks", b"{}", {})
        finally:
            AUDITED["thread"] = None
            sender.close()
        assert outcome == Outcome("delivered", status_code=200)
        lookups = [args for event, args in AUDITED["events"] if event == "socket.getaddrinfo"]
        # Lookups of an address (by the socket library, which takes any host) involve no
        # resolver; the one of the name is the check's.
        names = [args[:2] for args in lookups if not is_address(args[0])]
        assert names == [("localhost", receiver.port)]
        assert [args[:2] for args in lookups if is_address(args[0])] == [
            ("127.0.0.1", receiver.port)
        ]
        connections = [args[1] for event, args in AUDITED["events"] if event == "socket.connect"]
        assert connections == [("127.0.0.1", receiver.port)]
        (request,) = receiver.received
        assert request.headers["host"] == f"localhost:{receiver.port}"


def is_address(host) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def plan_nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from plan_nodes(child)


class TestClaimPlan:
    """A worker claims each delivery with one statement (claim_webhook_delivery): its
    endpoint and event must be read by their primary keys, whatever the statistics of a
    young feed say; read by workspace alone, each claim reads every event before its own."""

    FEED = 2000

    def test_the_endpoint_and_the_event_are_read_by_their_keys(self, client, receiver, db):
        if db.server_version >= 180000:
            # A known gap, not yet closed: PostgreSQL 18, on the statistics of a young feed,
            # may still read the event by workspace alone (through events_id_key, or by a
            # sequential scan), as two of four .ci/run runs showed.
            pytest.xfail("PostgreSQL 18 may plan the claim's event probe by workspace alone")
        webhook = create_webhook(client, receiver)
        (workspace_id,) = query_rows(db, "SELECT workspace_id FROM webhook_endpoints")[0].values()
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT record_event(%s, 'leads.added', NULL, '{}') FROM generate_series(1, %s)",
                (workspace_id, self.FEED),
            )
            cursor.execute(
                "INSERT INTO webhook_deliveries (workspace_id, id, endpoint_id, event_position,"
                " next_attempt_at, retry_until)"
                " SELECT %s, gen_random_uuid(), %s, n, now(), now() + interval '1 day'"
                " FROM generate_series(1, %s) AS n",
                (workspace_id, webhook["id"], self.FEED),
            )
            # Only the last deliveries are due: a claim by workspace alone reads the
            # events before them too.
            cursor.execute(
                "UPDATE webhook_deliveries SET state = 'delivered', next_attempt_at = NULL"
                " WHERE event_position < %s",
                (self.FEED - 10,),
            )
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + QUERIES["claim_webhook_delivery"])
            (plan,) = cursor.fetchone()[0]
        keys = {"events": "position", "webhook_endpoints": "id"}
        scans = [node for node in plan_nodes(plan["Plan"]) if node.get("Relation Name") in keys]
        assert {node["Relation Name"] for node in scans} == set(keys)
        for node in scans:
            key = keys[node["Relation Name"]]
            assert node["Index Name"] == node["Relation Name"] + "_pkey", node
            assert f"{key} = " in node.get("Index Cond", "").replace('"', ""), node
            assert node["Actual Rows"] == 1, node
