"""The bench: each measurement as a median over repeated runs and as a ratio against a
floor measured in the same run, on the same database: the database itself doing the same
work, driven by psycopg2 (bench/database.py). The machine is shared and noisy, so service
and floor runs alternate.

The floor of a POST is COPY of the batch into a staging table and one INSERT ... SELECT ...
WHERE NOT EXISTS (a suppression entry) ON CONFLICT DO NOTHING from it into the real table,
with the ids, the normalized identities, their domains and the COPY body made before the
clock starts. The old floor (the same rows
adapted from Python lists by psycopg2) runs beside it, so that the change of baseline
shows. The floor of a GET is the same page fetched by psycopg2; of a DELETE, the same
DELETE statement; of a suppression check, one query probing the list's unique index. A
POST with dedupe=workspace is compared with the same POST with dedupe=campaign. Items 9 and
10 (bench/events.py): a POST and a DELETE with the change feed's events against the same
without them, and how many events a second one webhook worker delivers.

    .venv/bin/python -m bench            # the full bench (make bench)
    .venv/bin/python -m bench --quick    # smaller rosters, fewer runs: checks the bench itself
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench.database import (
    CHECK_FLOOR,
    DELETE_ALL_FLOOR,
    DELETE_FLOOR,
    PAGE_AFTER,
    PAGE_AS_TEXT,
    PAGE_BY_OFFSET,
    SUPPRESSED_EVERY,
    BenchDatabase,
    Campaign,
    check_candidates,
    copy_batch,
    seeded_email,
    seeded_lead_id,
    stored_rows,
    suppressed_domain,
    suppressed_linkedin_url,
    unnest_columns,
)
from bench.events import NO_EVENTS, EventItems
from bench.measure import BATCH, DELETE_IDS, Row, alternate, lead_batch, log, ms, take_turns
from bench.server import BenchError, Client, Gunicorn, one_shot, run_wrk
from leads.domain.ids import new_lead_ids
from leads_contract.values import MAX_IDENTITIES_PER_CHECK, MAX_PAGE_SIZE

RESULTS_DIR = Path(__file__).parent / "results"
PAGE = MAX_PAGE_SIZE
CHECKED = MAX_IDENTITIES_PER_CHECK
STATUS_FILTER = "sent"  # 20 % of the seeded leads


@dataclass(frozen=True)
class Plan:
    """How much the bench measures: the roster sizes, and how many runs of each measurement."""

    sizes: tuple[int, ...]
    post_runs: int
    page_runs: int
    deep_page_runs: int
    delete_runs: int
    wipe_runs: int
    wrk_rounds: int
    wrk_seconds: int
    memory_posts: int
    warmup: int
    # Items 7 and 8: the leads of the workspace with a suppression list, and its entries.
    workspace_leads: int
    suppressions: int
    # Item 10: the events in the feed when a webhook worker starts, and how many workers run.
    worker_events: int
    worker_runs: int


# One plan in the order of Plan's fields, those of item 10 (events, workers) on a second line.
# The cheap measurements get many runs: on a shared machine their medians move from run to
# run, the less the more runs they are taken over. --quick only checks the bench itself.
# fmt: off
#            sizes                  post page deep del wipe wrk wrk s mem warm listed leads, entries
FULL = Plan((0, 100_000, 1_000_000), 101, 201, 7,  101, 3,   3,  8,    500, 2,   1_000_000, 100_000,
            2000, 5)
QUICK = Plan((0, 10_000, 100_000),   5,   5,   3,  5,   1,   1,  3,    50,  1,   100_000,   10_000,
             2000, 2)
# fmt: on

# The workspace of items 7 and 8 (the "listed" workspace): its leads in this many email
# campaigns of equal rosters, and a suppression list of which one entry in DOMAIN_SHARE is
# a domain and one in LINKEDIN_SHARE a LinkedIn URL; the rest are emails of its leads.
LISTED = "listed"
LISTED_CAMPAIGNS = 10
DOMAIN_SHARE = 100
LINKEDIN_SHARE = 20
# Rows of item 7's batch that the suppression list matches (by email, and by domain), and
# that another campaign of the workspace holds: the rest are new.
SUPPRESSED_ROWS = (5, 5)
HELD_ELSEWHERE_ROWS = 10


@dataclass(frozen=True)
class SuppressionList:
    """What the listed workspace's seeded suppression list holds (SEED_SUPPRESSIONS in
    bench/database.py): `entries` entries, the first `domains` domains, the next
    `linkedin_urls` LinkedIn URLs, the rest the emails of every SUPPRESSED_EVERY-th lead."""

    entries: int

    @property
    def domains(self) -> int:
        return self.entries // DOMAIN_SHARE

    @property
    def linkedin_urls(self) -> int:
        return self.entries // LINKEDIN_SHARE

    def lists_lead(self, n: int) -> bool:
        """Whether the list holds seeded lead n's email."""
        k, rest = divmod(n, SUPPRESSED_EVERY)
        return rest == 0 and self.domains + self.linkedin_urls < k <= self.entries

    def listed_email(self, rng: random.Random) -> str:
        k = rng.randint(self.domains + self.linkedin_urls + 1, self.entries)
        return seeded_email(SUPPRESSED_EVERY * k)

    def email_at_listed_domain(self, rng: random.Random, local: str) -> str:
        """An email at a listed domain, or (every other one) at a subdomain of it."""
        subdomain = rng.choice(("", "eu."))
        return f"{local}@{subdomain}{suppressed_domain(rng.randint(1, self.domains))}"

    def listed_linkedin_url(self, rng: random.Random) -> str:
        return suppressed_linkedin_url(
            rng.randint(self.domains + 1, self.domains + self.linkedin_urls)
        )


