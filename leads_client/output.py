"""What the commands print: readable tables on a terminal, JSON or CSV for programs."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from tabulate import tabulate

from leads_client.importer import ImportSummary, LeadSummary, Noted, SuppressionSummary
from leads_contract.values import CUSTOM_FIELDS, EVENT_TYPES, TEXT_FIELDS

# The lead object's keys, in the API's order.
LEAD_COLUMNS = (
    "id",
    "campaign_id",
    "status",
    *TEXT_FIELDS,
    CUSTOM_FIELDS,
    "created_at",
    "updated_at",
)
LEAD_TABLE_COLUMNS = ("id", "status", "email", "linkedin_url", "name", "company")
CAMPAIGN_COLUMNS = ("id", "name", "type", "status", "leads", "created_at", "updated_at")
CAMPAIGN_TABLE_COLUMNS = ("id", "name", "type", "status", "leads", "created_at")
# A suppression entry's keys, in the API's order; a `suppression check` result's columns.
SUPPRESSION_COLUMNS = ("id", "kind", "value", "reason", "note", "created_at")
CHECK_COLUMNS = ("identity", "suppressed", "matched", "reason", "entry_id")
# An event line's columns are padded to these widths so that lines printed one by one
# (`events --follow`) still line up.
EVENT_TYPE_WIDTH = max(len(event_type) for event_type in EVENT_TYPES)
ID_WIDTH = len("00000000-0000-0000-0000-000000000000")


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def table(rows: Iterable[Mapping[str, Any]], columns: Iterable[str]) -> str:
    columns = tuple(columns)
    return tabulate(
        [[_cell(row.get(column)) for column in columns] for row in rows],
        headers=[column.upper().replace("_", " ") for column in columns],
        tablefmt="simple",
        disable_numparse=True,
    )


def key_values(pairs: Iterable[tuple[str, Any]]) -> str:
    return tabulate(
        [[key, _cell(value)] for key, value in pairs], tablefmt="plain", disable_numparse=True
    )


def campaign_row(campaign: Mapping[str, Any]) -> dict[str, Any]:
    return {**campaign, "leads": (campaign.get("stats") or {}).get("total")}


def campaign_text(campaign: Mapping[str, Any], by_status: Mapping[str, int] | None = None) -> str:
    stats = campaign.get("stats") or {}
    pairs = [
        ("id", campaign["id"]),
        ("name", campaign["name"]),
        ("type", campaign["type"]),
        ("status", campaign["status"]),
        ("leads", stats.get("total")),
        ("contacted", stats.get("contacted")),
        ("created_at", campaign["created_at"]),
        ("updated_at", campaign["updated_at"]),
    ]
    text = key_values(pairs)
    if by_status:
        text += "\n\nLeads by status:\n" + key_values(by_status.items())
    return text


def check_row(result: Mapping[str, Any]) -> dict[str, Any]:
    """A `suppression check` result as a table row: the identity, and the entry it matched."""
    matched = result["matched"] or {}
    return {
        "identity": result.get("email", result.get("linkedin_url")),
        "suppressed": "yes" if result["suppressed"] else "no",
        "matched": f"{matched['kind']} {matched['value']}" if matched else None,
        "reason": matched.get("reason"),
        "entry_id": matched.get("id"),
    }


def lead_text(lead: Mapping[str, Any]) -> str:
    return key_values((column, lead.get(column)) for column in LEAD_COLUMNS)


def write_csv(out: IO[str], rows: Iterable[Mapping[str, Any]], columns: Iterable[str]) -> None:
    columns = tuple(columns)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])


def json_line(data: Any) -> str:
    """One JSON document on one line (JSON Lines)."""
    return json.dumps(data, ensure_ascii=False)


def write_json_stream(
    out: IO[str], name: str, items: Iterator[Mapping[str, Any]], tail: Mapping
) -> None:
    """`{<name>: [...], <tail>}` written item by item, so that a listing of every page never
    holds them all in memory. `tail` is read after the last item (it may be filled
    meanwhile)."""
    out.write(f"{{\n  {json.dumps(name)}: [")
    first = True
    for item in items:
        out.write("\n    " if first else ",\n    ")
        out.write(json_line(item))
        first = False
    out.write("\n  ]" if not first else "]")
    for key, value in tail.items():
        out.write(f",\n  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    out.write("\n}\n")


def event_line(event: Mapping[str, Any]) -> str:
    """An event on one line: when, type, campaign (- for the suppression list), data."""
    event_type = f"{event['type']:<{EVENT_TYPE_WIDTH}}"
    campaign = f"{event['campaign_id'] or '-':<{ID_WIDTH}}"
    return f"{event['occurred_at']}  {event_type}  {campaign}  {_cell(event['data'])}"


# Import summaries. `place_name` says how rows are named: "line" (a file's line numbers) or
# the name of the JSON array they came from ("prospects", "entries": `prospects[3]`).


def _place_key(place_name: str) -> str:
    return "line" if place_name == "line" else "index"


def _place(place_name: str, position: int) -> str:
    return f"line {position}" if place_name == "line" else f"{place_name}[{position}]"


def _by_position(items: Iterable[Any]) -> list[Any]:
    return sorted(items, key=lambda item: item.position)


def _rejected_data(summary: ImportSummary, place_name: str) -> list[dict[str, Any]]:
    return [
        {_place_key(place_name): rejection.position, "reason": rejection.reason}
        for rejection in _by_position(summary.rejected)
    ]


def _noted_data(noted: Iterable[Noted], place_name: str, detail: str | None) -> list[dict]:
    """Named rows: `{line, identity, <detail>: {...}}`, or the detail's keys inline."""
    return [
        {
            _place_key(place_name): item.position,
            "identity": item.identity,
            **({detail: dict(item.detail)} if detail else item.detail),
        }
        for item in _by_position(noted)
    ]


