"""The database's schema: yoyo migrations, then every SQL function, under one advisory lock.

Two kinds of SQL, applied in this order on every run (each start of the service, and
`flask db upgrade`):

1. leads/sql/migrations/*.sql: the ordered changes of tables, types, indexes and
   constraints, applied once each by yoyo. A migration never defines a function: on a new
   database the functions are created after the last migration.
2. leads/sql/functions/<name>.sql: the one definition of the function <name>, as
   `CREATE OR REPLACE FUNCTION` (a trigger function with its trigger, as
   `CREATE OR REPLACE TRIGGER`: a trigger cannot exist before its function). Every file is
   applied on every run, in name order, in one transaction: after a run the database's
   functions are the files', whichever migrations ran before, and a changed file needs no
   migration. A change of a function's arguments or result type, or a function removed
   from the folder, takes a migration that drops the old function. (Replacing a trigger
   locks its table against writes for the moment of the statement, as any CREATE TRIGGER
   does: once per start, not per request.)

leads/sql/schema.sql is the schema both produce, for reading (tests/test_migrations.py
checks that it is).

Several workers or replicas may start at once: a transaction-level advisory lock lets one
apply the SQL while the others wait, then find no migration pending and the same functions.
"""

from __future__ import annotations

from pathlib import Path

import psycopg2
from yoyo import get_backend, read_migrations

SQL_DIR = Path(__file__).parent.parent / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
FUNCTIONS_DIR = SQL_DIR / "functions"
# Any constant bigint, the same in every process: pg_advisory_xact_lock's key.
MIGRATION_LOCK_KEY = 0x6C65_6164_735F_6D69  # "leads_mi"


def function_files() -> list[Path]:
    """The files of leads/sql/functions, in the order they are applied."""
    return sorted(FUNCTIONS_DIR.glob("*.sql"))


def apply_migrations(database_url: str) -> list[str]:
    """Apply every pending migration, then every function file; return the ids of the
    migrations applied now ([] when none was pending).

    The lock is a transaction-level advisory lock, taken by a transaction on a connection
    of its own while yoyo works on another; the functions are written in that transaction,
    and its commit releases the lock. A transaction pins its server connection behind
    pgbouncer in transaction pooling mode, where a session-level lock would stay behind on
    a pooled connection; and the lock goes away with the transaction if this process dies.
    """
    connection = psycopg2.connect(database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            applied = _apply_pending(database_url)
            for path in function_files():
                cursor.execute(path.read_text(encoding="utf-8"))
        connection.commit()
        return applied
    finally:
        connection.close()  # rolls back what is not committed, and the lock goes with it


def _apply_pending(database_url: str) -> list[str]:
    backend = get_backend(database_url)
    try:
        migrations = read_migrations(str(MIGRATIONS_DIR))
        # yoyo's own lock is a row that a process killed while migrating leaves behind;
        # under the advisory lock no other migration runs, so such a row is stale.
        backend.break_lock()
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        return [migration.id for migration in pending]
    finally:
        backend.connection.close()
