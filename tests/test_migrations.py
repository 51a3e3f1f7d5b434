"""Migrations: the migrations and the function files give an empty database exactly the
schema that leads/sql/schema.sql describes, running them again changes nothing, each
function is defined once, and concurrent starts never race (the advisory lock of
leads/db/migrations.py).

After a migration, write its change into leads/sql/schema.sql too: this test compares the
two, as the catalogs describe them.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest
from yoyo import read_migrations

from leads.db.migrations import (
    MIGRATION_LOCK_KEY,
    MIGRATIONS_DIR,
    SQL_DIR,
    apply_migrations,
    function_files,
)
from tests.contract import committed, create_database, drop_database

SCHEMA_FILE = SQL_DIR / "schema.sql"
ALL_MIGRATIONS = sorted(migration.id for migration in read_migrations(str(MIGRATIONS_DIR)))

# The schema as the catalogs describe it, one section per kind of object, each line in a
# stable order. Written with server functions that print the same on PostgreSQL 15 and 18;
# NOT NULL appears as a column property (18 also lists it as a constraint, 15 does not).
# yoyo's own bookkeeping tables are yoyo's business, not the schema's.
_OWN_RELATION = (
    "n.nspname = 'public' AND c.relname NOT LIKE '\\_yoyo%' AND c.relname <> 'yoyo_lock'"
)


def _on_own_relation(relation_id: str) -> str:
    """The join and condition that keep a catalog's rows about the schema's own relations
    (`c`), given the catalog's column that holds the relation's oid."""
    return (
        f"JOIN pg_class c ON c.oid = {relation_id}"
        f" JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_OWN_RELATION}"
    )


SCHEMA_SECTIONS = {
    "extensions": "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1",
    "types": """
        SELECT t.typname || ' enum (' || string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder)
               || ')'
        FROM pg_type t
        JOIN pg_namespace n ON n.oid = t.typnamespace
        JOIN pg_enum e ON e.enumtypid = t.oid
        WHERE n.nspname = 'public'
        GROUP BY t.typname ORDER BY 1""",
    "relations": f"""
        SELECT c.relname || ' kind=' || c.relkind::text || ' persistence=' || c.relpersistence::text
               || ' rls=' || c.relrowsecurity::text
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {_OWN_RELATION} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
        ORDER BY 1""",
    "columns": f"""
        SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
               || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
               || COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
               || CASE WHEN a.attidentity <> '' THEN ' IDENTITY ' || a.attidentity::text ELSE '' END
               || CASE WHEN a.attgenerated <> '' THEN ' GENERATED' ELSE '' END
               || CASE WHEN a.attstorage <> t.typstorage
                       THEN ' STORAGE ' || a.attstorage::text ELSE '' END
        FROM pg_attribute a
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        {_on_own_relation("a.attrelid")} AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY c.relname, a.attnum""",
    "constraints": f"""
        SELECT c.relname || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
        FROM pg_constraint k {_on_own_relation("k.conrelid")} AND k.contype <> 'n'
        ORDER BY 1""",
    "indexes": f"""
        SELECT pg_get_indexdef(i.indexrelid)
        FROM pg_index i {_on_own_relation("i.indrelid")}
        ORDER BY 1""",
    "triggers": f"""
        SELECT pg_get_triggerdef(t.oid)
        FROM pg_trigger t {_on_own_relation("t.tgrelid")} AND NOT t.tgisinternal
        ORDER BY 1""",
    "functions": """
        SELECT pg_get_functiondef(p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.prokind IN ('f', 'p')
        ORDER BY p.proname, pg_get_function_identity_arguments(p.oid)""",
    "views": f"""
        SELECT c.relname || ': ' || pg_get_viewdef(c.oid)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {_OWN_RELATION} AND c.relkind IN ('v', 'm')
        ORDER BY 1""",
}


def schema_snapshot(url: str) -> str:
    with committed(url) as cursor:
        parts = []
        for section, query in SCHEMA_SECTIONS.items():
            cursor.execute(query)
            lines = [row[0].rstrip() for row in cursor.fetchall()]
            parts.append(f"-- {section}\n" + "\n".join(lines))
        return "\n\n".join(parts) + "\n"


def schema_file_statements(path: Path = SCHEMA_FILE) -> str:
    """schema.sql with each psql `\\ir FILE` line replaced by that file's text, as psql
    would read it."""
    included = re.compile(r"^\\ir (\S+)$", re.MULTILINE)
    return included.sub(
        lambda match: (path.parent / match[1]).read_text(encoding="utf-8"),
        path.read_text(encoding="utf-8"),
    )


def run_sql(url: str, statements: str) -> None:
    with committed(url) as cursor:
        cursor.execute(statements)


def applied_rows(url: str) -> list[tuple]:
    with committed(url) as cursor:
        cursor.execute(
            "SELECT migration_id, migration_hash, applied_at_utc FROM _yoyo_migration "
            "ORDER BY migration_id"
        )
        return cursor.fetchall()


@contextmanager
def new_database(server_url: str) -> Iterator[str]:
    """A database of its own, with nothing in it, dropped afterwards."""
    name = f"leads_migrations_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = create_database(server_url, name)
    try:
        yield url
    finally:
        drop_database(server_url, name)


@pytest.fixture
def empty_database(server_url) -> Iterator[str]:
    with new_database(server_url) as url:
        yield url


@pytest.fixture(scope="module")
def expected_schema(server_url) -> str:
    """The snapshot of an empty database into which leads/sql/schema.sql was loaded."""
    with new_database(server_url) as url:
        run_sql(url, schema_file_statements())
        return schema_snapshot(url)


class TestSchema:
    def test_the_migrations_give_exactly_the_schema_file(self, empty_database, expected_schema):
        assert apply_migrations(empty_database) == ALL_MIGRATIONS
        assert schema_snapshot(empty_database) == expected_schema

    def test_the_schema_file_describes_every_kind_of_object(self, expected_schema):
        # An empty section would compare equal however wrong the migrations were.
        sections = dict(
            part.split("\n", 1) for part in expected_schema.split("\n\n-- ") if "\n" in part
        )
        for kind in ("types", "relations", "columns", "constraints", "indexes", "triggers"):
            assert sections[kind].strip(), kind
        assert "-- functions\nCREATE OR REPLACE FUNCTION" in expected_schema

    def test_each_function_is_defined_once_in_the_file_of_its_name(self, empty_database):
        defined = []
        for path in function_files():
            text = path.read_text(encoding="utf-8")
            names = re.findall(r"CREATE OR REPLACE FUNCTION (\w+)\(", text)
            assert names == [path.stem], path
            assert not re.search(r"^\s*CREATE FUNCTION", text, re.IGNORECASE | re.MULTILINE)
            defined += names
        for migration in MIGRATIONS_DIR.glob("*.sql"):
            text = migration.read_text(encoding="utf-8")
            assert not re.search(r"CREATE (OR REPLACE )?FUNCTION", text, re.I), migration
        apply_migrations(empty_database)
        with committed(empty_database) as cursor:
            cursor.execute(
                "SELECT p.proname FROM pg_proc p"
                " JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = 'public' ORDER BY 1"
            )
            assert [row[0] for row in cursor.fetchall()] == sorted(defined)

    def test_the_list_function_keeps_generic_plans(self, empty_database):
        # tests/test_list_plans.py says why; here, that the setting is part of the function.
        apply_migrations(empty_database)
        with committed(empty_database) as cursor:
            cursor.execute("SELECT proconfig FROM pg_proc WHERE proname = 'list_campaign_leads'")
            assert cursor.fetchall() == [(["plan_cache_mode=force_generic_plan"],)]

    def test_every_run_makes_the_functions_the_files_again(self, empty_database, expected_schema):
        # As after a change of a function's file: no migration is pending, yet the database
        # gets the file's function and trigger.
        apply_migrations(empty_database)
        run_sql(
            empty_database,
            "CREATE OR REPLACE FUNCTION"
            " recalculate_campaign_stats(p_workspace_id uuid, p_campaign_id uuid)"
            " RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;"
            " DROP TRIGGER leads_count_deleted ON leads",
        )
        assert schema_snapshot(empty_database) != expected_schema
        assert apply_migrations(empty_database) == []
        assert schema_snapshot(empty_database) == expected_schema

    @pytest.mark.parametrize("runs", [2, 3])
    def test_applying_again_changes_nothing(self, empty_database, runs):
        apply_migrations(empty_database)
        schema, applied = schema_snapshot(empty_database), applied_rows(empty_database)
        for _ in range(runs - 1):
            assert apply_migrations(empty_database) == []
        assert schema_snapshot(empty_database) == schema
        assert applied_rows(empty_database) == applied
        assert [row[0] for row in applied] == ALL_MIGRATIONS

    def test_the_snapshot_sees_a_change(self, empty_database):
        apply_migrations(empty_database)
        before = schema_snapshot(empty_database)
        with committed(empty_database) as cursor:
            cursor.execute("ALTER TABLE leads ALTER COLUMN company DROP NOT NULL")
            cursor.execute("ALTER TABLE leads ADD COLUMN extra text")
        after = schema_snapshot(empty_database)
        assert after != before
        assert "leads.extra text" in after


class TestConcurrentStarts:
    @pytest.mark.parametrize("starts", [2, 4])
    def test_concurrent_starts_apply_each_migration_once(
        self, empty_database, expected_schema, starts
    ):
        barrier = threading.Barrier(starts)

        def start() -> list[str]:
            barrier.wait()
            return apply_migrations(empty_database)

        with ThreadPoolExecutor(starts) as executor:
            results = list(executor.map(lambda _: start(), range(starts)))
        applied = sorted(migration for result in results for migration in result)
        assert applied == ALL_MIGRATIONS
        assert sorted(results, key=len) == [[]] * (starts - 1) + [ALL_MIGRATIONS]
        assert schema_snapshot(empty_database) == expected_schema

    def test_a_start_waits_while_another_holds_the_lock(self, empty_database):
        holder = psycopg2.connect(empty_database)
        try:
            with holder.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            with ThreadPoolExecutor(1) as executor:
                waiting = executor.submit(apply_migrations, empty_database)
                time.sleep(1.5)
                assert not waiting.done()
                with holder.cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
                    assert cursor.fetchone() == (0,)  # nothing was applied meanwhile
                holder.rollback()  # releases the lock
                assert waiting.result(timeout=60) == ALL_MIGRATIONS
        finally:
            holder.close()

    def test_a_lock_row_left_by_a_killed_start_does_not_block(self, empty_database):
        apply_migrations(empty_database)
        with committed(empty_database) as cursor:
            cursor.execute("INSERT INTO yoyo_lock (locked, ctime, pid) VALUES (1, now(), 999999)")
        started = time.monotonic()
        assert apply_migrations(empty_database) == []
        assert time.monotonic() - started < 5  # yoyo alone would wait 10 s, then fail
