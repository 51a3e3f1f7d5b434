"""Items 9 and 10: what recording the change feed's events costs a write, and how fast one
webhook worker delivers them.

9. Two databases of their own, made alike (the same migrations, one campaign of
   EVENT_ROSTER seeded leads, vacuumed), each served by a gunicorn of the same code and
   settings. In the second, once its gunicorn has applied the function files at its start,
   NO_EVENTS replaces record_event (bench-only DDL): a SQL function that the planner inlines
   to NULL, so that a write neither builds its event nor writes it. POST of 1000 new leads
   and DELETE of 500 ids take turns on the two, each pair sending both the same body (the
   same seeded ids, deleted from each roster, never twice); the ratio is with / without.
10. On the first database: a receiver on 127.0.0.1 answering 204 at once, one webhook of the
   workspace for every event type (created through the API), `worker_events` small events
   written in one statement by record_event itself (the feed's statistics left as they are,
   as on a young deployment), then one worker process (`flask --app app webhooks worker`,
   production settings but for the private URL and no metrics port) until the database
   shows each delivery delivered; SIGTERM stops it. The rate counts from the worker's
   "webhook worker started" log line (after the interpreter's start and the migrations
   check, before the fan-out of the events) to that moment.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from bench.database import BenchDatabase, Campaign, seeded_lead_id
from bench.measure import BATCH, DELETE_IDS, RateRow, Row, alternate, lead_batch, log
from bench.server import BenchError, ChildProcess, Client, Gunicorn

if TYPE_CHECKING:
    from bench.run import Bench

EVENT_ROSTER = 100_000
# Item 9's two sides: each a database (leads_bench_<pid>_<name>) and a gunicorn.
SIDES = ("events", "no_events")
# The seeded ids' campaign number (seeded_lead_id), the same in both databases.
ROSTER_NUMBER = 1
COST_TARGET = 1.1
RATE_TARGET = 200  # events per second
# How long item 10 waits for a worker's deliveries: far longer than they take at the target.
DELIVERY_TIMEOUT = 300  # seconds

# Item 9's database without events: record_event, with its arguments and result type, doing
# nothing. Run after its gunicorn started, which applies every function file.
NO_EVENTS = (
    "CREATE OR REPLACE FUNCTION record_event(p_workspace_id uuid, p_type text,"
    " p_campaign_id uuid, p_data json) RETURNS bigint LANGUAGE sql RETURN NULL::bigint"
)

# Both of item 9's services, and item 10's webhook: a webhook to 127.0.0.1 is allowed.
PRIVATE_URLS = {"LEADS_WEBHOOKS_ALLOW_PRIVATE_URLS": "true"}
WORKER_ENV = {**PRIVATE_URLS, "LEADS_WEBHOOKS_METRICS_PORT": "0"}
FLASK = Path(sys.executable).parent / "flask"

# Item 10's events, as a POST of one lead records them; their positions.
SMALL_EVENTS = """
SELECT record_event(%(workspace_id)s, 'leads.added', %(campaign_id)s,
                    json_build_object('lead_ids', json_build_array(gen_random_uuid()),
                                      'count', 1))
FROM generate_series(1, %(count)s)
"""
EVENT_IDS = """
SELECT id::text FROM events
WHERE workspace_id = %(workspace_id)s AND position BETWEEN %(first)s AND %(last)s
"""
DELIVERY_STATES = """
SELECT count(*) FILTER (WHERE state = 'delivered'), count(*) FILTER (WHERE state = 'failed')
FROM webhook_deliveries
WHERE workspace_id = %(workspace_id)s AND event_position BETWEEN %(first)s AND %(last)s
"""


@dataclass
class Side:
    """One of item 9's databases, its roster, and the gunicorn serving it."""

    db: BenchDatabase
    campaign: Campaign
    server: Gunicorn
    client: Client

    @property
    def path(self) -> str:
        return f"/api/campaigns/{self.campaign.id}/leads"

    def post(self, tag: str) -> float:
        body = json.dumps({"prospects": lead_batch(tag)}).encode()
        elapsed, data = self.client.request("POST", self.path, body)
        if json.loads(data)["imported"] != BATCH:
            raise BenchError(f"{self.db.name}: the POST did not import every lead")
        return elapsed

    def delete(self, ids: list[str]) -> float:
        body = json.dumps({"prospect_ids": ids}).encode()
        elapsed, data = self.client.request("DELETE", self.path, body)
        if json.loads(data)["deleted"] != len(ids):
            raise BenchError(f"{self.db.name}: the DELETE did not remove {len(ids)} leads")
        return elapsed

    def event_types(self) -> list[str]:
        """The types of the feed's events, oldest first."""
        with self.db.autocommit() as cursor:
            cursor.execute("SELECT type FROM events ORDER BY workspace_id, position")
            return [row[0] for row in cursor.fetchall()]