def check_batch(listed: SuppressionList, leads: int, rng: random.Random) -> tuple[list[dict], int]:
    """Item 8's identities, as a sending system checks them, and how many the list matches:
    900 emails of the workspace's leads (the list holds one in SUPPRESSED_EVERY), 20 at a
    listed domain, 30 new ones at other domains; 25 listed LinkedIn URLs, 25 others."""
    emails = [rng.randint(1, leads) for _ in range(900)]
    identities = [{"email": seeded_email(n)} for n in emails]
    identities += [{"email": listed.email_at_listed_domain(rng, f"someone{i}")} for i in range(20)]
    identities += [{"email": f"new{i}@company{i}.example.org"} for i in range(30)]
    identities += [{"linkedin_url": listed.listed_linkedin_url(rng)} for _ in range(25)]
    identities += [
        {"linkedin_url": f"https://www.linkedin.com/in/prospect-{rng.randrange(10**9)}"}
        for _ in range(25)
    ]
    rng.shuffle(identities)
    assert len(identities) == CHECKED
    return identities, sum(map(listed.lists_lead, emails)) + 20 + 25


class Bench:
    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan = plan
        self.workdir = workdir
        self.db = BenchDatabase()
        self.rows: list[Row] = []
        self.extra: dict = {}
        self.servers: list[Gunicorn] = []

    # -- set-up ------------------------------------------------------------------------

    def start_service(
        self,
        db: BenchDatabase | None = None,
        name: str = "service",
        extra_env: dict[str, str] | None = None,
    ) -> Gunicorn:
        """The service on the bench database, or on another (`name` is its log's)."""
        url = (db or self.db).url
        server = Gunicorn("app:create_app()", url, self.workdir / f"{name}.log", extra_env)
        self.servers.append(server)
        server.wait_ready("/readyz")
        return server

    def start_bare(self, body: bytes, name: str) -> Gunicorn:
        """bench/bare_app.py under gunicorn with the service's settings, sending `body`."""
        body_file = self.workdir / f"{name}.json"
        body_file.write_bytes(body)
        bare = Gunicorn(
            "bench.bare_app:create_app()",
            self.db.url,
            self.workdir / f"bare-{name}.log",
            extra_env={"BENCH_BODY_FILE": str(body_file)},
        )
        self.servers.append(bare)
        bare.wait_ready("/page")
        return bare

    def stop(self, server: Gunicorn) -> None:
        server.stop()
        self.servers.remove(server)

    def prepare(self) -> None:
        log(f"creating database {self.db.name}")
        self.db.create()
        self.token = self.db.create_token()
        self.campaigns: dict[int, Campaign] = {}
        seed_seconds = {}
        for number, size in enumerate(self.plan.sizes, start=1):
            self.campaigns[size] = self.db.create_campaign(f"roster of {size}")
            if size:
                log(f"seeding {size:,} leads")
                seed_seconds[size] = self.db.seed(self.campaigns[size], number, size)
                log(f"  {seed_seconds[size]:.1f} s")
        self.campaign_numbers = {size: n for n, size in enumerate(self.plan.sizes, start=1)}
        self.extra["seed_seconds"] = seed_seconds
        self.seed_listed_workspace()
        self.db.vacuum_and_checkpoint()

    def seed_listed_workspace(self) -> None:
        """The workspace of items 7 and 8: its leads over LISTED_CAMPAIGNS campaigns, lead n
        (seeded_email(n)) in campaign (n - 1) // per_campaign, and its suppression list."""
        plan = self.plan
        self.listed_token = self.db.create_token(LISTED)
        per_campaign = plan.workspace_leads // LISTED_CAMPAIGNS
        log(
            f"seeding workspace {LISTED!r}: {plan.workspace_leads:,} leads in"
            f" {LISTED_CAMPAIGNS} campaigns, {plan.suppressions:,} suppression entries"
        )
        started = time.perf_counter()
        self.listed: list[Campaign] = []
        for index in range(LISTED_CAMPAIGNS):
            campaign = self.db.create_campaign(f"listed {index + 1}", LISTED)
            # Campaign numbers (in the seeded ids) after those of the rosters and the wipes.
            number = len(plan.sizes) + 2 + index
            self.db.seed(campaign, number, per_campaign, first=1 + index * per_campaign)
            self.listed.append(campaign)
        leads_seconds = time.perf_counter() - started
        suppressions_seconds = self.db.seed_suppressions(
            self.listed[0].workspace_id,
            plan.suppressions,
            domains=plan.suppressions // DOMAIN_SHARE,
            linkedin_urls=plan.suppressions // LINKEDIN_SHARE,
        )
        log(f"  leads {leads_seconds:.1f} s, suppression entries {suppressions_seconds:.1f} s")
        self.extra["listed_seed_seconds"] = {
            "leads": leads_seconds,
            "suppressions": suppressions_seconds,
        }

    # -- 1 and 2: POST of 1000 new leads ---------------------------------------------

    def check_post_floor(self, client: Client) -> None:
        """The POST floor must land what the service lands: one batch each into two new
        campaigns, then the same stored leads (ids and timestamps aside) and the same
        counts, which the triggers keep, in both."""
        log("checking that the POST floor stores what the service stores")
        batch = lead_batch("same")
        by_service = self.db.create_campaign("same rows, service")
        by_floor = self.db.create_campaign("same rows, floor")
        body = json.dumps({"prospects": batch}).encode()
        client.request("POST", f"/api/campaigns/{by_service.id}/leads", body)
        self.db.copy_floor(by_floor, copy_batch(stored_rows(batch, new_lead_ids(BATCH))))
        service_leads = self.db.stored_leads(by_service)
        if len(service_leads) != BATCH:
            raise BenchError(f"the service stored {len(service_leads)} of {BATCH} leads")
        if self.db.stored_leads(by_floor) != service_leads:
            raise BenchError("the POST floor stores other leads than the service")
        if self.db.lead_counts(by_floor) != self.db.lead_counts(by_service):
            raise BenchError("the POST floor leaves other counts than the service")

    def measure_posts(self, client: Client) -> None:
        log("POST of 1000 new leads")
        by_size = {}
        for size in self.plan.sizes:
            campaign = self.campaigns[size]
            path = f"/api/campaigns/{campaign.id}/leads"

            def service(run: int, size=size, path=path) -> float:
                body = json.dumps({"prospects": lead_batch(f"s{run}r{size}")}).encode()
                elapsed, data = client.request("POST", path, body)
                if json.loads(data)["imported"] != BATCH:
                    raise BenchError("the POST did not import every lead")
                return elapsed

            def baseline(run: int, size=size, campaign=campaign) -> float:
                rows = stored_rows(lead_batch(f"b{run}r{size}"), new_lead_ids(BATCH))
                return self.db.copy_floor(campaign, copy_batch(rows))

            def old_baseline(run: int, size=size, campaign=campaign) -> float:
                rows = stored_rows(lead_batch(f"o{run}r{size}"), new_lead_ids(BATCH))
                return self.db.unnest_floor(campaign, unnest_columns(rows))

            by_size[size] = alternate(
                Row(
                    "1",
                    f"POST {BATCH} new leads, roster {size:,}",
                    target=2.0,
                    next_goal=1.5,
                ),
                service,
                baseline,
                self.plan.post_runs,
                self.plan.warmup,
                after_each=lambda campaign=campaign: self.db.remove_recent(campaign),
                old_baseline=old_baseline,
            )
            self.rows.append(by_size[size])
        smallest, largest = self.plan.sizes[0], self.plan.sizes[-1]
        self.rows.append(
            Row(
                "2",
                f"POST 1000 at roster {largest:,} / at roster {smallest:,} (service)",
                service=by_size[largest].service,
                baseline=by_size[smallest].service,
                target=1.2,
            )
        )

    # -- 3: GET of a page of 200 -----------------------------------------------------

    def measure_pages(self, client: Client) -> None:
        size = self.plan.sizes[-1]
        campaign = self.campaigns[size]
        log(f"GET of a page of {PAGE} at roster {size:,}")
        for status in (None, STATUS_FILTER):
            total = self.db.lead_count(campaign, status)
            deepest = -(-total // PAGE)
            if deepest < 2:
                raise BenchError(f"a roster of {size:,} has no deep page of {PAGE}")
            offset = (deepest - 1) * PAGE
            expected_deep = total - offset
            filter_query = f"&status={status}" if status else ""
            # The deepest page's cursor, as a client gets it: from the page before.
            path = f"/api/campaigns/{campaign.id}/leads?limit={PAGE}&page={deepest - 1}"
            cursor = json.loads(client.request("GET", path + filter_query)[1])["next_cursor"]
            created_at, lead_id = self.db.row_at(campaign, offset, status)
            label = f"status={status}" if status else "no filter"
            base = {**campaign.params, "status": status, "limit": PAGE}
            variants = [
                (
                    f"first page, {label}",
                    "page=1",
                    PAGE_BY_OFFSET,
                    {**base, "offset": 0},
                    PAGE,
                    self.plan.page_runs,
                ),
                (
                    f"deepest page (page={deepest}), {label}",
                    f"page={deepest}",
                    PAGE_BY_OFFSET,
                    {**base, "offset": offset},
                    expected_deep,
                    self.plan.deep_page_runs,
                ),
                (
                    f"deepest page by cursor, {label}",
                    f"cursor={cursor}",
                    PAGE_AFTER,
                    {**base, "after_created_at": created_at, "after_id": lead_id},
                    expected_deep,
                    self.plan.page_runs,
                ),
            ]
            for what, page_query, query, params, expected, runs in variants:
                path = f"/api/campaigns/{campaign.id}/leads?limit={PAGE}&{page_query}{filter_query}"

                def service(run: int, path=path, expected=expected) -> float:
                    elapsed, data = client.request("GET", path)
                    if len(json.loads(data)["prospects"]) != expected:
                        raise BenchError(f"GET {path} did not return {expected} leads")
                    return elapsed

                def baseline(run: int, query=query, params=params, expected=expected) -> float:
                    return self.db.statement_floor(query, params, expected)

                row = Row("3", f"GET {PAGE}, {what}", target=2.0)
                self.rows.append(alternate(row, service, baseline, runs, self.plan.warmup))

    def measure_page_anatomy(self, client: Client) -> None:
        """Where the first page's time goes, four ways taken in turn: the service; the
        floor; the floor with every column as text; and gunicorn with the service's
        settings serving the page's bytes from memory (bench/bare_app.py): what Flask,
        gunicorn and the HTTP exchange cost before the service does anything."""
        size = self.plan.sizes[-1]
        campaign = self.campaigns[size]
        path = f"/api/campaigns/{campaign.id}/leads?limit={PAGE}&page=1"
        log(f"anatomy of GET {PAGE}, first page, no filter")
        _, body = client.request("GET", path)
        bare = self.start_bare(body, "page200")
        params = {**campaign.params, "status": None, "limit": PAGE, "offset": 0}
        try:
            bare_client = Client(bare.port)
            if bare_client.request("GET", "/page")[1] != body:
                raise BenchError("the bare endpoint does not send the page's bytes")
            ways = {
                "service": lambda run: client.request("GET", path)[0],
                "floor": lambda run: self.db.statement_floor(PAGE_BY_OFFSET, params, PAGE),
                "floor, every column as text": lambda run: self.db.statement_floor(
                    PAGE_AS_TEXT, params, PAGE
                ),
                "bare Flask, same bytes": lambda run: bare_client.request("GET", "/page")[0],
            }
            samples = take_turns(ways, self.plan.page_runs, self.plan.warmup)
            bare_client.close()
        finally:
            self.stop(bare)
        medians = {name: statistics.median(values) for name, values in samples.items()}
        self.extra["page_anatomy"] = {"runs": self.plan.page_runs, "medians": medians}
        log("  " + ", ".join(f"{name} {ms(seconds)}" for name, seconds in medians.items()))

    # -- 4: DELETE -------------------------------------------------------------------

    def measure_deletes(self, client: Client) -> None:
        size = self.plan.sizes[-1]
        campaign = self.campaigns[size]
        number = self.campaign_numbers[size]
        log(f"DELETE of {DELETE_IDS} ids at roster {size:,}")
        # Seeded ids are computable: a shuffled slice of them per run, never twice.
        picks = iter(random.Random(5).sample(range(1, size + 1), size))
        path = f"/api/campaigns/{campaign.id}/leads"

        def next_ids() -> list[str]:
            return [str(seeded_lead_id(number, next(picks))) for _ in range(DELETE_IDS)]

        def service(run: int) -> float:
            body = json.dumps({"prospect_ids": next_ids()}).encode()
            elapsed, data = client.request("DELETE", path, body)
            if json.loads(data)["deleted"] != DELETE_IDS:
                raise BenchError(f"the DELETE did not remove {DELETE_IDS} leads")
            return elapsed

        def baseline(run: int) -> float:
            params = {**campaign.params, "ids": next_ids()}
            return self.db.statement_floor(DELETE_FLOOR, params, DELETE_IDS)

        row = Row("4", f"DELETE {DELETE_IDS} ids, roster {size:,}", target=1.5)
        self.rows.append(alternate(row, service, baseline, self.plan.delete_runs, self.plan.warmup))
        self.extra["roster_after_deletes"] = self.db.lead_count(campaign)

    def measure_wipes(self, client: Client) -> None:
        size = self.plan.sizes[-1]
        number = len(self.plan.sizes) + 1
        campaign = self.db.create_campaign("wiped")
        path = f"/api/campaigns/{campaign.id}/leads"
        log(f'DELETE {{"all": true}} of {size:,} leads ({self.plan.wipe_runs} runs each)')
        row = Row("4", f'DELETE {{"all": true}}, roster {size:,}', target=1.5)

        def seed() -> None:
            seconds = self.db.seed(campaign, number, size)
            self.db.vacuum_and_checkpoint()
            log(f"  re-seeded in {seconds:.1f} s")

        def service(run: int) -> float:
            seed()
            elapsed, data = client.request("DELETE", path, b'{"all": true}')
            if json.loads(data)["deleted"] != size:
                raise BenchError("the DELETE all did not remove every lead")
            return elapsed

        def baseline(run: int) -> float:
            seed()
            return self.db.statement_floor(DELETE_ALL_FLOOR, campaign.params, size)

        self.rows.append(alternate(row, service, baseline, self.plan.wipe_runs, 0))

    # -- 7 and 8: the suppression list and dedup across campaigns ----------------------

    def measure_listed_posts(self, client: Client) -> None:
        """POST of 1000 to the first campaign of the listed workspace with dedupe=workspace
        against the same with dedupe=campaign, the batch made alike: SUPPRESSED_ROWS rows
        that the list matches, HELD_ELSEWHERE_ROWS rows that another campaign holds (a
        duplicate with dedupe=workspace, imported with dedupe=campaign), the rest new."""
        campaign = self.listed[0]
        listed = SuppressionList(self.plan.suppressions)
        per_campaign = self.plan.workspace_leads // LISTED_CAMPAIGNS
        rng = random.Random(7)
        # Leads of the other campaigns that the list does not hold, never twice (enough for
        # both sides of every pair, the listed ones left out).
        needed = 3 * (self.plan.warmup + self.plan.post_runs) * HELD_ELSEWHERE_ROWS
        others = range(per_campaign + 1, self.plan.workspace_leads + 1)
        elsewhere = (n for n in rng.sample(others, needed) if not listed.lists_lead(n))
        suppressed = sum(SUPPRESSED_ROWS)
        log(
            f"POST {BATCH} with dedupe=workspace / dedupe=campaign in workspace {LISTED!r}"
            f" ({suppressed} rows suppressed, {HELD_ELSEWHERE_ROWS} held in another campaign)"
        )

        def batch(tag: str) -> bytes:
            rows = lead_batch(tag)
            special = [listed.listed_email(rng) for _ in range(SUPPRESSED_ROWS[0])]
            special += [
                listed.email_at_listed_domain(rng, f"{tag}.{i}") for i in range(SUPPRESSED_ROWS[1])
            ]
            special += [seeded_email(next(elsewhere)) for _ in range(HELD_ELSEWHERE_ROWS)]
            step = BATCH // len(special)
            for i, email in enumerate(special):
                rows[i * step]["email"] = email
            return json.dumps({"prospects": rows}).encode()

        def post(dedupe: str, imported: int) -> Callable[[int], float]:
            path = f"/api/campaigns/{campaign.id}/leads?dedupe={dedupe}"

            def run(run_number: int) -> float:
                elapsed, data = client.request("POST", path, batch(f"{dedupe[0]}{run_number}"))
                counts = json.loads(data)
                if (counts["imported"], counts["suppressed"]) != (imported, suppressed):
                    raise BenchError(f"POST ?dedupe={dedupe}: {counts['imported']} imported")
                return elapsed

            return run

        row = Row(
            "7",
            f"POST {BATCH}, dedupe=workspace / dedupe=campaign (service), roster"
            f" {per_campaign:,} of {self.plan.workspace_leads:,} in {LISTED_CAMPAIGNS}"
            f" campaigns, {self.plan.suppressions:,} suppression entries",
            target=1.2,
        )
        new = BATCH - suppressed - HELD_ELSEWHERE_ROWS
        self.rows.append(
            alternate(
                row,
                post("workspace", new),
                post("campaign", new + HELD_ELSEWHERE_ROWS),
                self.plan.post_runs,
                self.plan.warmup,
                after_each=lambda: self.db.remove_recent(campaign),
            )
        )

    def check_check_floor(self, client: Client, identities: list[dict]) -> None:
        """The check's floor must find what the service finds: the same entry for the same
        identities."""
        _, data = client.request(
            "POST", "/api/suppressions/check", json.dumps({"identities": identities}).encode()
        )
        by_service = {
            result["index"]: result["matched"]["id"]
            for result in json.loads(data)["results"]
            if result["suppressed"]
        }
        by_floor = {
            n - 1: str(entry_id)
            for n, entry_id, *_ in self.db.check_floor(self.listed[0].workspace_id, identities)
        }
        if by_floor != by_service:
            raise BenchError("the check's floor finds other entries than the service")

    def measure_checks(self, client: Client) -> None:
        workspace_id = self.listed[0].workspace_id
        listed = SuppressionList(self.plan.suppressions)
        log(f"POST /api/suppressions/check of {CHECKED} identities in workspace {LISTED!r}")
        rng = random.Random(8)
        self.check_check_floor(client, check_batch(listed, self.plan.workspace_leads, rng)[0])
        # Both sides of a pair check the same identities; each pair new ones.
        batches = [
            check_batch(listed, self.plan.workspace_leads, rng)
            for _ in range(self.plan.warmup + self.plan.post_runs)
        ]

        def service(run: int) -> float:
            identities, matched = batches[run]
            body = json.dumps({"identities": identities}).encode()
            elapsed, data = client.request("POST", "/api/suppressions/check", body)
            results = json.loads(data)["results"]
            if sum(result["suppressed"] for result in results) != matched:
                raise BenchError("the check did not find every listed identity")
            return elapsed

        def baseline(run: int) -> float:
            identities, matched = batches[run]
            params = {"workspace_id": workspace_id, **check_candidates(identities)}
            return self.db.statement_floor(CHECK_FLOOR, params, matched)

        row = Row(
            "8",
            f"POST /api/suppressions/check of {CHECKED} identities,"
            f" {self.plan.suppressions:,} suppression entries",
            target=1.5,
        )
        self.rows.append(alternate(row, service, baseline, self.plan.post_runs, self.plan.warmup))

    # -- 5: throughput under wrk -----------------------------------------------------

    def measure_throughput(self, service: Gunicorn, client: Client) -> None:
        size = self.plan.sizes[-1]
        path = f"/api/campaigns/{self.campaigns[size].id}/leads?limit=100"
        log(f"throughput: wrk on GET {path} and on a bare Flask endpoint")
        _, body = client.request("GET", path)
        bare = self.start_bare(body, "page100")
        try:
            bare_body = Client(bare.port).request("GET", "/page")[1]
            self.extra["throughput_body_bytes"] = {"service": len(body), "bare": len(bare_body)}
            if bare_body != body:
                raise BenchError("the bare endpoint does not send the page's bytes")
            connections = Gunicorn.expected_workers() * int(os.environ.get("GUNICORN_THREADS", "4"))
            targets = {
                "service": (f"http://127.0.0.1:{service.port}{path}", self.token),
                "bare": (f"http://127.0.0.1:{bare.port}/page", None),
            }
            for url, token in targets.values():
                run_wrk(url, 2, connections, token)  # warm-up
            runs: dict[str, list[dict]] = {"service": [], "bare": []}
            for round_ in range(self.plan.wrk_rounds):
                order = ["service", "bare"] if round_ % 2 == 0 else ["bare", "service"]
                for name in order:
                    url, token = targets[name]
                    runs[name].append(run_wrk(url, self.plan.wrk_seconds, connections, token))
        finally:
            self.stop(bare)
        summary = {
            name: {
                key: statistics.median(run[key] for run in results) for key in ("rps", "p50", "p99")
            }
            for name, results in runs.items()
        }
        summary["ratio_rps"] = summary["service"]["rps"] / summary["bare"]["rps"]
        summary["connections"] = connections
        summary["seconds"] = self.plan.wrk_seconds
        summary["rounds"] = runs
        self.extra["throughput"] = summary
        log(
            f"  service {summary['service']['rps']:.0f} req/s, bare {summary['bare']['rps']:.0f}"
            f" req/s, ratio {summary['ratio_rps']:.2f}"
        )

    # -- 6: worker memory over 500 POSTs of 1000 -------------------------------------

    def measure_memory(self) -> None:
        posts = self.plan.memory_posts
        log(f"memory: worker RSS over {posts} POSTs of 1000 leads (fresh workers)")
        server = self.start_service()
        campaigns = [self.db.create_campaign(f"memory {n}").id for n in (1, 2)]
        try:
            for campaign_id in campaigns:  # first requests: pools, imports, caches
                one_shot(server.port, self.token, "GET", f"/api/campaigns/{campaign_id}/leads", b"")
            pids = [worker.pid for worker in server.workers()]
            samples = [(0, server.worker_rss())]
            half_step = max(posts // 20, 1)  # each of two client threads posts this many
            self._post_error: Exception | None = None
            sent = 0
            while sent < posts:
                threads = [
                    threading.Thread(
                        target=self._post_many,
                        args=(server.port, campaign_id, sent + offset, half_step),
                    )
                    for offset, campaign_id in ((0, campaigns[0]), (half_step, campaigns[1]))
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                if self._post_error is not None:
                    raise self._post_error
                sent += 2 * half_step
                samples.append((sent, server.worker_rss()))
                log(f"  {sent} POSTs: RSS {[round(rss / 2**20, 1) for rss in samples[-1][1]]} MiB")
            same_workers = sorted(pids) == sorted(worker.pid for worker in server.workers())
        finally:
            self.stop(server)
        self.extra["memory"] = {"samples": samples, "same_workers": same_workers}

    def _post_many(self, port: int, campaign_id: str, first: int, count: int) -> None:
        try:
            for n in range(first, first + count):
                body = json.dumps({"prospects": lead_batch(f"m{n}")}).encode()
                one_shot(port, self.token, "POST", f"/api/campaigns/{campaign_id}/leads", body)
        except Exception as error:  # noqa: BLE001 - handed to the main thread
            self._post_error = error

    # -- the whole run ---------------------------------------------------------------

    def run(self, memory_only: bool = False) -> None:
        self.extra["started"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.extra["load_before"] = os.getloadavg()
        started = time.monotonic()
        try:
            if memory_only:
                log(f"creating database {self.db.name}")
                self.db.create()
                self.token = self.db.create_token()
            else:
                self.prepare()
                service = self.start_service()
                client = Client(service.port, self.token)
                self.check_post_floor(client)
                self.measure_posts(client)
                self.db.vacuum_and_checkpoint()
                self.measure_pages(client)
                self.measure_page_anatomy(client)
                self.measure_deletes(client)
                self.measure_throughput(service, client)
                self.measure_wipes(client)
                listed_client = Client(service.port, self.listed_token)
                self.measure_listed_posts(listed_client)
                self.measure_checks(listed_client)
                listed_client.close()
                client.close()
                self.stop(service)
                EventItems(self).run()
            self.measure_memory()
            self.extra["postgres"] = self.db.server_version()
        finally:
            for server in list(self.servers):
                self.stop(server)
            log(f"dropping database {self.db.name}")
            self.db.drop()
        self.extra["load_after"] = os.getloadavg()
        self.extra["minutes"] = (time.monotonic() - started) / 60


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": model,
        "python": platform.python_version(),
        "web_concurrency": int(os.environ.get("WEB_CONCURRENCY", "2")),
        "gunicorn_threads": int(os.environ.get("GUNICORN_THREADS", "4")),
    }


def memory_table(memory: dict) -> list[str]:
    lines = [
        "",
        "Worker RSS (MiB, each worker) after N POSTs of 1000 leads"
        + ("" if memory["same_workers"] else " (a worker was replaced during the run!)")
        + ":",
        "",
        "| POSTs | " + " | ".join(str(sent) for sent, _ in memory["samples"]) + " |",
        "|---" * (len(memory["samples"]) + 1) + "|",
    ]
    for worker in range(len(memory["samples"][0][1])):
        lines.append(
            f"| worker {worker + 1} | "
            + " | ".join(f"{rss[worker] / 2**20:.1f}" for _, rss in memory["samples"])
            + " |"
        )
    return lines


def page_anatomy_table(anatomy: dict) -> list[str]:
    medians = anatomy["medians"]
    floor = medians["floor"]
    lines = [
        "",
        f"Anatomy of GET {PAGE}, first page, no filter ({anatomy['runs']} runs of each, "
        "taken in turn; medians):",
        "",
        "| way | median | / floor |",
        "|---|---|---|",
    ]
    for name, seconds in medians.items():
        lines.append(f"| {name} | {ms(seconds)} | {seconds / floor:.2f} |")
    return lines


def heading(bench: Bench, info: dict) -> str:
    return (
        f"Run of {bench.extra['started']}, {bench.extra['minutes']:.1f} minutes; "
        f"{info['nproc']} CPUs ({info['cpu']}), {info['memory_gib']} GiB, "
        f"PostgreSQL {bench.extra['postgres']}, Python {info['python']}, gunicorn "
        f"{info['web_concurrency']} workers x {info['gunicorn_threads']} threads; "
        f"load average before {bench.extra['load_before'][0]:.1f}, "
        f"after {bench.extra['load_after'][0]:.1f}."
    )


def results_table(rows: list[Row]) -> list[str]:
    lines = [
        "| # | measurement | service (median) | baseline (median) | added | ratio | target | met "
        "| old floor (median) | ratio to old floor |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    with_target = [row for row in rows if row.target is not None]
    lines += [
        "",
        f"Targets met: {sum(row.met for row in with_target)} of {len(with_target)}.",
        "",
        "Baselines, each taken in turn with the service: POST, COPY of the batch into a staging"
        " table and one INSERT ... SELECT ... WHERE NOT EXISTS (a suppression entry) ON CONFLICT"
        " DO NOTHING into leads (ids, identities, domains and the COPY body made before the"
        " clock); the old floor, the same rows as one array a"
        " column adapted by psycopg2. GET, the same page fetched by psycopg2. DELETE, the same"
        " DELETE. Item 2, the service's own POST at the smallest roster. Item 7, the service's"
        " own POST of the same batch with dedupe=campaign. Item 8, one query probing the"
        " suppression list's unique index for each identity's email, domain and parent"
        " domains or LinkedIn URL (the candidates made before the clock). Item 9, the same"
        " requests to the same service on a second database made alike, where, once its"
        f" gunicorn had applied the function files, `{NO_EVENTS}` (bench-only DDL) made the"
        " writes record no event. Item 10, a floor, not a ratio: events a webhook worker"
        " delivers per second.",
    ]
    return lines


def worker_lines(worker: dict) -> list[str]:
    runs = worker["runs"]
    return [
        "",
        f"Webhook worker (item 10), {worker['events']:,} events a run, a new worker each: "
        "events/s from its start (fan-out included) "
        + ", ".join(f"{run['rate']:.0f}" for run in runs)
        + "; from the first delivery "
        + ", ".join(f"{run['rate_from_first_delivery']:.0f}" for run in runs)
        + "; seconds from its spawn to its start "
        + ", ".join(f"{run['spawn_to_started']:.1f}" for run in runs)
        + ".",
    ]


def markdown(bench: Bench, info: dict) -> str:
    lines = [heading(bench, info), "", *results_table(bench.rows)]
    lines += page_anatomy_table(bench.extra["page_anatomy"])
    throughput = bench.extra["throughput"]
    lines += [
        "",
        f"Throughput (wrk, 1 thread, {throughput['connections']} connections, "
        f"{throughput['seconds']} s x {len(throughput['rounds']['service'])} rounds, medians; "
        f"bodies {bench.extra['throughput_body_bytes']['service']:,} and "
        f"{bench.extra['throughput_body_bytes']['bare']:,} bytes):",
        "",
        "| endpoint | requests/s | p50 | p99 |",
        "|---|---|---|---|",
    ]
    for name, label in (
        ("service", "GET page of 100 (service)"),
        ("bare", "bare Flask, same body"),
    ):
        result = throughput[name]
        lines.append(
            f"| {label} | {result['rps']:.0f} | {result['p50'] * 1000:.1f} ms | "
            f"{result['p99'] * 1000:.1f} ms |"
        )
    lines.append(f"| ratio (service / bare) | {throughput['ratio_rps']:.2f} | | |")
    lines += worker_lines(bench.extra["webhook_worker"])
    lines += memory_table(bench.extra["memory"])
    lines += [
        "",
        "Seeding (one INSERT ... SELECT each): "
        + ", ".join(
            f"{size:,} leads {seconds:.1f} s"
            for size, seconds in bench.extra["seed_seconds"].items()
        )
        + f"; the largest roster held {bench.extra['roster_after_deletes']:,} leads after "
        "the DELETE runs. Workspace of items 7 and 8: "
        f"{bench.plan.workspace_leads:,} leads in {LISTED_CAMPAIGNS} campaigns "
        f"{bench.extra['listed_seed_seconds']['leads']:.1f} s, "
        f"{bench.plan.suppressions:,} suppression entries "
        f"({bench.plan.suppressions // DOMAIN_SHARE:,} domains, "
        f"{bench.plan.suppressions // LINKEDIN_SHARE:,} LinkedIn URLs) "
        f"{bench.extra['listed_seed_seconds']['suppressions']:.1f} s.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small rosters, few runs")
    parser.add_argument("--memory-posts", type=int, help="POSTs of 1000 leads in item 6")
    parser.add_argument("--memory-only", action="store_true", help="item 6 alone")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.memory_posts:
        plan = dataclasses.replace(plan, memory_posts=args.memory_posts)
    info = machine()
    with tempfile.TemporaryDirectory(prefix="leads-bench-") as workdir:
        bench = Bench(plan, Path(workdir))
        try:
            bench.run(memory_only=args.memory_only)
        except BaseException:
            log(f"failed; the end of each server log in {workdir}:")
            for log_file in Path(workdir).glob("*.log"):
                print(log_file.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
    if args.memory_only:
        name = "memory"
        report = "\n".join([heading(bench, info), *memory_table(bench.extra["memory"])]) + "\n"
    else:
        name = "quick" if args.quick else "latest"
        report = markdown(bench, info)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / f"{name}.md").write_text(report, encoding="utf-8")
    (RESULTS_DIR / f"{name}.json").write_text(
        json.dumps(
            {"machine": info, "rows": [row.as_dict() for row in bench.rows], **bench.extra},
            indent=2,
            default=str,
        ),
        encoding="utf-8",
    )
    print(report)
    log(f"written to {RESULTS_DIR / name}.md and .json")
