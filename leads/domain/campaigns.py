"""Campaign operations: create, read, and the status transitions that freeze the roster."""

from __future__ import annotations

from uuid import UUID

import psycopg2.errors

from leads.db.pool import ConnectionPool, Transaction, read_all, transaction
from leads.domain import events
from leads.errors import BadRequest, CampaignNotFound, Conflict
from leads_contract.values import CAMPAIGN_TRANSITIONS


def parse_campaign_id(value: str) -> UUID:
    """A path id that is not a UUID is a missing campaign, with the same 404 body."""
    try:
        return UUID(value)
    except (ValueError, TypeError):
        raise CampaignNotFound() from None


def create_campaign(pool: ConnectionPool, workspace_id: UUID, name: str, type_: str) -> dict:
    with transaction(pool) as tx:
        try:
            with tx.savepoint("create_campaign"):
                row = tx.fetch_one(
                    "create_campaign", {"workspace_id": workspace_id, "name": name, "type": type_}
                )
        except psycopg2.errors.UniqueViolation:
            raise Conflict(f"A campaign named {name!r} already exists in this workspace.") from None
        tx.execute(
            "recalculate_campaign_stats", {"workspace_id": workspace_id, "campaign_id": row["id"]}
        )
        campaign = tx.fetch_one(
            "get_campaign", {"campaign_id": row["id"], "workspace_id": workspace_id}
        )
        events.record(
            tx, workspace_id, "campaign.created", row["id"], {"name": name, "type": type_}
        )
        return campaign


def list_campaigns(pool: ConnectionPool, workspace_id: UUID) -> list[dict]:
    return read_all(pool, "list_campaigns", {"workspace_id": workspace_id})


def get_campaign(pool: ConnectionPool, workspace_id: UUID, campaign_id: UUID) -> dict:
    with transaction(pool, read_only=True) as tx:
        campaign = tx.fetch_one(
            "get_campaign", {"campaign_id": campaign_id, "workspace_id": workspace_id}
        )
        if campaign is None:
            raise CampaignNotFound()
        counts = tx.fetch_all(
            "count_leads_by_status", {"workspace_id": workspace_id, "campaign_id": campaign_id}
        )
    return {
        "campaign": campaign,
        "prospects_by_status": {row["status"]: row["lead_count"] for row in counts},
    }


def lock_campaign(tx: Transaction, workspace_id: UUID, campaign_id: UUID) -> dict:
    """Lock the campaign row for the rest of the transaction: writes and launches serialize.
    CampaignNotFound when it is not in the workspace."""
    campaign = tx.fetch_one(
        "lock_campaign", {"campaign_id": campaign_id, "workspace_id": workspace_id}
    )
    if campaign is None:
        raise CampaignNotFound()
    return campaign


def transition_campaign(
    pool: ConnectionPool, workspace_id: UUID, campaign_id: UUID, transition: str
) -> dict:
    allowed_from, target = CAMPAIGN_TRANSITIONS[transition]
    with transaction(pool) as tx:
        campaign = lock_campaign(tx, workspace_id, campaign_id)
        if campaign["status"] not in allowed_from:
            raise BadRequest(
                f"Cannot {transition} a campaign that is {campaign['status']}; "
                f"it must be {' or '.join(allowed_from)}."
            )
        changed = tx.fetch_one(
            "set_campaign_status",
            {"workspace_id": workspace_id, "campaign_id": campaign_id, "status": target},
        )
        events.record(
            tx,
            workspace_id,
            "campaign.status_changed",
            campaign_id,
            {"from": campaign["status"], "to": target},
        )
        return changed
