"""The application factory: `flask --app app ...` and `gunicorn 'app:create_app()'`."""

from __future__ import annotations

import dataclasses

import psycopg2.extras
from flask import Flask
from swagger_ui_bundle import swagger_ui_path

from leads.commands import register_cli
from leads.config import Settings
from leads.db.embedded import resolve_database_url
from leads.db.pool import ConnectionPool
from leads.errors import register_error_handlers
from leads.routes import campaigns, events, health, leads, suppressions, webhooks
from leads.web.api import init_api
from leads.web.documented_errors import IdempotencyKeyPlugin
from leads.web.json_bodies import OrjsonProvider
from leads.web.metrics import init_metrics
from leads.web.rate_limits import document_rate_limits, init_rate_limits
from leads.web.request_id import init_request_id
from leads.web.request_log import init_request_log
from schemas.key_rules import KeyRulesPlugin


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app; `test_config` overrides Settings fields (e.g. database_url)."""
    settings = dataclasses.replace(Settings.from_environment(), **(test_config or {}))
    app = Flask("leads", static_folder=str(swagger_ui_path), static_url_path="/docs/assets")
    app.json = OrjsonProvider(app)  # the one writer of bodies (leads/web/json_bodies.py)
    app.config.update(
        LEADS_SETTINGS=settings,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        API_TITLE="leads",
        API_VERSION="1.0.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",  # served locally: no CDN
    )
    psycopg2.extras.register_uuid()
    app.extensions["leads_pool"] = ConnectionPool(
        resolve_database_url(settings.database_url, settings.embedded_data_dir),
        size=settings.db_pool_size,
        connect_timeout=settings.db_connect_timeout,
        wait_timeout=settings.db_pool_timeout,
        statement_timeout=settings.db_statement_timeout,
    )

    init_request_id(app)
    # Before any hook that may answer early (a rate limit), so that every request is timed.
    init_request_log(app)
    init_metrics(app)
    api = init_api(app, doc_plugins=[IdempotencyKeyPlugin(), KeyRulesPlugin()])
    document_rate_limits(api)
    api_blueprints = (campaigns.blp, leads.blp, suppressions.blp, events.blp, webhooks.blp)
    init_rate_limits(app, settings, api_blueprints)
    for blueprint in (health.blp, *api_blueprints):
        api.register_blueprint(blueprint)
    register_error_handlers(app)
    register_cli(app)
    return app
