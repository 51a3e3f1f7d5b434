"""Two instances, one database: two gunicorn instances of the service, started as production
starts them, share one PostgreSQL through pgbouncer (transaction pooling) and one Redis for
the rate limits. Threads drive both at once over HTTP, each request to the other instance
than the one before; afterwards the database must hold what one instance would have left:
each identity once per campaign (and in one campaign of those written with
`dedupe=workspace`), stats equal to a recount and to each answer's roster at its commit,
nothing committed after the launch, every event once in the feed in commit order, and one
rate-limit count per token whichever instance and worker counts.

The test starts its own pgbouncer (.ci/start-pgbouncer, on a free port) in front of the
PostgreSQL at 127.0.0.1:5432, so it runs where DATABASE_URL is that server (.ci/run's
PostgreSQL 15 step, or a developer's `DATABASE_URL=postgresql://postgres@127.0.0.1:5432/...`)
and skips, with the reason, on any other server (the embedded one). It makes a database of
its own, which the instances migrate as they start, and drops it at the end.
"""

from __future__ import annotations

import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from leads.db.pool import ConnectionPool
from leads.web.auth import hash_token
from leads.web.rate_limits import KEY_PREFIX
from leads_contract.values import IDENTITY_FIELD
from tests.contract import (
    THREAD_TIMEOUT,
    assert_stats_match_roster,
    bad_request,
    connected,
    create_database,
    drop_database,
    error_body,
    free_port,
    frozen_roster,
    identity,
    ids_by_identity,
    leads_url,
    make_token,
    pending_stats,
    polling_feed,
    query_rows,
    run_threads,
    spelling,
    stored_events,
    stored_leads,
)

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")
START_PGBOUNCER = ROOT / ".ci" / "start-pgbouncer"
# The server .ci/start-pgbouncer puts pgbouncer in front of, and the one user its
# userlist lets through.
PGBOUNCER_BACKEND = ("127.0.0.1", 5432)
PGBOUNCER_USER = "postgres"
# A database of its own on the shared Redis, away from tests/test_rate_limits.py's keys.
REDIS_URI = "redis://127.0.0.1:6379/2"
# How .ci/run starts it, when nothing answers there.
REDIS_START = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'
WORKERS = 2  # per instance, as in production: requests of one instance go to several processes
START_TIMEOUT = 60  # seconds for an instance to migrate, fork its workers and answer
STOP_TIMEOUT = 30  # seconds SIGTERM gets before SIGKILL
REQUEST_TIMEOUT = 30
# The workload's instances count every request in Redis too, under a limit it never reaches;
# the limits themselves are TestSharedRateLimits' instances'.
WORKLOAD_RATE_LIMIT = "100000/minute"
LIMIT = 20
LIMIT_STRING = f"{LIMIT}/minute"
RATE_LIMITED = error_body(
    429,
    f"Rate limit of {LIMIT} per 1 minute exceeded for this token; "
    "retry after the number of seconds in Retry-After.",
)
FROZEN_BODY = bad_request(frozen_roster("active"))

# The campaigns of the workload: role -> (name, type).
CAMPAIGNS = {
    "email": ("Shared email", "email"),
    "linkedin": ("Shared LinkedIn", "linkedin"),
    "churn": ("Churn", "email"),
    "launch": ("Launch race", "email"),
    "ws0": ("Workspace dedupe 0", "email"),
    "ws1": ("Workspace dedupe 1", "email"),
    "ws2": ("Workspace dedupe 2", "email"),
}
WORKSPACE_DEDUPE = ("ws0", "ws1", "ws2")
# Campaigns whose roster only grows, and the campaigns each one's adds deduplicate against.
ADD_ONLY_SCOPES = [("email",), ("linkedin",), WORKSPACE_DEDUPE, ("launch",)]
# Each group of people is written to its own campaigns only, so that the campaigns of the
# workspace dedupe see no identity of the others.
PEOPLE = {"shared": 60, "ws": 50, "churn": 40}
ADDERS, BATCHES, BATCH_ROWS = 3, 4, 25  # threads of each group of adders, and their batches
CHURN_THREADS, CHURN_ROUNDS, CHURN_ROWS = 2, 4, 20
DELETE_OWN, DELETE_OTHERS = 3, 3  # per delete: ids this thread imported, ids it was told of
POSTERS, POSTER_ROWS = 3, 10
POSTER_MAX_BATCHES = 60  # per poster; the launch comes long before


