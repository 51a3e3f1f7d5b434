"""POST /api/campaigns/{id}/leads against the workspace: rows the suppression list matches
are not added (`suppressed`), and `?dedupe=workspace|live` makes a row a duplicate of a lead
of another campaign, cross-channel. Then the invariants, with threads on the real server:
dedupe=workspace keeps an identity in one campaign, a suppression add with
remove_from_drafts racing lead adds leaves no suppressed identity in a draft, and one
workspace's entries never reach another's adds."""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest

from leads_contract.values import IDENTITY_FIELD
from tests.contract import (
    SUPPRESSIONS,
    ApiClient,
    add_leads,
    assert_stats_match_roster,
    bad_query,
    database_state,
    leads_url,
    move_to,
    query_rows,
    result,
    run_threads,
    stored_leads,
    stored_stats,
    stored_suppressions,
    suppress,
)

DEDUPE_CHOICES = "Must be one of: campaign, workspace, live."


def post_leads(api, campaign: dict, rows: list[dict], **query) -> dict:
    response = api.post(leads_url(campaign["id"], **query), json={"prospects": rows})
    assert response.status_code == 200, response.json
    return response.json


def suppressed(index: int, identity: str, entry: dict) -> dict:
    """The result of a row that `entry` (a stored entry) suppressed."""
    return {
        **result(index, "suppressed", None, identity, None),
        "suppressed_by": {key: entry[key] for key in ("id", "kind", "value")},
    }


def elsewhere(index: int, lead: dict, identity: str) -> dict:
    """The result of a row that `lead` (as listed) of another campaign holds."""
    return {
        **result(index, "duplicate", lead["id"], identity, "workspace"),
        "campaign_id": lead["campaign_id"],
    }


def add_response(results: list[dict], stats: dict, **extra) -> dict:
    """The whole body of a lead add with these (expected) results: the counts follow from
    them."""
    counts = Counter(item["outcome"] for item in results)
    return {
        "imported": counts["imported"],
        "duplicates": counts["duplicate"],
        "suppressed": counts["suppressed"],
        "results": results,
        "stats": stats,
        **extra,
    }


def identities_of(db, campaign: dict) -> list[str]:
    return [lead["identity"] for lead in stored_leads(db, campaign["id"], ["identity"])]


def rosters_of(db, campaigns: list[dict]) -> dict[str, list[dict]]:
    return {campaign["id"]: stored_leads(db, campaign["id"]) for campaign in campaigns}


@pytest.fixture
def entries(api, db) -> dict[str, dict]:
    """acme's suppression list: an email, a domain, a LinkedIn URL and an internationalized
    domain; the stored entries by value."""
    suppress(
        api,
        [
            {"kind": "email", "value": "ann@example.com"},
            {"kind": "domain", "value": "acme.com"},
            {"kind": "linkedin_url", "value": "linkedin.com/in/bob"},
            {"kind": "domain", "value": "bücher.de"},
        ],
    )
    return {row["value"]: row for row in stored_suppressions(db)}


