"""Observability: one JSON log line per request (never a token or a lead's personal data),
X-Request-ID, and the Prometheus metrics at /metrics (requests, pool, leads imported).

Several gunicorn workers adding up their metrics is tested on the real start command, in
tests/test_container.py.
"""

from __future__ import annotations

import importlib
import json
import logging
from uuid import UUID

import psycopg2
import psycopg2.errors
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pythonjsonlogger.json import JsonFormatter

from leads.domain import campaigns
from leads.web.request_log import REQUEST_LOGGER, logging_config, skip_unused_record_fields
from tests.contract import MISSING_UUID, held_connection


def json_formatter() -> logging.Formatter:
    """The formatter gunicorn's logging configuration builds."""
    options = dict(logging_config("info")["formatters"]["json"])
    module, _, name = options.pop("()").rpartition(".")
    return getattr(importlib.import_module(module), name)(**options)


def request_lines(caplog) -> list[dict]:
    return [
        json.loads(json_formatter().format(record))
        for record in caplog.records
        if record.name == REQUEST_LOGGER
    ]


def line(method: str, route: str, status: int, request_id: str, workspace_id, found: dict):
    """The whole expected line; time and duration are taken from the line found."""
    assert isinstance(found["duration_ms"], float) and found["duration_ms"] >= 0
    assert isinstance(found["time"], str)
    return {
        "level": "INFO",
        "logger": REQUEST_LOGGER,
        "message": f"{method} {route} {status}",
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": found["duration_ms"],
        "request_id": request_id,
        "workspace_id": None if workspace_id is None else str(workspace_id),
        "time": found["time"],
    }


def workspace_of(db, name: str) -> UUID:
    with db.cursor() as cursor:
        cursor.execute("SELECT id FROM workspaces WHERE name = %s", (name,))
        return UUID(str(cursor.fetchone()[0]))


@pytest.mark.parametrize(
    "value", [10**30, "\ud800", "naïve", 42, 1.5, None, UUID(MISSING_UUID)], ids=repr
)
def test_every_line_is_what_json_formatter_writes(value):
    """The configured formatter writes with orjson, and with python-json-logger's
    JsonFormatter what orjson refuses (integers beyond 64 bits, lone surrogates): the
    same object either way, and no line lost."""
    record = logging.LogRecord("leads.test", logging.INFO, __file__, 1, "a %s", ("b",), None)
    record.field = value
    options = dict(logging_config("info")["formatters"]["json"])
    options.pop("()")
    expected = json.loads(JsonFormatter(**options).format(record))

    assert json.loads(json_formatter().format(record)) == expected


