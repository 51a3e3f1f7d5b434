"""Settings read from environment variables, each with a documented default."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import click
import psycopg2
import psycopg2.extensions
from limits import parse_many

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# A full batch of 1000 leads with every field at its maximum size, written with JSON
# \u escapes, stays below this. Per lead at most: 3,200 characters of names, company,
# position and headline plus 254 of email and 512 of linkedin_url at 12 bytes each (an
# astral character is a \u escape pair) = 47,592; custom_fields, 16 KiB measured in UTF-8,
# grow up to 3x when escaped (é: 2 bytes -> 6) = 49,152; keys and punctuation ~200.
# That is ~97 MB for 1000 leads (92.5 MiB); 64 MiB was not enough.
DEFAULT_MAX_BODY_BYTES = 128 * 1024 * 1024

# Requests per token to /api, in the `limits` notation ("600/minute", "10/second;600/hour").
DEFAULT_RATE_LIMIT = "600/minute"
RATE_LIMIT_OFF = "off"


T = TypeVar("T")


class ConfigError(click.ClickException):
    """A setting has a value the service cannot run with.

    A click exception, so that an operator command (`flask --app app ...`, whose app
    factory reads the settings) prints it as one line, `Error: <message>`, with exit code
    1, as gunicorn.conf.py prints it for the server."""


def _parsed_setting(name: str, parse: Callable[[str], T], kind: str) -> T | None:
    """The variable's value read by `parse`, or None when it is unset or blank."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return parse(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {kind}, got {raw!r}") from None


def _int_setting(name: str, default: int, minimum: int = 1, maximum: int | None = None) -> int:
    value = _parsed_setting(name, int, "a whole number")
    if value is None:
        return default
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, got {value}")
    return value


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _number_setting(name: str, default: float) -> float:
    """A positive number (decimals allowed): a duration or a factor."""
    value = _parsed_setting(name, float, "a number")
    if value is None:
        return default
    if not 0 < value < math.inf:
        raise ConfigError(f"{name} must be a positive number, got {value}")
    return value


