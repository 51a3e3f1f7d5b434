"""`leads mcp` as an agent meets it: the transports, the tools and their schemas, the token
of each request, and failures that come back as tool errors, never as tracebacks."""

from __future__ import annotations

import subprocess

import pytest

from leads_contract.values import (
    EVENT_TYPES,
    LEAD_STATUSES,
    SUPPRESSION_KINDS,
    SUPPRESSION_REASONS,
    TEXT_FIELDS,
)
from tests.contract import MISSING_UUID, NOT_FOUND, free_port, usage_error
from tests.live_server import LEADS_BIN, process_env
from tests.mcp.client import HttpServer, api_error, http_tools

pytestmark = pytest.mark.anyio

# Every tool: its parameters, the required ones, the keys its result always has, and whether
# it only reads / may destroy what cannot be restored.
TOOLS = {
    "list_campaigns": ([], [], ["campaigns"], "reads"),
    "create_campaign": (["name", "type"], ["name", "type"], ["campaign"], "writes"),
    "get_campaign": (
        ["campaign_id"],
        ["campaign_id"],
        ["campaign", "prospects_by_status"],
        "reads",
    ),
    "launch_campaign": (["campaign_id", "confirm"], ["campaign_id"], ["campaign"], "destroys"),
    "pause_campaign": (["campaign_id"], ["campaign_id"], ["campaign"], "writes"),
    "resume_campaign": (["campaign_id"], ["campaign_id"], ["campaign"], "writes"),
    "complete_campaign": (["campaign_id", "confirm"], ["campaign_id"], ["campaign"], "destroys"),
    "list_leads": (
        ["campaign_id", "status", "limit", "cursor"],
        ["campaign_id"],
        ["prospects", "total", "page", "limit", "next_cursor"],
        "reads",
    ),
    "add_leads": (
        ["campaign_id", "prospects", "dry_run", "dedupe"],
        ["campaign_id", "prospects"],
        ["imported", "duplicates", "suppressed", "results", "stats"],
        "writes",
    ),
    "update_lead": (
        ["campaign_id", "prospect_id", "updates"],
        ["campaign_id", "prospect_id", "updates"],
        ["prospect"],
        "writes",
    ),
    "remove_leads": (
        ["campaign_id", "prospect_ids"],
        ["campaign_id", "prospect_ids"],
        ["deleted", "stats"],
        "destroys",
    ),
    "remove_all_leads": (
        ["campaign_id", "confirm"],
        ["campaign_id"],
        ["deleted", "stats"],
        "destroys",
    ),
    "add_suppressions": (
        ["entries", "remove_from_drafts", "confirm"],
        ["entries"],
        ["added", "duplicates", "results"],
        "destroys",
    ),
    "check_suppressions": (["identities"], ["identities"], ["results"], "reads"),
    "list_suppressions": (
        ["kind", "q", "limit", "cursor"],
        [],
        ["suppressions", "total", "next_cursor"],
        "reads",
    ),
    "remove_suppressions": (["ids"], ["ids"], ["deleted"], "writes"),
    "list_events": (["after", "limit", "type"], [], ["events", "next_cursor"], "reads"),
}
HINTS = {
    "reads": (True, None),
    "writes": (False, False),
    "destroys": (False, True),
}
# What each description must tell an agent, beyond what the tool does.
MUST_SAY = {
    "create_campaign": ["email or linkedin", "never changes", "unique"],
    "launch_campaign": ["Cannot be undone", "frozen", "confirm: true", "preview"],
    "complete_campaign": ["Cannot be undone", "confirm: true", "preview"],
    "list_leads": ["1 to 200", "next_cursor", "null on the last page"],
    "add_leads": [
        "1 to 1000",
        "email in an email campaign",
        "linkedin_url (a person's profile URL) in a linkedin campaign",
        "All or nothing",
        "prospects[i]",
        "outcome duplicate",
        "left unchanged",
        "dedupe",
        "outcome suppressed",
        "dry_run",
        "frozen",
    ],
    "update_lead": ["draft", "null clears it", "not be cleared", "suppression list"],
    "remove_leads": ["1 to 500", "skipped"],
    "remove_all_leads": ["Cannot be undone", "confirm: true", "preview"],
    "add_suppressions": [
        "1 to 1000",
        "subdomains",
        "duplicate",
        "outcome suppressed",
        "remove_from_drafts",
        "confirm: true",
        "preview",
        "entries[i]",
    ],
    "check_suppressions": ["1 to 1000", "exactly one of email or linkedin_url", "Reads only"],
    "list_suppressions": ["1 to 200", "next_cursor", "the same kind and q", "null on the last"],
    "remove_suppressions": ["1 to 500", "skipped", "not restored"],
    "list_events": [
        "in the order the changes committed",
        "never a lead's personal data",
        "keep each answer's next_cursor and pass it as after",
        "exactly once",
        "1 to 1000",
        "An empty page means you are up to date",
        "410",
        "start again without after",
    ],
}

