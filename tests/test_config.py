"""Configuration: every setting comes from an environment variable, is validated at start
(the service refuses to start with one clear line), and is listed with its default in
the README."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from leads.config import ConfigError, ServerSettings, Settings
from tests.contract import free_port

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
GUNICORN = Path(sys.executable).parent / "gunicorn"
START_COMMAND = [str(GUNICORN), "--config", "gunicorn.conf.py", "app:create_app()"]

# Each variable, and the settings object and field it fills.
FIELDS = {
    "LEADS_EMBEDDED_DATABASE": (Settings, "embedded_database"),
    "LEADS_DB_POOL_SIZE": (Settings, "db_pool_size"),
    "LEADS_DB_CONNECT_TIMEOUT": (Settings, "db_connect_timeout"),
    "LEADS_DB_POOL_TIMEOUT": (Settings, "db_pool_timeout"),
    "LEADS_DB_STATEMENT_TIMEOUT": (Settings, "db_statement_timeout"),
    "LEADS_RETRY_AFTER": (Settings, "retry_after_seconds"),
    "LEADS_MAX_BODY_BYTES": (Settings, "max_body_bytes"),
    "LEADS_RATE_LIMIT": (Settings, "rate_limit"),
    "LEADS_RATE_LIMIT_STORAGE_URI": (Settings, "rate_limit_storage_uri"),
    "LEADS_EVENTS_RETENTION": (Settings, "events_retention_days"),
    "LEADS_WEBHOOKS_ALLOW_PRIVATE_URLS": (Settings, "webhooks_allow_private_urls"),
    "LEADS_WEBHOOKS_TIMEOUT": (Settings, "webhooks_timeout"),
    "LEADS_WEBHOOKS_CONCURRENCY": (Settings, "webhooks_concurrency"),
    "LEADS_WEBHOOKS_POLL_INTERVAL": (Settings, "webhooks_poll_interval"),
    "LEADS_WEBHOOKS_TIME_SCALE": (Settings, "webhooks_time_scale"),
    "LEADS_WEBHOOKS_METRICS_PORT": (Settings, "webhooks_metrics_port"),
    "LEADS_LOG_LEVEL": (ServerSettings, "log_level"),
    "HOST": (ServerSettings, "host"),
    "PORT": (ServerSettings, "port"),
    "WEB_CONCURRENCY": (ServerSettings, "workers"),
    "GUNICORN_THREADS": (ServerSettings, "threads"),
    "GUNICORN_TIMEOUT": (ServerSettings, "timeout"),
    "GUNICORN_GRACEFUL_TIMEOUT": (ServerSettings, "graceful_timeout"),
    "GUNICORN_KEEPALIVE": (ServerSettings, "keepalive"),
}


def read_variables() -> set[str]:
    """Every environment variable the service's settings read."""
    names = set()
    for path in (ROOT / "leads" / "config.py", ROOT / "gunicorn.conf.py"):
        names |= set(
            re.findall(
                r'(?:_\w+_setting\(|os\.environ\.get\(|os\.environ\[)\s*"([A-Z][A-Z0-9_]+)"',
                path.read_text(),
            )
        )
    return names


def documented_settings() -> dict[str, str]:
    """{variable: default} from the README's configuration table."""
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| ([^|]+?) \|", README.read_text(), re.M)
    return {name: default.strip().strip("`") for name, default in rows}


@pytest.fixture
def clean_environment(monkeypatch):
    for name in read_variables() | {"LEADS_EMBEDDED_PGDATA"}:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


class TestDocumented:
    def test_every_variable_read_is_documented(self):
        assert set(documented_settings()) == read_variables()

    @pytest.mark.parametrize("name", sorted(FIELDS))
    def test_documented_default_is_the_default(self, clean_environment, name):
        settings_class, field = FIELDS[name]
        value = getattr(settings_class.from_environment(), field)
        written = str(value).lower() if isinstance(value, bool) else str(value)
        assert documented_settings()[name] == written

    def test_every_variable_is_mapped_or_special(self):
        special = {"DATABASE_URL", "LEADS_EMBEDDED_PGDATA", "PROMETHEUS_MULTIPROC_DIR"}
        assert set(FIELDS) | special == read_variables()


