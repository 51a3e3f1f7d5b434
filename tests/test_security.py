"""Security review checks (docs/SECURITY.md): constant-time token checks, no token in the
rate limiter's keys or logs, SQL only through bound parameters, no internal detail in 5xx."""

from __future__ import annotations

import ast
import hashlib
import logging
import re
from pathlib import Path

import pytest

from app import create_app
from leads.db.queries import QUERIES, QUERIES_FILE
from leads.web import auth
from tests.contract import ApiClient, internal_error, make_token

PROJECT = Path(__file__).resolve().parent.parent


class TestTokenComparison:
    def test_a_known_token_is_confirmed_with_compare_digest(self, app, token, monkeypatch):
        calls = []
        real = auth.hmac.compare_digest

        def spy(a, b):
            calls.append((a, b))
            return real(a, b)

        monkeypatch.setattr(auth.hmac, "compare_digest", spy)
        response = app.test_client().get(
            "/api/campaigns", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
        digest = hashlib.sha256(token.encode()).digest()
        assert calls == [(digest, digest)]

    # The list of leads as well as the lists of campaigns and suppressions: one access check
    # for every route.
    @pytest.mark.parametrize(
        "route", ["/api/campaigns", "/api/campaigns/{id}/leads", "/api/suppressions"]
    )
    def test_the_token_itself_never_reaches_a_comparison(self, app, api, token, monkeypatch, route):
        # The database is searched by the SHA-256 of the token, so how long a lookup takes
        # says nothing about the token's characters.
        path = route.format(id=api.create_campaign()["id"])
        seen = []
        real = auth.hash_token
        monkeypatch.setattr(auth, "hash_token", lambda value: seen.append(value) or real(value))
        forged = token[:-1] + ("A" if token[-1] != "A" else "B")
        response = app.test_client().get(path, headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401
        assert seen == [forged]


class TestTokensStayOutOfTheRateLimiter:
    def test_a_429_logs_the_token_hash_at_most(self, database_url, caplog):
        app = create_app({"database_url": database_url, "rate_limit": "1/hour"})
        try:
            token = make_token(app.extensions["leads_pool"], "acme")
            client = ApiClient(app, token)
            caplog.set_level(logging.DEBUG)
            assert client.get("/api/campaigns").status_code == 200
            response = client.get("/api/campaigns")
        finally:
            app.extensions["leads_pool"].close()
        assert response.status_code == 429
        logged = "\n".join(record.getMessage() for record in caplog.records)
        assert "rate limit 1 per 1 hour exceeded by token:" in logged
        assert token not in logged and token[3:] not in logged
        assert token not in response.get_data(as_text=True)


class TestSqlIsParameterized:
    PLACEHOLDER = re.compile(r"%(\(\w+\)s|%)")

    def test_every_named_query_uses_named_placeholders_only(self):
        for name, text in QUERIES.items():
            leftover = self.PLACEHOLDER.sub("", text)
            assert "%" not in leftover, f"{name}: a % that is not %(name)s or %%"
        assert "{" not in QUERIES_FILE.read_text(encoding="utf-8").replace("'{}'", "")

    def test_no_sql_is_built_from_strings_outside_a_known_few(self):
        """SQL text built in Python (f-strings, %, format, +) is listed here, with why it
        is safe; everything else is a named query with bound parameters, or psycopg2.sql
        composition for identifiers."""
        built = set()
        for path in sorted((PROJECT / "leads").rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if _builds_sql(node):
                    built.add((path.relative_to(PROJECT).as_posix(), ast.unparse(node)))
        assert built == {
            # Savepoint names: literals at every call site (see the next test), or
            # nested_<depth> with an int depth.
            ("leads/db/pool.py", "f'SAVEPOINT {name}'"),
            ("leads/db/pool.py", "f'ROLLBACK TO SAVEPOINT {name}'"),
            ("leads/db/pool.py", "f'RELEASE SAVEPOINT {name}'"),
            # An int from the settings, formatted with :d.
            ("leads/db/pool.py", "f'SET LOCAL statement_timeout = {self._statement_timeout_ms:d}'"),
        }

    def test_savepoints_are_named_by_literals(self):
        for path in sorted((PROJECT / "leads").rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "savepoint"
                    and node.args
                ):
                    argument = node.args[0]
                    assert isinstance(argument, ast.Constant), ast.unparse(node)
                    assert re.fullmatch(r"[a-z_]+", argument.value)


SQL_START = re.compile(
    r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH|SET|SAVEPOINT|ROLLBACK|RELEASE|CREATE|DROP|ALTER"
    r"|TRUNCATE|GRANT|COPY)\b"
)


def _builds_sql(node: ast.AST) -> bool:
    """An f-string, `%`, `+` or `.format()` whose text starts like an SQL statement."""
    if isinstance(node, ast.JoinedStr):
        first = node.values[0] if node.values else None
        text = first.value if isinstance(first, ast.Constant) else ""
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        text = node.left.value if isinstance(node.left, ast.Constant) else ""
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
    ):
        text = node.func.value.value
    else:
        return False
    return isinstance(text, str) and SQL_START.match(text) is not None


class TestNoInternalDetailIn5xx:
    @pytest.mark.parametrize(
        "broken_sql",
        [
            "SELECT secret_column FROM campaigns WHERE workspace_id = %(workspace_id)s",
            "SELECT 1/0 AS campaigns",
            "SELEKT * FROM api_tokens",
        ],
    )
    def test_a_database_error_is_a_bare_500(self, api, monkeypatch, caplog, broken_sql):
        monkeypatch.setitem(QUERIES, "list_campaigns", broken_sql)
        with caplog.at_level(logging.ERROR, logger="leads"):
            response = api.get("/api/campaigns")
        request_id = response.headers["X-Request-ID"]
        assert response.status_code == 500
        assert response.json == internal_error(request_id)
        text = response.get_data(as_text=True)
        for leak in ("secret_column", "SELEKT", "division", "api_tokens", "psycopg2", "line "):
            assert leak not in text
        # The operator, not the client, gets the details: the error's type and SQLSTATE,
        # and where in the code it happened (its message is withheld: it may quote a row).
        [record] = [record for record in caplog.records if record.levelno >= logging.ERROR]
        logged = record.getMessage()
        assert re.match(r"unhandled error psycopg2\.errors\.\w+ \(SQLSTATE [0-9A-Z]{5}\) ", logged)
        assert "in list_campaigns\n" in logged
