"""The MCP tools' shapes: what an agent may send (input schemas) and what the API answers
(output schemas), as pydantic models from which the SDK writes the JSON schemas.

The API stays the one validator of what is sent: these models give types and descriptions,
and the limits (1000 rows, 500 ids, field lengths) are left to the API, whose error names
every offending index. Output models only describe the API's bodies, which the tools pass on
unchanged; their optional fields (`campaign_id`, `suppressed_by`, `dry_run`,
`removed_from_drafts`) are those the API sends in some answers only.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from leads_contract.values import (
    CAMPAIGN_STATUSES,
    CAMPAIGN_TYPES,
    EVENT_TYPES,
    LEAD_STATUSES,
    SUPPRESSION_KINDS,
    SUPPRESSION_REASONS,
)

# An unknown key in a row is passed on, so that the API's 400 names its index and key
# (`prospects[3].emial: Unknown field.`); the schema still tells agents there are none.
PASS_ON_UNKNOWN_KEYS = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False})


def _text(description: str) -> Any:
    return Field(default=None, description=description)


class LeadFields(BaseModel):
    """A lead's fields. Strings are trimmed; a blank one counts as absent."""

    model_config = PASS_ON_UNKNOWN_KEYS

    email: str | None = _text(
        "Required in email campaigns (the identity); at most 254 characters. Lowercased."
    )
    linkedin_url: str | None = _text(
        "Required in linkedin campaigns (the identity): a person's profile URL such as "
        "https://www.linkedin.com/in/ada-lovelace; at most 512 characters. Canonicalized."
    )
    first_name: str | None = _text("At most 200 characters.")
    last_name: str | None = _text("At most 200 characters.")
    name: str | None = _text("At most 200 characters; derived from first and last name if absent.")
    company: str | None = _text("At most 300 characters.")
    position: str | None = _text("At most 300 characters.")
    headline: str | None = _text("At most 2000 characters.")
    custom_fields: dict[str, Any] | None = _text(
        "Template data, rendered as %custom_fields.<key>%: keys match ^[A-Za-z0-9_]{1,64}$, "
        "at most 100 keys and 16 KiB as JSON, values nested at most 4 levels."
    )


class SuppressionInput(BaseModel):
    """One entry for the do-not-contact list."""

    model_config = PASS_ON_UNKNOWN_KEYS

    kind: Literal[SUPPRESSION_KINDS] = Field(
        description="email (one address), domain (that domain and its subdomains) or "
        "linkedin_url (one profile)."
    )
    value: str = Field(
        description="The address, domain (acme.com, not an IP) or profile URL; normalized."
    )
    reason: Literal[SUPPRESSION_REASONS] | None = _text("Why; manual when absent.")
    note: str | None = _text("Free text, at most 500 characters.")


class IdentityInput(BaseModel):
    """One person to check: exactly one of email and linkedin_url."""

    model_config = PASS_ON_UNKNOWN_KEYS

    email: str | None = _text("An email address.")
    linkedin_url: str | None = _text("A LinkedIn profile URL.")


# What the API answers.

Stats = create_model(
    "Stats",
    __doc__="A campaign's lead counts, computed in the same transaction as each roster write.",
    total=(int, Field(description="Every lead of the campaign.")),
    **{status: (int, ...) for status in LEAD_STATUSES},
    contacted=(int, Field(description="Leads past pending, not counting cancelled ones.")),
    last_synced_at=(str | None, ...),
)


class Campaign(BaseModel):
    id: str
    name: str
    type: Literal[CAMPAIGN_TYPES] = Field(description="Which field is a lead's identity.")
    status: Literal[CAMPAIGN_STATUSES] = Field(
        description="draft (the roster can change), active, paused or completed (frozen)."
    )
    stats: Stats
    created_at: str
    updated_at: str


class CampaignResult(BaseModel):
    campaign: Campaign


class CampaignList(BaseModel):
    campaigns: list[Campaign] = Field(description="Oldest first.")


class CampaignDetail(BaseModel):
    campaign: Campaign
    prospects_by_status: dict[str, int] = Field(description="Every lead status with its count.")


class Lead(BaseModel):
    id: str
    campaign_id: str
    status: Literal[LEAD_STATUSES]
    email: str | None
    linkedin_url: str | None
    first_name: str | None
    last_name: str | None
    name: str | None
    company: str | None
    position: str | None
    headline: str | None
    custom_fields: dict[str, Any]
    created_at: str
    updated_at: str


