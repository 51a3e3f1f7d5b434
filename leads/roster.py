"""Roster operations: list, add (with dedup), update and remove the leads of a campaign."""

from __future__ import annotations

import json
from uuid import UUID

import psycopg2.errors

from leads.campaigns import lock_campaign
from leads.db import ConnectionPool, Transaction, transaction
from leads.errors import CampaignNotFound, Conflict, NotFound, RosterFrozen
from leads.ids import new_lead_ids

IDENTITY_FIELD = {"email": "email", "linkedin": "linkedin_url"}
PROFILE_FIELDS = (
    "email",
    "linkedin_url",
    "first_name",
    "last_name",
    "name",
    "company",
    "position",
    "headline",
)


def campaign_type(pool: ConnectionPool, workspace_id: UUID, campaign_id: UUID) -> str:
    """The campaign's type (it never changes), or CampaignNotFound."""
    with transaction(pool, read_only=True) as tx:
        campaign = tx.fetch_one(
            "get_campaign", {"campaign_id": campaign_id, "workspace_id": workspace_id}
        )
    if campaign is None:
        raise CampaignNotFound()
    return campaign["type"]


def lock_draft_campaign(tx: Transaction, workspace_id: UUID, campaign_id: UUID) -> dict:
    campaign = lock_campaign(tx, workspace_id, campaign_id)
    if campaign["status"] != "draft":
        raise RosterFrozen(campaign["status"])
    return campaign


def list_leads(
    pool: ConnectionPool,
    workspace_id: UUID,
    campaign_id: UUID,
    *,
    page: int,
    limit: int,
    status: str | None,
) -> dict:
    with transaction(pool, read_only=True) as tx:
        campaign = tx.fetch_one(
            "get_campaign", {"campaign_id": campaign_id, "workspace_id": workspace_id}
        )
        if campaign is None:
            raise CampaignNotFound()
        total = tx.fetch_one("count_leads", {"campaign_id": campaign_id, "status": status})
        leads = tx.fetch_all(
            "list_leads",
            {
                "campaign_id": campaign_id,
                "status": status,
                "limit": limit,
                "offset": (page - 1) * limit,
            },
        )
    return {"prospects": leads, "total": total["total"], "page": page, "limit": limit}


def add_leads(
    pool: ConnectionPool,
    workspace_id: UUID,
    campaign_id: UUID,
    rows: list[dict],
    *,
    dry_run: bool = False,
) -> dict:
    """Add validated, normalized rows; dedup within the batch (first wins) and against the
    roster (the existing lead wins, untouched) through the unique constraint.

    A dry run does the same work in a transaction that is rolled back.
    """
    with transaction(pool, commit=not dry_run) as tx:
        campaign = lock_draft_campaign(tx, workspace_id, campaign_id)
        identity_field = IDENTITY_FIELD[campaign["type"]]

        first_index_of: dict[str, int] = {}
        unique_rows = []
        for index, row in enumerate(rows):
            identity = row[identity_field]
            if identity not in first_index_of:
                first_index_of[identity] = index
                unique_rows.append(row)

        ids = new_lead_ids(len(unique_rows))
        inserted = tx.fetch_all(
            "insert_leads",
            {"campaign_id": campaign_id, **_insert_columns(unique_rows, ids, identity_field)},
        )
        inserted_ids = {row["id"] for row in inserted}
        lead_id_of = {
            row[identity_field]: lead_id
            for row, lead_id in zip(unique_rows, ids, strict=True)
            if lead_id in inserted_ids
        }
        existing = [identity for identity in first_index_of if identity not in lead_id_of]
        if existing:
            for row in tx.fetch_all(
                "find_leads_by_identity", {"campaign_id": campaign_id, "identities": existing}
            ):
                lead_id_of[row["identity"]] = row["id"]

        results = []
        for index, row in enumerate(rows):
            identity = row[identity_field]
            if first_index_of[identity] != index:
                outcome, duplicate_of = "duplicate", "batch"
            elif lead_id_of[identity] in inserted_ids:
                outcome, duplicate_of = "imported", None
            else:
                outcome, duplicate_of = "duplicate", "campaign"
            results.append(
                {
                    "index": index,
                    "outcome": outcome,
                    "id": lead_id_of[identity],
                    "identity": identity,
                    "duplicate_of": duplicate_of,
                }
            )
        stats = tx.fetch_one("recalculate_campaign_stats", {"campaign_id": campaign_id})["stats"]

    response = {
        "imported": len(inserted_ids),
        "duplicates": len(rows) - len(inserted_ids),
        "results": results,
        "stats": stats,
    }
    if dry_run:
        response["dry_run"] = True
    return response