# The parts the instances run on.


@dataclass
class Backend:
    direct_url: str  # the test's database on PostgreSQL: for the set-up and the checks
    pooled_url: str  # the same database through pgbouncer: what the instances use


def pgbouncer_can_front(server_url: str) -> str | None:
    """Why .ci/start-pgbouncer cannot stand in front of this server, or None."""
    parts = urlsplit(server_url)
    if (parts.hostname, parts.port or 5432) not in (PGBOUNCER_BACKEND, ("localhost", 5432)):
        # The embedded server's URL names a Unix socket, in its query string.
        where = f"{parts.hostname}:{parts.port or 5432}" if parts.hostname else parts.query
        return (
            f"the suite's server is at {where}; this test puts pgbouncer "
            "(.ci/start-pgbouncer) in front of the PostgreSQL at 127.0.0.1:5432, so it runs "
            "with DATABASE_URL=postgresql://postgres@127.0.0.1:5432/... (.ci/run's "
            "PostgreSQL 15 step)"
        )
    if parts.username != PGBOUNCER_USER:
        return f"pgbouncer of .ci/start-pgbouncer lets only the user {PGBOUNCER_USER} through"
    return None


def redis_answers() -> bool:
    with redis.Redis.from_url(REDIS_URI, socket_connect_timeout=1, socket_timeout=1) as client:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False


def ensure_redis() -> None:
    """Redis at 127.0.0.1:6379, started when nothing answers there (and then left running,
    as .ci/run leaves it: other tests count in it too); a skip when it cannot be."""
    if redis_answers():
        return
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    subprocess.run(shlex.split(REDIS_START), check=False, capture_output=True, timeout=30)
    deadline = time.monotonic() + 10
    while not redis_answers():
        if time.monotonic() > deadline:
            pytest.skip("redis-server did not answer on 127.0.0.1:6379 once started")
        time.sleep(0.2)


def process_alive(pid: int) -> bool:
    """Whether the process runs: a daemon is not our child, and an exited one may stay a
    zombie where PID 1 reaps no orphans."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop_daemon(pid: int) -> None:
    """SIGTERM (pgbouncer shuts down at once; its clients have gone by then), SIGKILL past
    STOP_TIMEOUT."""
    if process_alive(pid):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while process_alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.1)


@contextmanager
def pgbouncer() -> Iterator[int]:
    """A pgbouncer of .ci/start-pgbouncer (transaction pooling, every database passed
    through) on a free port, stopped on leaving; a skip when it cannot be installed or
    started."""
    port = free_port()
    started = subprocess.run(
        [str(START_PGBOUNCER), str(port)], capture_output=True, text=True, timeout=600
    )
    if started.returncode != 0:
        reason = (started.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"pgbouncer could not be started by .ci/start-pgbouncer: {reason}")
    directory = Path(started.stdout.strip().splitlines()[-1])
    try:
        yield port
    finally:
        stop_daemon(int((directory / "pgbouncer.pid").read_text()))
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def backend(server_url) -> Iterator[Backend]:
    reason = pgbouncer_can_front(server_url)
    if reason:
        pytest.skip(reason)
    ensure_redis()
    name = f"leads_two_instances_{os.getpid()}"
    drop_database(server_url, name)
    direct_url = create_database(server_url, name)
    try:
        with pgbouncer() as port:
            pooled = f"postgresql://{PGBOUNCER_USER}@127.0.0.1:{port}/{name}"
            yield Backend(direct_url, pooled)
    finally:
        drop_database(server_url, name)


@pytest.fixture
def two_db(backend):
    """A plain autocommit connection to the test's own database, for the checks."""
    with connected(backend.direct_url) as connection:
        yield connection


def new_token(backend: Backend, workspace: str) -> str:
    pool = ConnectionPool(backend.direct_url, size=1, connect_timeout=5, wait_timeout=5)
    try:
        return make_token(pool, workspace)
    finally:
        pool.close()


# The instances.


