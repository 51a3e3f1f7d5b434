"""The contract's values (docs/API.md): statuses, transitions, lead fields, limits."""

# Lead and campaign statuses, in the order the API lists them (that of the database enums).
LEAD_STATUSES = (
    "pending",
    "sent",
    "connection_sent",
    "connected",
    "message_sent",
    "replied",
    "bounced",
    "completed",
    "timed_out",
    "cancelled",
)
CAMPAIGN_TYPES = ("email", "linkedin")
CAMPAIGN_STATUSES = ("draft", "active", "paused", "completed")

# transition name -> (statuses it may start from, status it leads to)
CAMPAIGN_TRANSITIONS = {
    "launch": (("draft",), "active"),
    "pause": (("active",), "paused"),
    "resume": (("paused",), "active"),
    "complete": (("active", "paused"), "completed"),
}

# POST leads' `dedupe`: against this campaign only; also against every other campaign of
# the workspace; also against the other campaigns that are not completed.
DEDUPE_MODES = ("campaign", "workspace", "live")

# The suppression list: what an entry matches, and why it is there.
SUPPRESSION_KINDS = ("email", "domain", "linkedin_url")
SUPPRESSION_REASONS = ("unsubscribed", "bounced", "complained", "manual")

# The change feed's event types (what each one's `data` holds: docs/API.md, "The change feed").
EVENT_TYPES = (
    "campaign.created",
    "campaign.status_changed",
    "leads.added",
    "lead.updated",
    "leads.removed",
    "suppressions.added",
    "suppressions.removed",
)

# The field that holds a lead's identity, by campaign type.
IDENTITY_FIELD = {"email": "email", "linkedin": "linkedin_url"}
# A lead's text fields: what a client sends and may update, besides its custom fields.
TEXT_FIELDS = (
    "email",
    "linkedin_url",
    "first_name",
    "last_name",
    "name",
    "company",
    "position",
    "headline",
)
CUSTOM_FIELDS = "custom_fields"
# Keys of a lead that the API sends but never takes.
READ_ONLY_FIELDS = ("id", "campaign_id", "status", "created_at", "updated_at")

# Limits per request.
MAX_LEADS_PER_ADD = 1000
MAX_IDS_PER_DELETE = 500
MAX_PAGE_SIZE = 200
MAX_PAGE = 9007199254740991  # JSON's largest exact integer
MAX_SUPPRESSIONS_PER_ADD = 1000
MAX_IDENTITIES_PER_CHECK = 1000
MAX_IDS_PER_SUPPRESSION_DELETE = 500
MAX_SUPPRESSION_NOTE = 500
MAX_EVENTS_PER_PAGE = 1000
# Webhooks: endpoints per workspace, and the lengths of an endpoint's URL and description.
MAX_WEBHOOKS_PER_WORKSPACE = 20
MAX_WEBHOOK_URL_LENGTH = 2048
MAX_WEBHOOK_DESCRIPTION = 500
