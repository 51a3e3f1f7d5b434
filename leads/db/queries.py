"""The named SQL queries of leads/sql/queries.sql, loaded once by name."""

from __future__ import annotations

import re
from pathlib import Path

QUERIES_FILE = Path(__file__).parent.parent / "sql" / "queries.sql"
_NAME_LINE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def load_queries(path: Path = QUERIES_FILE) -> dict[str, str]:
    text = path.read_text(encoding="utf-8")
    parts = _NAME_LINE.split(text)
    # parts: [preamble, name1, body1, name2, body2, ...]
    queries = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice in {path}")
        queries[name] = body.strip()
    return queries


QUERIES = load_queries()