def _heading(summary: ImportSummary, heading: str = "Import") -> str:
    state = "complete" if summary.complete else "INTERRUPTED"
    return f"{heading}: {state}, {summary.rows} rows"


def _rejected_lines(summary: ImportSummary, place_name: str) -> list[str]:
    return [f"  rejected: {len(summary.rejected)}"] + [
        f"    {_place(place_name, rejection.position)}: {rejection.reason}"
        for rejection in _by_position(summary.rejected)
    ]


def _replay_lines(summary: ImportSummary, removed: str) -> list[str]:
    if not summary.replayed_batches:
        return []
    return [
        f"  {summary.replayed_batches} batch(es) were answered from an earlier identical "
        f"request (Idempotency-Key replay); if you removed {removed} since, re-run with "
        "--fresh-keys"
    ]


def lead_summary_data(summary: LeadSummary, place_name: str) -> dict[str, Any]:
    return {
        "rows": summary.rows,
        "imported": summary.imported,
        "duplicates": summary.duplicates,
        "suppressed": summary.suppressed,
        "rejected": _rejected_data(summary, place_name),
        "workspace_duplicates": _noted_data(summary.workspace_duplicates, place_name, None),
        "suppressed_rows": _noted_data(summary.suppressed_rows, place_name, "suppressed_by"),
        "replayed_batches": summary.replayed_batches,
        "dry_run": summary.dry_run,
        "complete": summary.complete,
    }


def lead_summary_text(summary: LeadSummary, place_name: str) -> str:
    heading = "Dry run (nothing written)" if summary.dry_run else "Import"
    would = "would be " if summary.dry_run else ""
    elsewhere = summary.workspace_duplicates
    lines = [
        _heading(summary, heading),
        f"  {would}imported: {summary.imported}",
        f"  duplicates: {summary.duplicates}"
        + (f" ({len(elsewhere)} in other campaigns)" if elsewhere else ""),
    ]
    lines += [
        f"    {_place(place_name, item.position)}: {item.identity} is in campaign "
        f"{item.detail['campaign_id']} (lead {item.detail['id']})"
        for item in _by_position(elsewhere)
    ]
    lines.append(f"  suppressed: {summary.suppressed}")
    lines += [
        f"    {_place(place_name, item.position)}: {item.identity}, by the "
        f"{item.detail['kind']} entry {item.detail['value']}"
        for item in _by_position(summary.suppressed_rows)
    ]
    lines += _rejected_lines(summary, place_name)
    lines += _replay_lines(summary, "leads")
    return "\n".join(lines)


def suppression_summary_data(summary: SuppressionSummary, place_name: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rows": summary.rows,
        "added": summary.added,
        "duplicates": summary.duplicates,
        "rejected": _rejected_data(summary, place_name),
        "replayed_batches": summary.replayed_batches,
        "complete": summary.complete,
    }
    if summary.removed_from_drafts is not None:
        removed = summary.removed_from_drafts
        data["removed_from_drafts"] = {
            "leads": sum(removed.values()),
            "campaigns": [{"id": key, "removed": removed[key]} for key in sorted(removed)],
        }
    return data


def suppression_summary_text(summary: SuppressionSummary, place_name: str) -> str:
    lines = [
        _heading(summary),
        f"  added: {summary.added}",
        f"  duplicates: {summary.duplicates}",
        *_rejected_lines(summary, place_name),
    ]
    removed = summary.removed_from_drafts
    if removed is not None:
        lines.append(
            f"  removed from draft rosters: {sum(removed.values())} leads, "
            f"from {len(removed)} campaigns"
        )
        lines += [f"    campaign {key}: {removed[key]}" for key in sorted(removed)]
    lines += _replay_lines(summary, "entries")
    return "\n".join(lines)


def summary_data(summary: ImportSummary, place_name: str) -> dict[str, Any]:
    """Any import's summary as JSON data."""
    if isinstance(summary, SuppressionSummary):
        return suppression_summary_data(summary, place_name)
    assert isinstance(summary, LeadSummary)
    return lead_summary_data(summary, place_name)


def summary_text(summary: ImportSummary, place_name: str) -> str:
    """Any import's summary as text."""
    if isinstance(summary, SuppressionSummary):
        return suppression_summary_text(summary, place_name)
    assert isinstance(summary, LeadSummary)
    return lead_summary_text(summary, place_name)
