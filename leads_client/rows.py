"""Reading rows from CSV, JSON Lines or a JSON argument, one at a time, with positions. The
same readers serve leads (ColumnMapping) and suppression entries (EntryMapping): a mapping
turns a header, or a JSON object's keys, into what each row's values make.

Leads: every input goes through one mapping rule: a column (CSV) or key (JSON) whose name matches
a lead field, case and punctuation aside or through a common alias ("E-mail", "Job title"),
fills that field; `custom_fields` (a JSON object) is the base of the lead's custom fields;
the read-only columns of an exported roster (`id`, `status`, ...) are ignored, so that an
export imports into another campaign; every other column becomes a custom field under a
key matching ^[A-Za-z0-9_]{1,64}$ (the name itself when it already matches, else its
snake_case: "Company Size" -> "company_size").

Suppression entries: see EntryMapping.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar, Protocol

from leads_contract import strict_json
from leads_contract.values import (
    CUSTOM_FIELDS,
    READ_ONLY_FIELDS,
    SUPPRESSION_KINDS,
    TEXT_FIELDS,
)

CUSTOM_KEY = re.compile(r"^[A-Za-z0-9_]{1,64}$")
CUSTOM_KEY_MAX_LENGTH = 64

# Column names people export from CRMs and spreadsheets, after `slug()`.
ALIASES = {
    "e_mail": "email",
    "email_address": "email",
    "e_mail_address": "email",
    "mail": "email",
    "linkedin": "linkedin_url",
    "linkedin_profile": "linkedin_url",
    "linkedin_profile_url": "linkedin_url",
    "linkedinurl": "linkedin_url",
    "profile_url": "linkedin_url",
    "firstname": "first_name",
    "given_name": "first_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "full_name": "name",
    "fullname": "name",
    "company_name": "company",
    "organization": "company",
    "organisation": "company",
    "title": "position",
    "job_title": "position",
    "customfields": CUSTOM_FIELDS,
}

# Python's csv module refuses fields above 128 KiB by default; a lead's largest field
# (custom_fields, 16 KiB of UTF-8) fits easily, so a bigger one means a broken quote.
csv.field_size_limit(1024 * 1024)


# Decoding runs ahead of parsing by a buffer, so the line of a bad byte is not known.
NOT_UTF8 = "the file is not valid UTF-8 text (save it as UTF-8 and re-run)"


class InputError(ValueError):
    """The input as a whole cannot be read (bad header, broken encoding, broken CSV)."""


@dataclass
class SourceRow:
    """One item as read (a lead, a suppression entry), or the reason it cannot be sent.
    `position` is a file line number (1-based, where the row starts) or an index in a JSON
    array (0-based)."""

    position: int
    item: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None


class ItemMapping(Protocol):
    """What a header (or a JSON object's keys) makes of a row's values. `item` raises
    ValueError, with the reason, for a row that makes no valid item."""

    noun: ClassVar[str]  # what an item is called: "lead", "entry"

    @classmethod
    def from_names(cls, names: Iterable[str]) -> ItemMapping: ...

    def fields(self) -> set[str]:
        """The item fields some column fills."""
        ...

    def item(self, values: Iterable[Any]) -> dict[str, Any]: ...

    def csv_item(self, cells: list[str]) -> dict[str, Any]: ...


def slug(name: str) -> str:
    """`E-mail Address` -> `e_mail_address`: how column names are compared."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")


def custom_key(name: str, column_number: int) -> str:
    """A custom field key for a column: kept when it is already a valid key, otherwise
    snake_case ("Company Size" -> "company_size": accents dropped, lowercased, every run
    of other characters -> `_`), cut to 64 characters; `column_<n>` when nothing is left."""
    if CUSTOM_KEY.match(name):
        return name
    return slug(name)[:CUSTOM_KEY_MAX_LENGTH].strip("_") or f"column_{column_number}"