class Instance:
    """`gunicorn --config gunicorn.conf.py 'app:create_app()'` as production runs it, on a
    free port, its output (JSON lines, gunicorn's included) in a file rather than a pipe:
    nothing has to read it while it runs."""

    def __init__(self, name: str, backend: Backend, rate_limit: str, scratch: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = scratch / f"{name}.log"
        self.sent: list[str] = []  # the X-Request-ID of every request sent to it
        environment = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "DATABASE_URL": backend.pooled_url,
            "WEB_CONCURRENCY": str(WORKERS),
            "LEADS_RATE_LIMIT": rate_limit,
            "LEADS_RATE_LIMIT_STORAGE_URI": REDIS_URI,
            # Else gunicorn.conf.py makes a temporary directory that nothing removes.
            "PROMETHEUS_MULTIPROC_DIR": str(scratch / f"{name}-metrics"),
        }
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [str(GUNICORN), "--config", "gunicorn.conf.py", "app:create_app()"],
                cwd=ROOT,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until_ready(self) -> None:
        """Until /readyz answers 200 and every worker has booted (so both serve)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"{self.url} exited with {self.process.returncode}:\n{self.output()}")
            booted = self.output().count("Booting worker with pid")
            try:
                ready = httpx.get(self.url + "/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                ready = False
            if ready and booted == WORKERS:
                return
            time.sleep(0.2)
        pytest.fail(f"{self.url} was not ready within {START_TIMEOUT} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def logged_request_ids(self) -> list[str]:
        """The request id of every request line the instance logged."""
        ids = []
        for line in self.output().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "route" in record and record.get("request_id"):
                ids.append(record["request_id"])
        return ids

    def stop(self) -> None:
        """SIGTERM (gunicorn finishes the requests in flight), SIGKILL past STOP_TIMEOUT."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)


@contextmanager
def serving_pair(backend: Backend, rate_limit: str, scratch: Path) -> Iterator[list[Instance]]:
    """Two instances started together (their migrations race on the same database, as
    replicas' do), stopped on leaving, whatever happened."""
    with ExitStack() as stack:
        instances = []
        for name in ("a", "b"):
            instance = Instance(name, backend, rate_limit, scratch)
            stack.callback(instance.stop)
            instances.append(instance)
        for instance in instances:
            instance.wait_until_ready()
        yield instances


@dataclass
class Reply:
    """One answer, shaped as tests/contract.py's helpers read Flask's test responses."""

    instance: int
    status_code: int
    json: Any
    headers: httpx.Headers


class PairClient:
    """One thread's HTTP client of a pair: each request goes to the other instance than the
    one before, with the token and an X-Request-ID of its own, which the instance records
    (so that its log can be checked against what it was sent)."""

    def __init__(self, instances: list[Instance], token: str, first: int = 0) -> None:
        self.instances = instances
        self._next = first
        self._http = httpx.Client(
            timeout=REQUEST_TIMEOUT, headers={"Authorization": f"Bearer {token}"}
        )

    def __enter__(self) -> PairClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self._http.close()

    def request(self, method: str, path: str, *, json=None, query_string=None) -> Reply:
        index, self._next = self._next, 1 - self._next
        instance = self.instances[index]
        request_id = uuid.uuid4().hex
        instance.sent.append(request_id)
        response = self._http.request(
            method,
            instance.url + path,
            json=json,
            params=query_string,
            headers={"X-Request-ID": request_id},
        )
        return Reply(index, response.status_code, response.json(), response.headers)

    def get(self, path: str, **kwargs) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> Reply:
        return self.request("POST", path, **kwargs)


# The workload.


@dataclass
class Write:
    """One write the workload sent, and its answer."""

    role: str  # the campaign's role in CAMPAIGNS
    campaign_id: str
    kind: str  # "add", "delete" or "launch"
    reply: Reply
    started: float  # time.monotonic() when it was sent
    keys: list[str] = field(default_factory=list)  # add: each row's normalized identity
    ids: list[str] = field(default_factory=list)  # delete: the lead ids asked for
    own: list[str] = field(default_factory=list)  # delete: those this thread imported


@dataclass
class Workload:
    campaigns: dict[str, dict]  # role -> the campaign as created
    instances: list[Instance]
    writes: list[Write]
    polled: list[dict]  # every event the poller read, in the order read
    launched_at: float  # time.monotonic() when the launch was answered

    def campaign_id(self, role: str) -> str:
        return self.campaigns[role]["id"]

    def writes_to(self, roles, kind: str | None = None) -> list[Write]:
        return [w for w in self.writes if w.role in roles and kind in (None, w.kind)]


