"""Roster operations: list, add (with dedup), update and remove the leads of a campaign."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from uuid import UUID

import orjson
import psycopg2.errors

from leads.db.pool import ConnectionPool, Transaction, read_all, read_one, transaction
from leads.domain import events
from leads.domain.cursors import ListCursor, after_params, encode_cursor
from leads.domain.identity import ascii_email_domain
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
    cursor: ListCursor | None = None,
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
            **after_params(cursor),
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
            ListCursor(campaign_id, last["created_at"], UUID(last["id"]), status)
        )
    return {
        "prospects": leads,
        "total": total,
        "page": page,
        "limit": limit,
        "next_cursor": next_cursor,
    }


def _check_cursor_fits(cursor: ListCursor, campaign_id: UUID, status: str | None) -> None:
    """A cursor continues the listing it came from: same campaign, same status filter."""
    if cursor.scope != campaign_id:
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
    dedupe: str = "campaign",
    dry_run: bool = False,
) -> dict:
    """Add validated, normalized rows: a row the suppression list matches is not added; of
    the rest, the first row of each identity is kept (the others are duplicates in the
    batch); with dedupe workspace or live, a kept identity that another campaign of the
    workspace holds is a duplicate of that lead; the unique constraint decides dedup
    against the roster (the existing lead wins, untouched). add_campaign_leads
    (leads/sql/functions/) applies every rule in one statement.

    `campaign_type` is the type the rows were validated against (a campaign's type never
    changes). A dry run does the same work in a transaction that is rolled back.
    """
    identity_field = IDENTITY_FIELD[campaign_type]
    ids = new_lead_ids(len(rows))
    insert_rows = _insert_rows(rows, ids, identity_field)

    with draft_roster(), transaction(pool, commit=not dry_run) as tx:
        added = tx.fetch_one(
            "add_leads",
            {
                "workspace_id": workspace_id,
                "campaign_id": campaign_id,
                "dedupe": dedupe,
                "rows": insert_rows,
            },
        )
    suppressed = added["suppressed"]  # position (as text) -> the matching entry
    elsewhere = added["elsewhere"]  # identity -> the lead of another campaign holding it
    existing = added["existing"]  # identity -> the id of the lead the roster held

    results = []
    kept_index_of: dict[str, int] = {}
    lead_id_of: dict[str, str] = {}
    imported = 0
    for index, row in enumerate(rows):
        identity = row["identity"]
        result = {"index": index, "outcome": "duplicate", "id": None, "identity": identity}
        entry = suppressed.get(str(index))
        if entry is not None:
            result.update(outcome="suppressed", duplicate_of=None, suppressed_by=entry)
        elif identity in kept_index_of:
            result.update(id=lead_id_of[identity], duplicate_of="batch")
        else:
            kept_index_of[identity] = index
            if identity in existing:
                lead_id_of[identity] = existing[identity]
                result.update(id=existing[identity], duplicate_of="campaign")
            elif identity in elsewhere:
                holder = elsewhere[identity]
                lead_id_of[identity] = holder["id"]
                result.update(
                    id=holder["id"], duplicate_of="workspace", campaign_id=holder["campaign_id"]
                )
            else:
                lead_id_of[identity] = row["id"]
                imported += 1
                result.update(outcome="imported", id=row["id"], duplicate_of=None)
        results.append(result)
    response = {
        "imported": imported,
        "duplicates": len(rows) - imported - len(suppressed),
        "suppressed": len(suppressed),
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
    in place rather than in a copy (the caller reads them back from the rows). orjson
    writes the array; it refuses integers beyond 64 bits, which custom_fields may hold
    (JSON does not bound them), and then json writes them.
    """
    for row, lead_id in zip(rows, ids, strict=True):
        row["id"] = lead_id
        row["identity"] = row[identity_field]
        email = row.get("email")
        if email is not None and not email.isascii():
            row["ascii_domain"] = ascii_email_domain(email)
    try:
        return orjson.dumps(rows).decode()
    except orjson.JSONEncodeError:
        return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))


def update_lead(
    pool: ConnectionPool, workspace_id: UUID, campaign_id: UUID, lead_id: UUID, updates: dict
) -> dict:
    """Change some fields of one lead. A new identity that another lead holds is a 409, and
    so is a new email or LinkedIn URL that the suppression list matches."""
    with draft_roster(), transaction(pool) as tx:
        campaign = tx.fetch_one(
            "lock_draft_campaign", {"workspace_id": workspace_id, "campaign_id": campaign_id}
        )
        identity_field = IDENTITY_FIELD[campaign["type"]]
        where = {"workspace_id": workspace_id, "lead_id": lead_id, "campaign_id": campaign_id}
        lead = tx.fetch_one("get_lead_for_update", where)
        if lead is None:
            raise NotFound("Lead not found in this campaign.")
        changed = {**lead, **updates}
        changed["identity"] = changed[identity_field]
        _refuse_suppressed(tx, workspace_id, lead, changed)
        params = {
            **where,
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
                {
                    "workspace_id": workspace_id,
                    "campaign_id": campaign_id,
                    "identities": [changed["identity"]],
                },
            )
            holder_id = holder[0]["id"] if holder else "another lead"
            raise Conflict(
                f"Lead {holder_id} in this campaign already has {identity_field} "
                f"{changed['identity']}.",
                errors={
                    "json": {"updates": {identity_field: [f"Already used by lead {holder_id}."]}}
                },
            ) from None
        updated = tx.fetch_one("get_lead", where)
        updated["custom_fields"] = orjson.Fragment(updated["custom_fields"])
        events.record(
            tx,
            workspace_id,
            "lead.updated",
            campaign_id,
            {"lead_id": str(lead_id), "fields": sorted(updates)},
        )
        return updated


def _refuse_suppressed(tx: Transaction, workspace_id: UUID, lead: dict, changed: dict) -> None:
    """A Conflict naming the entry when the update gives the lead an email or a LinkedIn
    URL that the suppression list matches. Only a changed value is checked: a lead added
    before its entry was keeps its other fields editable."""
    new = {
        field: changed[field]
        for field in ("email", "linkedin_url")
        if changed[field] is not None and changed[field] != lead[field]
    }
    if not new:
        return
    match = tx.fetch_one(
        "matching_suppressions",
        {
            "workspace_id": workspace_id,
            "emails": [new.get("email")],
            "linkedin_urls": [new.get("linkedin_url")],
            "ascii_domains": [new.get("email") and ascii_email_domain(new["email"])],
        },
    )
    if match is None:
        return
    field = "email" if match["kind"] in ("email", "domain") else "linkedin_url"
    message = f"Suppressed by entry {match['id']} ({match['kind']} {match['value']})."
    raise Conflict(
        f"The {field} {new[field]} is on the suppression list: entry {match['id']}.",
        errors={"json": {"updates": {field: [message]}}},
    )


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
