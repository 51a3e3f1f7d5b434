"""Reading leads from CSV, JSON Lines or a JSON argument, one row at a time, with positions.

Every input goes through one mapping rule: a column (CSV) or key (JSON) whose name matches
a lead field, case and punctuation aside or through a common alias ("E-mail", "Job title"),
fills that field; `custom_fields` (a JSON object) is the base of the lead's custom fields;
the read-only columns of an exported roster (`id`, `status`, ...) are ignored, so that an
export imports into another campaign; every other column becomes a custom field under a
key matching ^[A-Za-z0-9_]{1,64}$ (the name itself when it already matches, else its
snake_case: "Company Size" -> "company_size").
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from leads_contract import strict_json
from leads_contract.values import CUSTOM_FIELDS, READ_ONLY_FIELDS, TEXT_FIELDS

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
    """One lead as read, or the reason it cannot be sent. `position` is a file line number
    (1-based, where the row starts) or an index in a JSON array (0-based)."""

    position: int
    lead: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None


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

    def lead(self, values: Iterable[Any]) -> dict[str, Any]:
        """The lead for one row's values (in column order). Blank values are left out."""
        lead: dict[str, Any] = {}
        base: Any = None
        extra: dict[str, Any] = {}
        for target, value in zip(self.targets, values, strict=False):
            if value is None or (isinstance(value, str) and not value.strip()):
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


def read_csv(stream: IO[str], delimiter: str = ",") -> tuple[ColumnMapping, Iterator[SourceRow]]:
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
    mapping = ColumnMapping.from_names(header)
    return mapping, _csv_rows(reader, mapping, len(header))


def _csv_rows(reader: Any, mapping: ColumnMapping, width: int) -> Iterator[SourceRow]:
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
            yield SourceRow(start, mapping.lead(_csv_values(mapping, cells)))
        except ValueError as error:
            yield SourceRow(start, problem=str(error))


def _csv_values(mapping: ColumnMapping, cells: list[str]) -> Iterator[Any]:
    for target, cell in zip(mapping.targets, cells, strict=False):
        if target[0] == CUSTOM_FIELDS and cell.strip():
            try:
                yield parse_json(cell)
            except ValueError as error:
                raise ValueError(f"custom_fields is not valid JSON ({error})") from None
        else:
            yield cell


def _csv_problem(error: Exception) -> str:
    return f"not valid CSV ({error})"


def read_json_lines(stream: IO[str]) -> Iterator[SourceRow]:
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
        yield row_from_object(line_number, value)


def read_json_array(text: str) -> Iterator[SourceRow]:
    """`--prospects`: a JSON array of lead objects, or the API's `{"prospects": [...]}`."""
    try:
        value = parse_json(text)
    except ValueError as error:
        raise InputError(f"not valid JSON ({error})") from None
    if isinstance(value, dict) and set(value) == {"prospects"}:
        value = value["prospects"]
    if not isinstance(value, list) or not value:
        raise InputError("must be a non-empty JSON array of lead objects")
    return (row_from_object(index, item) for index, item in enumerate(value))


def row_from_object(position: int, value: Any) -> SourceRow:
    if not isinstance(value, dict):
        return SourceRow(position, problem="not a JSON object")
    try:
        mapping = ColumnMapping.from_names(value.keys())
        return SourceRow(position, mapping.lead(value.values()))
    except (InputError, ValueError) as error:
        return SourceRow(position, problem=str(error))


def parse_json(text: str) -> Any:
    """Strict JSON, as the API parses it: no NaN/Infinity, no duplicate keys."""
    try:
        return strict_json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{error.msg} at column {error.colno}") from None


def has_value(lead: Mapping[str, Any], field_name: str) -> bool:
    value = lead.get(field_name)
    return value is not None and not (isinstance(value, str) and not value.strip())
