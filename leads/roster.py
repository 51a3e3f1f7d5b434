"""Roster operations: list, add (with dedup), update and remove the leads of a campaign."""

from __future__ import annotations

import json
from uuid import UUID

import psycopg2.errors

from leads.campaigns import lock_campaign
from leads.cursors import LeadCursor, encode_cursor
from leads.db import ConnectionPool, Transaction, transaction
from leads.errors import (
    BadRequest,
    CampaignNotFound,
    Conflict,
    NotFound,
    RosterFrozen,
    validation_message,
)
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
    page: int | None,
    limit: int,
    status: str | None,
    cursor: LeadCursor | None = None,
) -> dict:
    """One page of leads, by page number or after a cursor, with the cursor of the next.

    `prospects` holds each lead as JSON text, built by the database: a page is spliced
    into the response as it is (see leads/routes/json_bodies.py).
    """
    if cursor is not None:
        _check_cursor_fits(cursor, campaign_id, status)
        page = None
    with transaction(pool, read_only=True) as tx:
        counted = tx.fetch_one(
            "count_campaign_leads",
            {"campaign_id": campaign_id, "workspace_id": workspace_id, "status": status},
        )
        if counted is None:
            raise CampaignNotFound()
        leads = tx.fetch_all(
            "list_leads",
            {
                "campaign_id": campaign_id,
                "status": status,
                "after_created_at": cursor.created_at if cursor else None,
                "after_id": cursor.lead_id if cursor else None,
                # One row more than the page tells whether there is a next page.
                "limit": limit + 1,
                "offset": 0 if page is None else (page - 1) * limit,
            },
        )
    next_cursor = None
    if len(leads) > limit:
        leads = leads[:limit]
        last = leads[-1]
        next_cursor = encode_cursor(LeadCursor(campaign_id, last["created_at"], last["id"], status))
    return {
        "prospects": [lead["lead_json"] for lead in leads],
        "total": counted["total"],
        "page": page,
        "limit": limit,
        "next_cursor": next_cursor,
    }


def _check_cursor_fits(cursor: LeadCursor, campaign_id: UUID, status: str | None) -> None:
    """A cursor continues the listing it came from: same campaign, same status filter."""
    if cursor.campaign_id != campaign_id:
        problem = "This cursor belongs to another campaign."
    elif cursor.status != status:
        issued = (
            "without a status filter" if cursor.status is None else f"for status={cursor.status}"
        )
        problem = f"This cursor was issued {issued}; list with the same status filter."
    else:
        return
    errors = {"query": {"cursor": [problem]}}
    raise BadRequest(validation_message(errors), errors=errors)


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
