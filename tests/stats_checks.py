"""Campaign stats checked against the roster itself: recounts and the maintained counts."""

from __future__ import annotations

import random
from datetime import datetime

from tests.roster_api import LEAD_STATUSES

# The contract's key order of a stats object.
STATS_KEYS = ["total", *LEAD_STATUSES, "contacted", "last_synced_at"]


def recount(db, campaign_id: str) -> dict[str, int]:
    """Leads per status (all ten, in enum order), counted from the roster itself."""
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT status::text, count(*) FROM leads WHERE campaign_id = %s GROUP BY status",
            (campaign_id,),
        )
        counted = dict(cursor.fetchall())
    return {status: counted.get(status, 0) for status in LEAD_STATUSES}


def maintained_counts(db, campaign_id: str) -> dict[str, int]:
    """Leads per status (all ten) as the triggers keep them in campaign_lead_counts."""
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT status::text, lead_count FROM campaign_lead_counts WHERE campaign_id = %s",
            (campaign_id,),
        )
        counted = dict(cursor.fetchall())
    return {status: counted.get(status, 0) for status in LEAD_STATUSES}


def stats_of(counts: dict[str, int], last_synced_at: str) -> dict:
    """The stats object for these per-status counts."""
    total = sum(counts.values())
    return {
        "total": total,
        **counts,
        "contacted": total - counts["pending"] - counts["cancelled"],
        "last_synced_at": last_synced_at,
    }


def pending_stats(total: int, last_synced_at: str) -> dict:
    """The stats of a roster whose `total` leads are all pending."""
    counts = {status: 0 for status in LEAD_STATUSES} | {"pending": total}
    return stats_of(counts, last_synced_at)


def stored_stats(db, campaign_id: str) -> dict:
    with db.cursor() as cursor:
        cursor.execute("SELECT stats FROM campaigns WHERE id = %s", (campaign_id,))
        return cursor.fetchone()[0]


def recalculate(db, campaign_id: str) -> tuple[dict, datetime]:
    """What recalculate_campaign_stats returns, with the time of its transaction."""
    with db.cursor() as cursor:
        cursor.execute("SELECT recalculate_campaign_stats(%s), now()", (campaign_id,))
        return cursor.fetchone()


def assert_stats_match_roster(db, campaign_id: str) -> None:
    """The stored stats and the maintained counts both equal a full recount."""
    counts = recount(db, campaign_id)
    stats = stored_stats(db, campaign_id)
    assert stats == stats_of(counts, stats["last_synced_at"])
    assert maintained_counts(db, campaign_id) == counts


def identity(campaign_type: str, who: str) -> str:
    """The key `who` is stored under in a campaign of this type."""
    if campaign_type == "email":
        return f"{who}@example.com"
    return f"https://www.linkedin.com/in/{who}"


def spelling(rng: random.Random, campaign_type: str, who: str) -> str:
    """One of the ways to write `who`'s identity that normalize to identity(type, who)."""
    if campaign_type == "email":
        return rng.choice(
            [f"{who}@example.com", f" {who.upper()}@Example.COM", f"{who}@EXAMPLE.com\t"]
        )
    return rng.choice(
        [
            f"linkedin.com/in/{who}",
            f"https://uk.linkedin.com/in/{who.upper()}/",
            f"http://www.linkedin.com/in/{who}?trk=soak#x",
            f"m.linkedin.com/in/{who}/recent-activity/all/",
        ]
    )
