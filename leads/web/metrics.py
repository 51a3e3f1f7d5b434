"""Prometheus metrics at /metrics: requests per route, the connection pool, leads imported.

Under gunicorn each worker writes its samples to files in PROMETHEUS_MULTIPROC_DIR (set by
gunicorn.conf.py) and /metrics adds up every worker's, so a scrape sees the whole service
whichever worker answers it. Without that variable (tests, `flask run`) the process's own
registry is served.
"""

from __future__ import annotations

import functools
import os
import time

from flask import Flask, Response, g, request
from marshmallow import ValidationError, fields
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from leads.web.request_log import method_label, route_label

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "leads_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
REQUEST_DURATION = Histogram(
    "leads_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
POOL_IN_USE = Gauge(
    "leads_db_pool_connections_in_use",
    "Database connections checked out of the pools of the live processes.",
    multiprocess_mode="livesum",
)
POOL_SIZE = Gauge(
    "leads_db_pool_size",
    "Database connections the pools of the live processes may open at most.",
    multiprocess_mode="livesum",
)
POOL_WAIT = Histogram(
    "leads_db_pool_wait_seconds",
    "Time a request waited for a free database connection.",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10),
)
LEADS_IMPORTED = Counter(
    "leads_imported", "Leads added to campaign rosters (dry runs and replays not counted)."
)
LEADS_DUPLICATES = Counter(
    "leads_duplicates",
    "Rows sent to be added that duplicated a lead of their batch or of the roster.",
)
ROWS_REJECTED = Counter(
    "leads_rows_rejected",
    "Rows sent to be added that were invalid (their whole request was rejected with 400).",
)

# The endpoint that adds leads; its responses (the contract's wire format) are what the
# lead counters count, so a count is made once per answered request, after its commit.
ADD_LEADS_ENDPOINT = "leads.CampaignLeads"
_DRY_RUN = fields.Boolean()


def init_metrics(app: Flask) -> None:
    app.add_url_rule("/metrics", "metrics", serve_metrics)

    @app.before_request
    def start_clock() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def observe_request(response):
        requests, duration = _request_series(method_label(), route_label(), response.status_code)
        requests.inc()
        started = g.get("metrics_started")
        if started is not None:
            duration.observe(time.perf_counter() - started)
        if request.endpoint == ADD_LEADS_ENDPOINT and request.method == "POST":
            count_added_leads(response)
        return response


@functools.cache
def _request_series(method: str, route: str, status: int) -> tuple:
    """The request counter's and the duration histogram's series of one kind of request,
    looked up once: `labels()` takes a lock and checks its values on every call. The kinds
    are few (known methods, route templates, statuses), so the cache stays small."""
    return REQUESTS.labels(method, route, str(status)), REQUEST_DURATION.labels(method, route)


def serve_metrics() -> Response:
    if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def note_added_leads(outcome: dict) -> None:
    """Called by the add route with the outcome it answers: count_added_leads reads the
    counts from here rather than parse the response again (a body of every row's result)."""
    g.added_leads = (outcome["imported"], outcome["duplicates"])


def count_added_leads(response) -> None:
    """Count what an add request was told: imported and duplicate rows on success, the
    invalid rows (the indexes its 400 names) on rejection. Dry runs and idempotent replays
    wrote nothing and are not counted."""
    if _is_dry_run() or response.headers.get("Idempotent-Replayed") == "true":
        return
    if response.status_code == 200:
        imported, duplicates = g.get("added_leads", (0, 0))
        LEADS_IMPORTED.inc(imported)
        LEADS_DUPLICATES.inc(duplicates)
    elif response.status_code == 400:
        body = response.get_json(silent=True)
        errors = body.get("errors") if isinstance(body, dict) else None
        body_errors = errors.get("json") if isinstance(errors, dict) else None
        row_errors = body_errors.get("prospects") if isinstance(body_errors, dict) else None
        if isinstance(row_errors, dict):
            ROWS_REJECTED.inc(sum(1 for key in row_errors if str(key).isdigit()))


def _is_dry_run() -> bool:
    raw = request.args.get("dry_run")
    if raw is None:
        return False
    try:
        return _DRY_RUN.deserialize(raw)
    except ValidationError:
        return False
