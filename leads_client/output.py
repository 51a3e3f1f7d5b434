"""What the commands print: readable tables on a terminal, JSON or CSV for programs."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from tabulate import tabulate

from leads_client.importer import ImportSummary
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


def write_json_items(
    out: IO[str], key: str, items: Iterator[Mapping[str, Any]], tail: Mapping
) -> None:
    """`{<key>: [...], <tail>}` written item by item, so `--all` never holds every lead or
    event in memory. `tail` is read after the last item (it may be filled meanwhile)."""
    out.write(f'{{\n  "{key}": [')
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


def summary_data(summary: ImportSummary, position_name: str) -> dict[str, Any]:
    return {
        "rows": summary.rows,
        "imported": summary.imported,
        "duplicates": summary.duplicates,
        "rejected": [
            {position_name: rejection.position, "reason": rejection.reason}
            for rejection in sorted(summary.rejected, key=lambda rejection: rejection.position)
        ],
        "replayed_batches": summary.replayed_batches,
        "dry_run": summary.dry_run,
        "complete": summary.complete,
    }


def summary_text(summary: ImportSummary, position_name: str) -> str:
    heading = "Dry run (nothing written)" if summary.dry_run else "Import"
    state = "complete" if summary.complete else "INTERRUPTED"
    would = "would be " if summary.dry_run else ""
    lines = [
        f"{heading}: {state}, {summary.rows} rows",
        f"  {would}imported: {summary.imported}",
        f"  duplicates: {summary.duplicates}",
        f"  rejected: {len(summary.rejected)}",
    ]
    label = "line" if position_name == "line" else "prospects"
    for rejection in sorted(summary.rejected, key=lambda rejection: rejection.position):
        place = (
            f"line {rejection.position}" if label == "line" else f"prospects[{rejection.position}]"
        )
        lines.append(f"    {place}: {rejection.reason}")
    if summary.replayed_batches:
        lines.append(
            f"  {summary.replayed_batches} batch(es) were answered from an earlier identical "
            "request (Idempotency-Key replay); if you removed leads since, re-run with "
            "--fresh-keys"
        )
    return "\n".join(lines)
