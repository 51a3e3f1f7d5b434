"""The tenant key: the schema keeps the rules of a multi-tenant schema distributed by
workspace (docs/SCALING.md), read from the migrated database's catalog.

- Every table holds one workspace's rows and has a NOT NULL workspace_id, except the
  reference tables (small, read by every workspace, replicated whole when distributed).
- Every primary and unique key of such a table includes workspace_id.
- Every foreign key between such tables includes workspace_id on both sides, as the same
  column position; a foreign key to a reference table is free.
- Every index of such a table starts with workspace_id, except the ones named below, which
  serve no workspace's query.

The checks are also run on a table made to break each rule, so that they can fail.
"""

from __future__ import annotations

import pytest

from tests.contract import committed

# Tables replicated whole to every node rather than split by workspace: the workspaces
# themselves, and the tokens, which a request finds by hash before it knows its workspace.
REFERENCE_TABLES = {"workspaces", "api_tokens"}
# Indexes that serve a query across workspaces: the purges of expired idempotency records
# and events (by age, whatever the workspace; distributed, they run on each shard), and the
# webhook workers' queue (the deliveries due first, whatever the workspace).
CROSS_WORKSPACE_INDEXES = {
    "idempotency_keys_created_idx",
    "events_occurred_idx",
    "webhook_deliveries_due_idx",
}
TENANT_COLUMN = "workspace_id"

_OWN_TABLES = """
    SELECT c.oid, c.relname
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p')
      AND c.relname NOT LIKE '\\_yoyo%%' AND c.relname <> 'yoyo_lock'
    ORDER BY c.relname
"""


def tenant_key_violations(cursor, schema: str = "public") -> list[str]:
    """Every breach of the rules in the schema's tables, one line each."""
    cursor.execute(_OWN_TABLES, {"schema": schema})
    tables = cursor.fetchall()
    distributed = {oid: name for oid, name in tables if name not in REFERENCE_TABLES}
    violations = []
    for oid, table in distributed.items():
        cursor.execute(
            "SELECT attnum, attnotnull FROM pg_attribute"
            " WHERE attrelid = %s AND attname = %s AND NOT attisdropped",
            (oid, TENANT_COLUMN),
        )
        column = cursor.fetchone()
        if column is None or not column[1]:
            violations.append(f"table {table}: no NOT NULL {TENANT_COLUMN}")
            continue
        tenant_attnum = column[0]

        cursor.execute(
            "SELECT conname, contype, conkey, confrelid, confkey FROM pg_constraint"
            " WHERE conrelid = %s AND contype IN ('p', 'u', 'f') ORDER BY conname",
            (oid,),
        )
        for name, kind, columns, referenced, referenced_columns in cursor.fetchall():
            if kind in ("p", "u") and tenant_attnum not in columns:
                violations.append(f"key {table}.{name}: without {TENANT_COLUMN}")
            if kind == "f" and referenced in distributed:
                cursor.execute(
                    "SELECT attnum FROM pg_attribute WHERE attrelid = %s AND attname = %s",
                    (referenced, TENANT_COLUMN),
                )
                row = cursor.fetchone()
                pairs = list(zip(columns, referenced_columns, strict=True))
                if row is None or (tenant_attnum, row[0]) not in pairs:
                    violations.append(
                        f"foreign key {table}.{name}: not {TENANT_COLUMN} to {TENANT_COLUMN}"
                    )

        cursor.execute(
            "SELECT c.relname, i.indkey[0] FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = %s ORDER BY c.relname",
            (oid,),
        )
        for index, first_column in cursor.fetchall():
            if first_column != tenant_attnum and index not in CROSS_WORKSPACE_INDEXES:
                violations.append(f"index {table}.{index}: does not start with {TENANT_COLUMN}")
    return violations


class TestTenantKey:
    def test_every_table_key_and_index_follows_the_rules(self, database_url):
        with committed(database_url) as cursor:
            cursor.execute(_OWN_TABLES, {"schema": "public"})
            tables = {name for _, name in cursor.fetchall()}
            assert REFERENCE_TABLES <= tables  # the exemptions name real tables
            assert tables - REFERENCE_TABLES  # and something is checked
            assert tenant_key_violations(cursor) == []

    def test_the_exempt_indexes_exist(self, database_url):
        with committed(database_url) as cursor:
            cursor.execute(
                "SELECT relname FROM pg_class WHERE relkind = 'i' AND relname = ANY(%s)",
                (list(CROSS_WORKSPACE_INDEXES),),
            )
            assert {name for (name,) in cursor.fetchall()} == CROSS_WORKSPACE_INDEXES


@pytest.fixture
def broken_schema(database_url):
    """A schema of tables that break each rule once, beside a reference table."""
    with committed(database_url) as cursor:
        cursor.execute(
            """
            DROP SCHEMA IF EXISTS tenant_rules CASCADE;
            CREATE SCHEMA tenant_rules;
            CREATE TABLE tenant_rules.workspaces (id uuid PRIMARY KEY);
            CREATE TABLE tenant_rules.no_tenant (id uuid PRIMARY KEY);
            CREATE TABLE tenant_rules.nullable_tenant (workspace_id uuid, id uuid);
            CREATE TABLE tenant_rules.parents (
                workspace_id uuid NOT NULL REFERENCES tenant_rules.workspaces (id),
                id uuid NOT NULL,
                code text NOT NULL,
                PRIMARY KEY (workspace_id, id),
                CONSTRAINT parents_id_key UNIQUE (id),
                CONSTRAINT parents_code_key UNIQUE (workspace_id, code)
            );
            CREATE INDEX parents_code_idx ON tenant_rules.parents (code);
            CREATE TABLE tenant_rules.children (
                workspace_id uuid NOT NULL,
                parent_id uuid NOT NULL,
                CONSTRAINT children_parent_fkey FOREIGN KEY (parent_id)
                    REFERENCES tenant_rules.parents (id)
            );
            """
        )
    try:
        yield "tenant_rules"
    finally:
        with committed(database_url) as cursor:
            cursor.execute("DROP SCHEMA tenant_rules CASCADE")


class TestTheChecksCanFail:
    def test_each_broken_rule_is_named(self, database_url, broken_schema):
        with committed(database_url) as cursor:
            assert tenant_key_violations(cursor, broken_schema) == [
                "foreign key children.children_parent_fkey: not workspace_id to workspace_id",
                "table no_tenant: no NOT NULL workspace_id",
                "table nullable_tenant: no NOT NULL workspace_id",
                "key parents.parents_id_key: without workspace_id",
                "index parents.parents_code_idx: does not start with workspace_id",
                "index parents.parents_id_key: does not start with workspace_id",
            ]