class TestRequestLog:
    @pytest.mark.parametrize(
        ("method", "path", "body", "authenticated", "route", "status"),
        [
            ("GET", "/healthz", None, False, "/healthz", 200),
            ("GET", "/readyz", None, False, "/readyz", 200),
            ("GET", "/api/campaigns", None, True, "/api/campaigns", 200),
            ("GET", "/api/campaigns", None, False, "/api/campaigns", 401),
            ("POST", "/api/campaigns", {"name": "X", "type": "email"}, True, "/api/campaigns", 201),
            ("POST", "/api/campaigns", {"name": ""}, True, "/api/campaigns", 400),
            (
                "GET",
                f"/api/campaigns/{MISSING_UUID}/leads",
                None,
                True,
                "/api/campaigns/<campaign_id>/leads",
                404,
            ),
            # The token is checked before the request is: a request that fails names its
            # workspace all the same.
            (
                "GET",
                f"/api/campaigns/{MISSING_UUID}/leads?limit=0",
                None,
                True,
                "/api/campaigns/<campaign_id>/leads",
                400,
            ),
            ("GET", "/no/such/path", None, True, "unmatched", 404),
            # No route matches the method: no blueprint hook runs, no token is checked.
            ("PUT", "/api/campaigns", {}, True, "unmatched", 405),
        ],
    )
    def test_one_line_per_request(
        self, app, api, db, caplog, method, path, body, authenticated, route, status
    ):
        caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
        headers = {"X-Request-ID": "req-42"}
        if not authenticated:
            headers["Authorization"] = ""
        response = api.request(method, path, json=body, headers=headers)
        assert response.status_code == status
        assert response.headers["X-Request-ID"] == "req-42"
        lines = request_lines(caplog)
        assert len(lines) == 1
        # The workspace is known once the token was checked (not on 401 or unmatched paths).
        workspace = workspace_of(db, "acme") if authenticated and route.startswith("/api") else None
        assert lines[0] == line(method, route, status, "req-42", workspace, lines[0])

    def test_the_switches_of_gunicorn_conf_change_no_line(self, app, api, db, caplog, monkeypatch):
        """gunicorn.conf.py stops `logging` gathering what no line writes (the thread, the
        process): the line stays the same whole line."""
        for name in ("logThreads", "logProcesses", "logMultiprocessing"):
            monkeypatch.setattr(logging, name, getattr(logging, name))  # restored afterwards
        skip_unused_record_fields()
        caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)

        response = api.get("/api/campaigns", headers={"X-Request-ID": "req-9"})

        assert response.status_code == 200
        (found,) = request_lines(caplog)
        route = "/api/campaigns"
        assert found == line("GET", route, 200, "req-9", workspace_of(db, "acme"), found)
        (record,) = [record for record in caplog.records if record.name == REQUEST_LOGGER]
        gathered = (record.threadName, record.process, record.processName)
        assert gathered == (None, None, None)

    def test_a_page_of_leads_names_the_workspace_of_its_token(
        self, app, api, db, caplog, email_campaign
    ):
        caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
        response = api.get(
            f"/api/campaigns/{email_campaign['id']}/leads", headers={"X-Request-ID": "req-7"}
        )
        assert response.status_code == 200
        (found,) = request_lines(caplog)
        route = "/api/campaigns/<campaign_id>/leads"
        assert found == line("GET", route, 200, "req-7", workspace_of(db, "acme"), found)

    def test_an_unknown_token_on_the_list_of_leads_names_no_workspace(
        self, app, caplog, email_campaign
    ):
        caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
        response = app.test_client().get(
            f"/api/campaigns/{email_campaign['id']}/leads",
            headers={"X-Request-ID": "req-8", "Authorization": "Bearer ld_" + "x" * 43},
        )
        assert response.status_code == 401
        (found,) = request_lines(caplog)
        route = "/api/campaigns/<campaign_id>/leads"
        assert found == line("GET", route, 401, "req-8", None, found)

    @pytest.mark.parametrize(
        ("sent", "echoed_as_sent"),
        [
            ("abc-123", True),
            ("a" * 128, True),
            ("a" * 129, False),
            ("has space", False),
            ("", False),
        ],
    )
    def test_request_id_is_echoed_and_logged(self, app, caplog, sent, echoed_as_sent):
        caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
        response = app.test_client().get("/healthz", headers={"X-Request-ID": sent})
        request_id = response.headers["X-Request-ID"]
        if echoed_as_sent:
            assert request_id == sent
        else:
            assert request_id != sent and len(request_id) == 32
        assert request_lines(caplog)[0]["request_id"] == request_id

    def test_no_token_and_no_personal_data_in_any_log_line(self, api, token, caplog):
        caplog.set_level(logging.DEBUG)
        campaign = api.create_campaign("Private", "email")
        leads_path = f"/api/campaigns/{campaign['id']}/leads"
        personal = ["jane.private@example.com", "Janeprivate", "Secretcorp", "Chief Secrets"]
        rows = [
            {"email": personal[0], "first_name": personal[1], "company": personal[2]},
            {"email": "not-an-email-jane.private", "position": personal[3]},
        ]
        assert api.post(leads_path, json={"prospects": rows}).status_code == 400
        assert api.post(leads_path, json={"prospects": rows[:1]}).status_code == 200
        assert api.post(f"{leads_path}?dry_run=true", json={"prospects": rows[:1]}).status_code
        lead_id = api.get(leads_path).json["prospects"][0]["id"]
        patch = {"prospect_id": lead_id, "updates": {"headline": personal[3]}}
        assert api.patch(leads_path, json=patch).status_code == 200
        assert api.get(f"/api/campaigns/{campaign['id']}/leads?status=pending").status_code == 200
        assert api.get("/healthz", headers={"Authorization": f"Bearer {token}x"}).status_code

        logged = "\n".join(json_formatter().format(record) for record in caplog.records)
        assert len(request_lines(caplog)) == 8
        assert token[3:20] not in logged
        for value in personal + ["jane.private", "Private"]:
            assert value.lower() not in logged.lower()


