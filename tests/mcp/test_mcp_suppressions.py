"""The suppression tools of `leads mcp`, and add_leads' dedupe and suppressed outcome, against
the workspace contract's suppression API: POST, GET and DELETE /api/suppressions, POST
/api/suppressions/check, and POST leads with ?dedupe= and the suppressed outcome. Each result
is the API's body, checked against the API's own answer and what the database holds."""

from __future__ import annotations

import pytest

from tests.contract import (
    MISSING_UUID,
    add_leads,
    database_state,
    ids_by_identity,
    move_to,
    stored_lead_ids,
    stored_leads,
    stored_stats,
)
from tests.mcp.client import api_error

pytestmark = pytest.mark.anyio


def suppress(api, *entries: dict) -> list[dict]:
    """Add entries through the API; their results."""
    response = api.post("/api/suppressions", json={"entries": list(entries)})
    assert response.status_code == 200, response.json
    return response.json["results"]


def identities(db, campaign_id: str) -> list[str]:
    return [lead["identity"] for lead in stored_leads(db, campaign_id, ["identity"])]


class TestSuppressionTools:
    async def test_add_list_check_and_remove(self, connect, transport, api, db):
        entries = [
            {"kind": "email", "value": " Ada@Example.COM ", "reason": "unsubscribed"},
            {"kind": "domain", "value": "@Acme.com", "note": "a customer"},
            {"kind": "email", "value": "ada@example.com"},
        ]
        people = [
            {"email": "a@eu.acme.com"},
            {"email": "a@notacme.com"},
            {"email": "ADA@example.com"},
            {"linkedin_url": "linkedin.com/in/ada"},
        ]
        async with connect(transport) as tools:
            added = await tools.ok("add_suppressions", {"entries": entries})
            listed = await tools.ok("list_suppressions")
            domains = await tools.ok("list_suppressions", {"kind": "domain"})
            found = await tools.ok("list_suppressions", {"q": "EXAMPLE"})
            first = await tools.ok("list_suppressions", {"limit": 1})
            second = await tools.ok(
                "list_suppressions", {"limit": 1, "cursor": first["next_cursor"]}
            )
            before = database_state(db)
            checked = await tools.ok("check_suppressions", {"identities": people})
            assert database_state(db) == before
            # The API's own answer while the list still holds both entries: the removal
            # below changes what a check finds.
            answered = api.post("/api/suppressions/check", json={"identities": people}).json
            ada, acme = listed["suppressions"]
            removed = await tools.ok("remove_suppressions", {"ids": [ada["id"], MISSING_UUID]})
            rechecked = await tools.ok("check_suppressions", {"identities": people[2:3]})
        assert added == {
            "added": 2,
            "duplicates": 1,
            "results": [
                {"index": 0, "outcome": "added", "id": ada["id"], "value": "ada@example.com"},
                {"index": 1, "outcome": "added", "id": acme["id"], "value": "acme.com"},
                {"index": 2, "outcome": "duplicate", "id": ada["id"], "value": "ada@example.com"},
            ],
        }
        assert (ada["kind"], ada["reason"], ada["note"]) == ("email", "unsubscribed", None)
        assert (acme["kind"], acme["reason"], acme["note"]) == ("domain", "manual", "a customer")
        assert (listed["total"], listed["next_cursor"]) == (2, None)
        assert domains["suppressions"] == [acme]
        assert found["suppressions"] == [ada]
        assert [first["suppressions"], second["suppressions"]] == [[ada], [acme]]
        assert second["next_cursor"] is None
        assert checked == answered
        assert [result["suppressed"] for result in checked["results"]] == [
            True,
            False,
            True,
            False,
        ]
        assert [result["matched"] for result in checked["results"]] == [acme, None, ada, None]
        assert removed == {"deleted": 1}
        assert rechecked == {"results": [{"index": 0, "suppressed": False, "matched": None}]}
        assert api.get("/api/suppressions").json == {
            "suppressions": [acme],
            "total": 1,
            "next_cursor": None,
        }

    async def test_reads_work_in_read_mode(self, connect, api):
        (entry,) = suppress(api, {"kind": "domain", "value": "acme.com"})
        async with connect(LEADS_MCP_MODE="read") as tools:
            listed = await tools.ok("list_suppressions")
            checked = await tools.ok(
                "check_suppressions", {"identities": [{"email": "bob@acme.com"}]}
            )
        assert listed == api.get("/api/suppressions").json
        assert checked["results"][0]["matched"]["id"] == entry["id"]

    async def test_an_invalid_entry_is_the_api_400_and_nothing_is_written(self, connect, api, db):
        entries = [
            {"kind": "domain", "value": "acme.com"},
            {"kind": "domain", "value": "acme"},
            {"kind": "email", "value": "not an address"},
        ]
        before = database_state(db)
        async with connect() as tools:
            text = await tools.error("add_suppressions", {"entries": entries})
        assert database_state(db) == before
        answer = api.post(
            "/api/suppressions", json={"entries": entries, "remove_from_drafts": False}
        )
        assert answer.status_code == 400
        assert text == api_error("add_suppressions", answer.json)
        assert database_state(db) == before