class LeadPage(BaseModel):
    prospects: list[Lead] = Field(description="Oldest first.")
    total: int = Field(description="Leads matching the status filter, in every page.")
    page: int | None
    limit: int
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page (with the same status); null on the last."
    )


class LeadResult(BaseModel):
    prospect: Lead


class SuppressedBy(BaseModel):
    id: str
    kind: Literal[SUPPRESSION_KINDS]
    value: str


class AddOutcome(BaseModel):
    index: int = Field(description="The row's position in prospects.")
    outcome: Literal["imported", "duplicate", "suppressed"]
    id: str | None = Field(
        description="The new lead; for a duplicate, the lead it duplicates; null if suppressed."
    )
    identity: str = Field(description="The row's normalized identity.")
    duplicate_of: Literal["batch", "campaign", "workspace"] | None = Field(
        description="For a duplicate: where the lead it duplicates is; else null."
    )
    campaign_id: str | None = Field(
        default=None,
        description="Only for a duplicate of workspace: the campaign of the lead it duplicates.",
    )
    suppressed_by: SuppressedBy | None = Field(
        default=None,
        description="Only for a suppressed row: the entry that matched (the most specific: "
        "email, then linkedin_url, then the longest domain).",
    )


class AddLeadsResult(BaseModel):
    imported: int
    duplicates: int
    suppressed: int = Field(description="Rows not added because the suppression list matched them.")
    results: list[AddOutcome] = Field(
        description="One per row sent, in order; imported + duplicates + suppressed rows."
    )
    stats: Stats
    dry_run: bool | None = Field(default=None, description="Only on a dry run: true.")


class RemoveResult(BaseModel):
    deleted: int
    stats: Stats


class SuppressionEntry(BaseModel):
    id: str
    kind: Literal[SUPPRESSION_KINDS]
    value: str = Field(description="Normalized; a domain in its IDNA form.")
    reason: Literal[SUPPRESSION_REASONS]
    note: str | None
    created_at: str


class SuppressionOutcome(BaseModel):
    index: int
    outcome: Literal["added", "duplicate"] = Field(
        description="duplicate when the list held the value already, or an earlier entry of "
        "this call had it."
    )
    id: str = Field(
        description="The new entry; for a duplicate, the entry it duplicates, whose reason "
        "and note stay as they were."
    )
    value: str = Field(description="The normalized value.")


class CampaignRemoval(BaseModel):
    id: str = Field(description="A draft campaign that lost leads.")
    removed: int


class DraftRemoval(BaseModel):
    leads: int = Field(description="Leads removed, in every draft campaign.")
    campaigns: list[CampaignRemoval] = Field(
        description="The draft campaigns that lost leads, in id order."
    )


class SuppressionAddResult(BaseModel):
    added: int
    duplicates: int
    results: list[SuppressionOutcome] = Field(description="One per entry sent, in order.")
    removed_from_drafts: DraftRemoval | None = Field(
        default=None, description="Only when remove_from_drafts was true."
    )


class SuppressionPage(BaseModel):
    suppressions: list[SuppressionEntry] = Field(description="Oldest first.")
    total: int = Field(description="Entries matching kind and q, in every page.")
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page (with the same kind and q); null on the last."
    )


class SuppressionMatch(BaseModel):
    index: int = Field(description="The identity's position in identities.")
    suppressed: bool
    matched: SuppressionEntry | None = Field(
        description="The entry that matched (the most specific: email, then linkedin_url, "
        "then the longest domain); null when not suppressed."
    )


class SuppressionCheck(BaseModel):
    results: list[SuppressionMatch] = Field(description="One per identity sent, in order.")


class DeletedCount(BaseModel):
    deleted: int


class Event(BaseModel):
    id: str
    type: Literal[EVENT_TYPES]
    occurred_at: str = Field(description="When the change's transaction started.")
    campaign_id: str | None = Field(description="The campaign changed; null for suppressions.")
    data: dict[str, Any] = Field(description="Ids and counts of the change, by type.")


class EventPage(BaseModel):
    events: list[Event] = Field(description="In the order the changes committed; may be empty.")
    next_cursor: str = Field(
        description="Pass as after on the next call; never null (an empty page gives it back)."
    )
