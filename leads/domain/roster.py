"""Roster operations: list, add (with dedup), update and remove the leads of a campaign."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from uuid import UUID

import orjson
import psycopg2.errors

from leads.db.pool import ConnectionPool, read_all, read_one, transaction
from leads.domain.cursors import LeadCursor, encode_cursor
from leads.domain.ids import new_lead_ids
from leads.errors import (
    BadRequest,
    CampaignNotFound,
    Conflict,
    NotFound,
    RosterFrozen,
    validation_message,
)
from leads_contract.values import IDENTITY_FIELD, TEXT_FIELDS


def campaign_type(pool: ConnectionPool, workspace_id: UUID, campaign_id: UUID) -> str:
    """The campaign's type (it never changes); CampaignNotFound when the campaign is not in
    the workspace."""
    campaign = read_one(
        pool, "find_campaign_type", {"campaign_id": campaign_id, "workspace_id": workspace_id}
    )
    if campaign is None:
        raise CampaignNotFound()
    return campaign["type"]


# The errors of the SQL function lock_draft_campaign (leads/sql/functions/), which every
# write of a roster runs first.
CAMPAIGN_NOT_FOUND = "LD404"
ROSTER_FROZEN = "LD400"


@contextmanager
def draft_roster() -> Iterator[None]:
    """Turn lock_draft_campaign's refusals, raised by the database inside the block, into
    the API's: CampaignNotFound, and RosterFrozen with the campaign's status. The
    transaction the block ran in has rolled back: nothing was written."""
    try:
        yield
    except psycopg2.Error as error:
        if error.pgcode == CAMPAIGN_NOT_FOUND:
            raise CampaignNotFound() from None
        if error.pgcode == ROSTER_FROZEN:
            raise RosterFrozen(error.diag.message_detail) from None
        raise


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
    """One page of leads, by page number or after a cursor, with the total and the cursor
    of the next. CampaignNotFound when the campaign is not in the workspace.

    Each lead is a dict of what the API sends, ready for orjson: ids as text, custom_fields
    as the JSON text the database holds (see leads/web/json_bodies.py).
    """
    if cursor is not None:
        _check_cursor_fits(cursor, campaign_id, status)
        page = None
    # One statement: the campaign check, the page and the total see one snapshot.
    rows = read_all(
        pool,
        "list_leads",
        {
            "campaign_id": campaign_id,
            "workspace_id": workspace_id,
            "status": status,
            "after_created_at": cursor.created_at if cursor else None,
            "after_id": cursor.lead_id if cursor else None,
            "page_size": limit,
            "offset": 0 if page is None else (page - 1) * limit,
        },
        as_tuples=True,
    )
    if not rows:
        raise CampaignNotFound()
    # The campaign's row first (the total), then the leads of the campaign asked for, whose
    # id the database does not repeat on each row.
    (total, *_), *lead_rows = rows
    lead_campaign_id = str(campaign_id)
    # A dict display per lead, in the columns' order of the query, rather than dict(zip())
    # or a dict cursor, which build each row's keys again. The timestamps arrive as the
    # server's text and become the same datetimes psycopg2's caster would make, with less
    # work per value.
    leads = [
        {
            "id": lead_id,
            "campaign_id": lead_campaign_id,
            "status": lead_status,
            "email": email,
            "linkedin_url": linkedin_url,
            "first_name": first_name,
            "last_name": last_name,
            "name": name,
            "company": company,
            "position": position,
            "headline": headline,
            "custom_fields": orjson.Fragment(custom_fields),
            "created_at": datetime.fromisoformat(created_at),
            "updated_at": datetime.fromisoformat(updated_at),
        }
        for (
            _,
            lead_id,
            lead_status,
            email,
            linkedin_url,
            first_name,
            last_name,
            name,
            company,
            position,
            headline,
            custom_fields,
            created_at,
            updated_at,
        ) in lead_rows
    ]
    next_cursor = None
    if len(leads) > limit:
        del leads[limit:]
        last = leads[-1]
        next_cursor = encode_cursor(
            LeadCursor(campaign_id, last["created_at"], UUID(last["id"]), status)
        )
    return {
        "prospects": leads,
        "total": total,
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
    campaign_type: str,
    rows: list[dict],
    *,
    dry_run: bool = False,
) -> dict:
    """Add validated, normalized rows; dedup within the batch (first wins) and against the
    roster (the existing lead wins, untouched) through the unique constraint.

    `campaign_type` is the type the rows were validated against (a campaign's type never
    changes). The campaign is locked, checked and written in one statement (add_leads);
    a dry run does the same work in a transaction that is rolled back.
    """
    identity_field = IDENTITY_FIELD[campaign_type]
    first_index_of: dict[str, int] = {}
    unique_rows = []
    for index, row in enumerate(rows):
        identity = row[identity_field]
        if identity not in first_index_of:
            first_index_of[identity] = index
            unique_rows.append(row)
    ids = new_lead_ids(len(unique_rows))
    lead_id_of = dict(zip(first_index_of, ids, strict=True))
    insert_rows = _insert_rows(unique_rows, ids, identity_field)

    with draft_roster(), transaction(pool, commit=not dry_run) as tx:
        added = tx.fetch_one(
            "add_leads",
            {"workspace_id": workspace_id, "campaign_id": campaign_id, "rows": insert_rows},
        )
    existing = added["existing"]  # identity -> the id of the lead the roster held
    lead_id_of.update(existing)

    results = []
    for index, row in enumerate(rows):
        identity = row[identity_field]
        if first_index_of[identity] != index:
            outcome, duplicate_of = "duplicate", "batch"
        elif identity in existing:
            outcome, duplicate_of = "duplicate", "campaign"
        else:
            outcome, duplicate_of = "imported", None
        results.append(
            {
                "index": index,
                "outcome": outcome,
                "id": lead_id_of[identity],
                "identity": identity,
                "duplicate_of": duplicate_of,
            }
        )
    imported = len(unique_rows) - len(existing)
    response = {
        "imported": imported,
        "duplicates": len(rows) - imported,
        "results": results,
        "stats": added["stats"],
    }
    if dry_run:
        response["dry_run"] = True
    return response


def _insert_rows(rows: list[dict], ids: list[str], identity_field: str) -> str:
    """The rows as one JSON array of objects, read by json_to_recordset in
    add_campaign_leads (leads/sql/functions/add_campaign_leads.sql).

    The rows are this request's own, fresh from validation: each gets its id and identity
    in place rather than in a copy. orjson writes the array; it refuses integers beyond 64
    bits, which custom_fields may hold (JSON does not bound them), and then json writes
    them.
    """
    for row, lead_id in zip(rows, ids, strict=True):
        row["id"] = lead_id
        row["identity"] = row[identity_field]
    try:
        return orjson.dumps(rows).decode()
    except orjson.JSONEncodeError:
        return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))


def update_lead(
    pool: ConnectionPool, workspace_id: UUID, campaign_id: UUID, lead_id: UUID, updates: dict
) -> dict:
    """Change some fields of one lead; a new identity that another lead holds is a 409."""
    with draft_roster(), transaction(pool) as tx:
        campaign = tx.fetch_one(
            "lock_draft_campaign", {"workspace_id": workspace_id, "campaign_id": campaign_id}
        )
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
            **{field: changed[field] for field in TEXT_FIELDS},
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
    """Remove the given leads (ids not in this campaign are skipped), or all when None;
    the number removed and the campaign's stats after it."""
    # As text, the ids travel as one array literal cast once (the query's ::uuid[]); psycopg2
    # would write each UUID object with a cast of its own, adapted in Python one by one.
    ids = None if lead_ids is None else [str(lead_id) for lead_id in lead_ids]
    with draft_roster(), transaction(pool) as tx:
        outcome = tx.fetch_one(
            "delete_leads",
            {"workspace_id": workspace_id, "campaign_id": campaign_id, "lead_ids": ids},
        )
    return {"deleted": outcome["deleted"], "stats": outcome["stats"]}