class Scenario:
    """The threads of the workload, each a client of the pair of its own."""

    def __init__(self, instances: list[Instance], token: str, campaigns: dict[str, dict]):
        self.instances = instances
        self.token = token
        self.campaigns = campaigns
        self.first_success = threading.Event()
        self.launched_at: list[float] = []

    def client(self, thread: int) -> PairClient:
        return PairClient(self.instances, self.token, first=thread % 2)

    def add(self, client, role, people, rng, query=None) -> Write:
        campaign = self.campaigns[role]
        rows = [
            {IDENTITY_FIELD[campaign["type"]]: spelling(rng, campaign["type"], who)}
            for who in people
        ]
        started = time.monotonic()
        reply = client.post(leads_url(campaign["id"], **(query or {})), json={"prospects": rows})
        keys = [identity(campaign["type"], who) for who in people]
        return Write(role, campaign["id"], "add", reply, started, keys=keys)

    def batch_adder(
        self, thread: int, roles: tuple[str, ...], people: str, query: dict | None = None
    ) -> Callable[[], list[Write]]:
        """Batches drawn from one group of people, which other threads of the group draw from
        too, to each of `roles` in turn."""

        def run():
            rng = random.Random(f"{people}-{thread}")
            with self.client(thread) as client:
                return [
                    self.add(
                        client,
                        roles[(thread + batch) % len(roles)],
                        [f"{people}-{rng.randrange(PEOPLE[people])}" for _ in range(BATCH_ROWS)],
                        rng,
                        query,
                    )
                    for batch in range(BATCHES)
                ]

        return run

    def churner(self, thread: int) -> Callable[[], list[Write]]:
        """Adds of people every churner adds and of people only this thread adds, each
        followed by a delete of leads of the latter (only this thread can know their ids, so
        they tell its delete in the feed) and of leads its add was told are already there
        (another churner may delete those first)."""

        def run():
            rng = random.Random(f"churn-{thread}")
            writes, mine, asked = [], [], set()
            with self.client(thread) as client:
                for _ in range(CHURN_ROUNDS):
                    people = [
                        f"churn-{rng.randrange(PEOPLE['churn'])}"
                        if row % 2
                        else f"churn{thread}-{rng.randrange(PEOPLE['churn'])}"
                        for row in range(CHURN_ROWS)
                    ]
                    added = self.add(client, "churn", people, rng)
                    writes.append(added)
                    results = added.reply.json["results"]
                    mine += [
                        result["id"]
                        for result in results
                        if result["outcome"] == "imported"
                        and result["identity"].startswith(f"churn{thread}-")
                    ]
                    others = [
                        result["id"]
                        for result in results
                        if result["duplicate_of"] == "campaign"
                        and result["identity"].startswith("churn-")
                        and result["id"] not in asked
                    ]
                    own = [lead_id for lead_id in mine if lead_id not in asked][:DELETE_OWN]
                    if not own:
                        continue
                    ids = own + list(dict.fromkeys(others))[:DELETE_OTHERS]
                    asked.update(ids)
                    started = time.monotonic()
                    churn = self.campaigns["churn"]["id"]
                    reply = client.request("DELETE", leads_url(churn), json={"prospect_ids": ids})
                    writes.append(Write("churn", churn, "delete", reply, started, ids=ids, own=own))
            return writes

        return run

    def poster(self, thread: int) -> Callable[[], list[Write]]:
        """Batches of new people to the launch campaign until its roster is frozen."""

        def run():
            rng = random.Random(f"launch-{thread}")
            writes = []
            with self.client(thread) as client:
                for batch in range(POSTER_MAX_BATCHES):
                    people = [f"launch-{thread}-{batch}-{row}" for row in range(POSTER_ROWS)]
                    write = self.add(client, "launch", people, rng)
                    writes.append(write)
                    if write.reply.status_code != 200:
                        break
                    self.first_success.set()
            return writes

        return run

    def launcher(self) -> list[Write]:
        with self.client(1) as client:
            assert self.first_success.wait(timeout=THREAD_TIMEOUT)
            time.sleep(random.Random("launch").uniform(0, 0.05))
            started = time.monotonic()
            launch = self.campaigns["launch"]["id"]
            reply = client.post(f"/api/campaigns/{launch}/launch")
            self.launched_at.append(time.monotonic())
        return [Write("launch", launch, "launch", reply, started)]

    def run(self) -> tuple[list[Write], list[dict]]:
        """Every writer at once, with a poller of the feed beside them; (writes, polled)."""
        workers = (
            [self.batch_adder(t, ("email", "linkedin"), "shared") for t in range(ADDERS)]
            + [
                self.batch_adder(t, WORKSPACE_DEDUPE, "ws", {"dedupe": "workspace"})
                for t in range(ADDERS)
            ]
            + [self.churner(t) for t in range(CHURN_THREADS)]
            + [self.poster(t) for t in range(POSTERS)]
            + [self.launcher]
        )
        with self.client(0) as client, polling_feed(client) as polled:
            writes = [write for done in run_threads(workers) for write in done]
        return writes, polled