class TestSettings:
    @pytest.mark.parametrize(
        ("variables", "field", "expected"),
        [
            ({"LEADS_DB_POOL_SIZE": "25"}, "db_pool_size", 25),
            ({"LEADS_DB_POOL_SIZE": " 3 "}, "db_pool_size", 3),
            ({"LEADS_DB_POOL_SIZE": ""}, "db_pool_size", 10),
            ({"LEADS_DB_STATEMENT_TIMEOUT": "0"}, "db_statement_timeout", 0),
            ({"LEADS_DB_CONNECT_TIMEOUT": "2"}, "db_connect_timeout", 2),
            ({"LEADS_EMBEDDED_DATABASE": "FALSE", "DATABASE_URL": "postgresql://h/db"},
             "embedded_database", False),
            ({"LEADS_EMBEDDED_DATABASE": "yes"}, "embedded_database", True),
            ({"DATABASE_URL": "postgresql://u:p@db:5432/leads?sslmode=require"},
             "database_url", "postgresql://u:p@db:5432/leads?sslmode=require"),
            ({"DATABASE_URL": "postgres://db/leads"}, "database_url", "postgres://db/leads"),
            ({"DATABASE_URL": "  "}, "database_url", None),
            ({"LEADS_RATE_LIMIT": ""}, "rate_limit", "600/minute"),
            ({"LEADS_RATE_LIMIT": "off"}, "rate_limit", None),
            ({"LEADS_RATE_LIMIT": " OFF "}, "rate_limit", None),
            ({"LEADS_RATE_LIMIT": "10/second;600/hour"}, "rate_limit", "10/second;600/hour"),
            ({"LEADS_RATE_LIMIT_STORAGE_URI": "redis://127.0.0.1:6379/2"},
             "rate_limit_storage_uri", "redis://127.0.0.1:6379/2"),
            ({"LEADS_WEBHOOKS_ALLOW_PRIVATE_URLS": "true"}, "webhooks_allow_private_urls", True),
            ({"LEADS_WEBHOOKS_TIME_SCALE": "0.001"}, "webhooks_time_scale", 0.001),
            ({"LEADS_WEBHOOKS_POLL_INTERVAL": " 0.05 "}, "webhooks_poll_interval", 0.05),
            ({"LEADS_WEBHOOKS_METRICS_PORT": "0"}, "webhooks_metrics_port", 0),
        ],
    )  # fmt: skip
    def test_valid_values(self, clean_environment, variables, field, expected):
        for name, value in variables.items():
            clean_environment.setenv(name, value)
        assert getattr(Settings.from_environment(), field) == expected

    def test_defaults(self, clean_environment):
        settings = Settings.from_environment()
        assert dataclasses.replace(settings, embedded_data_dir=Path("x")) == Settings(
            database_url=None,
            embedded_data_dir=Path("x"),
            max_body_bytes=128 * 1024 * 1024,
            db_pool_size=10,
            db_connect_timeout=5,
            db_pool_timeout=10,
            retry_after_seconds=5,
            rate_limit="600/minute",
            rate_limit_storage_uri="memory://",
            db_statement_timeout=15,
            embedded_database=True,
        )
        assert ServerSettings.from_environment() == ServerSettings(
            host="127.0.0.1",
            port=8000,
            workers=2,
            threads=4,
            timeout=60,
            graceful_timeout=30,
            keepalive=5,
            log_level="info",
        )


