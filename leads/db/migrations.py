"""Schema migrations: the ordered .sql files of leads/sql/migrations, applied with yoyo.

Every start of the service applies them, so several workers or replicas may try at once:
a PostgreSQL advisory lock lets one apply them while the others wait, then find nothing
pending.
"""

from __future__ import annotations

from pathlib import Path

import psycopg2
from yoyo import get_backend, read_migrations

MIGRATIONS_DIR = Path(__file__).parent.parent / "sql" / "migrations"
# Any constant bigint, the same in every process: pg_advisory_xact_lock's key.
MIGRATION_LOCK_KEY = 0x6C65_6164_735F_6D69  # "leads_mi"


def apply_migrations(database_url: str) -> list[str]:
    """Apply every pending migration; return the ids applied now ([] when up to date).

    The lock is a transaction-level advisory lock held by a transaction kept open on a
    connection of its own while yoyo works on another. A transaction pins its server
    connection behind pgbouncer in transaction pooling mode, where a session-level lock
    would stay behind on a pooled connection; and the lock goes away with the transaction
    if this process dies.
    """
    lock_connection = psycopg2.connect(database_url)
    try:
        with lock_connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        return _apply_pending(database_url)
    finally:
        lock_connection.rollback()  # releases the lock
        lock_connection.close()


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
