"""`leads mcp`: the HTTP API as Model Context Protocol tools for AI agents, over stdio or
streamable HTTP, built on the official `mcp` SDK.

Like the rest of leads_client it is a client of the API (through ApiClient: retries,
Idempotency-Keys, the API's errors), never of the database. Each tool call is one API call
(two for a preview), made with a client of its own: over HTTP the token may differ from one
MCP request to the next.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from leads_client.api_client import (
    NEW_KEY,
    ApiClient,
    ApiUnreachable,
    RetryPolicy,
    ServiceError,
    path_segment,
    response_json,
)
from leads_client.importer import ADD_RETRY_STATUSES
from leads_client.mcp_schemas import (
    AddLeadsResult,
    CampaignDetail,
    CampaignList,
    CampaignResult,
    DeletedCount,
    EventPage,
    IdentityInput,
    LeadFields,
    LeadPage,
    LeadResult,
    RemoveResult,
    SuppressionAddResult,
    SuppressionCheck,
    SuppressionInput,
    SuppressionPage,
)
from leads_contract.values import (
    CAMPAIGN_TYPES,
    DEDUPE_MODES,
    EVENT_TYPES,
    LEAD_STATUSES,
    SUPPRESSION_KINDS,
)

# The API admits a full batch of 1000 leads at every field's maximum (docs/API.md, 128 MiB by
# default); the SDK's own default of 4 MiB would refuse such an add_leads call over HTTP.
MAX_HTTP_BODY_BYTES = 128 * 1024 * 1024

log = logging.getLogger("leads_client.mcp")


@dataclass(frozen=True)
class ServerConfig:
    """`api_url` is the service root (normalized); `token` is LEADS_API_TOKEN, which a bearer
    token of the MCP request overrides over HTTP; `mode` is LEADS_MCP_MODE."""

    api_url: str
    token: str | None
    mode: str = "write"
    timeout: float = 60.0
    retries: int = 5


INSTRUCTIONS = """\
Lead rosters of outreach campaigns, in the workspace of the API token.
- A campaign's type, email or linkedin, is fixed at creation and names each lead's identity:
  the email of an email campaign, the LinkedIn profile URL of a linkedin campaign. Identities
  are normalized (emails lowercased, LinkedIn URLs canonicalized) and a roster holds each once:
  adding a lead already there answers outcome duplicate, not an error.
- A roster changes only while its campaign is a draft; launch freezes it for good.
- Limits: 1000 leads per add_leads call, 500 ids per remove_leads call, 200 leads per page.
- Lists page with cursors: pass a page's next_cursor as cursor; null means the last page.
- list_events reads what changed (the change feed): keep each answer's next_cursor and pass it
  as after next time to get only what changed since; an empty page means nothing did.