class Receiver:
    """A webhook receiver on 127.0.0.1: answers 204 at once, and notes the `webhook-id` of
    each request and when the first came."""

    def __init__(self) -> None:
        self.webhook_ids: list[str] = []
        self.first_at: float | None = None  # time.time()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._note(self.headers.get("webhook-id", ""))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _note(self, webhook_id: str) -> None:
        with self._lock:
            if self.first_at is None:
                self.first_at = time.time()
            self.webhook_ids.append(webhook_id)

    def forget(self) -> None:
        with self._lock:
            self.webhook_ids, self.first_at = [], None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class WebhookWorker(ChildProcess):
    """`flask --app app webhooks worker` on a database, as an operator runs it."""

    def __init__(self, database_url: str, log_path: Path) -> None:
        self.log_path = log_path
        self.spawned_at = time.time()
        env = {**os.environ, "DATABASE_URL": database_url, **WORKER_ENV}
        super().__init__([str(FLASK), "--app", "app", "webhooks", "worker"], env, log_path)

    def start_record(self) -> dict:
        """Its "webhook worker started" log line: the time, and its sender threads."""
        for line in self.log_path.read_text(errors="replace").splitlines():
            if '"webhook worker started"' in line:
                return json.loads(line)
        raise BenchError(f"the worker did not log its start; see {self.log_path}")


