"""Nothing the service sends to PostgreSQL relies on its session, so that pgbouncer in
transaction pooling mode (where consecutive transactions of one client may run on different
server connections) cannot break it: no session-level SET, advisory lock, LISTEN, temporary
table, held cursor or server-side prepared statement.

.ci/run also runs the roster, stats and idempotency tests through a real pgbouncer
(.ci/start-pgbouncer).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from leads.db.queries import QUERIES

ROOT = Path(__file__).resolve().parent.parent
SESSION_STATE = {
    "session SET": r"^\s*SET\s+(?!LOCAL\b|TRANSACTION\b|CONSTRAINTS\b)",
    "RESET or DISCARD": r"^\s*(RESET|DISCARD)\b",
    "session advisory lock": r"\bpg_(try_)?advisory_(un)?lock(_shared)?\s*\(",
    "prepared statement": r"^\s*(PREPARE|EXECUTE|DEALLOCATE)\b",
    "LISTEN": r"^\s*(LISTEN|UNLISTEN)\b",
    "temporary table": r"\bCREATE\s+(GLOBAL\s+|LOCAL\s+)?(TEMP|TEMPORARY)\b",
    "held cursor": r"\bWITH\s+HOLD\b",
    "session set_config": r"\bset_config\s*\([^)]*,\s*false\s*\)",
}


def statements(text: str) -> list[str]:
    """The statements of a SQL text, comments removed."""
    text = re.sub(r"--[^\n]*", "", text)
    return [statement for statement in text.split(";") if statement.strip()]


def python_strings(path: Path) -> list[str]:
    """Every string literal of a module but its docstrings (prose, not SQL)."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def sql_sources() -> dict[str, str]:
    """{where: SQL text} for every query, migration, function and SQL string of the service."""
    sources = {f"queries.sql:{name}": text for name, text in QUERIES.items()}
    for folder in ("migrations", "functions"):
        for path in sorted((ROOT / "leads" / "sql" / folder).glob("*.sql")):
            sources[f"{folder}/{path.name}"] = path.read_text()
    for module in sorted((ROOT / "leads").rglob("*.py")) + [ROOT / "app.py"]:
        for index, text in enumerate(python_strings(module)):
            sources[f"{module.relative_to(ROOT)}#{index}"] = text
    return sources


def offenders(pattern: str, sources: dict[str, str]) -> list[str]:
    regex = re.compile(pattern, re.IGNORECASE)
    return [
        f"{where}: {statement.strip()[:80]}"
        for where, text in sources.items()
        for statement in statements(text)
        if regex.search(statement)
    ]


class TestNoSessionState:
    @pytest.mark.parametrize("kind", sorted(SESSION_STATE))
    def test_the_service_sends_none(self, kind):
        assert offenders(SESSION_STATE[kind], sql_sources()) == []

    def test_what_it_does_send_is_scanned(self):
        sent = "\n".join(sql_sources().values())
        # The transaction-scoped forms the service relies on are there, and allowed.
        assert "SET LOCAL statement_timeout" in sent
        assert "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY" in sent
        assert "pg_advisory_xact_lock" in sent
        assert "pg_try_advisory_xact_lock" in sent

    @pytest.mark.parametrize(
        ("kind", "sql"),
        [
            ("session SET", "SET search_path TO leads"),
            ("session SET", "select 1;\n  set statement_timeout = 5"),
            ("RESET or DISCARD", "DISCARD ALL"),
            ("session advisory lock", "SELECT pg_advisory_lock(42)"),
            ("session advisory lock", "SELECT pg_try_advisory_lock_shared(1, 2)"),
            ("session advisory lock", "SELECT pg_advisory_unlock(42)"),
            ("prepared statement", "PREPARE find AS SELECT 1"),
            ("LISTEN", "LISTEN leads_changed"),
            ("temporary table", "CREATE TEMP TABLE scratch (id int)"),
            ("held cursor", "DECLARE c CURSOR WITH HOLD FOR SELECT 1"),
            ("session set_config", "SELECT set_config('search_path', 'x', false)"),
        ],
    )
    def test_each_kind_is_recognised(self, kind, sql):
        assert len(offenders(SESSION_STATE[kind], {"example": sql})) == 1

    @pytest.mark.parametrize(
        "sql",
        [
            "SET LOCAL statement_timeout = 1000",
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            "SELECT pg_advisory_xact_lock(42)",
            "SELECT pg_try_advisory_xact_lock(1, 2)",
            "UPDATE leads\nSET company = 'x'",
            "SELECT set_config('x.y', 'z', true)",
        ],
    )
    def test_transaction_scoped_forms_pass(self, sql):
        assert [offenders(pattern, {"example": sql}) for pattern in SESSION_STATE.values()] == [
            []
        ] * len(SESSION_STATE)