# Rows for an email campaign, and what the entries make of each: (row, identity, the value
# of the entry that suppresses it, or None).
EMAIL_ROWS = [
    ({"email": "ANN@example.com"}, "ann@example.com", "ann@example.com"),
    ({"email": "x@eu.acme.com"}, "x@eu.acme.com", "acme.com"),
    ({"email": "y@notacme.com", "first_name": "Yan"}, "y@notacme.com", None),
    # The captured LinkedIn URL is suppressed: the row is, whatever its email.
    (
        {"email": "carl@example.com", "linkedin_url": "uk.linkedin.com/in/Bob/", "first_name": "S"},
        "carl@example.com",
        "https://www.linkedin.com/in/bob",
    ),
    # The first row of carl that is not suppressed is the one kept.
    ({"email": "carl@example.com", "first_name": "Carl"}, "carl@example.com", None),
    ({"email": "Carl@example.com", "first_name": "Later"}, "carl@example.com", None),
    ({"email": "w@Bücher.de"}, "w@bücher.de", "xn--bcher-kva.de"),
    ({"email": "v@eu.xn--bcher-kva.de"}, "v@eu.bücher.de", "xn--bcher-kva.de"),
    (
        {"email": "ann@example.com", "linkedin_url": "linkedin.com/in/ann"},
        "ann@example.com",
        "ann@example.com",
    ),
    ({"email": "dan@example.com", "linkedin_url": "linkedin.com/in/dan"}, "dan@example.com", None),
]
LINKEDIN_ROWS = [
    (
        {"linkedin_url": "https://uk.linkedin.com/in/Bob/"},
        "https://www.linkedin.com/in/bob",
        "https://www.linkedin.com/in/bob",
    ),
    # The captured email is at a subdomain of a suppressed domain.
    (
        {"linkedin_url": "linkedin.com/in/dan", "email": "dan@sales.acme.com"},
        "https://www.linkedin.com/in/dan",
        "acme.com",
    ),
    ({"linkedin_url": "linkedin.com/in/dan"}, "https://www.linkedin.com/in/dan", None),
    (
        {"linkedin_url": "linkedin.com/in/eve", "email": "ann@example.com"},
        "https://www.linkedin.com/in/eve",
        "ann@example.com",
    ),
    # An invalid captured email is stored as null: nothing to suppress.
    (
        {"linkedin_url": "linkedin.com/in/fay", "email": "not-an-email"},
        "https://www.linkedin.com/in/fay",
        None,
    ),
    (
        {"linkedin_url": "linkedin.com/in/gus", "email": "gus@acme.co"},
        "https://www.linkedin.com/in/gus",
        None,
    ),
]
ROWS = {"email": EMAIL_ROWS, "linkedin": LINKEDIN_ROWS}


def expected_add(rows: list[tuple], entries: dict, ids: dict[str, str]) -> list[dict]:
    """The results of adding `rows` to an empty roster: suppressed as each row says, else
    the first row of an identity imported (as lead ids[identity]), the others duplicates
    of it in the batch."""
    results, seen = [], set()
    for index, (_, identity, entry) in enumerate(rows):
        if entry is not None:
            results.append(suppressed(index, identity, entries[entry]))
        elif identity in seen:
            results.append(result(index, "duplicate", ids[identity], identity, "batch"))
        else:
            seen.add(identity)
            results.append(result(index, "imported", ids[identity], identity, None))
    return results


class TestSuppressedRows:
    @pytest.mark.parametrize("campaign_type", ["email", "linkedin"])
    def test_suppressed_rows_are_not_added_and_name_their_entry(
        self, api, db, entries, campaign_type
    ):
        campaign = api.create_campaign("Target", campaign_type)
        rows = ROWS[campaign_type]

        body = post_leads(api, campaign, [row for row, _, _ in rows])

        stored = stored_leads(db, campaign["id"])
        ids = {lead["identity"]: lead["id"] for lead in stored}
        assert body == add_response(
            expected_add(rows, entries, ids), stored_stats(db, campaign["id"])
        )
        assert body["imported"] + body["duplicates"] + body["suppressed"] == len(rows)
        assert [lead["identity"] for lead in stored] == list(
            dict.fromkeys(identity for _, identity, entry in rows if entry is None)
        )
        assert_stats_match_roster(db, campaign["id"], body["stats"])
        if campaign_type == "email":
            # The kept row's profile is the first row that is not suppressed.
            assert [lead["first_name"] for lead in stored] == ["Yan", "Carl", None]

    @pytest.mark.parametrize("campaign_type", ["email", "linkedin"])
    def test_a_dry_run_reports_the_same_and_writes_nothing(self, api, db, entries, campaign_type):
        campaign = api.create_campaign("Target", campaign_type)
        rows = ROWS[campaign_type]
        before = database_state(db)

        dry = post_leads(api, campaign, [row for row, _, _ in rows], dry_run="true")

        assert database_state(db) == before
        # The ids a dry run reports are never stored: take them from its own results.
        ids = {item["identity"]: item["id"] for item in dry["results"] if item["id"]}
        imported = len(ids)  # the identities imported: the others have no id
        stats = {**dry["stats"], "total": imported, "pending": imported}
        assert dry == add_response(expected_add(rows, entries, ids), stats, dry_run=True)
        real = post_leads(api, campaign, [row for row, _, _ in rows])
        stored_ids = {lead["identity"]: lead["id"] for lead in stored_leads(db, campaign["id"])}
        assert real == {
            **{key: value for key, value in dry.items() if key != "dry_run"},
            "results": expected_add(rows, entries, stored_ids),
            "stats": real["stats"],
        }
        assert not set(ids.values()) & set(stored_ids.values())

    def test_suppression_is_checked_before_the_roster(self, api, db, email_campaign):
        # Leads added before their entry stay (without remove_from_drafts), but sending them
        # again reports them suppressed, not duplicates of themselves.
        [ann] = add_leads(api, email_campaign, [{"email": "ann@example.com"}])
        suppress(api, [{"kind": "email", "value": "ann@example.com"}])
        [entry] = stored_suppressions(db)
        before = database_state(db)["leads"]

        body = post_leads(api, email_campaign, [{"email": "ann@example.com"}])

        assert body == {
            "imported": 0,
            "duplicates": 0,
            "suppressed": 1,
            "results": [suppressed(0, "ann@example.com", entry)],
            "stats": stored_stats(db, email_campaign["id"]),
        }
        # The add syncs the stats (last_synced_at) but writes no lead.
        assert database_state(db)["leads"] == before
        assert [lead["id"] for lead in stored_leads(db, email_campaign["id"], ["id"])] == [
            ann["id"]
        ]


