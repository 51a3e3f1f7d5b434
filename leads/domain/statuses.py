"""Lead and campaign statuses, in the order of the database enums."""

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
