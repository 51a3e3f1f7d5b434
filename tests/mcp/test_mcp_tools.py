"""Every campaign and roster tool of `leads mcp`, over stdio and streamable HTTP: each result
is the API's body, and the database holds what the call did."""

from __future__ import annotations

import pytest

from tests.contract import (
    LEAD_KEYS,
    MISSING_UUID,
    STORED_FIELDS,
    add_leads,
    as_listed,
    database_state,
    leads_url,
    query_rows,
    set_statuses,
    stored_lead,
    stored_lead_ids,
    stored_leads,
    stored_stats,
)

pytestmark = pytest.mark.anyio


def stored_campaigns(db) -> list[dict]:
    return query_rows(
        db,
        "SELECT id::text, name, type::text, status::text FROM campaigns ORDER BY created_at, id",
    )


def people(count: int) -> list[dict]:
    return [{"email": f"person{number}@example.com"} for number in range(count)]


class TestCampaigns:
    async def test_create_list_and_show(self, connect, transport, api, db):
        async with connect(transport) as tools:
            spring = await tools.ok(
                "create_campaign", {"name": "  Spring outreach ", "type": "email"}
            )
            summer = await tools.ok("create_campaign", {"name": "Summer", "type": "linkedin"})
            listed = await tools.ok("list_campaigns")
            shown = await tools.ok("get_campaign", {"campaign_id": spring["campaign"]["id"]})
        spring_id, summer_id = spring["campaign"]["id"], summer["campaign"]["id"]
        assert spring == {"campaign": api.get(f"/api/campaigns/{spring_id}").json["campaign"]}
        assert summer == {"campaign": api.get(f"/api/campaigns/{summer_id}").json["campaign"]}
        assert listed == api.get("/api/campaigns").json
        assert [campaign["id"] for campaign in listed["campaigns"]] == [spring_id, summer_id]
        assert shown == api.get(f"/api/campaigns/{spring_id}").json
        assert stored_campaigns(db) == [
            {"id": spring_id, "name": "Spring outreach", "type": "email", "status": "draft"},
            {"id": summer_id, "name": "Summer", "type": "linkedin", "status": "draft"},
        ]

    async def test_every_transition(self, connect, transport, api, db, email_campaign):
        campaign_id = email_campaign["id"]
        steps = [
            ("launch_campaign", {"confirm": True}, "active"),
            ("pause_campaign", {}, "paused"),
            ("resume_campaign", {}, "active"),
            ("complete_campaign", {"confirm": True}, "completed"),
        ]
        async with connect(transport) as tools:
            for tool, arguments, status in steps:
                body = await tools.ok(tool, {"campaign_id": campaign_id, **arguments})
                assert body == {
                    "campaign": api.get(f"/api/campaigns/{campaign_id}").json["campaign"]
                }
                assert body["campaign"]["status"] == status
                assert stored_campaigns(db)[0]["status"] == status


