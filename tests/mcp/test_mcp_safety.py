"""What `leads mcp` refuses and guards: bad input comes back as the API's own error with
nothing written, tools that cannot be undone answer a preview until confirmed,
LEADS_MCP_MODE limits what the server does, and a write retried after a broken connection is
applied once."""

from __future__ import annotations

import pytest

from leads_contract.values import IDENTITY_FIELD
from tests.contract import (
    MISSING_UUID,
    add_leads,
    database_state,
    identity,
    leads_url,
    move_to,
    query_rows,
    stored_lead_ids,
)
from tests.live_server import Fault
from tests.mcp.client import api_error

pytestmark = pytest.mark.anyio


def people(count: int) -> list[dict]:
    return [{"email": f"person{number}@example.com"} for number in range(count)]


def campaign_status(db, campaign_id: str) -> str:
    return query_rows(db, "SELECT status::text FROM campaigns WHERE id = %s", (campaign_id,))[0][
        "status"
    ]


def roster(campaign_id: str, suffix: str = "") -> str:
    return f"/api/campaigns/{campaign_id}{suffix}"


# A refused call: its id, the status of the campaign it is made to (an email campaign with one
# lead), the tool, its arguments, and the same request sent to the API as (method, path,
# body). {c} is the campaign's id, {l} the lead's.
REFUSED = [
    ("row without identity", "draft", "add_leads",
     {"prospects": [{"email": "ok@example.com"}, {"first_name": "Ada"}, {"email": "  "}]}),
    ("1001 rows", "draft", "add_leads", {"prospects": people(1001)}),
    ("unknown key", "draft", "add_leads",
     {"prospects": [{"email": "ada@example.com", "emial": "x"}]}),
    ("invalid email", "draft", "add_leads", {"prospects": [{"email": "ada@"}]}),
    ("add to a launched campaign", "active", "add_leads", {"prospects": people(1)}),
    ("dry run on a launched campaign", "active", "add_leads",
     {"prospects": people(1), "dry_run": True}),
    ("update in a launched campaign", "active", "update_lead",
     {"prospect_id": "{l}", "updates": {"company": "ACME"}}),
    ("remove from a launched campaign", "paused", "remove_leads", {"prospect_ids": ["{l}"]}),
    ("remove all of a completed campaign", "completed", "remove_all_leads", {"confirm": True}),
    ("identity cleared", "draft", "update_lead",
     {"prospect_id": "{l}", "updates": {"email": None}}),
    ("unknown lead", "draft", "update_lead",
     {"prospect_id": MISSING_UUID, "updates": {"company": "ACME"}}),
    ("501 ids", "draft", "remove_leads", {"prospect_ids": [MISSING_UUID] * 501}),
    ("launch twice", "active", "launch_campaign", {"confirm": True}),
    ("pause a draft", "draft", "pause_campaign", {}),
    ("bad cursor", "draft", "list_leads", {"cursor": "nope"}),
    ("bad limit", "draft", "list_leads", {"limit": 201}),
]  # fmt: skip
# The API request each tool makes.
REQUESTS = {
    "add_leads": ("POST", "/leads"),
    "update_lead": ("PATCH", "/leads"),
    "remove_leads": ("DELETE", "/leads"),
    "remove_all_leads": ("DELETE", "/leads"),
    "launch_campaign": ("POST", "/launch"),
    "pause_campaign": ("POST", "/pause"),
    "list_leads": ("GET", "/leads"),
}


def filled(value, campaign_id: str, lead_id: str):
    """`value` with "{c}" replaced by the campaign's id and "{l}" by the lead's."""
    if isinstance(value, dict):
        return {key: filled(item, campaign_id, lead_id) for key, item in value.items()}
    if isinstance(value, list):
        return [filled(item, campaign_id, lead_id) for item in value]
    if isinstance(value, str):
        return {"{c}": campaign_id, "{l}": lead_id}.get(value, value)
    return value


def api_request(tool: str, campaign_id: str, arguments: dict) -> tuple[str, str, dict | None]:
    """The request to the API that the tool makes with these arguments."""
    method, suffix = REQUESTS[tool]
    path = roster(campaign_id, suffix)
    if tool == "add_leads":
        query = "?dry_run=true" if arguments.get("dry_run") else ""
        return method, path + query, {"prospects": arguments["prospects"]}
    if tool == "update_lead":
        return method, path, {key: arguments[key] for key in ("prospect_id", "updates")}
    if tool == "remove_leads":
        return method, path, {"prospect_ids": arguments["prospect_ids"]}
    if tool == "remove_all_leads":
        return method, path, {"all": True}
    if tool == "list_leads":
        return method, leads_url(campaign_id, **arguments), None
    return method, path, None


