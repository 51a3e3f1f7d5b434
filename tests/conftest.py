"""Fixtures: a migrated test database on the real server, the app, clients and tokens.

The test database is `<DATABASE_URL's database>_test_<pid>` (`leads_test_<pid>` on the
embedded server): created for the run, so that runs never share one, and dropped after it.
Every test starts from emptied tables.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from psycopg2 import sql

from app import create_app
from leads.config import Settings
from leads.db.embedded import resolve_database_url
from leads.db.migrations import apply_migrations
from leads.db.pool import transaction
from leads.web import auth

APP_TABLES = (
    "workspaces",
    "api_tokens",
    "campaigns",
    "leads",
    "campaign_lead_counts",
    "idempotency_keys",
)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin(server_url: str, statement: sql.Composable) -> None:
    connection = psycopg2.connect(_with_database(server_url, "postgres"))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def _drop_database(server_url: str, name: str) -> None:
    _admin(
        server_url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    )


@pytest.fixture(scope="session")
def server_url() -> str:
    """The server the tests run on: DATABASE_URL's, or the embedded one."""
    settings = Settings.from_environment()
    return resolve_database_url(settings.database_url, settings.embedded_data_dir)


@pytest.fixture(scope="session")
def database_url(server_url) -> Iterator[str]:
    base_name = urlsplit(server_url).path.lstrip("/") or "leads"
    test_name = f"{base_name}_test_{os.getpid()}"
    _drop_database(server_url, test_name)
    _admin(server_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(test_name)))
    url = _with_database(server_url, test_name)
    apply_migrations(url)
    yield url
    _drop_database(server_url, test_name)


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
    connection = psycopg2.connect(database_url)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("TRUNCATE {} CASCADE").format(
                    sql.SQL(", ").join(sql.Identifier(table) for table in APP_TABLES)
                )
            )
    finally:
        connection.close()
    yield


@pytest.fixture
def db(database_url):
    """A plain autocommit connection for checking what the database holds."""
    connection = psycopg2.connect(database_url)
    connection.autocommit = True
    try:
        yield connection
    finally:
        connection.close()


@contextmanager
def held_connection(pool) -> Iterator[None]:
    """Hold one of the pool's connections in an open transaction, as a request does."""
    with pool.slot():
        connection, generation, cursor = pool.begin_with("SELECT 1", None, read_only=True)
        cursor.close()
        try:
            yield
        finally:
            pool.release(connection, generation)


def make_token(pool, workspace: str) -> str:
    with transaction(pool) as tx:
        return auth.create_token(tx, workspace)


@pytest.fixture
def token(pool) -> str:
    return make_token(pool, "acme")


@pytest.fixture
def other_token(pool) -> str:
    return make_token(pool, "globex")


class ApiClient:
    """Flask's test client with a workspace token on every request."""

    def __init__(self, app, token: str) -> None:
        self._client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self._client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.request("PATCH", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def create_campaign(self, name: str = "Spring outreach", type_: str = "email") -> dict:
        response = self.post("/api/campaigns", json={"name": name, "type": type_})
        assert response.status_code == 201, response.json
        return response.json["campaign"]


@pytest.fixture
def api(app, token) -> ApiClient:
    return ApiClient(app, token)


@pytest.fixture
def other_api(app, other_token) -> ApiClient:
    return ApiClient(app, other_token)


@pytest.fixture
def email_campaign(api) -> dict:
    return api.create_campaign("Email campaign", "email")


@pytest.fixture
def linkedin_campaign(api) -> dict:
    return api.create_campaign("LinkedIn campaign", "linkedin")


def pytest_configure(config):
    # The embedded server's lock lives under XDG_RUNTIME_DIR; platformdirs warns without it.
    os.environ.setdefault(
        "XDG_RUNTIME_DIR", str(Settings.from_environment().embedded_data_dir.parent / "run")
    )