@pytest.fixture(scope="class")
def workload(backend, tmp_path_factory) -> Iterator[Workload]:
    scratch = tmp_path_factory.mktemp("two-instances")
    with serving_pair(backend, WORKLOAD_RATE_LIMIT, scratch) as instances:
        token = new_token(backend, "acme")
        campaigns = {}
        with PairClient(instances, token) as client:
            for role, (name, type_) in CAMPAIGNS.items():
                reply = client.post("/api/campaigns", json={"name": name, "type": type_})
                assert reply.status_code == 201, reply.json
                campaigns[role] = reply.json["campaign"]
        scenario = Scenario(instances, token, campaigns)
        writes, polled = scenario.run()
        yield Workload(campaigns, instances, writes, polled, scenario.launched_at[0])


# What the database must hold afterwards.


def stored_ids(db, campaign_id: str) -> dict[str, str]:
    """The campaign's leads as stored: id -> identity."""
    leads = stored_leads(db, campaign_id, ["id", "identity"])
    return {lead["id"]: lead["identity"] for lead in leads}


def answered_stats(write: Write) -> dict:
    body = write.reply.json
    return body["campaign"]["stats"] if write.kind == "launch" else body["stats"]


def add_body(write: Write, results: list[dict]) -> dict:
    """The body of an add with these results, its stats those it answered (which
    test_stats_equal_a_recount_and_each_answer_s_roster checks)."""
    imported = sum(result["outcome"] == "imported" for result in results)
    stats = answered_stats(write)
    return {
        "imported": imported,
        "duplicates": len(results) - imported,
        "suppressed": 0,
        "results": results,
        "stats": pending_stats(stats["total"], stats["last_synced_at"]),
    }


def expected_add_body(
    number: int,
    write: Write,
    owner_of: dict[str, tuple[str, str]],
    importer_of: dict[str, tuple[int, int]],
) -> dict:
    """The whole body an add to a roster that only grows must have answered, given where each
    identity ended up ((campaign id, lead id) among the campaigns the add deduplicated
    against) and which row of which write imported it."""
    results, seen = [], set()
    for index, key in enumerate(write.keys):
        campaign_id, lead_id = owner_of[key]
        result = {"index": index, "outcome": "duplicate", "id": lead_id, "identity": key}
        if key in seen:
            result["duplicate_of"] = "batch"
        elif importer_of[key] == (number, index):
            result.update(outcome="imported", duplicate_of=None)
        elif campaign_id == write.campaign_id:
            result["duplicate_of"] = "campaign"
        else:
            result.update(duplicate_of="workspace", campaign_id=campaign_id)
        seen.add(key)
        results.append(result)
    return add_body(write, results)


def expected_churn_body(write: Write, imported_ids_of: dict[str, set[str]]) -> dict:
    """The whole body an add to the churned roster must have answered. Which rows imported
    depends on the deletes it raced with, so each first row of an identity is taken as
    answered, imported or a duplicate of a lead some add imported under that identity."""
    results, first_id = [], {}
    for index, (key, answered) in enumerate(
        zip(write.keys, write.reply.json["results"], strict=True)
    ):
        result = {"index": index, "outcome": "duplicate", "id": answered["id"], "identity": key}
        if key in first_id:
            result.update(id=first_id[key], duplicate_of="batch")
        elif answered["outcome"] == "imported":
            result.update(outcome="imported", duplicate_of=None)
        else:
            assert answered["id"] in imported_ids_of[key]
            result["duplicate_of"] = "campaign"
        first_id.setdefault(key, result["id"])
        results.append(result)
    return add_body(write, results)