def _bool_setting(name: str, default: bool) -> bool:
    raw = (os.environ.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {os.environ[name]!r}")


def _choice_setting(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    if raw.lower() not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw.lower()


DATABASE_URL_SCHEMES = ("postgresql", "postgres")


def _database_url_setting(name: str) -> str | None:
    """A postgresql:// URL (yoyo reads the same URL), or None for the embedded server.

    The messages never repeat the value: it may hold a password.
    """
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return None
    scheme = raw.partition("://")[0] if "://" in raw else ""
    if scheme not in DATABASE_URL_SCHEMES:
        got = f"scheme {scheme!r}" if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme) else "no URL"
        raise ConfigError(
            f"{name} must be a URL such as postgresql://user:password@host:5432/leads, got {got}"
        )
    try:
        urlsplit(raw).port  # noqa: B018 (raises on a port out of range)
        psycopg2.extensions.parse_dsn(raw)
    except (ValueError, psycopg2.ProgrammingError):
        raise ConfigError(f"{name} is not a valid PostgreSQL connection URL") from None
    return raw


def _rate_limit_setting(name: str, default: str) -> str | None:
    """A limit string, or None when the variable says "off"."""
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    if raw.lower() == RATE_LIMIT_OFF:
        return None
    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(
            f"{name} must be a rate limit such as 600/minute (or {RATE_LIMIT_OFF}), got {raw!r}"
        ) from None
    return raw


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    embedded_data_dir: Path
    max_body_bytes: int
    db_pool_size: int
    db_connect_timeout: int
    db_pool_timeout: int
    retry_after_seconds: int
    # None turns rate limiting off (tests do, unless a test turns it on).
    rate_limit: str | None = DEFAULT_RATE_LIMIT
    # memory:// counts per process; redis://host:port/db shares counts between workers.
    rate_limit_storage_uri: str = "memory://"
    # Seconds one statement may run (a lock wait included) before the database cancels it
    # and the request answers 503; set per transaction, so it works behind pgbouncer.
    db_statement_timeout: int = 15
    # Days the change feed keeps its events (`flask --app app events purge` deletes older).
    events_retention_days: int = 30
    # Whether an unset DATABASE_URL starts the embedded server (development) or is an error.
    embedded_database: bool = True
    # Webhooks (docs/API.md, "Webhooks"). Whether a URL may lead to a loopback, private or
    # other special-use address: for development and tests only.
    webhooks_allow_private_urls: bool = False
    # Seconds an attempt may take to connect, and to hear each part of the answer.
    webhooks_timeout: int = 10
    # Deliveries a worker attempts at once (each holds a database connection meanwhile).
    webhooks_concurrency: int = 8
    # Seconds an idle worker waits before it looks for new events and due deliveries again.
    webhooks_poll_interval: float = 1.0
    # The factor of every duration of the retry rules (the backoff, the 24 hours of retries
    # and of failures before a webhook is disabled, a rotated secret's grace), so that tests
    # and development see them in seconds: 1 in production.
    webhooks_time_scale: float = 1.0
    # The port of a worker's own /metrics (0: none); it binds HOST, as gunicorn does.
    webhooks_metrics_port: int = 9101

    @classmethod
    def from_environment(cls) -> Settings:
        database_url = _database_url_setting("DATABASE_URL")
        embedded_database = _bool_setting("LEADS_EMBEDDED_DATABASE", True)
        if database_url is None and not embedded_database:
            raise ConfigError("DATABASE_URL must be set when LEADS_EMBEDDED_DATABASE is false")
        return cls(
            database_url=database_url,
            embedded_data_dir=Path(
                os.environ.get("LEADS_EMBEDDED_PGDATA", PROJECT_ROOT / ".pgdata" / "data")
            ),
            max_body_bytes=_int_setting("LEADS_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            db_pool_size=_int_setting("LEADS_DB_POOL_SIZE", 10),
            # libpq waits at least 2 seconds whatever it is told.
            db_connect_timeout=_int_setting("LEADS_DB_CONNECT_TIMEOUT", 5, minimum=2),
            db_pool_timeout=_int_setting("LEADS_DB_POOL_TIMEOUT", 10),
            retry_after_seconds=_int_setting("LEADS_RETRY_AFTER", 5),
            rate_limit=_rate_limit_setting("LEADS_RATE_LIMIT", DEFAULT_RATE_LIMIT),
            rate_limit_storage_uri=(
                os.environ.get("LEADS_RATE_LIMIT_STORAGE_URI") or "memory://"
            ).strip(),
            db_statement_timeout=_int_setting("LEADS_DB_STATEMENT_TIMEOUT", 15, minimum=0),
            events_retention_days=_int_setting("LEADS_EVENTS_RETENTION", 30, maximum=36500),
            embedded_database=embedded_database,
            webhooks_allow_private_urls=_bool_setting("LEADS_WEBHOOKS_ALLOW_PRIVATE_URLS", False),
            webhooks_timeout=_int_setting("LEADS_WEBHOOKS_TIMEOUT", 10, maximum=60),
            webhooks_concurrency=_int_setting("LEADS_WEBHOOKS_CONCURRENCY", 8, maximum=256),
            webhooks_poll_interval=_number_setting("LEADS_WEBHOOKS_POLL_INTERVAL", 1.0),
            webhooks_time_scale=_number_setting("LEADS_WEBHOOKS_TIME_SCALE", 1.0),
            webhooks_metrics_port=_int_setting(
                "LEADS_WEBHOOKS_METRICS_PORT", 9101, minimum=0, maximum=65535
            ),
        )


LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class ServerSettings:
    """gunicorn's settings (gunicorn.conf.py), validated like the service's own."""

    host: str
    port: int
    workers: int
    threads: int
    timeout: int
    graceful_timeout: int
    keepalive: int
    log_level: str

    @classmethod
    def from_environment(cls) -> ServerSettings:
        return cls(
            host=(os.environ.get("HOST") or "127.0.0.1").strip(),
            port=_int_setting("PORT", 8000, maximum=65535),
            workers=_int_setting("WEB_CONCURRENCY", 2),
            threads=_int_setting("GUNICORN_THREADS", 4),
            timeout=_int_setting("GUNICORN_TIMEOUT", 60),
            graceful_timeout=_int_setting("GUNICORN_GRACEFUL_TIMEOUT", 30),
            keepalive=_int_setting("GUNICORN_KEEPALIVE", 5),
            log_level=_choice_setting("LEADS_LOG_LEVEL", "info", LOG_LEVELS),
        )