@dataclass(frozen=True)
class ColumnMapping:
    """Where each column's value goes: ("field", name), ("custom", key), ("custom_fields",)
    or ("ignore",)."""

    targets: tuple[tuple[str, ...], ...]
    noun: ClassVar[str] = "lead"

    @classmethod
    def from_names(cls, names: Iterable[str]) -> ColumnMapping:
        targets: list[tuple[str, ...]] = []
        field_columns: dict[str, str] = {}
        used_keys: set[str] = set()
        for number, name in enumerate(names, start=1):
            name = name or ""
            key = slug(name)
            target = ALIASES.get(key, key)
            if target in TEXT_FIELDS or target == CUSTOM_FIELDS:
                if target in field_columns:
                    raise InputError(f"{field_columns[target]!r} and {name!r} both map to {target}")
                field_columns[target] = name
                targets.append(("field", target) if target in TEXT_FIELDS else (CUSTOM_FIELDS,))
            elif target in READ_ONLY_FIELDS:
                targets.append(("ignore",))
            else:
                custom = _unique(custom_key(name.strip(), number), used_keys)
                used_keys.add(custom)
                targets.append(("custom", custom))
        return cls(tuple(targets))

    def fields(self) -> set[str]:
        return {target[1] for target in self.targets if target[0] == "field"}

    def item(self, values: Iterable[Any]) -> dict[str, Any]:
        """The lead for one row's values (in column order). Blank values are left out."""
        lead: dict[str, Any] = {}
        base: Any = None
        extra: dict[str, Any] = {}
        for target, value in zip(self.targets, values, strict=False):
            if is_blank(value):
                continue
            if target[0] == "field":
                lead[target[1]] = value
            elif target[0] == "custom":
                extra[target[1]] = value
            elif target[0] == CUSTOM_FIELDS:
                base = value
        if base is not None or extra:
            if base is not None and not isinstance(base, dict):
                raise ValueError("custom_fields must be a JSON object")
            lead[CUSTOM_FIELDS] = {**(base or {}), **extra}
        return lead

    def csv_item(self, cells: list[str]) -> dict[str, Any]:
        """The lead for one CSV row: a custom_fields cell holds JSON."""
        return self.item(self._csv_values(cells))

    def _csv_values(self, cells: list[str]) -> Iterator[Any]:
        for target, cell in zip(self.targets, cells, strict=False):
            if target[0] == CUSTOM_FIELDS and cell.strip():
                try:
                    yield parse_json(cell)
                except ValueError as error:
                    raise ValueError(f"custom_fields is not valid JSON ({error})") from None
            else:
                yield cell


def _unique(key: str, used: set[str]) -> str:
    if key not in used:
        return key
    number = 2
    while True:
        suffix = f"_{number}"
        candidate = key[: CUSTOM_KEY_MAX_LENGTH - len(suffix)] + suffix
        if candidate not in used:
            return candidate
        number += 1


# The columns of a suppression entry: one of the value columns (SUPPRESSION_KINDS), or the
# API's own kind and value, then reason and note.
ENTRY_FIELDS = (*SUPPRESSION_KINDS, "kind", "value", "reason", "note")
ONE_VALUE = "a line gives exactly one of " + ", ".join(SUPPRESSION_KINDS)


@dataclass(frozen=True)
class EntryMapping:
    """Suppression entries: each row fills exactly one of the columns email, domain and
    linkedin_url (named as for leads: `E-mail`, `LinkedIn Profile URL` work too), or the
    API's `kind` and `value` (what `suppression list` exports); `reason` and `note` are
    optional. A row with no value or several is not an entry (ValueError). Other columns are
    ignored, so an exported list or an email tool's unsubscribe export reads as it is."""

    targets: tuple[str | None, ...]
    noun: ClassVar[str] = "entry"

    @classmethod
    def from_names(cls, names: Iterable[str]) -> EntryMapping:
        targets: list[str | None] = []
        columns: dict[str, str] = {}
        for name in names:
            name = name or ""
            key = slug(name)
            target = ALIASES.get(key, key)
            if target not in ENTRY_FIELDS:
                targets.append(None)
                continue
            if target in columns:
                raise InputError(f"{columns[target]!r} and {name!r} both map to {target}")
            columns[target] = name
            targets.append(target)
        return cls(tuple(targets))

    def fields(self) -> set[str]:
        return {target for target in self.targets if target is not None}

    def item(self, values: Iterable[Any]) -> dict[str, Any]:
        found = {
            target: value
            for target, value in zip(self.targets, values, strict=False)
            if target is not None and not is_blank(value)
        }
        kinds = [kind for kind in SUPPRESSION_KINDS if kind in found]
        if "kind" in found or "value" in found:
            if kinds:
                raise ValueError(f"both kind/value and {', '.join(kinds)}: {ONE_VALUE}")
            if "kind" not in found or "value" not in found:
                missing = "value" if "kind" in found else "kind"
                raise ValueError(f"{missing} is missing (kind and value go together)")
            entry = {"kind": found["kind"], "value": found["value"]}
        elif len(kinds) == 1:
            entry = {"kind": kinds[0], "value": found[kinds[0]]}
        elif kinds:
            raise ValueError(f"several values ({', '.join(kinds)}): {ONE_VALUE}")
        else:
            raise ValueError(f"no value: {ONE_VALUE}")
        entry.update((key, found[key]) for key in ("reason", "note") if key in found)
        return entry

    def csv_item(self, cells: list[str]) -> dict[str, Any]:
        return self.item(cells)


