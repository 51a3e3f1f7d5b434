"""JSON as the API reads it (RFC 8259): UTF-8, no NaN or Infinity, no duplicate keys."""

from __future__ import annotations

import json
from typing import Any


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
