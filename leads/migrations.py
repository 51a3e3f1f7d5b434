"""Schema migrations: the ordered .sql files of leads/sql/migrations, applied with yoyo."""

from __future__ import annotations

from pathlib import Path

from yoyo import get_backend, read_migrations

MIGRATIONS_DIR = Path(__file__).parent / "sql" / "migrations"


def apply_migrations(database_url: str) -> list[str]:
    """Apply every pending migration (under yoyo's lock, so concurrent starts are safe).

    Returns the ids of the migrations applied now; [] when the schema is up to date.
    """
    backend = get_backend(database_url)
    try:
        migrations = read_migrations(str(MIGRATIONS_DIR))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        return [migration.id for migration in pending]
    finally:
        backend.connection.close()