def read_csv(
    stream: IO[str], delimiter: str = ",", mapping_type: type[ItemMapping] = ColumnMapping
) -> tuple[ItemMapping, Iterator[SourceRow]]:
    """The header's mapping (read now, so that a bad header fails before anything is sent)
    and the rows, read lazily: the file is never held in memory."""
    reader = csv.reader(stream, delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("the CSV file is empty (it needs a header row)") from None
    except UnicodeDecodeError:
        raise InputError(NOT_UTF8) from None
    except csv.Error as error:
        raise InputError(f"line 1: {_csv_problem(error)}") from None
    mapping = mapping_type.from_names(header)
    return mapping, _csv_rows(reader, mapping, len(header))


def _csv_rows(reader: Any, mapping: ItemMapping, width: int) -> Iterator[SourceRow]:
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise InputError(NOT_UTF8) from None
        except csv.Error as error:
            raise InputError(f"line {start}: {_csv_problem(error)}") from None
        if not cells or all(cell == "" for cell in cells):
            continue  # blank line
        if len(cells) > width:
            yield SourceRow(start, problem=f"has {len(cells)} cells, the header has {width}")
            continue
        try:
            yield SourceRow(start, mapping.csv_item(cells))
        except ValueError as error:
            yield SourceRow(start, problem=str(error))


def _csv_problem(error: Exception) -> str:
    return f"not valid CSV ({error})"


def read_json_lines(
    stream: IO[str], mapping_type: type[ItemMapping] = ColumnMapping
) -> Iterator[SourceRow]:
    """One JSON object per line; blank lines are skipped; read lazily."""
    line_number = 0
    while True:
        try:
            line = stream.readline()
        except UnicodeDecodeError:
            raise InputError(NOT_UTF8) from None
        if not line:
            return
        line_number += 1
        if not line.strip():
            continue
        try:
            value = parse_json(line)
        except ValueError as error:
            yield SourceRow(line_number, problem=f"not valid JSON ({error})")
            continue
        yield row_from_object(line_number, value, mapping_type)


def read_json_array(
    text: str, name: str = "prospects", mapping_type: type[ItemMapping] = ColumnMapping
) -> Iterator[SourceRow]:
    """`--prospects` (`--entries`): a JSON array of objects, or the API's body
    `{"prospects": [...]}` (`{"entries": [...]}`)."""
    try:
        value = parse_json(text)
    except ValueError as error:
        raise InputError(f"not valid JSON ({error})") from None
    if isinstance(value, dict) and set(value) == {name}:
        value = value[name]
    if not isinstance(value, list) or not value:
        raise InputError(f"must be a non-empty JSON array of {mapping_type.noun} objects")
    return (row_from_object(index, item, mapping_type) for index, item in enumerate(value))


def row_from_object(
    position: int, value: Any, mapping_type: type[ItemMapping] = ColumnMapping
) -> SourceRow:
    if not isinstance(value, dict):
        return SourceRow(position, problem="not a JSON object")
    try:
        mapping = mapping_type.from_names(value.keys())
        return SourceRow(position, mapping.item(value.values()))
    except (InputError, ValueError) as error:
        return SourceRow(position, problem=str(error))


def read_ids(stream: IO[str]) -> list[tuple[int, str]]:
    """(line, id) of each id in a file of one id per line, or of a CSV whose header has an
    `id` column (as `suppression list --format csv` writes). Blank lines are skipped; the
    ids are not checked here."""
    found: list[tuple[int, str]] = []
    column: int | None = None
    first = True
    reader = csv.reader(stream, strict=True)
    try:
        for cells in reader:
            cells = [cell.strip() for cell in cells]
            if not any(cells):
                continue
            names = [slug(cell) for cell in cells]
            if first and "id" in names:  # a header
                column = names.index("id")
            elif column is None and len(cells) > 1:
                raise InputError(
                    f"line {reader.line_num}: give one id per line, or a CSV with an id column"
                )
            else:
                index = column or 0
                found.append((reader.line_num, cells[index] if index < len(cells) else ""))
            first = False
    except UnicodeDecodeError:
        raise InputError(NOT_UTF8) from None
    except csv.Error as error:
        raise InputError(f"line {reader.line_num}: {_csv_problem(error)}") from None
    return found


def parse_json(text: str) -> Any:
    """Strict JSON, as the API parses it: no NaN/Infinity, no duplicate keys."""
    try:
        return strict_json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{error.msg} at column {error.colno}") from None


def is_blank(value: Any) -> bool:
    """None, or a string of white space alone: what a row leaves out."""
    return value is None or (isinstance(value, str) and not value.strip())


def has_value(item: Mapping[str, Any], field_name: str) -> bool:
    return not is_blank(item.get(field_name))