PERSON = "jane.private@example.com"


class TestServerErrorLog:
    """A 500 is logged with its type, place and request id, never its message: a database
    error's DETAIL quotes the row that broke a constraint."""

    @pytest.fixture
    def database_error(self, db) -> psycopg2.Error:
        """A real UniqueViolation from the database, its DETAIL naming a person."""
        with db.cursor() as cursor:
            cursor.execute("INSERT INTO workspaces (name) VALUES (%s)", (PERSON,))
            with pytest.raises(psycopg2.errors.UniqueViolation) as caught:
                cursor.execute("INSERT INTO workspaces (name) VALUES (%s)", (PERSON,))
        assert "Key (name)=(jane.private@example.com) already exists" in str(caught.value)
        return caught.value

    @pytest.mark.parametrize("kind", ["database", "python"])
    def test_a_500_logs_where_but_not_what(self, api, caplog, monkeypatch, database_error, kind):
        error = database_error if kind == "database" else KeyError(PERSON)

        def list_campaigns(*args, **kwargs):
            raise error

        monkeypatch.setattr(campaigns, "list_campaigns", list_campaigns)
        caplog.set_level(logging.DEBUG)
        response = api.get("/api/campaigns", headers={"X-Request-ID": "req-500"})

        assert (response.status_code, response.json) == (
            500,
            {
                "code": 500,
                "status": "Internal Server Error",
                "message": "Internal server error; quote request id req-500 when reporting it.",
            },
        )
        [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
        message = record.getMessage()
        assert record.exc_info is None
        assert "jane.private" not in message
        expected_kind = (
            "psycopg2.errors.UniqueViolation (SQLSTATE 23505, table workspaces, "
            "constraint workspaces_name_key)"
            if kind == "database"
            else "builtins.KeyError"
        )
        assert message.startswith(
            f"unhandled error {expected_kind} in request req-500; traceback (message withheld):\n"
        )
        assert "in list_campaigns\n    raise error" in message  # where it happened


def scrape(client) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def delta(before: dict, after: dict) -> dict:
    """What changed between two scrapes, without the scrapes' own samples."""
    changed = {}
    for key in after.keys() | before.keys():
        name, labels = key
        if ("route", "/metrics") in labels:
            continue
        difference = after.get(key, 0.0) - before.get(key, 0.0)
        if not name.startswith("leads_") or name.endswith(("_sum", "_created", "_bucket")):
            continue
        if difference:
            changed[(name, tuple(sorted(labels)))] = difference
    return changed


def requests_sample(name: str, method: str, route: str, status: str | None = None):
    labels = {"method": method, "route": route}
    if status is not None:
        labels["status"] = status
    return (name, tuple(sorted(labels.items())))


class TestMetrics:
    @pytest.mark.parametrize(
        ("method", "path", "route", "status", "checkouts"),
        [
            ("GET", "/healthz", "/healthz", "200", 0),
            # The token check, then the listing: two pool checkouts.
            ("GET", "/api/campaigns", "/api/campaigns", "200", 2),
            ("GET", f"/api/campaigns/{MISSING_UUID}", "/api/campaigns/<campaign_id>", "404", 2),
            ("GET", "/nothing/here", "unmatched", "404", 0),
            ("DELETE", "/healthz", "unmatched", "405", 0),  # no rule for the method
        ],
    )
    def test_requests_are_counted_and_timed_per_route(
        self, api, method, path, route, status, checkouts
    ):
        before = scrape(api)
        assert api.request(method, path).status_code == int(status)
        expected = {
            requests_sample("leads_http_requests_total", method, route, status): 1.0,
            requests_sample("leads_http_request_duration_seconds_count", method, route): 1.0,
        }
        if checkouts:
            expected[("leads_db_pool_wait_seconds_count", ())] = float(checkouts)
        assert delta(before, scrape(api)) == expected

    def test_pool_usage(self, app, pool):
        before = scrape(app.test_client())
        with held_connection(pool), held_connection(pool):
            during = scrape(app.test_client())
        after = scrape(app.test_client())
        in_use = ("leads_db_pool_connections_in_use", frozenset())
        assert during[in_use] == before[in_use] + 2
        assert after[in_use] == before[in_use]

    @pytest.mark.parametrize(
        ("query", "rows", "status", "imported", "duplicates", "rejected"),
        [
            # a@x.io is on the roster already; b twice in the batch; c new.
            ("", ["a@x.io", "b@x.io", "B@x.io", "c@x.io"], 200, 2, 2, 0),
            ("?dry_run=true", ["a@x.io", "b@x.io"], 200, 0, 0, 0),
            ("?dry_run=1", ["b@x.io"], 200, 0, 0, 0),
            ("?dry_run=false", ["b@x.io"], 200, 1, 0, 0),
            ("", ["bad", "b@x.io", "worse", "", "c@x.io"], 400, 0, 0, 3),
            ("?dry_run=true", ["bad", "b@x.io"], 400, 0, 0, 0),
            ("", [], 400, 0, 0, 0),
        ],
    )
    def test_leads_counters(
        self, api, email_campaign, query, rows, status, imported, duplicates, rejected
    ):
        path = f"/api/campaigns/{email_campaign['id']}/leads"
        assert api.post(path, json={"prospects": [{"email": "a@x.io"}]}).status_code == 200
        before = scrape(api)
        response = api.post(path + query, json={"prospects": [{"email": row} for row in rows]})
        assert response.status_code == status, response.json
        after = scrape(api)
        for name, expected in [
            ("leads_imported_total", imported),
            ("leads_duplicates_total", duplicates),
            ("leads_rows_rejected_total", rejected),
        ]:
            key = (name, frozenset())
            assert after[key] - before[key] == expected, name

    def test_an_idempotent_replay_is_not_counted_again(self, api, email_campaign):
        path = f"/api/campaigns/{email_campaign['id']}/leads"
        body = {"prospects": [{"email": "a@x.io"}, {"email": "a@x.io"}]}
        headers = {"Idempotency-Key": "once"}
        before = scrape(api)
        first = api.post(path, json=body, headers=headers)
        replay = api.post(path, json=body, headers=headers)
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json == first.json
        after = scrape(api)
        assert (
            after[("leads_imported_total", frozenset())]
            - before[("leads_imported_total", frozenset())]
            == 1
        )
        assert (
            after[("leads_duplicates_total", frozenset())]
            - before[("leads_duplicates_total", frozenset())]
            == 1
        )

    def test_metrics_need_no_token(self, app):
        response = app.test_client().get("/metrics")
        assert response.status_code == 200
        names = {family.name for family in text_string_to_metric_families(response.get_data(True))}
        assert {
            "leads_http_requests",
            "leads_http_request_duration_seconds",
            "leads_db_pool_connections_in_use",
            "leads_db_pool_size",
            "leads_db_pool_wait_seconds",
            "leads_imported",
            "leads_duplicates",
            "leads_rows_rejected",
        } <= names
