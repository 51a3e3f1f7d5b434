"""Settings read from environment variables, each with a documented default."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# A full batch of 1000 leads with every field at its maximum size, written with JSON
# \u escapes (up to 12 bytes per character), stays below this.
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024


class ConfigError(ValueError):
    """A setting has a value the service cannot run with."""


def _int_setting(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    embedded_data_dir: Path
    max_body_bytes: int
    db_pool_size: int
    db_connect_timeout: int
    db_pool_timeout: int
    retry_after_seconds: int

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(
            database_url=os.environ.get("DATABASE_URL") or None,
            embedded_data_dir=Path(
                os.environ.get("LEADS_EMBEDDED_PGDATA", PROJECT_ROOT / ".pgdata" / "data")
            ),
            max_body_bytes=_int_setting("LEADS_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            db_pool_size=_int_setting("LEADS_DB_POOL_SIZE", 10),
            db_connect_timeout=_int_setting("LEADS_DB_CONNECT_TIMEOUT", 5),
            db_pool_timeout=_int_setting("LEADS_DB_POOL_TIMEOUT", 10),
            retry_after_seconds=_int_setting("LEADS_RETRY_AFTER", 5),
        )
