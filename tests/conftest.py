"""Fixtures: a migrated test database on the real server, the app, clients and tokens.

The test database is `<DATABASE_URL's database>_test_<pid>` (`leads_test_<pid>` on the
embedded server): created for the run, so that runs never share one, and dropped after it.
Every test starts from emptied tables.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from psycopg2 import sql

from app import create_app
from leads.config import Settings
from leads.db.embedded import resolve_database_url, use_runtime_dir
from leads.db.migrations import apply_migrations
from tests.contract import (
    APP_TABLES,
    ApiClient,
    connected,
    create_database,
    database_state,
    drop_database,
    leads_url,
    make_token,
)
from tests.live_server import LEADS_BIN, FaultInjector, LiveServer, serving


@pytest.fixture(scope="session")
def server_url() -> str:
    """The server the tests run on: DATABASE_URL's, or the embedded one."""
    settings = Settings.from_environment()
    return resolve_database_url(settings.database_url, settings.embedded_data_dir)


@pytest.fixture(scope="session")
def database_url(server_url) -> Iterator[str]:
    base_name = urlsplit(server_url).path.lstrip("/") or "leads"
    test_name = f"{base_name}_test_{os.getpid()}"
    drop_database(server_url, test_name)
    url = create_database(server_url, test_name)
    apply_migrations(url)
    yield url
    drop_database(server_url, test_name)


@pytest.fixture(scope="session")
def app(database_url):
    # Rate limits are off in tests; tests of the limits build an app of their own.
    app = create_app({"database_url": database_url, "rate_limit": None})
    app.config["TESTING"] = True
    yield app
    app.extensions["leads_pool"].close()


@pytest.fixture(scope="session")
def pool(app):
    return app.extensions["leads_pool"]


@pytest.fixture(autouse=True)
def empty_tables(database_url) -> Iterator[None]:
    with connected(database_url) as connection, connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("TRUNCATE {} CASCADE").format(
                sql.SQL(", ").join(sql.Identifier(table) for table in APP_TABLES)
            )
        )
    yield


@pytest.fixture
def db(database_url):
    """A plain autocommit connection for checking what the database holds."""
    with connected(database_url) as connection:
        yield connection


@pytest.fixture
def token(pool) -> str:
    return make_token(pool, "acme")


@pytest.fixture
def other_token(pool) -> str:
    return make_token(pool, "globex")


@pytest.fixture
def api(app, token) -> ApiClient:
    return ApiClient(app, token)


@pytest.fixture
def other_api(app, other_token) -> ApiClient:
    return ApiClient(app, other_token)


@pytest.fixture
def rejected(api, db):
    """Send a request; check its status, its whole body, and that nothing was written."""

    def check(method: str, path: str, status: int, body: dict, **kwargs):
        before = database_state(db)
        response = api.request(method, path, **kwargs)
        assert response.status_code == status
        assert response.json == body
        assert database_state(db) == before
        return response

    return check


@pytest.fixture
def rejected_rows(rejected):
    """POST rows to a campaign's roster; check the 400's whole body and that nothing was
    written."""

    def check(campaign: dict, rows: list, error: dict, query: str = ""):
        path = leads_url(campaign["id"]) + query
        return rejected("POST", path, 400, error, json={"prospects": rows})

    return check


@pytest.fixture
def email_campaign(api) -> dict:
    return api.create_campaign("Email campaign", "email")


@pytest.fixture
def linkedin_campaign(api) -> dict:
    return api.create_campaign("LinkedIn campaign", "linkedin")


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[LiveServer]:
    """The app over real HTTP, for clients that run as processes of their own."""
    with serving(app) as server:
        yield server


@pytest.fixture
def injector(live_server) -> Iterator[FaultInjector]:
    live_server.injector.reset()
    yield live_server.injector
    live_server.injector.reset()


@pytest.fixture
def leads_env(live_server, token) -> dict[str, str]:
    """What the `leads` command and the MCP server need to reach the live server."""
    return {"LEADS_API_URL": live_server.url, "LEADS_API_TOKEN": token}


@pytest.fixture
def leads_bin() -> Path:
    return LEADS_BIN


def pytest_configure(config):
    # Set for every process a test starts, the embedded server's or not (use_runtime_dir).
    use_runtime_dir(Settings.from_environment().embedded_data_dir)