def _insert_columns(rows: list[dict], ids: list[UUID], identity_field: str) -> dict:
    """The rows as one array per column, for a single INSERT ... SELECT FROM unnest(...)."""
    return {
        "ids": ids,
        "identities": [row[identity_field] for row in rows],
        "emails": [row.get("email") for row in rows],
        "linkedin_urls": [row.get("linkedin_url") for row in rows],
        "first_names": [row.get("first_name") for row in rows],
        "last_names": [row.get("last_name") for row in rows],
        "names": [row.get("name") for row in rows],
        "companies": [row.get("company") for row in rows],
        "positions": [row.get("position") for row in rows],
        "headlines": [row.get("headline") for row in rows],
        "custom_fields": [json.dumps(row.get("custom_fields") or {}) for row in rows],
    }


def update_lead(
    pool: ConnectionPool, workspace_id: UUID, campaign_id: UUID, lead_id: UUID, updates: dict
) -> dict:
    """Change some fields of one lead; a new identity that another lead holds is a 409."""
    with transaction(pool) as tx:
        campaign = lock_draft_campaign(tx, workspace_id, campaign_id)
        identity_field = IDENTITY_FIELD[campaign["type"]]
        lead = tx.fetch_one("get_lead_for_update", {"lead_id": lead_id, "campaign_id": campaign_id})
        if lead is None:
            raise NotFound("Lead not found in this campaign.")
        changed = {**lead, **updates}
        changed["identity"] = changed[identity_field]
        params = {
            "lead_id": lead_id,
            "campaign_id": campaign_id,
            "identity": changed["identity"],
            "custom_fields": json.dumps(changed["custom_fields"]),
            **{field: changed[field] for field in PROFILE_FIELDS},
        }
        try:
            with tx.savepoint("update_lead"):
                tx.execute("update_lead", params)
        except psycopg2.errors.UniqueViolation:
            holder = tx.fetch_all(
                "find_leads_by_identity",
                {"campaign_id": campaign_id, "identities": [changed["identity"]]},
            )
            holder_id = holder[0]["id"] if holder else "another lead"
            raise Conflict(
                f"Lead {holder_id} in this campaign already has {identity_field} "
                f"{changed['identity']}.",
                errors={
                    "json": {"updates": {identity_field: [f"Already used by lead {holder_id}."]}}
                },
            ) from None
        return tx.fetch_one("get_lead", {"lead_id": lead_id, "campaign_id": campaign_id})


def delete_leads(
    pool: ConnectionPool, workspace_id: UUID, campaign_id: UUID, lead_ids: list[UUID] | None
) -> dict:
    """Remove the given leads (ids not in this campaign are skipped), or all when None."""
    with transaction(pool) as tx:
        lock_draft_campaign(tx, workspace_id, campaign_id)
        if lead_ids is None:
            tx.execute("delete_all_leads", {"campaign_id": campaign_id})
        else:
            tx.execute("delete_leads", {"campaign_id": campaign_id, "lead_ids": lead_ids})
        deleted = tx.rowcount
        stats = tx.fetch_one("recalculate_campaign_stats", {"campaign_id": campaign_id})["stats"]
    return {"deleted": deleted, "stats": stats}