@pytest.fixture
def workspace(api, other_api) -> dict:
    """acme's campaigns holding people a target roster meets, and globex's.

    first: a draft email campaign, the oldest holder of ann; linkedin: a draft LinkedIn
    campaign holding bob (his email captured) and ann again (her email captured); completed,
    paused and active campaigns holding cy, pat and al; target: a draft email campaign
    holding tom, whom `first` holds too."""
    first = api.create_campaign("First", "email")
    add_leads(
        api,
        first,
        [
            {"email": "ann@example.com"},
            {"email": "gus@example.com", "linkedin_url": "linkedin.com/in/gus"},
            {"email": "tom@example.com"},
        ],
    )
    linkedin = api.create_campaign("LinkedIn", "linkedin")
    add_leads(
        api,
        linkedin,
        [
            {"linkedin_url": "linkedin.com/in/bob", "email": "bob@example.com"},
            {"linkedin_url": "linkedin.com/in/ann", "email": "ann@example.com"},
        ],
    )
    frozen = {}
    for status, who in (("completed", "cy"), ("paused", "pat"), ("active", "al")):
        campaign = api.create_campaign(f"Frozen {status}", "email")
        add_leads(api, campaign, [{"email": f"{who}@example.com"}])
        frozen[status] = move_to(api, campaign, status)
    target = api.create_campaign("Target", "email")
    add_leads(api, target, [{"email": "tom@example.com"}])
    theirs = other_api.create_campaign("Theirs", "email")
    add_leads(other_api, theirs, [{"email": "oth@example.com"}, {"email": "new@example.com"}])
    return {"first": first, "linkedin": linkedin, **frozen, "target": target, "theirs": theirs}


def lead_in(db, campaign: dict, identity: str) -> dict:
    """The lead of the campaign stored under this identity: its id and campaign id."""
    [lead] = query_rows(
        db,
        "SELECT id::text AS id, campaign_id::text AS campaign_id FROM leads"
        " WHERE campaign_id = %s AND identity = %s",
        (campaign["id"], identity),
    )
    return lead


# What the target (an email campaign) is sent, in every mode.
TARGET_ROWS = [
    {"email": "ann@example.com"},  # first (oldest) and linkedin (captured email) hold her
    {"email": "BOB@example.com"},  # only the LinkedIn campaign holds it, as a captured email
    {"email": "cy@example.com"},  # a completed campaign
    {"email": "pat@example.com"},  # a paused one
    {"email": "al@example.com"},  # an active one
    {"email": "tom@example.com"},  # the target itself, and first: the campaign wins
    {"email": "new@example.com"},  # only globex holds it
    {"email": "hal@example.com", "linkedin_url": "linkedin.com/in/bob"},  # only the email counts
    {"email": "Ann@example.com"},  # again, in the batch
]