# (variables, the one line the service says when it refuses to start)
INVALID = [
    ({"LEADS_DB_POOL_SIZE": "ten"}, "LEADS_DB_POOL_SIZE must be a whole number, got 'ten'"),
    ({"LEADS_DB_POOL_SIZE": "0"}, "LEADS_DB_POOL_SIZE must be at least 1, got 0"),
    ({"LEADS_DB_CONNECT_TIMEOUT": "1"}, "LEADS_DB_CONNECT_TIMEOUT must be at least 2, got 1"),
    ({"LEADS_DB_POOL_TIMEOUT": "1.5"}, "LEADS_DB_POOL_TIMEOUT must be a whole number, got '1.5'"),
    (
        {"LEADS_DB_STATEMENT_TIMEOUT": "-1"},
        "LEADS_DB_STATEMENT_TIMEOUT must be at least 0, got -1",
    ),
    ({"LEADS_RETRY_AFTER": "soon"}, "LEADS_RETRY_AFTER must be a whole number, got 'soon'"),
    ({"LEADS_MAX_BODY_BYTES": "0"}, "LEADS_MAX_BODY_BYTES must be at least 1, got 0"),
    (
        {"LEADS_EMBEDDED_DATABASE": "maybe"},
        "LEADS_EMBEDDED_DATABASE must be true or false, got 'maybe'",
    ),
    (
        {"LEADS_EMBEDDED_DATABASE": "false"},
        "DATABASE_URL must be set when LEADS_EMBEDDED_DATABASE is false",
    ),
    (
        {"DATABASE_URL": "mysql://root:secret@db/leads"},
        "DATABASE_URL must be a URL such as postgresql://user:password@host:5432/leads, "
        "got scheme 'mysql'",
    ),
    (
        {"DATABASE_URL": "host=db password=secret dbname=leads"},
        "DATABASE_URL must be a URL such as postgresql://user:password@host:5432/leads, got no URL",
    ),
    (
        {"DATABASE_URL": "postgresql://u:secret@db:99999/leads"},
        "DATABASE_URL is not a valid PostgreSQL connection URL",
    ),
    (
        {"DATABASE_URL": "postgresql://u:secret@db/leads?nosuchoption=1"},
        "DATABASE_URL is not a valid PostgreSQL connection URL",
    ),
    (
        {"LEADS_RATE_LIMIT": "lots"},
        "LEADS_RATE_LIMIT must be a rate limit such as 600/minute (or off), got 'lots'",
    ),
    (
        {"LEADS_WEBHOOKS_TIME_SCALE": "fast"},
        "LEADS_WEBHOOKS_TIME_SCALE must be a number, got 'fast'",
    ),
    (
        {"LEADS_WEBHOOKS_POLL_INTERVAL": "0"},
        "LEADS_WEBHOOKS_POLL_INTERVAL must be a positive number, got 0.0",
    ),
    ({"LEADS_WEBHOOKS_TIMEOUT": "61"}, "LEADS_WEBHOOKS_TIMEOUT must be at most 60, got 61"),
    (
        {"LEADS_WEBHOOKS_ALLOW_PRIVATE_URLS": "sometimes"},
        "LEADS_WEBHOOKS_ALLOW_PRIVATE_URLS must be true or false, got 'sometimes'",
    ),
    ({"PORT": "http"}, "PORT must be a whole number, got 'http'"),
    ({"PORT": "70000"}, "PORT must be at most 65535, got 70000"),
    ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY must be at least 1, got 0"),
    ({"GUNICORN_THREADS": "many"}, "GUNICORN_THREADS must be a whole number, got 'many'"),
    ({"GUNICORN_TIMEOUT": "0"}, "GUNICORN_TIMEOUT must be at least 1, got 0"),
    (
        {"GUNICORN_GRACEFUL_TIMEOUT": "x"},
        "GUNICORN_GRACEFUL_TIMEOUT must be a whole number, got 'x'",
    ),
    ({"GUNICORN_KEEPALIVE": "0"}, "GUNICORN_KEEPALIVE must be at least 1, got 0"),
    (
        {"LEADS_LOG_LEVEL": "verbose"},
        "LEADS_LOG_LEVEL must be one of debug, info, warning, error, got 'verbose'",
    ),
]


def start(variables: dict[str, str], port: int) -> subprocess.CompletedProcess:
    environment = {
        name: value for name, value in os.environ.items() if name not in read_variables()
    }
    environment.update({"HOST": "127.0.0.1", "PORT": str(port), **variables})
    return subprocess.run(
        START_COMMAND, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


class TestRefusesToStart:
    @pytest.mark.parametrize(("variables", "message"), INVALID)
    def test_settings_raise(self, clean_environment, variables, message):
        for name, value in variables.items():
            clean_environment.setenv(name, value)
        with pytest.raises(ConfigError) as raised:
            Settings.from_environment()
            ServerSettings.from_environment()
        assert str(raised.value) == message

    @pytest.mark.parametrize(("variables", "message"), INVALID)
    def test_the_start_command_exits_with_one_clear_line(self, variables, message):
        finished = start(variables, free_port())
        assert finished.returncode == 1
        assert finished.stderr == f"leads: invalid configuration: {message}\n"
        assert finished.stdout == ""
        assert "secret" not in finished.stderr

    def test_an_unreachable_database_stops_the_start(self):
        unused = free_port()
        finished = start(
            {"DATABASE_URL": f"postgresql://leads:secret@127.0.0.1:{unused}/x"}, free_port()
        )
        assert finished.returncode == 1
        assert finished.stderr.startswith(
            "\nError: cannot apply migrations, the database is unreachable: "
            f'connection to server at "127.0.0.1", port {unused} failed: Connection refused'
        )
        assert "secret" not in finished.stderr + finished.stdout
        assert "Traceback" not in finished.stderr
