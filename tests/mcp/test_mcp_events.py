"""The change feed through `leads mcp`'s list_events: each page is the API's body for the same
query, and following next_cursor yields the events the database holds, each once, in order."""

from __future__ import annotations

import pytest

from tests.contract import (
    database_state,
    feed,
    purge_events_through,
    record_five_events,
    stored_events,
)
from tests.mcp.client import api_error

pytestmark = pytest.mark.anyio


class TestListEvents:
    async def test_following_next_cursor_yields_every_event_once(self, connect, transport, api, db):
        campaign = record_five_events(api)
        stored = [event["event"] for event in stored_events(db)]
        pages, sent = [], []
        async with connect(transport) as tools:
            arguments: dict = {"limit": 2}
            while True:
                page = await tools.ok("list_events", arguments)
                query = {
                    "limit": 2,
                    **({"after": arguments["after"]} if "after" in arguments else {}),
                }
                assert page == feed(api, **query)
                pages.append(page)
                sent.append(arguments)
                if not page["events"]:
                    break
                arguments = {"limit": 2, "after": page["next_cursor"]}
            # A change made after the feed was read to its end comes with the next call.
            assert api.post(f"/api/campaigns/{campaign['id']}/pause").status_code == 200
            newer = await tools.ok("list_events", {"after": page["next_cursor"]})
        assert [len(page["events"]) for page in pages] == [2, 2, 1, 0]
        assert [event for page in pages for event in page["events"]] == stored
        assert [event["type"] for event in stored] == [
            "campaign.created",
            "leads.added",
            "lead.updated",
            "suppressions.added",
            "campaign.status_changed",
        ]
        # The empty page gives back the cursor it was asked with, to poll again with.
        assert pages[-1]["next_cursor"] == sent[-1]["after"]
        (paused,) = [event["event"] for event in stored_events(db)][len(stored) :]
        assert newer == {"events": [paused], "next_cursor": newer["next_cursor"]}
        assert newer == feed(api, after=page["next_cursor"])
        assert paused["data"] == {"from": "active", "to": "paused"}

    async def test_a_type_filter_in_read_mode(self, connect, api, db):
        record_five_events(api)
        async with connect(LEADS_MCP_MODE="read") as tools:
            page = await tools.ok("list_events", {"type": "campaign.status_changed"})
        assert page == feed(api, type="campaign.status_changed")
        assert page["events"] == [
            event["event"]
            for event in stored_events(db)
            if event["event"]["type"] == "campaign.status_changed"
        ]
        assert len(page["events"]) == 1

    @pytest.mark.parametrize(
        "arguments",
        [{"after": "not-a-cursor"}, {"limit": 1001}, {"limit": 0}],
        ids=["bad-cursor", "limit-too-high", "limit-zero"],
    )
    async def test_a_bad_query_is_the_api_400(self, connect, api, db, arguments):
        before = database_state(db)
        async with connect() as tools:
            text = await tools.error("list_events", arguments)
        answer = api.get("/api/events", query_string=arguments)
        assert answer.status_code == 400
        assert text == api_error("list_events", answer.json)
        assert database_state(db) == before

    async def test_a_cursor_past_retention_is_the_api_410(self, connect, transport, app, api, db):
        for name in ("One", "Two", "Three"):
            api.create_campaign(name, "email")
        first = feed(api, limit=1)
        purge_events_through(app, db, 2)
        async with connect(transport) as tools:
            text = await tools.error("list_events", {"after": first["next_cursor"]})
            # Starting again without after, as the error says, reads the events kept.
            again = await tools.ok("list_events")
        gone = api.get("/api/events", query_string={"after": first["next_cursor"]})
        assert gone.status_code == 410
        assert text == api_error("list_events", gone.json)
        assert again == feed(api)
        assert [event["data"]["name"] for event in again["events"]] == ["Three"]