class TestDedupeModes:
    @pytest.mark.parametrize(
        ("query", "held_elsewhere"),
        [
            ({}, set()),
            ({"dedupe": "campaign"}, set()),
            ({"dedupe": "workspace"}, {"ann", "bob", "cy", "pat", "al"}),
            ({"dedupe": "live"}, {"ann", "bob", "pat", "al"}),
            ({"dedupe": "workspace", "dry_run": "true"}, {"ann", "bob", "cy", "pat", "al"}),
        ],
        ids=["default", "campaign", "workspace", "live", "workspace-dry-run"],
    )
    def test_each_mode(self, api, db, workspace, query, held_elsewhere):
        target = workspace["target"]
        others = [campaign for name, campaign in workspace.items() if name != "target"]
        others_before = rosters_of(db, others)
        before = database_state(db)
        holders = {
            "ann": lead_in(db, workspace["first"], "ann@example.com"),
            "bob": lead_in(db, workspace["linkedin"], "https://www.linkedin.com/in/bob"),
            "cy": lead_in(db, workspace["completed"], "cy@example.com"),
            "pat": lead_in(db, workspace["paused"], "pat@example.com"),
            "al": lead_in(db, workspace["active"], "al@example.com"),
        }
        tom = lead_in(db, target, "tom@example.com")

        body = post_leads(api, target, TARGET_ROWS, **query)

        dry_run = "dry_run" in query
        if dry_run:
            assert database_state(db) == before
            ids = {item["identity"]: item["id"] for item in body["results"]}
        else:
            ids = {lead["identity"]: lead["id"] for lead in stored_leads(db, target["id"])}
        results = []
        for index, row in enumerate(TARGET_ROWS):
            identity = row["email"].lower()
            who = identity.split("@")[0]
            if index == 8:
                results.append(result(8, "duplicate", results[0]["id"], identity, "batch"))
            elif who == "tom":
                results.append(result(index, "duplicate", tom["id"], identity, "campaign"))
            elif who in held_elsewhere:
                results.append(elsewhere(index, holders[who], identity))
            else:
                results.append(result(index, "imported", ids[identity], identity, None))
        imported = [item["identity"] for item in results if item["outcome"] == "imported"]
        stats = {**body["stats"], "total": 1 + len(imported), "pending": 1 + len(imported)}
        extra = {"dry_run": True} if dry_run else {}
        assert body == add_response(results, stats, **extra)
        if not dry_run:
            assert identities_of(db, target) == ["tom@example.com", *imported]
            assert_stats_match_roster(db, target["id"], body["stats"])
        assert rosters_of(db, others) == others_before

    def test_a_linkedin_campaign_meets_the_linkedin_urls_of_every_campaign(
        self, api, db, workspace
    ):
        target = api.create_campaign("LinkedIn target", "linkedin")
        rows = [
            {"linkedin_url": "linkedin.com/in/gus"},  # captured by the email campaign
            {"linkedin_url": "uk.linkedin.com/in/BOB"},  # a lead of the other LinkedIn one
            # Its email is held elsewhere, but a LinkedIn campaign compares LinkedIn URLs.
            {"linkedin_url": "linkedin.com/in/new", "email": "tom@example.com"},
        ]

        body = post_leads(api, target, rows, dedupe="workspace")

        [new] = stored_leads(db, target["id"], ["id"])
        gus = lead_in(db, workspace["first"], "gus@example.com")
        bob = lead_in(db, workspace["linkedin"], "https://www.linkedin.com/in/bob")
        assert body == {
            "imported": 1,
            "duplicates": 2,
            "suppressed": 0,
            "results": [
                elsewhere(0, gus, "https://www.linkedin.com/in/gus"),
                elsewhere(1, bob, "https://www.linkedin.com/in/bob"),
                result(2, "imported", new["id"], "https://www.linkedin.com/in/new", None),
            ],
            "stats": stored_stats(db, target["id"]),
        }
        assert_stats_match_roster(db, target["id"], body["stats"])

    def test_a_suppressed_row_is_suppressed_before_it_is_a_duplicate(self, api, db, workspace):
        suppress(api, [{"kind": "email", "value": "ann@example.com"}])
        [entry] = stored_suppressions(db)
        before = database_state(db)["leads"]
        body = post_leads(
            api, workspace["target"], [{"email": "ann@example.com"}], dedupe="workspace"
        )
        assert body["results"] == [suppressed(0, "ann@example.com", entry)]
        assert (body["duplicates"], body["suppressed"]) == (0, 1)
        assert database_state(db)["leads"] == before

    def test_a_removed_lead_no_longer_holds_its_identity(self, api, db, workspace):
        holder = lead_in(db, workspace["first"], "ann@example.com")
        other = lead_in(db, workspace["linkedin"], "https://www.linkedin.com/in/ann")
        for campaign, lead in ((workspace["first"], holder), (workspace["linkedin"], other)):
            response = api.delete(leads_url(campaign["id"]), json={"prospect_ids": [lead["id"]]})
            assert response.json["deleted"] == 1
        body = post_leads(api, workspace["target"], [{"email": "ann@example.com"}], dedupe="live")
        assert body["imported"] == 1

    @pytest.mark.parametrize("value", ["bogus", "", "Workspace", "all"])
    def test_an_unknown_mode_is_refused(self, rejected_rows, workspace, value):
        rejected_rows(
            workspace["target"],
            TARGET_ROWS,
            bad_query("dedupe", DEDUPE_CHOICES),
            query=f"?dedupe={value}",
        )