class TestBadInput:
    @pytest.mark.parametrize(
        "status, tool, arguments", [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED]
    )
    async def test_a_tool_error_with_the_api_message_and_nothing_written(
        self, connect, api, db, email_campaign, status, tool, arguments
    ):
        (lead,) = add_leads(api, email_campaign, [{"email": "ada@example.com"}])
        move_to(api, email_campaign, status)
        arguments = filled(arguments, email_campaign["id"], lead["id"])
        before = database_state(db)
        # Over HTTP: the session's server answers every case without a process of its own.
        async with connect("http") as tools:
            text = await tools.error(tool, {"campaign_id": email_campaign["id"], **arguments})
        assert database_state(db) == before
        method, path, body = api_request(tool, email_campaign["id"], arguments)
        answer = api.request(method, path, json=body)
        assert answer.status_code in (400, 404)
        assert text == api_error(tool, answer.json)
        assert database_state(db) == before

    async def test_an_unknown_campaign_is_the_api_404(self, connect, other_api, db):
        theirs = other_api.create_campaign("Theirs", "email")
        calls = [
            ("get_campaign", {}),
            ("list_leads", {}),
            ("add_leads", {"prospects": people(1)}),
            ("update_lead", {"prospect_id": MISSING_UUID, "updates": {"company": "ACME"}}),
            ("remove_leads", {"prospect_ids": [MISSING_UUID]}),
            ("remove_all_leads", {}),
            ("remove_all_leads", {"confirm": True}),
            ("launch_campaign", {}),
            ("launch_campaign", {"confirm": True}),
            ("pause_campaign", {}),
            ("resume_campaign", {}),
            ("complete_campaign", {}),
            ("complete_campaign", {"confirm": True}),
        ]
        before = database_state(db)
        async with connect("http") as tools:
            for campaign_id in [MISSING_UUID, theirs["id"], "not-a-uuid"]:
                for tool, arguments in calls:
                    text = await tools.error(tool, {"campaign_id": campaign_id, **arguments})
                    expected = api_error(tool, {"code": 404, "message": "Campaign not found."})
                    assert text == expected, (tool, arguments)
        assert database_state(db) == before

    async def test_a_taken_name_is_the_api_409(self, connect, api, db):
        api.create_campaign("Spring", "email")
        before = database_state(db)
        async with connect() as tools:
            text = await tools.error("create_campaign", {"name": "Spring", "type": "linkedin"})
        assert text == (
            "Error executing tool create_campaign: A campaign named 'Spring' already exists "
            "in this workspace. (HTTP 409)"
        )
        assert database_state(db) == before


def preview(tool: str, text: str, action: str) -> str:
    return (
        f"Error executing tool {tool}: Not done: this is a preview, nothing was changed. {text} "
        f"To {action}, call {tool} again with confirm: true once the user agrees."
    )


# Each call that cannot be undone: the campaign it is made to (its type and status, its
# number of leads), and what its preview says after the campaign's description.
PREVIEWS = [
    (
        "launch_campaign", "email", "draft", 2,
        "Launching makes it active and freezes its roster for good: no lead can be added, "
        "updated or removed afterwards. Only a draft campaign can be launched.",
        "launch it",
    ),
    (
        "complete_campaign", "linkedin", "paused", 1,
        "Completing ends it for good: it can never be resumed. Only an active or paused "
        "campaign can be completed.",
        "complete it",
    ),
    (
        "remove_all_leads", "email", "draft", 3,
        "Removing all deletes every one of them with its fields. Only a draft campaign's "
        "roster can change.",
        "remove them",
    ),
]  # fmt: skip


class TestPreviews:
    @pytest.mark.parametrize(
        "tool, type_, status, count, consequence, action",
        PREVIEWS,
        ids=[case[0] for case in PREVIEWS],
    )
    async def test_unconfirmed_it_changes_nothing(
        self, connect, transport, api, db, tool, type_, status, count, consequence, action
    ):
        campaign = api.create_campaign("Spring", type_)
        rows = [{IDENTITY_FIELD[type_]: identity(type_, f"person{n}")} for n in range(count)]
        add_leads(api, campaign, rows)
        move_to(api, campaign, status)
        before = database_state(db)
        async with connect(transport) as tools:
            text = await tools.error(tool, {"campaign_id": campaign["id"]})
            unconfirmed = await tools.error(tool, {"campaign_id": campaign["id"], "confirm": False})
        described = f"Campaign 'Spring' ({type_}, {status}; leads: {count}, contacted: 0)."
        assert text == unconfirmed
        assert text == preview(tool, f"{described} {consequence}", action)
        assert database_state(db) == before
        assert campaign_status(db, campaign["id"]) == status


