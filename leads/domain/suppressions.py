"""The suppression list (do-not-contact): add entries (and remove what they match from the
draft rosters), list, remove and check identities against it.

What an entry matches is decided in one place, the SQL function matching_suppressions
(leads/sql/functions/): roster adds and updates (leads/domain/roster.py) and the check
below all go through it.
"""

from __future__ import annotations

from uuid import UUID

import idna
import orjson

from leads.db.pool import ConnectionPool, read_all, transaction
from leads.domain import events
from leads.domain.cursors import ListCursor, after_params, encode_cursor, filter_scope
from leads.domain.identity import ascii_email_domain
from leads.domain.ids import new_lead_ids
from leads.errors import BadRequest, validation_message


def add_suppressions(
    pool: ConnectionPool, workspace_id: UUID, entries: list[dict], *, remove_from_drafts: bool
) -> dict:
    """Add validated, normalized entries: the first of each (kind, value) in the request is
    added unless the list holds it already; the others are duplicates of it. With
    `remove_from_drafts`, the leads they match leave every draft roster in the same
    transaction."""
    first_index_of: dict[tuple[str, str], int] = {}
    unique = []
    for index, entry in enumerate(entries):
        key = (entry["kind"], entry["value"])
        if key not in first_index_of:
            first_index_of[key] = index
            unique.append(entry)
    ids = new_lead_ids(len(unique))
    id_of = {}
    for entry, entry_id in zip(unique, ids, strict=True):
        entry["id"] = id_of[(entry["kind"], entry["value"])] = entry_id
        if entry["kind"] == "domain" and "xn--" in entry["value"]:
            # Leads hold an internationalized domain in its Unicode form (normalize_email).
            entry["unicode_value"] = idna.decode(entry["value"])

    with transaction(pool) as tx:
        added = tx.fetch_one(
            "add_suppressions",
            {
                "workspace_id": workspace_id,
                "entries": orjson.dumps(unique).decode(),
                "remove_from_drafts": remove_from_drafts,
            },
        )
    existing = added["existing"]  # "kind:value" -> the id of the entry the list held
    for key_text, entry_id in existing.items():
        kind, _, value = key_text.partition(":")
        id_of[(kind, value)] = entry_id

    results = []
    for index, entry in enumerate(entries):
        key = (entry["kind"], entry["value"])
        is_new = first_index_of[key] == index and f"{key[0]}:{key[1]}" not in existing
        results.append(
            {
                "index": index,
                "outcome": "added" if is_new else "duplicate",
                "id": id_of[key],
                "value": entry["value"],
            }
        )
    added_count = len(unique) - len(existing)
    response = {
        "added": added_count,
        "duplicates": len(entries) - added_count,
        "results": results,
    }
    if remove_from_drafts:
        campaigns = added["removed"]
        response["removed_from_drafts"] = {
            "leads": sum(campaign["removed"] for campaign in campaigns),
            "campaigns": campaigns,
        }
    return response


def list_suppressions(
    pool: ConnectionPool,
    workspace_id: UUID,
    *,
    kind: str | None,
    q: str | None,
    limit: int,
    cursor: ListCursor | None,
) -> dict:
    """One page of entries, oldest first, with the total of the filters and the cursor of
    the next page."""
    scope = filter_scope("suppressions", kind, q)
    if cursor is not None and cursor.scope != scope:
        problem = "This cursor was issued for other filters; list with the same kind and q."
        errors = {"query": {"cursor": [problem]}}
        raise BadRequest(validation_message(errors), errors=errors)
    rows = read_all(
        pool,
        "list_suppressions",
        {
            "workspace_id": workspace_id,
            "kind": kind,
            "q": q,
            **after_params(cursor),
            "page_size": limit,
        },
    )
    total = rows[0]["total"]
    entries = [
        {key: row[key] for key in ("id", "kind", "value", "reason", "note", "created_at")}
        for row in rows
        if row["id"] is not None
    ]
    next_cursor = None
    if len(entries) > limit:
        del entries[limit:]
        last = entries[-1]
        next_cursor = encode_cursor(ListCursor(scope, last["created_at"], last["id"], None))
    return {"suppressions": entries, "total": total, "next_cursor": next_cursor}


def delete_suppressions(pool: ConnectionPool, workspace_id: UUID, ids: list[UUID]) -> dict:
    """Remove entries by id; ids that are no entry of the workspace are skipped."""
    with transaction(pool) as tx:
        deleted = tx.fetch_all(
            "delete_suppressions",
            {"workspace_id": workspace_id, "ids": [str(entry_id) for entry_id in ids]},
        )
        if deleted:
            deleted_ids = sorted(str(row["id"]) for row in deleted)
            events.record(
                tx,
                workspace_id,
                "suppressions.removed",
                None,
                {"ids": deleted_ids, "count": len(deleted_ids)},
            )
    return {"deleted": len(deleted)}


def check_identities(pool: ConnectionPool, workspace_id: UUID, identities: list[dict]) -> dict:
    """Which of these identities (each {"email": ...} or {"linkedin_url": ...}, normalized)
    the list matches, and by which entry. Reads only."""
    emails = [identity.get("email") for identity in identities]
    matches = read_all(
        pool,
        "matching_suppressions",
        {
            "workspace_id": workspace_id,
            "emails": emails,
            "linkedin_urls": [identity.get("linkedin_url") for identity in identities],
            "ascii_domains": [email and ascii_email_domain(email) for email in emails],
        },
    )
    entry_at = {
        match["n"] - 1: {
            key: match[key] for key in ("id", "kind", "value", "reason", "note", "created_at")
        }
        for match in matches
    }
    return {
        "results": [
            {"index": index, "suppressed": index in entry_at, "matched": entry_at.get(index)}
            for index in range(len(identities))
        ]
    }