# The invariants under concurrency. Each thread drives its own test client; the app's pool
# has 10 connections, so the requests really run side by side in transactions of their own.


def person(n: int) -> dict:
    """Person n's row: an email (a quarter of them at each of four domains, a third of those
    at a subdomain) and a LinkedIn URL, both normalized, so that each names the person."""
    subdomain = "eu." if n % 3 == 0 else ""
    return {
        "email": f"p{n}@{subdomain}d{n % 4}.example.org",
        "linkedin_url": f"https://www.linkedin.com/in/p-{n}",
    }


def person_of(campaign_type: str, identity: str) -> int:
    """The person a campaign's identity names (see person())."""
    if campaign_type == "email":
        return int(identity.split("@")[0][1:])
    return int(identity.rsplit("-", 1)[1])


def roster_leads(db, campaign: dict) -> dict[str, str]:
    """The campaign's lead ids by identity."""
    return {
        lead["identity"]: lead["id"]
        for lead in stored_leads(db, campaign["id"], ["id", "identity"])
    }


def assert_results_agree(
    campaign: dict, body: dict, rows: list[dict], leads_by_id: dict[str, dict]
) -> list[dict]:
    """Check a lead add's response against what is stored (leads_by_id: every lead of the
    workspace by id, with its campaign and fields) for the rows that are not suppressed, and
    its counts; return the results of the rows it imported."""
    field = IDENTITY_FIELD[campaign["type"]]
    first_of: dict[str, dict] = {}
    for index, (row, item) in enumerate(zip(rows, body["results"], strict=True)):
        identity = row[field]
        assert (item["index"], item["identity"]) == (index, identity)
        if item["outcome"] == "suppressed":
            continue
        if identity in first_of:
            assert item == result(index, "duplicate", first_of[identity]["id"], identity, "batch")
            continue
        first_of[identity] = item
        if item["duplicate_of"] == "workspace":
            holder = leads_by_id[item["id"]]
            assert item == elsewhere(index, holder, identity)
            assert holder["campaign_id"] != campaign["id"]
            assert holder[field] == identity
        elif item["outcome"] == "duplicate":
            assert item == result(index, "duplicate", item["id"], identity, "campaign")
    outcomes = Counter(item["outcome"] for item in body["results"])
    assert (body["imported"], body["duplicates"], body["suppressed"]) == (
        outcomes["imported"],
        outcomes["duplicate"],
        outcomes["suppressed"],
    )
    return [item for item in body["results"] if item["outcome"] == "imported"]


def workspace_leads(db) -> dict[str, dict]:
    return {
        lead["id"]: lead
        for lead in query_rows(
            db,
            "SELECT id::text AS id, campaign_id::text AS campaign_id, identity, email,"
            " linkedin_url FROM leads",
        )
    }


