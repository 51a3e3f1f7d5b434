"""JSON as the API reads it (RFC 8259): UTF-8, no NaN or Infinity, no duplicate keys; and
timestamps as it writes them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any


def timestamp_text(value: datetime) -> str:
    """A timestamp as every body writes it: ISO 8601 with six fraction digits and the UTC
    offset, e.g. 2026-12-08T09:00:00.074090+00:00 (also when the microseconds are 0)."""
    return value.isoformat(timespec="microseconds")


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)  # built in C; only a short dict means a key came twice
    if len(result) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return result


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def loads(document: str | bytes) -> Any:
    """The value of a JSON document; ValueError (json.JSONDecodeError for a syntax error,
    UnicodeDecodeError for bytes that are not UTF-8) when it breaks a rule or is nested
    deeper than the parser goes."""
    if isinstance(document, bytes):
        # Decoded here: json.loads(bytes) would also take UTF-16 and UTF-32. A leading byte
        # order mark is ignored, as RFC 8259 allows.
        document = document.decode("utf-8-sig")
    try:
        return json.loads(
            document, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant
        )
    except RecursionError:
        raise ValueError("nested too deeply") from None
