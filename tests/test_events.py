"""The change feed (GET /api/events): every change writes one event in its own transaction,
nothing else writes any, and polling with each next_cursor yields every event exactly once
in commit order, even while many writers commit at once.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest

from leads_contract.values import EVENT_TYPES
from tests.contract import (
    THREAD_TIMEOUT,
    ApiClient,
    bad_query,
    database_state,
    error_body,
    feed,
    follow,
    leads_url,
    open_transaction,
    polling_feed,
    purge_events_through,
    stored_events,
    workspace_of,
)

LIMIT_RANGE = "Must be greater than or equal to 1 and less than or equal to 1000."
BAD_CURSOR = "Not a valid cursor: pass the next_cursor of a previous answer unchanged."


def new_events(db, before: list[dict]) -> list[dict]:
    seen = {event["event"]["id"] for event in before}
    return [event["event"] for event in stored_events(db) if event["event"]["id"] not in seen]


def sorted_ids(values) -> list[str]:
    return sorted(str(value) for value in values)


class TestEachWriteRecordsItsEvent:
    def test_the_events_of_a_campaign_s_life(self, api, db):
        campaign = api.create_campaign("Events", "email")
        added = api.post(
            leads_url(campaign["id"]),
            json={"prospects": [{"email": "ada@example.com"}, {"email": "bob@example.com"}]},
        ).json
        ada, bob = (result["id"] for result in added["results"])
        api.patch(
            leads_url(campaign["id"]),
            json={"prospect_id": ada, "updates": {"last_name": "L", "company": "ACME"}},
        )
        api.delete(leads_url(campaign["id"]), json={"prospect_ids": [bob]})
        entries = api.post(
            "/api/suppressions",
            json={
                "entries": [{"kind": "email", "value": "ada@example.com"}],
                "remove_from_drafts": True,
            },
        ).json
        entry_id = entries["results"][0]["id"]
        api.delete("/api/suppressions", json={"ids": [entry_id]})
        api.post(leads_url(campaign["id"]), json={"prospects": [{"email": "cy@example.com"}]})
        api.delete(leads_url(campaign["id"]), json={"all": True})
        for transition in ("launch", "pause", "resume", "complete"):
            assert api.post(f"/api/campaigns/{campaign['id']}/{transition}").status_code == 200

        stored = stored_events(db)
        assert [event["position"] for event in stored] == list(range(1, 14))
        events = [event["event"] for event in stored]
        listed, _ = follow(api)
        assert listed == events
        cy_id = events[7]["data"]["lead_ids"][0]
        on_campaign = campaign["id"]
        assert [(event["type"], event["campaign_id"], event["data"]) for event in events] == [
            ("campaign.created", on_campaign, {"name": "Events", "type": "email"}),
            ("leads.added", on_campaign, {"lead_ids": sorted_ids([ada, bob]), "count": 2}),
            ("lead.updated", on_campaign, {"lead_id": ada, "fields": ["company", "last_name"]}),
            ("leads.removed", on_campaign, {"lead_ids": [bob], "count": 1}),
            ("suppressions.added", None, {"ids": [entry_id], "count": 1}),
            ("leads.removed", on_campaign, {"lead_ids": [ada], "count": 1}),
            ("suppressions.removed", None, {"ids": [entry_id], "count": 1}),
            ("leads.added", on_campaign, {"lead_ids": [cy_id], "count": 1}),
            ("leads.removed", on_campaign, {"all": True, "count": 1}),
            ("campaign.status_changed", on_campaign, {"from": "draft", "to": "active"}),
            ("campaign.status_changed", on_campaign, {"from": "active", "to": "paused"}),
            ("campaign.status_changed", on_campaign, {"from": "paused", "to": "active"}),
            ("campaign.status_changed", on_campaign, {"from": "active", "to": "completed"}),
        ]
        assert len({event["id"] for event in events}) == len(events)
        for event in events:
            uuid.UUID(event["id"])
            datetime.fromisoformat(event["occurred_at"])

    def test_no_personal_data_in_any_event(self, api, db):
        campaign = api.create_campaign("Private", "linkedin")
        api.post(
            leads_url(campaign["id"]),
            json={
                "prospects": [
                    {
                        "linkedin_url": "linkedin.com/in/secret-person",
                        "email": "secret@example.com",
                        "first_name": "Secretname",
                    }
                ]
            },
        )
        text = repr(stored_events(db))
        for personal in ("secret-person", "secret@example.com", "Secretname"):
            assert personal not in text

    @pytest.mark.parametrize(
        "request_",
        [
            ("POST", "/api/campaigns", {"name": "", "type": "email"}),
            ("POST", "{leads}", {"prospects": [{"email": "not an email"}]}),
            ("POST", "{leads}?dry_run=true", {"prospects": [{"email": "dry@example.com"}]}),
            ("POST", "{leads}", {"prospects": [{"email": "known@example.com"}]}),
            ("DELETE", "{leads}", {"prospect_ids": [str(uuid.uuid4())]}),
            ("POST", "/api/suppressions", {"entries": [{"kind": "domain", "value": "nodot"}]}),
            ("DELETE", "/api/suppressions", {"ids": [str(uuid.uuid4())]}),
            ("POST", "/api/suppressions/check", {"identities": [{"email": "a@b.com"}]}),
            ("POST", "/api/campaigns/{id}/pause", None),
        ],
        ids=lambda request_: f"{request_[0]} {request_[1]} {request_[2]}",
    )
    def test_a_request_that_changes_nothing_records_nothing(self, api, db, request_):
        campaign = api.create_campaign("Quiet", "email")
        api.post(leads_url(campaign["id"]), json={"prospects": [{"email": "known@example.com"}]})
        before = database_state(db)
        method, path, body = request_
        path = path.replace("{leads}", leads_url(campaign["id"])).replace("{id}", campaign["id"])
        response = api.request(method, path, json=body)
        assert response.status_code in (200, 400)
        after = database_state(db)
        assert after["events"] == before["events"]
        assert after["event_positions"] == before["event_positions"]

    def test_an_idempotent_replay_records_nothing(self, api, db):
        headers = {"Idempotency-Key": "create-once"}
        first = api.post("/api/campaigns", json={"name": "Once", "type": "email"}, headers=headers)
        events = stored_events(db)
        again = api.post("/api/campaigns", json={"name": "Once", "type": "email"}, headers=headers)
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.json == first.json
        assert stored_events(db) == events
        assert [event["event"]["type"] for event in events] == ["campaign.created"]


class TestReadingTheFeed:
    def test_pages_follow_each_other_without_a_gap_or_a_repeat(self, api, db):
        for n in range(7):
            api.create_campaign(f"Campaign {n}", "email")
        events = [event["event"] for event in stored_events(db)]
        pages, cursor = [], None
        for _ in range(3):
            page = feed(api, limit=3, **({"after": cursor} if cursor else {}))
            pages.append(page["events"])
            cursor = page["next_cursor"]
        assert pages == [events[0:3], events[3:6], events[6:7]]
        # An empty answer gives a cursor to poll again with; later events come after it.
        assert feed(api, after=cursor)["events"] == []
        api.create_campaign("Later", "email")
        assert feed(api, after=cursor)["events"] == [new_events(db, [])[-1]]

    def test_a_type_filter_keeps_the_others_out_and_the_cursor_moving(self, api, db):
        campaign = api.create_campaign("Filtered", "email")
        api.post(leads_url(campaign["id"]), json={"prospects": [{"email": "a@example.com"}]})
        api.create_campaign("Other", "email")
        page = feed(api, type="leads.added")
        assert [event["type"] for event in page["events"]] == ["leads.added"]
        # The cursor passed the campaign.created after it: polling again finds nothing.
        assert feed(api, type="leads.added", after=page["next_cursor"])["events"] == []
        assert feed(api, after=page["next_cursor"])["events"] == []

    def test_another_workspace_sees_none_of_it(self, api, other_api, db):
        api.create_campaign("Mine", "email")
        other_api.create_campaign("Theirs", "email")
        mine, theirs = feed(api)["events"], feed(other_api)["events"]
        assert [event["data"]["name"] for event in mine] == ["Mine"]
        assert [event["data"]["name"] for event in theirs] == ["Theirs"]
        # Each workspace's feed counts from 1.
        assert [event["position"] for event in stored_events(db)] == [1, 1]

    @pytest.mark.parametrize(
        ("query", "body"),
        [
            ({"limit": 0}, bad_query("limit", LIMIT_RANGE)),
            ({"limit": 1001}, bad_query("limit", LIMIT_RANGE)),
            (
                {"type": "lead.added"},
                bad_query("type", f"Must be one of: {', '.join(EVENT_TYPES)}."),
            ),
            ({"after": "not-a-cursor"}, bad_query("after", BAD_CURSOR)),
            ({"since": "x"}, bad_query("since", "Unknown field.")),
        ],
    )
    def test_bad_queries_are_400(self, rejected, query, body):
        rejected("GET", "/api/events", 400, body, query_string=query)


class TestRetention:
    def test_purge_keeps_recent_events_and_old_cursors_are_410(self, app, api, db):
        for n in range(4):
            api.create_campaign(f"Campaign {n}", "email")
        first_page = feed(api, limit=1)
        purged = purge_events_through(app, db, 3)
        assert purged == "Purged 3 events older than 30 days.\n"
        assert [event["position"] for event in stored_events(db)] == [4]

        gone = api.get("/api/events", query_string={"after": first_page["next_cursor"]})
        assert gone.status_code == 410
        assert gone.json == error_body(
            410,
            "This cursor is older than the events kept (30 days, LEADS_EVENTS_RETENTION): "
            "events after it were purged. Read the feed again without `after`.",
        )
        # Without a cursor the feed starts at the oldest event kept.
        assert [event["data"]["name"] for event in feed(api)["events"]] == ["Campaign 3"]
        again = app.test_cli_runner().invoke(args=["events", "purge"])
        assert again.output == "Purged 0 events older than 30 days.\n"


class TestCommitOrder:
    def test_a_writer_waits_for_the_open_transaction_holding_the_previous_position(
        self, api, db, database_url
    ):
        """The test that a plain sequence would fail: a transaction takes position 2 and
        stays open; a write meanwhile must not commit position 3 (a poller would read 3, go
        past it, and never see 2). It waits, and the feed shows 2 then 3."""
        campaign = api.create_campaign("Ordered", "email")
        workspace_id = workspace_of(db, campaign["id"])
        cursor = feed(api)["next_cursor"]
        with open_transaction(database_url) as held:
            held.execute(
                "SELECT record_event(%s, 'campaign.created', NULL, '{\"name\": \"held\"}')",
                (workspace_id,),
            )
            assert held.fetchone() == (2,)
            done = threading.Event()

            def write():
                api.post(leads_url(campaign["id"]), json={"prospects": [{"email": "w@x.com"}]})
                done.set()

            writer = threading.Thread(target=write)
            writer.start()
            assert not done.wait(timeout=1.0)  # blocked behind the open transaction
            assert feed(api, after=cursor)["events"] == []
            held.connection.commit()
        writer.join(timeout=THREAD_TIMEOUT)
        assert done.is_set()
        events = feed(api, after=cursor)["events"]
        assert [event["type"] for event in events] == ["campaign.created", "leads.added"]
        assert [event["position"] for event in stored_events(db)] == [1, 2, 3]

    def test_a_rolled_back_write_leaves_no_gap(self, api, db, database_url):
        campaign = api.create_campaign("Gapless", "email")
        workspace_id = workspace_of(db, campaign["id"])
        with open_transaction(database_url) as held:
            held.execute("SELECT record_event(%s, 'campaign.created', NULL, '{}')", (workspace_id,))
            held.connection.rollback()
        api.post(leads_url(campaign["id"]), json={"prospects": [{"email": "g@x.com"}]})
        assert [event["position"] for event in stored_events(db)] == [1, 2]

    def test_concurrent_writers_and_a_poller_see_every_event_once_in_commit_order(
        self, app, token, db
    ):
        admin = ApiClient(app, token)
        campaigns = [admin.create_campaign(f"Busy {n}", "email")["id"] for n in range(4)]

        def write(n: int):
            client = ApiClient(app, token)
            for batch in range(6):
                campaign_id = campaigns[(n + batch) % 4]
                rows = [{"email": f"w{n}-{batch}-{k}@example.com"} for k in range(20)]
                response = client.post(leads_url(campaign_id), json={"prospects": rows})
                assert response.status_code == 200, response.json
                if batch % 3 == 2:
                    ids = [result["id"] for result in response.json["results"][:5]]
                    response = client.delete(leads_url(campaign_id), json={"prospect_ids": ids})
                    assert response.status_code == 200, response.json

        with polling_feed(ApiClient(app, token)) as polled:
            writers = [threading.Thread(target=write, args=(n,)) for n in range(8)]
            for writer in writers:
                writer.start()
            for writer in writers:
                writer.join(timeout=THREAD_TIMEOUT * 4)

        stored = stored_events(db)
        assert [event["position"] for event in stored] == list(range(1, len(stored) + 1))
        assert polled == [event["event"] for event in stored]
        assert len(stored) == 4 + 8 * 6 + 8 * 2
        # Commit order: a lead's removal comes after its addition.
        added_at = {}
        for index, event in enumerate(polled):
            for lead_id in event["data"].get("lead_ids", []):
                if event["type"] == "leads.added":
                    added_at[lead_id] = index
                else:
                    assert added_at[lead_id] < index


def test_occurred_at_is_the_time_of_the_write(api, db):
    before = datetime.now(UTC)
    api.create_campaign("Timed", "email")
    (event,) = feed(api)["events"]
    assert before <= datetime.fromisoformat(event["occurred_at"]) <= datetime.now(UTC)
    assert [stored["event"] for stored in stored_events(db)] == [event]