def assert_totals_follow_the_imports(outcomes: list[tuple[dict, dict]]) -> None:
    """Each campaign's adds serialize on its row: ordered by the total they answered with
    (an import before a no-op at the same total), each total is the one before plus what it
    imported."""
    by_campaign: dict[str, list[dict]] = {}
    for campaign, body in outcomes:
        by_campaign.setdefault(campaign["id"], []).append(body)
    for bodies in by_campaign.values():
        total = 0
        for body in sorted(bodies, key=lambda body: (body["stats"]["total"], -body["imported"])):
            total += body["imported"]
            assert body["stats"]["total"] == total


class TestConcurrentWorkspaceDedupe:
    THREADS = 8
    BATCHES_PER_THREAD = 3
    ROWS_PER_BATCH = 25
    PEOPLE = 90

    @pytest.mark.parametrize("types", ["email", "mixed"])
    @pytest.mark.parametrize("seed", [1, 2])
    def test_an_identity_lands_in_one_campaign(self, app, token, api, db, types, seed):
        # Mixed: two email and two LinkedIn campaigns; every row carries both identities of
        # its person, so cross-channel matching keeps each person in one campaign.
        campaign_types = ["email"] * 4 if types == "email" else ["email", "linkedin"] * 2
        campaigns = [
            api.create_campaign(f"Race {n}", campaign_type)
            for n, campaign_type in enumerate(campaign_types)
        ]
        rng = random.Random(seed)
        plans = [
            (
                campaigns[thread % 4],
                [
                    [person(rng.randrange(self.PEOPLE)) for _ in range(self.ROWS_PER_BATCH)]
                    for _ in range(self.BATCHES_PER_THREAD)
                ],
            )
            for thread in range(self.THREADS)
        ]

        def worker(campaign, batches):
            def post_all():
                client = ApiClient(app, token)
                sent = []
                for rows in batches:
                    path = leads_url(campaign["id"], dedupe="workspace")
                    response = client.post(path, json={"prospects": rows})
                    sent.append((campaign, rows, response.status_code, response.json))
                return sent

            return post_all

        outcomes = [
            sent for done in run_threads([worker(*plan) for plan in plans]) for sent in done
        ]

        assert [status for _, _, status, _ in outcomes] == [200] * len(outcomes)
        leads = workspace_leads(db)
        # Every person sent is in exactly one campaign: the first add that met them took
        # them, every later one found them.
        held = Counter(int(lead["email"].split("@")[0][1:]) for lead in leads.values())
        sent_people = {
            int(row["email"].split("@")[0][1:]) for _, rows, _, _ in outcomes for row in rows
        }
        assert held == Counter(sent_people)
        imported = []
        for campaign, rows, _, body in outcomes:
            assert body["suppressed"] == 0
            imported += assert_results_agree(campaign, body, rows, leads)
            for item in body["results"]:
                # A batch duplicate has the id of its first row, checked above.
                if item["duplicate_of"] in (None, "campaign"):
                    assert leads[item["id"]]["campaign_id"] == campaign["id"]
        # Each lead was reported imported once, by the add that stored it.
        assert sorted(item["id"] for item in imported) == sorted(leads)
        assert_totals_follow_the_imports([(campaign, body) for campaign, _, _, body in outcomes])
        for campaign in campaigns:
            assert_stats_match_roster(db, campaign["id"])


def matches(entry: tuple[str, str], row: dict) -> bool:
    """Whether the suppression entry (kind, value) matches a person's row."""
    kind, value = entry
    if kind == "domain":
        domain = row["email"].split("@")[1]
        return domain == value or domain.endswith("." + value)
    return row[kind] == value