- Writes carry an Idempotency-Key, so a retry after a network failure is applied once.
- Errors are tool errors carrying the API's message, which names every offending row
  (prospects[3]); when any row is invalid, nothing is written."""

MODE_RULES = {
    "read": "This server is read-only (LEADS_MCP_MODE=read): every tool that writes is refused.",
    "write": "launch_campaign, complete_campaign, remove_all_leads and add_suppressions with "
    "remove_from_drafts cannot be undone: without confirm: true they change nothing and answer "
    "a preview of what they would do, as a tool error. Show it to the user; call again with "
    "confirm: true only once they agree.",
    "all": "This server runs with LEADS_MCP_MODE=all: launch_campaign, complete_campaign, "
    "remove_all_leads and add_suppressions with remove_from_drafts act at once, confirm or not.",
}

# What each irreversible change to a campaign does, for its preview: (consequence, action).
CAMPAIGN_PREVIEWS = {
    "launch_campaign": (
        "Launching makes it active and freezes its roster for good: no lead can be added, "
        "updated or removed afterwards. Only a draft campaign can be launched.",
        "launch it",
    ),
    "complete_campaign": (
        "Completing ends it for good: it can never be resumed. Only an active or paused "
        "campaign can be completed.",
        "complete it",
    ),
    "remove_all_leads": (
        "Removing all deletes every one of them with its fields. Only a draft campaign's "
        "roster can change.",
        "remove them",
    ),
}

CampaignId = Annotated[
    str, Field(description="The campaign's id, from list_campaigns or create_campaign.")
]
Confirm = Annotated[
    bool,
    Field(description="true to do it; false (the default) answers a preview and changes nothing."),
]
Limit = Annotated[int | None, Field(description="Items per page, 1 to 200.")]
Cursor = Annotated[
    str | None, Field(description="The next_cursor of the previous page; omit for the first.")
]

READS = ToolAnnotations(readOnlyHint=True, openWorldHint=False)
WRITES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, openWorldHint=False)
DESTROYS = ToolAnnotations(readOnlyHint=False, destructiveHint=True, openWorldHint=False)

# The tools that move a campaign to another status, one POST /api/campaigns/{id}/<action>
# each: action -> (title, annotations, description). Those that cannot be undone (DESTROYS,
# with their CAMPAIGN_PREVIEWS) take confirm and answer a preview without it.
TRANSITION_TOOLS = {
    "launch": (
        "Launch a campaign",
        DESTROYS,
        "Launch a draft campaign (draft -> active). Cannot be undone: the roster is frozen "
        "from then on (no lead can be added, updated or removed) and the campaign never "
        "returns to draft. Without confirm: true nothing changes and the answer is a preview "
        "(a tool error saying what launching would do).",
    ),
    "pause": (
        "Pause a campaign",
        WRITES,
        "Pause an active campaign (active -> paused); resume_campaign undoes it. The roster "
        "stays frozen.",
    ),
    "resume": ("Resume a campaign", WRITES, "Resume a paused campaign (paused -> active)."),
    "complete": (
        "Complete a campaign",
        DESTROYS,
        "Complete an active or paused campaign (-> completed). Cannot be undone: a completed "
        "campaign is never resumed. Without confirm: true nothing changes and the answer is a "
        "preview (a tool error saying what completing would do).",
    ),
}


class ApiAccess:
    """The API as the tools use it: one client per call, with the token of the request; the
    mode checked before anything is sent; API failures turned into tool errors."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config

    def read(self, ctx: Context, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._call(ctx, "GET", path, params=params)

    def read_by_post(self, ctx: Context, path: str, body: Any) -> Any:
        """A read whose question is a body: no Idempotency-Key, allowed in read mode."""
        return self._call(ctx, "POST", path, body=body, idempotency_key=None)

    def write(self, ctx: Context, method: str, path: str, **kwargs: Any) -> Any:
        self.refuse_in_read_mode()
        return self._call(ctx, method, path, **kwargs)

    def refuse_in_read_mode(self) -> None:
        if self.config.mode == "read":
            raise ToolError(
                "Refused: this tool writes and this server is read-only (LEADS_MCP_MODE=read). "
                "Nothing was sent to the API."
            )

    def needs_preview(self, confirm: bool) -> bool:
        """Whether an irreversible call must answer a preview instead of acting."""
        self.refuse_in_read_mode()
        return not confirm and self.config.mode != "all"

    def preview_unless_confirmed(
        self, ctx: Context, tool: str, campaign_id: str, confirm: bool
    ) -> None:
        """Raise the preview of an irreversible change to a campaign, unless it may go ahead."""
        if self.needs_preview(confirm):
            campaign = self.read(ctx, campaign_path(campaign_id))["campaign"]
            consequence, action = CAMPAIGN_PREVIEWS[tool]
            raise preview(f"{describe_campaign(campaign)} {consequence}", action, tool)

    def _call(self, ctx: Context, method: str, path: str, **kwargs: Any) -> Any:
        with ApiClient(
            self.config.api_url,
            self._token(ctx),
            retry=RetryPolicy(retries=self.config.retries),
            timeout=self.config.timeout,
            on_retry=lambda message: log.warning("%s %s: %s", method, path, message),
        ) as client:
            try:
                return response_json(client.request(method, path, **kwargs))
            except ServiceError as error:
                raise ToolError(_api_error_text(error)) from None
            except ApiUnreachable as error:
                raise ToolError(str(error)) from None

    def _token(self, ctx: Context) -> str:
        # Over HTTP the MCP request's own bearer token is the API token when it carries one,
        # so that one server can serve the agents of several workspaces (docs/MCP.md).
        authorization = (ctx.headers or {}).get("authorization", "")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        if self.config.token:
            return self.config.token
        raise ToolError(
            "No API token: send Authorization: Bearer <workspace token> with the MCP request, "
            "or start the server with LEADS_API_TOKEN."
        )


def _api_error_text(error: ServiceError) -> str:
    """The API's sentence (which names every offending index), then its per-field details."""
    text = str(error)
    if error.errors:
        text += "\nDetails: " + json.dumps(error.errors, ensure_ascii=False)
    return text


def structured(body: Any) -> CallToolResult:
    """The API's body as the tool's result: unchanged as structured content, and as JSON
    text for the model."""
    text = json.dumps(body, ensure_ascii=False, indent=2)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=body)