def events_of_writes(workload: Workload, events: list[dict]) -> dict[int, int]:
    """For each write that changed something (by its number in workload.writes), the index
    in `events` of its event, which must say what its answer said."""
    listing = {}  # (event type, lead id) -> the index of the event listing the lead
    for index, event in enumerate(events):
        for lead_id in event["data"].get("lead_ids", []):
            assert (event["type"], lead_id) not in listing  # added once, removed once
            listing[event["type"], lead_id] = index
    found = {}
    for number, write in enumerate(workload.writes):
        body = write.reply.json
        if write.reply.status_code != 200:
            continue
        if write.kind == "add" and body["imported"]:
            imported = sorted(r["id"] for r in body["results"] if r["outcome"] == "imported")
            index = listing["leads.added", imported[0]]
            said = ("leads.added", {"lead_ids": imported, "count": len(imported)})
        elif write.kind == "delete":
            # Only this write asked for its own leads: it removed them, in its event.
            index = listing["leads.removed", write.own[0]]
            removed = events[index]["data"]["lead_ids"]
            assert set(write.own) <= set(removed) <= set(write.ids)
            said = ("leads.removed", {"lead_ids": removed, "count": body["deleted"]})
        elif write.kind == "launch":
            (index,) = [
                index
                for index, event in enumerate(events)
                if event["type"] == "campaign.status_changed"
            ]
            said = ("campaign.status_changed", {"from": "draft", "to": "active"})
        else:
            continue  # an add of duplicates only changes nothing and has no event
        event = events[index]
        assert (event["type"], event["campaign_id"], event["data"]) == (
            said[0],
            write.campaign_id,
            said[1],
        )
        found[number] = index
    return found


