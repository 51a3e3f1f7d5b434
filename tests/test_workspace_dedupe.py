"""POST /api/campaigns/{id}/leads against the workspace: rows the suppression list matches
are not added (`suppressed`), and `?dedupe=workspace|live` makes a row a duplicate of a lead
of another campaign, cross-channel. Then the invariants, with threads on the real server:
dedupe=workspace keeps an identity in one campaign, a suppression add with
remove_from_drafts racing lead adds leaves no suppressed identity in a draft, and one
workspace's entries never reach another's adds."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.contract import (
    add_leads,
    assert_stats_match_roster,
    bad_query,
    database_state,
    leads_url,
    move_to,
    query_rows,
    result,
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
        results = expected_add(rows, entries, ids)
        counts = Counter(item["outcome"] for item in results)
        assert body == {
            "imported": counts["imported"],
            "duplicates": counts["duplicate"],
            "suppressed": counts["suppressed"],
            "results": results,
            "stats": stored_stats(db, campaign["id"]),
        }
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
        results = expected_add(rows, entries, ids)
        counts = Counter(item["outcome"] for item in results)
        assert dry == {
            "imported": counts["imported"],
            "duplicates": counts["duplicate"],
            "suppressed": counts["suppressed"],
            "results": results,
            "stats": {**dry["stats"], "total": counts["imported"], "pending": counts["imported"]},
            "dry_run": True,
        }
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
        assert body == {
            "imported": len(imported),
            "duplicates": len(TARGET_ROWS) - len(imported),
            "suppressed": 0,
            "results": results,
            "stats": {**body["stats"], "total": 1 + len(imported), "pending": 1 + len(imported)},
            **({"dry_run": True} if dry_run else {}),
        }
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
