"""The change feed: record a write's event in its transaction, and read the feed in commit
order.

Every event is written by the SQL function record_event (leads/sql/functions/), whose
lock makes positions follow commit order; the writes made of one SQL function call it
there, the others through `record` below. Events carry ids and counts, never a lead's
personal data.
"""

from __future__ import annotations

import json
from uuid import UUID

from leads.db.pool import ConnectionPool, Transaction, read_all
from leads.domain.cursors import encode_feed_cursor
from leads.errors import Gone


def record(
    tx: Transaction, workspace_id: UUID, event_type: str, campaign_id: UUID | None, data: dict
) -> None:
    """Record an event in the transaction; call it last, after the write's other locks."""
    tx.execute(
        "record_event",
        {
            "workspace_id": workspace_id,
            "type": event_type,
            "campaign_id": campaign_id,
            "data": json.dumps(data),
        },
    )


def event_body(row: dict) -> dict:
    """An event as the feed shows it and a webhook delivers it, from its row."""
    return {
        "id": str(row["id"]),
        "type": row["type"],
        "occurred_at": row["occurred_at"],
        "campaign_id": row["campaign_id"],
        "data": row["data"],
    }


def read_feed(
    pool: ConnectionPool,
    workspace_id: UUID,
    *,
    after: int | None,
    limit: int,
    event_type: str | None,
    retention_days: int,
) -> dict:
    """The events after a position (from the oldest kept without one), oldest first, and
    the cursor to poll next. Gone when events after the position were purged."""
    rows = read_all(
        pool,
        "list_events",
        {"workspace_id": workspace_id, "after": after or 0, "limit": limit, "type": event_type},
    )
    purged_through = rows[0]["purged_through"] or 0
    last_position = rows[0]["last_position"] or 0
    if after is not None and after < purged_through:
        raise Gone(
            f"This cursor is older than the events kept ({retention_days} days, "
            "LEADS_EVENTS_RETENTION): events after it were purged. Read the feed again "
            "without `after`."
        )
    events = [event_body(row) for row in rows if row["position"] is not None]
    if len(events) == limit:
        reached = rows[-1]["position"]
    else:
        # A short page read every event up to the last position given; the positions
        # before it are committed (record_event.sql), so the next poll starts there.
        reached = max(after or 0, purged_through, last_position)
    return {"events": events, "next_cursor": encode_feed_cursor(reached)}