class TestTwoInstancesOneDatabase:
    def test_each_instance_served_what_it_was_sent(self, workload):
        everything = {request_id for i in workload.instances for request_id in i.sent}
        for instance in workload.instances:
            logged = [rid for rid in instance.logged_request_ids() if rid in everything]
            assert instance.sent
            assert sorted(logged) == sorted(instance.sent)

    def test_every_write_was_answered_200_but_the_adds_after_the_launch(self, workload):
        refused = [write for write in workload.writes if write.reply.status_code != 200]
        # Each poster stopped at its first refusal, on the frozen roster.
        assert [(w.role, w.kind, w.reply.json) for w in refused] == [
            ("launch", "add", FROZEN_BODY)
        ] * POSTERS
        kinds = Counter(write.kind for write in workload.writes)
        assert kinds["launch"] == 1
        assert kinds["delete"] > 0

    def test_each_identity_is_stored_once_and_every_answer_says_so(self, workload, two_db):
        for campaign in workload.campaigns.values():
            twice = query_rows(
                two_db,
                "SELECT identity FROM leads WHERE campaign_id = %s"
                " GROUP BY identity HAVING count(*) > 1",
                (campaign["id"],),
            )
            assert twice == []
        for scope in ADD_ONLY_SCOPES:
            # With dedupe=workspace an identity is in one of the scope's campaigns at most.
            owner_of = {}
            for role in scope:
                for key, lead_id in ids_by_identity(two_db, workload.campaign_id(role)).items():
                    assert key not in owner_of, f"{key} is in two campaigns of {scope}"
                    owner_of[key] = (workload.campaign_id(role), lead_id)
            answered = [
                (number, write)
                for number, write in enumerate(workload.writes)
                if write.role in scope and write.kind == "add" and write.reply.status_code == 200
            ]
            importer_of = {}
            for number, write in answered:
                for result in write.reply.json["results"]:
                    if result["outcome"] == "imported":
                        assert result["identity"] not in importer_of  # imported once
                        importer_of[result["identity"]] = (number, result["index"])
            sent = {key for _, write in answered for key in write.keys}
            assert set(owner_of) == set(importer_of) == sent
            for number, write in answered:
                assert write.reply.json == expected_add_body(number, write, owner_of, importer_of)

    def test_deletes_remove_each_lead_once(self, workload, two_db):
        adds = workload.writes_to(("churn",), "add")
        deletes = workload.writes_to(("churn",), "delete")
        imported = {}  # lead id -> identity, of every lead an add imported
        imported_ids_of = defaultdict(set)
        for write in adds:
            for result in write.reply.json["results"]:
                if result["outcome"] == "imported":
                    assert result["id"] not in imported  # a new lead has a new id
                    imported[result["id"]] = result["identity"]
                    imported_ids_of[result["identity"]].add(result["id"])
        for write in adds:
            assert write.reply.json == expected_churn_body(write, imported_ids_of)

        asked = {lead_id for write in deletes for lead_id in write.ids}
        assert asked <= set(imported)
        # Every lead asked for existed, so exactly one delete removed it.
        assert sum(write.reply.json["deleted"] for write in deletes) == len(asked)
        for write in deletes:
            deleted, stats = write.reply.json["deleted"], write.reply.json["stats"]
            assert len(write.own) <= deleted <= len(write.ids)
            assert write.reply.json == {
                "deleted": deleted,
                "stats": pending_stats(stats["total"], stats["last_synced_at"]),
            }
        remaining = {lead_id: key for lead_id, key in imported.items() if lead_id not in asked}
        assert stored_ids(two_db, workload.campaign_id("churn")) == remaining

    def test_no_add_commits_after_the_launch(self, workload, two_db):
        (launch,) = workload.writes_to(("launch",), "launch")
        posts = workload.writes_to(("launch",), "add")
        accepted = [post for post in posts if post.reply.status_code == 200]
        refused = [post for post in posts if post.reply.status_code != 200]
        # Both sides of the race happened: writes before the launch and writes after it.
        assert accepted
        assert len(refused) == POSTERS

        ids = ids_by_identity(two_db, launch.campaign_id)
        for post in refused:
            assert (post.reply.status_code, post.reply.json) == (400, FROZEN_BODY)
            assert not set(post.keys) & set(ids)  # wrote nothing
        for post in accepted:
            # A request sent after the launch answered can only be refused.
            assert post.started < workload.launched_at
        # The leads that exist are exactly those of the 200 responses.
        assert set(ids) == {key for post in accepted for key in post.keys}

        # The launch saw the final roster: a write committed after it would have moved the
        # stats past the ones the launch answered with (and its event after the launch's,
        # which test_the_feed_has_every_event_once_in_commit_order rules out).
        launched = launch.reply.json["campaign"]
        assert launch.reply.status_code == 200
        assert launched == {
            **workload.campaigns["launch"],
            "status": "active",
            "stats": pending_stats(len(ids), launched["stats"]["last_synced_at"]),
            "updated_at": launched["updated_at"],
        }
        (stored,) = query_rows(
            two_db,
            "SELECT status::text, stats, updated_at FROM campaigns WHERE id = %s",
            (launch.campaign_id,),
        )
        assert stored == {
            "status": "active",
            "stats": launched["stats"],
            "updated_at": datetime.fromisoformat(launched["updated_at"]),
        }

    def test_stats_equal_a_recount_and_each_answer_s_roster(self, workload, two_db):
        for campaign in workload.campaigns.values():
            assert_stats_match_roster(two_db, campaign["id"])

        # Replay the feed (commit order): the roster size after each write's event is the
        # total its answer gave; a write that changed nothing saw one of the sizes.
        events = [stored["event"] for stored in stored_events(two_db)]
        event_of = events_of_writes(workload, events)
        size, size_after, sizes = Counter(), {}, defaultdict(lambda: {0})
        for index, event in enumerate(events):
            sign = {"leads.added": 1, "leads.removed": -1}.get(event["type"], 0)
            size[event["campaign_id"]] += sign * event["data"].get("count", 0)
            size_after[index] = size[event["campaign_id"]]
            sizes[event["campaign_id"]].add(size[event["campaign_id"]])
        for number, write in enumerate(workload.writes):
            if write.reply.status_code != 200:
                continue
            stats = answered_stats(write)
            assert stats == pending_stats(stats["total"], stats["last_synced_at"])
            if number in event_of:
                assert stats["total"] == size_after[event_of[number]]
            else:
                assert stats["total"] in sizes[write.campaign_id]
        for campaign in workload.campaigns.values():
            assert size[campaign["id"]] == len(stored_ids(two_db, campaign["id"]))

    def test_the_feed_has_every_event_once_in_commit_order(self, workload, two_db):
        stored = stored_events(two_db)
        assert [event["position"] for event in stored] == list(range(1, len(stored) + 1))
        events = [event["event"] for event in stored]
        # Read while the writes committed, from both instances in turn: each event once.
        assert workload.polled == events

        # One event per change: the creations, then one per write that changed something.
        event_of = events_of_writes(workload, events)
        assert len(set(event_of.values())) == len(event_of)
        creations = [event for index, event in enumerate(events) if index not in event_of.values()]
        assert [(e["type"], e["campaign_id"], e["data"]) for e in creations] == [
            (
                "campaign.created",
                campaign["id"],
                {"name": campaign["name"], "type": campaign["type"]},
            )
            for campaign in workload.campaigns.values()
        ]

        # Commit order: a lead's removal comes after its addition, and the launch after
        # every addition to its roster.
        listed = {}
        for index, event in enumerate(events):
            for lead_id in event["data"].get("lead_ids", []):
                listed[event["type"], lead_id] = index
        for (type_, lead_id), index in listed.items():
            if type_ == "leads.removed":
                assert listed["leads.added", lead_id] < index
        launch_index = next(
            i for i, e in enumerate(events) if e["type"] == "campaign.status_changed"
        )
        launch_id = workload.campaign_id("launch")
        assert all(
            index < launch_index
            for index, event in enumerate(events)
            if event["campaign_id"] == launch_id and event["type"] == "leads.added"
        )