# What the server's instructions say of each LEADS_MCP_MODE.
RULES = {
    "read": "every tool that writes is refused",
    "write": "without confirm: true they change nothing",
    "all": "act at once, confirm or not",
}


def nullable(schema: dict) -> dict:
    """The non-null arm of an optional parameter's schema."""
    arms = [arm for arm in schema["anyOf"] if arm != {"type": "null"}]
    assert len(arms) == 1 and len(schema["anyOf"]) == 2
    return arms[0]


class TestTools:
    async def test_every_tool_with_its_schemas(self, connect, transport):
        async with connect(transport) as tools:
            listed = await tools.list()
        assert sorted(listed) == sorted(TOOLS)
        for name, (params, required, result_keys, kind) in TOOLS.items():
            tool = listed[name]
            assert list(tool.input_schema["properties"]) == params, name
            assert tool.input_schema.get("required", []) == required, name
            assert set(result_keys) <= set(tool.output_schema["required"]), name
            assert tool.output_schema["type"] == "object"
            hints = (tool.annotations.read_only_hint, tool.annotations.destructive_hint)
            assert hints == HINTS[kind], name
            assert tool.annotations.open_world_hint is False
            assert tool.title and tool.description
            for phrase in MUST_SAY.get(name, []):
                assert phrase in tool.description, (name, phrase)

    async def test_the_schemas_name_the_contract_values(self, connect):
        async with connect() as tools:
            listed = await tools.list()
        schema = listed["add_leads"].input_schema
        row = schema["$defs"]["LeadFields"]
        assert list(row["properties"]) == [*TEXT_FIELDS, "custom_fields"]
        assert row["additionalProperties"] is False
        assert nullable(schema["properties"]["dedupe"])["enum"] == ["campaign", "workspace", "live"]
        assert schema["properties"]["dry_run"]["default"] is False
        create = listed["create_campaign"].input_schema
        assert create["properties"]["type"]["enum"] == ["email", "linkedin"]
        status = listed["list_leads"].input_schema["properties"]["status"]
        assert nullable(status)["enum"] == list(LEAD_STATUSES)
        for name in [
            "launch_campaign",
            "complete_campaign",
            "remove_all_leads",
            "add_suppressions",
        ]:
            assert listed[name].input_schema["properties"]["confirm"]["default"] is False
        output = listed["add_leads"].output_schema
        outcome = output["$defs"]["AddOutcome"]
        assert outcome["required"] == ["index", "outcome", "id", "identity", "duplicate_of"]
        assert outcome["properties"]["outcome"]["enum"] == ["imported", "duplicate", "suppressed"]
        assert {"campaign_id", "suppressed_by"} <= set(outcome["properties"])
        assert "dry_run" in output["properties"]
        entry = listed["add_suppressions"].input_schema["$defs"]["SuppressionInput"]
        assert entry["properties"]["kind"]["enum"] == list(SUPPRESSION_KINDS)
        assert nullable(entry["properties"]["reason"])["enum"] == list(SUPPRESSION_REASONS)
        kind = listed["list_suppressions"].input_schema["properties"]["kind"]
        assert nullable(kind)["enum"] == list(SUPPRESSION_KINDS)
        added = listed["add_suppressions"].output_schema["$defs"]["SuppressionOutcome"]
        assert added["properties"]["outcome"]["enum"] == ["added", "duplicate"]
        event_type = listed["list_events"].input_schema["properties"]["type"]
        assert nullable(event_type)["enum"] == list(EVENT_TYPES)

    @pytest.mark.parametrize("mode", RULES)
    async def test_the_instructions_state_the_rules_and_the_mode(self, connect, mode):
        async with connect(LEADS_MCP_MODE=mode) as tools:
            instructions = tools.instructions
        assert "1000 leads per add_leads call, 500 ids per remove_leads call" in instructions
        assert "launch freezes it for good" in instructions
        assert [rule in instructions for rule in RULES.values()] == [
            other == mode for other in RULES
        ]