class TestAddsRacingRemovals:
    ADDERS = 4
    BATCHES_PER_ADDER = 4
    ROWS_PER_BATCH = 20
    SUPPRESSORS = 2
    ADDS_PER_SUPPRESSOR = 4
    ENTRIES_PER_ADD = 6
    NEW_DRAFTS = 4
    PEOPLE = 80

    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_no_draft_keeps_a_suppressed_identity(self, app, token, api, db, seed):
        drafts = [
            api.create_campaign("Draft A", "email"),
            api.create_campaign("Draft B", "linkedin"),
            api.create_campaign("Draft C", "email"),
        ]
        active = api.create_campaign("Active", "email")
        add_leads(api, active, [person(n) for n in range(0, self.PEOPLE, 5)])
        move_to(api, active, "active")
        active_before = stored_leads(db, active["id"])
        rng = random.Random(seed)
        add_plans = [
            [
                (
                    rng.choice(drafts),
                    [person(rng.randrange(self.PEOPLE)) for _ in range(self.ROWS_PER_BATCH)],
                )
                for _ in range(self.BATCHES_PER_ADDER)
            ]
            for _ in range(self.ADDERS)
        ]
        suppress_plans = []
        for suppressor in range(self.SUPPRESSORS):
            requests = []
            for number in range(self.ADDS_PER_SUPPRESSOR):
                entries = []
                for _ in range(self.ENTRIES_PER_ADD):
                    kind = rng.choice(["email", "linkedin_url"])
                    entries.append(
                        {"kind": kind, "value": person(rng.randrange(self.PEOPLE))[kind]}
                    )
                if (suppressor, number) == (0, 2):
                    # A domain, with people at the domain itself and at a subdomain of it.
                    entries.append({"kind": "domain", "value": "d1.example.org"})
                requests.append(entries)
            suppress_plans.append(requests)

        def adder(plan):
            def add_all():
                client = ApiClient(app, token)
                sent = []
                for campaign, rows in plan:
                    response = client.post(leads_url(campaign["id"]), json={"prospects": rows})
                    sent.append(("add", campaign, rows, response.status_code, response.json))
                return sent

            return add_all

        def suppressor(plan, thread_seed):
            def suppress_all():
                client = ApiClient(app, token)
                pause = random.Random(thread_seed)
                sent = []
                for entries in plan:
                    # Spread the removals over the adds rather than all at the start.
                    time.sleep(pause.uniform(0, 0.05))
                    body = {"entries": entries, "remove_from_drafts": True}
                    response = client.post(SUPPRESSIONS, json=body)
                    sent.append(("suppress", None, entries, response.status_code, response.json))
                return sent

            return suppress_all

        newcomers = [
            [person(rng.randrange(self.PEOPLE)) for _ in range(self.ROWS_PER_BATCH)]
            for _ in range(self.NEW_DRAFTS)
        ]
        created: list[dict] = []

        def newcomer():
            # Drafts created during the race: a removal cannot have locked them beforehand,
            # so only the workspace's suppression lock keeps their adds in order with it.
            client = ApiClient(app, token)
            sent = []
            for number, rows in enumerate(newcomers):
                campaign = client.create_campaign(f"New draft {number}", "email")
                created.append(campaign)
                response = client.post(leads_url(campaign["id"]), json={"prospects": rows})
                sent.append(("add", campaign, rows, response.status_code, response.json))
            return sent

        workers = [adder(plan) for plan in add_plans] + [
            suppressor(plan, seed * 10 + n) for n, plan in enumerate(suppress_plans)
        ]
        outcomes = [sent for done in run_threads([*workers, newcomer]) for sent in done]
        drafts += created

        assert [outcome[3] for outcome in outcomes] == [200] * len(outcomes)
        adds = [
            (campaign, rows, body) for kind, campaign, rows, _, body in outcomes if kind == "add"
        ]
        removals = [(entries, body) for kind, _, entries, _, body in outcomes if kind == "suppress"]
        entry_ids = {(row["kind"], row["value"]): row["id"] for row in stored_suppressions(db)}
        listed = set(entry_ids)
        assert listed == {
            (entry["kind"], entry["value"]) for entries, _ in removals for entry in entries
        }

        def is_suppressed(row):
            return any(matches(entry, row) for entry in listed)

        # Once all committed: a pair (campaign, person) sent is in the roster exactly when
        # the person is not suppressed, whichever came first.
        for campaign in drafts:
            field = IDENTITY_FIELD[campaign["type"]]
            sent = {row[field]: row for c, rows, _ in adds if c is campaign for row in rows}
            kept = {identity for identity, row in sent.items() if not is_suppressed(row)}
            assert set(roster_leads(db, campaign)) == kept
            assert_stats_match_roster(db, campaign["id"])
        assert stored_leads(db, active["id"]) == active_before  # a frozen roster never changes

        # Every response agrees with what was stored.
        leads = workspace_leads(db)
        removed_per_campaign: Counter = Counter()
        for entries, body in removals:
            assert body["added"] + body["duplicates"] == len(entries)
            assert [item["id"] for item in body["results"]] == [
                entry_ids[(entry["kind"], entry["value"])] for entry in entries
            ]
            campaigns = body["removed_from_drafts"]["campaigns"]
            assert [item["id"] for item in campaigns] == sorted(item["id"] for item in campaigns)
            assert body["removed_from_drafts"]["leads"] == sum(
                item["removed"] for item in campaigns
            )
            removed_per_campaign.update({item["id"]: item["removed"] for item in campaigns})
        assert sum(body["added"] for _, body in removals) == len(listed)
        entries_by_id = {entry_id: key for key, entry_id in entry_ids.items()}
        imported_per_campaign: Counter = Counter()
        for campaign, rows, body in adds:
            imported = assert_results_agree(campaign, body, rows, leads)
            imported_per_campaign[campaign["id"]] += len(imported)
            for row, item in zip(rows, body["results"], strict=True):
                if item["outcome"] == "suppressed":
                    entry = item["suppressed_by"]
                    key = entries_by_id[entry["id"]]
                    assert key == (entry["kind"], entry["value"])
                    assert matches(key, row)
                elif item["id"] not in leads:
                    # Imported (or found in the roster) then removed: by an entry of its person.
                    assert is_suppressed(row)
                else:
                    assert leads[item["id"]]["campaign_id"] == campaign["id"]
        # What the adds imported, less what the removals reported, is what the drafts hold.
        for campaign in drafts:
            assert imported_per_campaign[campaign["id"]] - removed_per_campaign[
                campaign["id"]
            ] == len(roster_leads(db, campaign))
        assert set(removed_per_campaign) <= {campaign["id"] for campaign in drafts}