def preview(text: str, action: str, tool: str) -> ToolError:
    return ToolError(
        f"Not done: this is a preview, nothing was changed. {text} "
        f"To {action}, call {tool} again with confirm: true once the user agrees."
    )


def campaign_path(campaign_id: str, suffix: str = "") -> str:
    return f"/api/campaigns/{path_segment(campaign_id)}{suffix}"


def describe_campaign(campaign: Mapping[str, Any]) -> str:
    stats = campaign["stats"]
    return (
        f"Campaign {campaign['name']!r} ({campaign['type']}, {campaign['status']}; leads: "
        f"{stats['total']}, contacted: {stats['contacted']})."
    )


def build_server(config: ServerConfig) -> MCPServer:
    """The MCP server and its tools, acting through the API as `config` says."""
    api = ApiAccess(config)
    server = MCPServer(
        "leads",
        title="Leads: campaign rosters",
        version=version("leads"),
        instructions=f"{INSTRUCTIONS}\n{MODE_RULES[config.mode]}",
        log_level="WARNING",
    )

    def tool(title: str, hints: ToolAnnotations) -> Callable[[Callable], Callable]:
        """Register the decorated function as a tool. Its docstring is the description the
        agent reads, with its lines joined: the SDK would keep their breaks and indentation."""

        def register(function: Callable) -> Callable:
            description = " ".join(function.__doc__.split())
            server.add_tool(function, title=title, annotations=hints, description=description)
            return function

        return register

    # Campaigns

    @tool("List campaigns", READS)
    def list_campaigns(ctx: Context) -> Annotated[CallToolResult, CampaignList]:
        """The workspace's campaigns, oldest first, each with its type (email or linkedin),
        status (draft, active, paused, completed) and stats (lead counts per status). Only draft
        campaigns accept roster changes."""
        return structured(api.read(ctx, "/api/campaigns"))

    @tool("Create a campaign", WRITES)
    def create_campaign(
        ctx: Context,
        name: Annotated[str, Field(description="Unique in the workspace.")],
        type: Annotated[Literal[CAMPAIGN_TYPES], Field(description="Fixed for good.")],
    ) -> Annotated[CallToolResult, CampaignResult]:
        """Create a draft campaign. type is email or linkedin and never changes: it decides each
        lead's identity (email for email campaigns, linkedin_url for linkedin ones). name (1 to
        200 characters) must be unique in the workspace; a name already used is an error."""
        return structured(
            api.write(ctx, "POST", "/api/campaigns", body={"name": name, "type": type})
        )

    @tool("Show a campaign", READS)
    def get_campaign(
        ctx: Context, campaign_id: CampaignId
    ) -> Annotated[CallToolResult, CampaignDetail]:
        """One campaign with its stats and its number of leads in each lead status
        (prospects_by_status)."""
        return structured(api.read(ctx, campaign_path(campaign_id)))

    # One tool per transition, in the order of TRANSITION_TOOLS.
    for action, (title, hints, description) in TRANSITION_TOOLS.items():
        server.add_tool(
            _transition_tool(api, action), title=title, annotations=hints, description=description
        )

    # Leads

    @tool("List leads", READS)
    def list_leads(
        ctx: Context,
        campaign_id: CampaignId,
        status: Annotated[
            Literal[LEAD_STATUSES] | None, Field(description="A lead status.")
        ] = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Annotated[CallToolResult, LeadPage]:
        """A page of a campaign's leads, oldest first; works in every campaign status. status
        filters by lead status. A page holds limit leads (1 to 200, default 100); for the next
        page call again with cursor set to this page's next_cursor and the same status.
        next_cursor is null on the last page; total counts every matching lead."""
        params = _present(status=status, limit=limit, cursor=cursor)
        return structured(api.read(ctx, campaign_path(campaign_id, "/leads"), params))

    @tool("Add leads", WRITES)
    def add_leads(
        ctx: Context,
        campaign_id: CampaignId,
        prospects: Annotated[list[LeadFields], Field(description="1 to 1000 leads.")],
        dry_run: Annotated[bool, Field(description="true: report only, write nothing.")] = False,
        dedupe: Annotated[
            Literal[DEDUPE_MODES] | None,
            Field(description="campaign (the default), workspace or live."),
        ] = None,
    ) -> Annotated[CallToolResult, AddLeadsResult]:
        """Add 1 to 1000 leads to a draft campaign (split more into several calls). Each row
        needs the campaign's identity: email in an email campaign, linkedin_url (a person's
        profile URL) in a linkedin campaign; the other one is kept when valid. All or nothing:
        if any row is invalid, nothing is added and the error names every offending row as
        prospects[i]. results has one entry per row, in order. Identities are normalized, then
        deduplicated: a row whose identity is already in the campaign (duplicate_of campaign) or
        earlier in this call (duplicate_of batch) is outcome duplicate, with the id of the lead
        it duplicates, and that lead is left unchanged. dedupe widens the comparison: workspace
        also compares with the leads of every other campaign of the workspace, live with those
        of draft, active and paused campaigns (duplicate_of workspace, with that lead's
        campaign_id). A row on the workspace's suppression (do-not-contact) list is outcome
        suppressed (suppressed_by names the entry) and is not added. dry_run: true answers the
        same and writes nothing. After launch the roster is frozen and every add is refused."""
        rows = [row.model_dump(exclude_unset=True) for row in prospects]
        body = api.write(
            ctx,
            "POST",
            campaign_path(campaign_id, "/leads"),
            body={"prospects": rows},
            params=_present(dry_run="true" if dry_run else None, dedupe=dedupe),
            # A dry run writes nothing: safe to repeat, and it must never replay a stale answer.
            idempotency_key=None if dry_run else NEW_KEY,
            retry_statuses=ADD_RETRY_STATUSES,
        )
        return structured(body)

    @tool("Update a lead", WRITES)
    def update_lead(
        ctx: Context,
        campaign_id: CampaignId,
        prospect_id: Annotated[str, Field(description="The lead's id.")],
        updates: Annotated[LeadFields, Field(description="The fields to change.")],
    ) -> Annotated[CallToolResult, LeadResult]:
        """Change fields of one lead of a draft campaign. updates holds at least one field; a
        field left out stays as it is, null clears it, custom_fields replaces the whole object.
        The campaign's identity may change (normalized again) but not be cleared; an identity
        another lead of the campaign holds is an error naming that lead, and a new email or
        linkedin_url that the suppression list matches is an error naming the entry. status, id,
        campaign_id and the timestamps cannot be set."""
        body = {"prospect_id": prospect_id, "updates": updates.model_dump(exclude_unset=True)}
        return structured(api.write(ctx, "PATCH", campaign_path(campaign_id, "/leads"), body=body))

    @tool("Remove leads", DESTROYS)
    def remove_leads(
        ctx: Context,
        campaign_id: CampaignId,
        prospect_ids: Annotated[list[str], Field(description="1 to 500 lead ids.")],
    ) -> Annotated[CallToolResult, RemoveResult]:
        """Remove leads of a draft campaign by id, 1 to 500 ids per call (split more). Ids that
        are not leads of the campaign are skipped and not counted. Answers how many were removed
        and the campaign's stats."""
        return _delete_leads(api, ctx, campaign_id, {"prospect_ids": prospect_ids})

    @tool("Remove every lead", DESTROYS)
    def remove_all_leads(
        ctx: Context, campaign_id: CampaignId, confirm: Confirm = False
    ) -> Annotated[CallToolResult, RemoveResult]:
        """Remove every lead of a draft campaign. Cannot be undone. Without confirm: true
        nothing changes and the answer is a preview (a tool error saying how many leads would
        go)."""
        api.preview_unless_confirmed(ctx, "remove_all_leads", campaign_id, confirm)
        return _delete_leads(api, ctx, campaign_id, {"all": True})

    # The suppression (do-not-contact) list

    @tool("Add to the suppression list", DESTROYS)
    def add_suppressions(
        ctx: Context,
        entries: Annotated[list[SuppressionInput], Field(description="1 to 1000 entries.")],
        remove_from_drafts: Annotated[
            bool, Field(description="Also remove matching leads from draft campaigns.")
        ] = False,
        confirm: Confirm = False,
    ) -> Annotated[CallToolResult, SuppressionAddResult]:
        """Add 1 to 1000 entries to the workspace's suppression (do-not-contact) list. kind
        email matches one address, domain matches the emails at that domain and its subdomains
        (acme.com matches a@eu.acme.com, not a@notacme.com), linkedin_url one profile; values
        are normalized like lead identities. results has one entry per entry sent, in order:
        outcome added, or duplicate when the list already holds the value or an earlier entry of
        this call has it (id is then that entry, whose reason and note stay as they were). From
        then on add_leads answers matching rows as outcome suppressed and does not add them, and
        update_lead refuses to set a matching identity. Leads already in campaigns stay, unless
        remove_from_drafts: true, which also removes every lead these entries (added or
        duplicate) match from every draft campaign (removed_from_drafts counts them per
        campaign; frozen rosters never change). That cannot be undone, so without confirm: true
        nothing changes and the answer is a preview. All or nothing: an invalid entry rejects
        the call, naming every offending index as entries[i]; nothing is written."""
        if remove_from_drafts and api.needs_preview(confirm):
            campaigns = api.read(ctx, "/api/campaigns")["campaigns"]
            drafts = [
                f"{campaign['name']!r} (leads: {campaign['stats']['total']})"
                for campaign in campaigns
                if campaign["status"] == "draft"
            ]
            raise preview(
                "Adding these entries with remove_from_drafts would remove every lead "
                "matching them from the workspace's draft campaigns: "
                f"{', '.join(drafts) or 'none'}. Removed leads are gone for good. Call with "
                "remove_from_drafts: false to only add the entries.",
                "add them and remove the matching leads",
                "add_suppressions",
            )
        body = {
            "entries": [entry.model_dump(exclude_unset=True) for entry in entries],
            "remove_from_drafts": remove_from_drafts,
        }
        return structured(api.write(ctx, "POST", "/api/suppressions", body=body))

    @tool("Check the suppression list", READS)
    def check_suppressions(
        ctx: Context,
        identities: Annotated[
            list[IdentityInput], Field(description="1 to 1000 of {email} or {linkedin_url}.")
        ],
    ) -> Annotated[CallToolResult, SuppressionCheck]:
        """Check 1 to 1000 people against the suppression list before contacting them. Each
        identity is exactly one of email or linkedin_url, normalized like lead identities; an
        email matches an email entry of that address and a domain entry of its domain or a
        parent domain. results has one entry per identity, in order: suppressed, and matched,
        the entry that matched (the most specific one) or null. Reads only."""
        body = {"identities": [item.model_dump(exclude_unset=True) for item in identities]}
        return structured(api.read_by_post(ctx, "/api/suppressions/check", body))

    @tool("List the suppression list", READS)
    def list_suppressions(
        ctx: Context,
        kind: Annotated[
            Literal[SUPPRESSION_KINDS] | None, Field(description="Only this kind.")
        ] = None,
        q: Annotated[str | None, Field(description="A part of the value.")] = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Annotated[CallToolResult, SuppressionPage]:
        """A page of the suppression list, oldest first. kind filters by kind, q by a
        case-insensitive part of the value (at most 500 characters); total counts the entries of
        those filters. A page holds limit entries (1 to 200, default 100); for the next page
        call again with cursor set to this page's next_cursor and the same kind and q.
        next_cursor is null on the last page."""
        params = _present(kind=kind, q=q, limit=limit, cursor=cursor)
        return structured(api.read(ctx, "/api/suppressions", params))

    @tool("Remove from the suppression list", WRITES)
    def remove_suppressions(
        ctx: Context,
        ids: Annotated[list[str], Field(description="1 to 500 entry ids.")],
    ) -> Annotated[CallToolResult, DeletedCount]:
        """Remove suppression entries by id, 1 to 500 ids per call (split more): those people
        may be added and contacted again. Ids not on the list are skipped and not counted. Leads
        removed because of an entry are not restored."""
        return structured(api.write(ctx, "DELETE", "/api/suppressions", body={"ids": ids}))

    # The change feed

    @tool("List what changed", READS)
    def list_events(
        ctx: Context,
        after: Annotated[
            str | None,
            Field(
                description="The next_cursor of the previous answer; omit to start at the oldest."
            ),
        ] = None,
        limit: Annotated[int | None, Field(description="Events per page, 1 to 1000.")] = None,
        type: Annotated[
            Literal[EVENT_TYPES] | None, Field(description="Only events of this type.")
        ] = None,
    ) -> Annotated[CallToolResult, EventPage]:
        """The workspace's change feed: one event per change of a campaign, a roster or the
        suppression list, in the order the changes committed. An event has type, campaign_id
        (null for the suppression list), occurred_at and data, which holds ids and counts, never
        a lead's personal data (read leads with list_leads): campaign.created {name, type};
        campaign.status_changed {from, to}; leads.added {lead_ids, count}; lead.updated
        {lead_id, fields}; leads.removed {lead_ids, count} or {all: true, count};
        suppressions.added and suppressions.removed {ids, count}. Without after, the feed starts
        at the oldest event kept. To follow it, keep each answer's next_cursor and pass it as
        after on the next call: every event comes exactly once. A page of limit events (1 to
        1000, default 100) may have more after it: call again at once. An empty page means you
        are up to date: call again later with the same cursor. type keeps one type of event (the
        cursor still moves past the others). A cursor older than the events kept is an error
        (HTTP 410): start again without after."""
        params = _present(after=after, limit=limit, type=type)
        return structured(api.read(ctx, "/api/events", params))

    return server


def _transition_tool(api: ApiAccess, action: str) -> Callable[..., CallToolResult]:
    """The tool `<action>_campaign` of TRANSITION_TOOLS. Its signature is its input schema:
    confirm only where the transition answers a preview without it."""
    tool = f"{action}_campaign"

    def transition(
        ctx: Context, campaign_id: CampaignId
    ) -> Annotated[CallToolResult, CampaignResult]:
        return structured(api.write(ctx, "POST", campaign_path(campaign_id, f"/{action}")))

    def irreversible_transition(
        ctx: Context, campaign_id: CampaignId, confirm: Confirm = False
    ) -> Annotated[CallToolResult, CampaignResult]:
        api.preview_unless_confirmed(ctx, tool, campaign_id, confirm)
        return transition(ctx, campaign_id)

    chosen = irreversible_transition if tool in CAMPAIGN_PREVIEWS else transition
    # The SDK names the tool, and its input schema ("<name>Arguments"), after the function.
    chosen.__name__ = tool
    return chosen


def _delete_leads(
    api: ApiAccess, ctx: Context, campaign_id: str, body: Mapping[str, Any]
) -> CallToolResult:
    """remove_leads and remove_all_leads: one API call, whose body names the leads to remove
    (by id, or all)."""
    return structured(api.write(ctx, "DELETE", campaign_path(campaign_id, "/leads"), body=body))


def _present(**params: Any) -> dict[str, Any]:
    """Query parameters, without those not given (the API refuses an empty value)."""
    return {name: value for name, value in params.items() if value is not None}


def run(
    config: ServerConfig, *, http: bool = False, host: str = "127.0.0.1", port: int = 8001
) -> None:
    """Serve until stdin closes (stdio) or a signal stops uvicorn (HTTP)."""
    server = build_server(config)
    if not http:
        server.run("stdio")
        return
    server.run(
        "streamable-http",
        host=host,
        port=port,
        # Every call stands alone (the token and the Idempotency-Key are per call), so no
        # session is kept: any replica can answer any request.
        stateless_http=True,
        max_request_body_size=MAX_HTTP_BODY_BYTES,
    )