class TestRemoveFromDrafts:
    async def test_unconfirmed_it_is_a_preview(self, connect, transport, api, db):
        draft = api.create_campaign("Spring", "email")
        api.create_campaign("Summer", "linkedin")
        live = api.create_campaign("Live", "email")
        add_leads(api, draft, [{"email": "bob@acme.com"}, {"email": "carol@example.com"}])
        move_to(api, live, "active")
        before = database_state(db)
        async with connect(transport) as tools:
            text = await tools.error(
                "add_suppressions",
                {
                    "entries": [{"kind": "domain", "value": "acme.com"}],
                    "remove_from_drafts": True,
                },
            )
        assert text == (
            "Error executing tool add_suppressions: Not done: this is a preview, nothing was "
            "changed. Adding these entries with remove_from_drafts would remove every lead "
            "matching them from the workspace's draft campaigns: 'Spring' (leads: 2), "
            "'Summer' (leads: 0). Removed leads are gone for good. Call with remove_from_drafts: "
            "false to only add the entries. To add them and remove the matching leads, call "
            "add_suppressions again with confirm: true once the user agrees."
        )
        assert database_state(db) == before

    async def test_confirmed_it_empties_the_drafts_of_matching_leads(
        self, connect, transport, api, db
    ):
        draft = api.create_campaign("Spring", "email")
        live = api.create_campaign("Live", "email")
        add_leads(api, draft, [{"email": "bob@acme.com"}, {"email": "carol@example.com"}])
        (kept,) = add_leads(api, live, [{"email": "bob@eu.acme.com"}])
        move_to(api, live, "active")
        async with connect(transport) as tools:
            body = await tools.ok(
                "add_suppressions",
                {
                    "entries": [{"kind": "domain", "value": "acme.com"}],
                    "remove_from_drafts": True,
                    "confirm": True,
                },
            )
        (entry,) = api.get("/api/suppressions").json["suppressions"]
        assert body == {
            "added": 1,
            "duplicates": 0,
            "results": [{"index": 0, "outcome": "added", "id": entry["id"], "value": "acme.com"}],
            "removed_from_drafts": {"leads": 1, "campaigns": [{"id": draft["id"], "removed": 1}]},
        }
        assert identities(db, draft["id"]) == ["carol@example.com"]
        assert stored_lead_ids(db, live["id"]) == [kept["id"]]


class TestAddLeads:
    async def test_a_suppressed_row_is_not_added(self, connect, transport, api, db, email_campaign):
        (entry,) = suppress(api, {"kind": "domain", "value": "acme.com"})
        rows = [{"email": "Bob@EU.Acme.com"}, {"email": "carol@example.com"}]
        async with connect(transport) as tools:
            body = await tools.ok(
                "add_leads", {"campaign_id": email_campaign["id"], "prospects": rows}
            )
        (carol,) = stored_lead_ids(db, email_campaign["id"])
        assert body == {
            "imported": 1,
            "duplicates": 0,
            "suppressed": 1,
            "results": [
                {
                    "index": 0,
                    "outcome": "suppressed",
                    "id": None,
                    "identity": "bob@eu.acme.com",
                    "duplicate_of": None,
                    "suppressed_by": {"id": entry["id"], "kind": "domain", "value": "acme.com"},
                },
                {
                    "index": 1,
                    "outcome": "imported",
                    "id": carol,
                    "identity": "carol@example.com",
                    "duplicate_of": None,
                },
            ],
            "stats": stored_stats(db, email_campaign["id"]),
        }
        assert identities(db, email_campaign["id"]) == ["carol@example.com"]

    @pytest.mark.parametrize(
        "dedupe, other_status, duplicate",
        [
            ("workspace", "completed", True),
            ("live", "paused", True),
            ("live", "completed", False),
            ("campaign", "draft", False),
        ],
    )
    async def test_dedupe_across_campaigns(
        self, connect, api, db, injector, dedupe, other_status, duplicate
    ):
        other = api.create_campaign("Other", "linkedin")
        target = api.create_campaign("Target", "email")
        rows = [{"linkedin_url": "linkedin.com/in/ada", "email": "Ada@Example.com"}]
        (held,) = add_leads(api, other, rows)
        move_to(api, other, other_status)
        async with connect() as tools:
            body = await tools.ok(
                "add_leads",
                {
                    "campaign_id": target["id"],
                    "prospects": [{"email": "ada@example.com"}, {"email": "grace@example.com"}],
                    "dedupe": dedupe,
                },
            )
        assert [sent.query for sent in injector.requests] == [f"dedupe={dedupe}"]
        stored = ids_by_identity(db, target["id"])
        first = {"index": 0, "identity": "ada@example.com"}
        if duplicate:
            first.update(
                outcome="duplicate",
                id=held["id"],
                duplicate_of="workspace",
                campaign_id=other["id"],
            )
            assert list(stored) == ["grace@example.com"]
        else:
            first.update(outcome="imported", id=stored["ada@example.com"], duplicate_of=None)
            assert list(stored) == ["ada@example.com", "grace@example.com"]
        grace = {
            "index": 1,
            "outcome": "imported",
            "id": stored["grace@example.com"],
            "identity": "grace@example.com",
            "duplicate_of": None,
        }
        assert body == {
            "imported": 2 - duplicate,
            "duplicates": int(duplicate),
            "suppressed": 0,
            "results": [first, grace],
            "stats": stored_stats(db, target["id"]),
        }