class TestWorkspacesRaceApart:
    ROUNDS = 4
    PEOPLE = 60

    @pytest.mark.parametrize("seed", [1, 2])
    def test_entries_of_one_workspace_never_touch_anothers_adds(
        self, app, token, other_token, api, other_api, db, seed
    ):
        mine = api.create_campaign("Mine", "email")
        theirs = other_api.create_campaign("Theirs", "email")
        add_leads(other_api, theirs, [person(n) for n in range(self.PEOPLE)])
        rng = random.Random(seed)
        people = list(range(self.PEOPLE))
        rng.shuffle(people)
        chunks = [people[round_ :: self.ROUNDS] for round_ in range(self.ROUNDS)]

        def adder():
            client = ApiClient(app, token)
            sent = []
            for chunk in chunks:
                rows = [person(n) for n in chunk]
                response = client.post(
                    leads_url(mine["id"], dedupe="workspace"), json={"prospects": rows}
                )
                sent.append((rows, response.status_code, response.json))
            return sent

        def their_suppressor():
            client = ApiClient(app, other_token)
            sent = []
            for chunk in reversed(chunks):
                entries = [{"kind": "email", "value": person(n)["email"]} for n in chunk]
                entries.append({"kind": "domain", "value": "d2.example.org"})
                body = {"entries": entries, "remove_from_drafts": True}
                response = client.post(SUPPRESSIONS, json=body)
                sent.append((response.status_code, response.json))
            return sent

        added, suppressed_by_them = run_threads([adder, their_suppressor])

        for rows, status, body in added:
            assert status == 200
            assert (body["imported"], body["suppressed"]) == (len(rows), 0)
        assert set(roster_leads(db, mine)) == {person(n)["email"] for n in range(self.PEOPLE)}
        assert_stats_match_roster(db, mine["id"])
        # Their entries did their work in their workspace only.
        assert [status for status, _ in suppressed_by_them] == [200] * self.ROUNDS
        assert sum(body["removed_from_drafts"]["leads"] for _, body in suppressed_by_them) == (
            self.PEOPLE
        )
        assert {
            item["id"]
            for _, body in suppressed_by_them
            for item in body["removed_from_drafts"]["campaigns"]
        } == {theirs["id"]}
        assert stored_leads(db, theirs["id"]) == []
        assert {row["workspace"] for row in stored_suppressions(db)} == {"globex"}