class TestTokens:
    async def test_over_http_each_request_brings_its_workspace(
        self, mcp_http_server, api, other_api, token, other_token
    ):
        api.create_campaign("Ours", "email")
        other_api.create_campaign("Theirs", "linkedin")
        for bearer, client in [(token, api), (other_token, other_api)]:
            async with http_tools(mcp_http_server.url, bearer) as tools:
                listed = await tools.ok("list_campaigns")
            assert listed == client.get("/api/campaigns").json
            assert len(listed["campaigns"]) == 1

    async def test_over_http_without_a_token_every_call_is_refused(self, mcp_http_server, db):
        async with http_tools(mcp_http_server.url, None) as tools:
            text = await tools.error("list_campaigns")
        assert text == (
            "Error executing tool list_campaigns: No API token: send Authorization: Bearer "
            "<workspace token> with the MCP request, or start the server with LEADS_API_TOKEN."
        )

    async def test_over_http_an_unknown_token_is_the_api_401(self, mcp_http_server):
        async with http_tools(mcp_http_server.url, "ld_" + "x" * 43) as tools:
            text = await tools.error("list_campaigns")
        assert text == api_error(
            "list_campaigns", {"code": 401, "message": "The token is unknown or revoked."}
        )

    async def test_an_http_server_may_hold_a_token_which_a_request_overrides(
        self, live_server, tmp_path, api, other_api, other_token, token
    ):
        api.create_campaign("Ours", "email")
        other_api.create_campaign("Theirs", "email")
        env = process_env(LEADS_API_URL=live_server.url, LEADS_API_TOKEN=token)
        with HttpServer(env, tmp_path / "server.log") as server:
            async with http_tools(server.url, None) as tools:
                assert await tools.ok("list_campaigns") == {
                    "campaigns": api.get("/api/campaigns").json["campaigns"]
                }
            async with http_tools(server.url, other_token) as tools:
                assert await tools.ok("list_campaigns") == {
                    "campaigns": other_api.get("/api/campaigns").json["campaigns"]
                }

    def test_over_stdio_a_token_is_required_at_start(self, live_server):
        env = process_env(LEADS_API_URL=live_server.url)
        started = subprocess.run(
            [str(LEADS_BIN), "mcp"], env=env, capture_output=True, text=True, timeout=60
        )
        assert (started.returncode, started.stdout) == (2, "")
        assert started.stderr == usage_error(
            "leads mcp", "No API token: set LEADS_API_TOKEN or pass --token."
        )

    def test_a_bad_api_url_stops_it_at_start(self, token):
        env = process_env(LEADS_API_URL="ftp://example.com", LEADS_API_TOKEN=token)
        started = subprocess.run(
            [str(LEADS_BIN), "mcp", "--http"], env=env, capture_output=True, text=True, timeout=60
        )
        assert (started.returncode, started.stdout) == (2, "")
        assert started.stderr == usage_error(
            "leads mcp",
            "Invalid value for '--api-url' / LEADS_API_URL: must be an http:// or https:// URL, "
            "got 'ftp://example.com'",
        )

    def test_an_unknown_mode_stops_it_at_start(self, leads_env):
        env = process_env(**leads_env, LEADS_MCP_MODE="admin")
        started = subprocess.run(
            [str(LEADS_BIN), "mcp"], env=env, capture_output=True, text=True, timeout=60
        )
        assert (started.returncode, started.stdout) == (2, "")
        assert started.stderr == usage_error(
            "leads mcp",
            "Invalid value for '--mode': 'admin' is not one of 'read', 'write', 'all'.",
        )


class TestFailures:
    async def test_an_api_error_is_a_tool_error_with_the_api_message(self, connect, transport):
        async with connect(transport) as tools:
            text = await tools.error("get_campaign", {"campaign_id": MISSING_UUID})
        assert text == api_error("get_campaign", NOT_FOUND)

    async def test_an_unreachable_api_is_a_tool_error(self, connect):
        port = free_port()
        async with connect(
            args=("--retries", "0", "mcp"), LEADS_API_URL=f"http://127.0.0.1:{port}"
        ) as tools:
            text = await tools.error("list_campaigns")
        assert text == (
            "Error executing tool list_campaigns: Could not reach the API at "
            f"http://127.0.0.1:{port} after 1 attempts: ConnectError: [Errno 111] "
            "Connection refused"
        )

    @pytest.mark.parametrize(
        "arguments, problem",
        [
            ({}, "campaign_id\n  Field required"),
            ({"campaign_id": MISSING_UUID, "prospects": "ada@example.com"}, "prospects\n"),
            ({"campaign_id": MISSING_UUID, "prospects": [{"email": 5}]}, "prospects.0.email\n"),
        ],
    )
    async def test_arguments_off_the_schema_are_a_tool_error_and_nothing_is_sent(
        self, connect, injector, db, arguments, problem
    ):
        async with connect() as tools:
            text = await tools.error("add_leads", arguments)
        assert text.startswith("Error executing tool add_leads: ")
        assert problem in text
        assert "Traceback" not in text
        assert injector.requests == []

    async def test_an_unknown_tool_is_a_tool_error(self, connect):
        async with connect() as tools:
            text = await tools.error("drop_database")
        assert text == "Unknown tool: drop_database"