class EventItems:
    """Items 9 and 10, on two databases of their own, dropped at the end."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.plan = bench.plan
        self.databases = [BenchDatabase(f"_{name}") for name in SIDES]
        self.sides: list[Side] = []

    def run(self) -> None:
        try:
            self.prepare()
            self.check_events()
            self.measure_cost()
            self.measure_worker()
        finally:
            for side in self.sides:
                side.client.close()
                if side.server in self.bench.servers:
                    self.bench.stop(side.server)
            for db in self.databases:
                log(f"dropping database {db.name}")
                db.drop()

    def prepare(self) -> None:
        for name, db in zip(SIDES, self.databases, strict=True):
            log(f"creating database {db.name}, seeding {EVENT_ROSTER:,} leads")
            db.create()
            token = db.create_token()
            campaign = db.create_campaign(f"roster of {EVENT_ROSTER}")
            db.seed(campaign, ROSTER_NUMBER, EVENT_ROSTER)
            db.vacuum_and_checkpoint()
            server = self.bench.start_service(db, f"service-{name}", PRIVATE_URLS)
            self.sides.append(Side(db, campaign, server, Client(server.port, token)))
        without = self.sides[1].db
        log(f"  in {without.name} only (bench-only DDL): {NO_EVENTS}")
        with without.autocommit() as cursor:
            cursor.execute(NO_EVENTS)
        # Seeded ids of the roster, a shuffled slice per DELETE (the check's first), the same
        # on both sides of a pair.
        rounds = 1 + self.plan.warmup + self.plan.delete_runs
        picks = random.Random(9).sample(range(1, EVENT_ROSTER + 1), rounds * DELETE_IDS)
        ids = [str(seeded_lead_id(ROSTER_NUMBER, n)) for n in picks]
        self.deletions = [ids[i : i + DELETE_IDS] for i in range(0, len(ids), DELETE_IDS)]

    def remove_recent(self) -> None:
        for side in self.sides:
            side.db.remove_recent(side.campaign)

    def check_events(self) -> None:
        """Before the clock: one POST and one DELETE on each side; the first side's feed then
        holds their two events, the other's none."""
        with_events, without = self.sides
        for side in self.sides:
            side.post("check")
            side.delete(self.deletions[0])
        self.remove_recent()
        if with_events.event_types() != ["leads.added", "leads.removed"]:
            raise BenchError(f"{with_events.db.name}: {with_events.event_types()} recorded")
        if without.event_types():
            raise BenchError(f"{without.db.name} recorded events: {without.event_types()}")

    def measure_cost(self) -> None:
        with_events, without = self.sides
        plan = self.plan
        log(f"POST {BATCH}, DELETE {DELETE_IDS} ids, events / none, roster {EVENT_ROSTER:,}")
        post = Row(
            "9",
            f"POST {BATCH} new leads, roster {EVENT_ROSTER:,}: events recorded / not (service)",
            target=COST_TARGET,
        )
        self.bench.rows.append(
            alternate(
                post,
                lambda run: with_events.post(f"e{run}"),
                lambda run: without.post(f"e{run}"),
                plan.post_runs,
                plan.warmup,
                after_each=self.remove_recent,
            )
        )
        delete = Row(
            "9",
            f"DELETE {DELETE_IDS} ids, roster {EVENT_ROSTER:,}: events recorded / not (service)",
            target=COST_TARGET,
        )
        self.bench.rows.append(
            alternate(
                delete,
                lambda run: with_events.delete(self.deletions[1 + run]),
                lambda run: without.delete(self.deletions[1 + run]),
                plan.delete_runs,
                plan.warmup,
            )
        )
        # Every request timed on the first side recorded its event, none on the other.
        posts, deletes = 1 + plan.warmup + plan.post_runs, len(self.deletions)
        types = with_events.event_types()
        if (types.count("leads.added"), types.count("leads.removed"), len(types)) != (
            posts,
            deletes,
            posts + deletes,
        ):
            raise BenchError(f"{with_events.db.name}: other events than one per request")
        if without.event_types():
            raise BenchError(f"{without.db.name} recorded events")

    def measure_worker(self) -> None:
        side = self.sides[0]
        plan = self.plan
        receiver = Receiver()
        try:
            body = json.dumps({"url": receiver.url, "event_types": ["*"]}).encode()
            side.client.request("POST", "/api/webhooks", body, status=201)
            for other in self.sides:
                self.bench.stop(other.server)
            log(
                f"webhook worker: {plan.worker_events:,} events to a receiver on 127.0.0.1"
                f" ({plan.worker_runs} runs, a new worker each)"
            )
            runs = [self.deliver(side, receiver, run) for run in range(plan.worker_runs)]
        finally:
            receiver.close()
        senders = sorted({run["concurrency"] for run in runs})
        self.bench.rows.append(
            RateRow(
                "10",
                f"webhook worker ({'/'.join(map(str, senders))} senders): "
                f"{plan.worker_events:,} events delivered to a receiver on 127.0.0.1,"
                " from its start",
                service=[run["rate"] for run in runs],
                target=RATE_TARGET,
            )
        )
        self.bench.extra["webhook_worker"] = {"events": plan.worker_events, "runs": runs}

    def deliver(self, side: Side, receiver: Receiver, run: int) -> dict:
        """One worker's run: the events written, the worker started, every delivery awaited
        in the database, the worker stopped; its figures."""
        count = self.plan.worker_events
        with side.db.autocommit() as cursor:
            cursor.execute(SMALL_EVENTS, {**side.campaign.params, "count": count})
            positions = [row[0] for row in cursor.fetchall()]
            span = {
                "workspace_id": side.campaign.workspace_id,
                "first": min(positions),
                "last": max(positions),
            }
            cursor.execute(EVENT_IDS, span)
            event_ids = {row[0] for row in cursor.fetchall()}
        # No VACUUM ANALYZE of the feed: a worker must keep its rate on a young feed whose
        # statistics autovacuum has not gathered yet, as on a new deployment; each run adds
        # to the feed the runs before it left.
        side.db.checkpoint()
        receiver.forget()
        worker = WebhookWorker(side.db.url, self.bench.workdir / f"worker-{run}.log")
        try:
            deadline = time.monotonic() + DELIVERY_TIMEOUT
            with side.db.autocommit() as cursor:
                while True:
                    cursor.execute(DELIVERY_STATES, span)
                    delivered, failed = cursor.fetchone()
                    if delivered == count:
                        finished_at = time.time()
                        break
                    if failed or worker.process.poll() is not None:
                        raise BenchError(f"worker {run}: {failed} failed, {delivered} delivered")
                    if time.monotonic() > deadline:
                        raise BenchError(f"worker {run}: {delivered} of {count} delivered")
                    time.sleep(0.02)
        finally:
            status = worker.stop()
        if status != 0:
            raise BenchError(f"worker {run} exited with {status} on SIGTERM")
        received = receiver.webhook_ids
        if len(received) != count or set(received) != event_ids:
            raise BenchError(
                f"worker {run}: the receiver got {len(received)} requests,"
                f" {len(set(received) & event_ids)} of the {count} events' ids"
            )
        start = worker.start_record()
        started_at = datetime.fromisoformat(start["time"]).timestamp()
        figures = {
            "concurrency": start["concurrency"],
            "rate": count / (finished_at - started_at),
            "seconds": finished_at - started_at,
            "spawn_to_started": started_at - worker.spawned_at,
            "started_to_first_delivery": receiver.first_at - started_at,
            "rate_from_first_delivery": count / (finished_at - receiver.first_at),
        }
        log(
            f"  run {run + 1}: {figures['rate']:.0f} events/s from the worker's start"
            f" ({figures['seconds']:.2f} s), {figures['rate_from_first_delivery']:.0f} from the"
            f" first delivery; {figures['spawn_to_started']:.1f} s to start"
        )
        return figures