class TestLeads:
    async def test_add_normalizes_and_deduplicates(self, connect, transport, db, email_campaign):
        rows = [
            {"email": " Ada@Example.COM ", "first_name": "Ada", "custom_fields": {"deal": 5}},
            {"email": "ada@example.com", "company": "Ignored"},
            {"email": "grace@example.com", "linkedin_url": "linkedin.com/in/Grace-Hopper/"},
        ]
        async with connect(transport) as tools:
            added = await tools.ok(
                "add_leads", {"campaign_id": email_campaign["id"], "prospects": rows}
            )
            leads = stored_leads(db, email_campaign["id"], ["id", *STORED_FIELDS])
            stats = stored_stats(db, email_campaign["id"])
            again = await tools.ok(
                "add_leads", {"campaign_id": email_campaign["id"], "prospects": rows[:1]}
            )
        ada, grace = leads
        assert added == {
            "imported": 2,
            "duplicates": 1,
            "suppressed": 0,
            "results": [
                {
                    "index": 0,
                    "outcome": "imported",
                    "id": ada["id"],
                    "identity": "ada@example.com",
                    "duplicate_of": None,
                },
                {
                    "index": 1,
                    "outcome": "duplicate",
                    "id": ada["id"],
                    "identity": "ada@example.com",
                    "duplicate_of": "batch",
                },
                {
                    "index": 2,
                    "outcome": "imported",
                    "id": grace["id"],
                    "identity": "grace@example.com",
                    "duplicate_of": None,
                },
            ],
            "stats": stats,
        }
        assert stats["total"] == 2
        assert {key: ada[key] for key in ("email", "first_name", "company", "custom_fields")} == {
            "email": "ada@example.com",
            "first_name": "Ada",
            "company": None,
            "custom_fields": {"deal": 5},
        }
        assert grace["linkedin_url"] == "https://www.linkedin.com/in/grace-hopper"
        assert again["results"] == [
            {
                "index": 0,
                "outcome": "duplicate",
                "id": ada["id"],
                "identity": "ada@example.com",
                "duplicate_of": "campaign",
            }
        ]
        assert stored_leads(db, email_campaign["id"], ["id", *STORED_FIELDS]) == leads

    async def test_a_dry_run_writes_nothing_and_sends_no_key(
        self, connect, transport, db, injector, linkedin_campaign
    ):
        before = database_state(db)
        async with connect(transport) as tools:
            body = await tools.ok(
                "add_leads",
                {
                    "campaign_id": linkedin_campaign["id"],
                    "prospects": [{"linkedin_url": "https://uk.linkedin.com/in/ada/"}],
                    "dry_run": True,
                },
            )
        assert database_state(db) == before
        assert body["dry_run"] is True
        assert (body["imported"], body["duplicates"]) == (1, 0)
        assert body["results"][0]["identity"] == "https://www.linkedin.com/in/ada"
        assert [(sent.query, sent.idempotency_key) for sent in injector.requests] == [
            ("dry_run=true", None)
        ]

    async def test_each_write_has_a_key_of_its_own(
        self, connect, transport, injector, email_campaign
    ):
        arguments = {"campaign_id": email_campaign["id"], "prospects": people(1)}
        async with connect(transport) as tools:
            first = await tools.ok("add_leads", arguments)
            second = await tools.ok("add_leads", arguments)
        keys = [sent.idempotency_key for sent in injector.requests]
        assert len(set(keys)) == 2 and None not in keys
        assert [sent.replayed for sent in injector.requests] == [False, False]
        assert (first["imported"], second["duplicates"]) == (1, 1)

    async def test_list_pages_with_the_cursor_and_filters_by_status(
        self, connect, transport, api, db, email_campaign
    ):
        leads = add_leads(api, email_campaign, people(5))
        set_statuses(db, {leads[1]["id"]: "sent", leads[3]["id"]: "sent"})
        campaign_id = email_campaign["id"]
        pages, cursor = [], None
        async with connect(transport) as tools:
            while True:
                query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
                page = await tools.ok("list_leads", {"campaign_id": campaign_id, **query})
                assert page == api.get(leads_url(campaign_id, **query)).json
                pages.append(page)
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            sent = await tools.ok("list_leads", {"campaign_id": campaign_id, "status": "sent"})
            first = await tools.ok("list_leads", {"campaign_id": campaign_id})
        listed = [lead for page in pages for lead in page["prospects"]]
        assert [len(page["prospects"]) for page in pages] == [2, 2, 1]
        assert listed == [
            as_listed(stored_lead(db, lead_id, LEAD_KEYS))
            for lead_id in stored_lead_ids(db, campaign_id)
        ]
        assert sent == api.get(leads_url(campaign_id, status="sent")).json
        assert [lead["id"] for lead in sent["prospects"]] == [leads[1]["id"], leads[3]["id"]]
        assert first == api.get(leads_url(campaign_id)).json
        assert (first["total"], first["page"], first["limit"]) == (5, 1, 100)

    async def test_update_changes_the_fields_given(
        self, connect, transport, api, db, email_campaign
    ):
        lead = add_leads(
            api, email_campaign, [{"email": "ada@example.com", "first_name": "Ada", "name": "A."}]
        )[0]
        updates = {
            "email": " ADA@Lovelace.org",
            "company": "ACME",
            "name": None,
            "custom_fields": {"tier": "gold"},
        }
        async with connect(transport) as tools:
            body = await tools.ok(
                "update_lead",
                {
                    "campaign_id": email_campaign["id"],
                    "prospect_id": lead["id"],
                    "updates": updates,
                },
            )
        assert body == {"prospect": as_listed(stored_lead(db, lead["id"], LEAD_KEYS))}
        assert stored_lead(db, lead["id"], STORED_FIELDS) == {
            "identity": "ada@lovelace.org",
            "email": "ada@lovelace.org",
            "linkedin_url": None,
            "first_name": "Ada",
            "last_name": None,
            "name": None,
            "company": "ACME",
            "position": None,
            "headline": None,
            "custom_fields": {"tier": "gold"},
        }

    async def test_remove_by_ids_skips_others(self, connect, transport, api, db, email_campaign):
        leads = add_leads(api, email_campaign, people(3))
        async with connect(transport) as tools:
            body = await tools.ok(
                "remove_leads",
                {
                    "campaign_id": email_campaign["id"],
                    "prospect_ids": [leads[0]["id"], MISSING_UUID, leads[2]["id"]],
                },
            )
        assert body == {"deleted": 2, "stats": stored_stats(db, email_campaign["id"])}
        assert body["stats"]["total"] == 1
        assert stored_lead_ids(db, email_campaign["id"]) == [leads[1]["id"]]

    async def test_remove_all_once_confirmed(
        self, connect, transport, api, db, email_campaign, linkedin_campaign
    ):
        add_leads(api, email_campaign, people(3))
        kept = add_leads(api, linkedin_campaign, [{"linkedin_url": "linkedin.com/in/kept"}])
        async with connect(transport) as tools:
            body = await tools.ok(
                "remove_all_leads", {"campaign_id": email_campaign["id"], "confirm": True}
            )
        assert body == {"deleted": 3, "stats": stored_stats(db, email_campaign["id"])}
        assert body["stats"]["total"] == 0
        assert stored_lead_ids(db, email_campaign["id"]) == []
        assert stored_lead_ids(db, linkedin_campaign["id"]) == [kept[0]["id"]]