# Rate limits shared through Redis.


def redis_count(token: str) -> int:
    """The count Redis holds for the token's current window (its key names the token's
    hash, never the token)."""
    with redis.Redis.from_url(REDIS_URI) as client:
        keys = client.keys(f"*{KEY_PREFIX}*{hash_token(token).hex()}*")
        assert len(keys) == 1, keys
        return int(client.get(keys[0]))


def campaign_names(db, workspace: str) -> list[str]:
    rows = query_rows(
        db,
        "SELECT campaigns.name FROM campaigns JOIN workspaces"
        " ON workspaces.id = campaigns.workspace_id WHERE workspaces.name = %s",
        (workspace,),
    )
    return [row["name"] for row in rows]


@pytest.fixture(scope="class")
def limited(backend, tmp_path_factory) -> Iterator[list[Instance]]:
    """A pair whose tokens may make LIMIT requests a minute, counted in Redis."""
    with serving_pair(backend, LIMIT_STRING, tmp_path_factory.mktemp("limited")) as instances:
        yield instances


class TestSharedRateLimits:
    def test_the_21st_request_is_429_on_either_instance(self, limited, backend, two_db):
        token = new_token(backend, "limited-in-turn")
        with PairClient(limited, token) as client:
            within = [client.get("/api/campaigns") for _ in range(LIMIT)]
            beyond = [
                client.post("/api/campaigns", json={"name": "Over the limit", "type": "email"})
                for _ in range(2)
            ]

        # One count: each request, whichever instance and worker took it, left one less.
        assert [
            (reply.instance, reply.status_code, reply.json, reply.headers["RateLimit-Remaining"])
            for reply in within
        ] == [(n % 2, 200, {"campaigns": []}, str(LIMIT - 1 - n)) for n in range(LIMIT)]
        assert [(reply.instance, reply.status_code, reply.json) for reply in beyond] == [
            (0, 429, RATE_LIMITED),
            (1, 429, RATE_LIMITED),
        ]
        for reply in within + beyond:
            assert reply.headers["RateLimit-Limit"] == str(LIMIT)
            assert 0 < int(reply.headers["RateLimit-Reset"]) <= 60
        for reply in beyond:
            assert reply.headers["RateLimit-Remaining"] == "0"
            assert reply.headers["Retry-After"] == reply.headers["RateLimit-Reset"]
        assert campaign_names(two_db, "limited-in-turn") == []  # the 429s wrote nothing
        assert redis_count(token) == LIMIT + 2

    def test_concurrent_requests_share_one_count(self, limited, backend):
        token = new_token(backend, "limited-at-once")
        threads, each = 6, 5

        def requester(thread: int):
            def run():
                with PairClient(limited, token, first=thread % 2) as client:
                    return [client.get("/api/campaigns") for _ in range(each)]

            return run

        replies = [
            reply for done in run_threads([requester(t) for t in range(threads)]) for reply in done
        ]

        assert Counter(reply.instance for reply in replies) == {0: 15, 1: 15}
        # Redis counts atomically: exactly LIMIT requests got through, however they raced.
        assert Counter(reply.status_code for reply in replies) == {
            200: LIMIT,
            429: threads * each - LIMIT,
        }
        for reply in replies:
            expected = {"campaigns": []} if reply.status_code == 200 else RATE_LIMITED
            assert reply.json == expected
        assert redis_count(token) == threads * each