# Each write tool with arguments it would act on; {c} is a draft email campaign with a lead.
WRITE_CALLS = [
    ("create_campaign", {"name": "New", "type": "email"}),
    ("launch_campaign", {"campaign_id": "{c}"}),
    ("launch_campaign", {"campaign_id": "{c}", "confirm": True}),
    ("pause_campaign", {"campaign_id": "{c}"}),
    ("resume_campaign", {"campaign_id": "{c}"}),
    ("complete_campaign", {"campaign_id": "{c}", "confirm": True}),
    ("add_leads", {"campaign_id": "{c}", "prospects": people(1)}),
    ("add_leads", {"campaign_id": "{c}", "prospects": people(1), "dry_run": True}),
    ("update_lead", {"campaign_id": "{c}", "prospect_id": "{l}", "updates": {"company": "X"}}),
    ("remove_leads", {"campaign_id": "{c}", "prospect_ids": ["{l}"]}),
    ("remove_all_leads", {"campaign_id": "{c}"}),
    ("remove_all_leads", {"campaign_id": "{c}", "confirm": True}),
    ("add_suppressions", {"entries": [{"kind": "domain", "value": "example.com"}]}),
    (
        "add_suppressions",
        {
            "entries": [{"kind": "domain", "value": "example.com"}],
            "remove_from_drafts": True,
            "confirm": True,
        },
    ),
    ("remove_suppressions", {"ids": [MISSING_UUID]}),
]


class TestModes:
    async def test_read_refuses_every_write_tool(self, connect, api, db, injector, email_campaign):
        (lead,) = add_leads(api, email_campaign, [{"email": "ada@example.com"}])
        before = database_state(db)
        async with connect(LEADS_MCP_MODE="read") as tools:
            for tool, arguments in WRITE_CALLS:
                text = await tools.error(tool, filled(arguments, email_campaign["id"], lead["id"]))
                assert text == (
                    f"Error executing tool {tool}: Refused: this tool writes and this server is "
                    "read-only (LEADS_MCP_MODE=read). Nothing was sent to the API."
                )
            listed = await tools.ok("list_campaigns")
            shown = await tools.ok("get_campaign", {"campaign_id": email_campaign["id"]})
            page = await tools.ok("list_leads", {"campaign_id": email_campaign["id"]})
        assert database_state(db) == before
        assert injector.requests == []
        assert listed == api.get("/api/campaigns").json
        assert shown == api.get(roster(email_campaign["id"])).json
        assert page == api.get(leads_url(email_campaign["id"])).json

    async def test_all_acts_without_confirm(self, connect, api, db, email_campaign):
        add_leads(api, email_campaign, people(2))
        campaign_id = email_campaign["id"]
        async with connect(LEADS_MCP_MODE="all") as tools:
            removed = await tools.ok("remove_all_leads", {"campaign_id": campaign_id})
            launched = await tools.ok("launch_campaign", {"campaign_id": campaign_id})
            completed = await tools.ok("complete_campaign", {"campaign_id": campaign_id})
        assert removed["deleted"] == 2
        assert launched["campaign"]["status"] == "active"
        assert completed == {"campaign": api.get(roster(campaign_id)).json["campaign"]}
        assert stored_lead_ids(db, campaign_id) == []
        assert campaign_status(db, campaign_id) == "completed"


class TestRetries:
    @pytest.mark.parametrize("kind", ["drop-after", "drop-before", "503"])
    async def test_a_write_retried_after_a_failure_is_applied_once(
        self, connect, transport, db, injector, email_campaign, kind
    ):
        injector.arm(Fault(kind, first=1, times=1))
        async with connect(transport) as tools:
            body = await tools.ok(
                "add_leads", {"campaign_id": email_campaign["id"], "prospects": people(2)}
            )
        first, second = injector.requests
        assert first.fault == kind and second.fault is None
        assert first.idempotency_key == second.idempotency_key is not None
        assert (second.status, second.replayed) == (200, kind == "drop-after")
        assert (body["imported"], body["duplicates"]) == (2, 0)
        ids = stored_lead_ids(db, email_campaign["id"])
        assert [result["id"] for result in body["results"]] == ids
        assert len(ids) == 2
