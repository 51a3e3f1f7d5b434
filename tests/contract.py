"""What the tests share, stated once: the contract's values and error bodies, the client and the
steps that set a roster up through the API, and reads of what the database holds."""

from __future__ import annotations

import http
import json
import random
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from email.message import Message
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg2
import psycopg2.extras
from psycopg2 import sql

from leads.db.pool import transaction
from leads.web import auth
from leads_contract.strict_json import timestamp_text
from leads_contract.values import (
    CUSTOM_FIELDS,
    LEAD_STATUSES,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    TEXT_FIELDS,
)

# The contract's values come from leads_contract, which the service and the client share;
# tests/test_stats.py pins the lead statuses to the contract's list.
# A lead's profile: what a client sends, and may update.
PROFILE_FIELDS = (*TEXT_FIELDS, CUSTOM_FIELDS)
# Ann's profile as it is stored and listed (with the name derived from her first and last).
ANN_PROFILE = {
    "first_name": "Ann",
    "last_name": "Lee",
    "name": "Ann Lee",
    "company": "Acme",
    "position": "CTO",
    "headline": "Builds things",
}
# The lead object, keys in the contract's order.
LEAD_KEYS = ["id", "campaign_id", "status", *PROFILE_FIELDS, "created_at", "updated_at"]
# The contract's key order of a stats object.
STATS_KEYS = ["total", *LEAD_STATUSES, "contacted", "last_synced_at"]
# How to reach each campaign status through the API, from draft.
TRANSITIONS_TO = {
    "draft": [],
    "active": ["launch"],
    "paused": ["launch", "pause"],
    "completed": ["launch", "complete"],
}
# The status filter's choices, as the API's errors list them.
STATUS_CHOICES = ", ".join(LEAD_STATUSES)
# The errors for out-of-range paging.
PAGE_RANGE = f"Must be greater than or equal to 1 and less than or equal to {MAX_PAGE}."
LIMIT_RANGE = f"Must be greater than or equal to 1 and less than or equal to {MAX_PAGE_SIZE}."
# How long a test waits for one of its threads: far above what any of them needs.
THREAD_TIMEOUT = 30  # seconds
# A well-formed id that names nothing.
MISSING_UUID = "00000000-0000-4000-8000-000000000000"
# The header of a JSON body sent as raw data.
JSON = {"Content-Type": "application/json"}


def error_body(code: int, message: str, errors: dict | None = None) -> dict:
    """The contract's error shape."""
    body = {"code": code, "status": http.HTTPStatus(code).phrase, "message": message}
    if errors is not None:
        body["errors"] = errors
    return body


def bad_request(message: str, errors: dict | None = None) -> dict:
    return error_body(400, message, errors)


def bad_query(field: str, message: str) -> dict:
    """The 400 for one bad query parameter."""
    return bad_request(f"{field}: {message.rstrip('.')}", {"query": {field: [message]}})


def bad_body(path: str, message: str) -> dict:
    """The 400 for one bad field of a JSON body; `path` is dotted ("updates.company")."""
    errors: dict | list = [message]
    for key in reversed(path.split(".")):
        errors = {key: errors}
    return bad_request(f"{path}: {message.rstrip('.')}", {"json": errors})


def row_error(index: int, field: str, message: str, rows: str = "prospects") -> dict:
    """The body of a POST whose row `index` (of the list `rows`) has one bad field."""
    return bad_request(
        f"{rows}[{index}].{field}: {message.rstrip('.')}",
        {"json": {rows: {str(index): {field: [message]}}}},
    )


def bad_fields(message: str, **messages: str) -> dict:
    """The 400 for several bad top-level fields of a JSON body: its message, and each
    field's."""
    return bad_request(message, {"json": {field: [text] for field, text in messages.items()}})


def invalid_json(reason: str) -> dict:
    """The 400 of a body that is not valid JSON, for this reason."""
    return bad_request(f"Invalid JSON body: {reason}", {"json": [f"Invalid JSON body: {reason}."]})


def frozen_roster(status: str) -> str:
    """What the service says of a roster write to a campaign in this status (out of draft)."""
    return f"Campaign is {status} — the roster is frozen once a campaign leaves draft."


# The 400 of a listing asked for both a page number and a cursor.
PAGE_AND_CURSOR = bad_request(
    "Send either page or cursor, not both",
    {"query": {"_schema": ["Send either page or cursor, not both."]}},
)
# The 400 of a JSON body that is not an object.
NOT_AN_OBJECT = bad_request("Invalid input type", {"json": {"_schema": ["Invalid input type."]}})
NOT_FOUND = error_body(404, "Campaign not found.")
UNSUPPORTED = error_body(415, "Request bodies must be JSON (Content-Type: application/json).")
UNAVAILABLE = error_body(503, "The database is unavailable; retry later.")
# Content types other than JSON, each a 415 on a write (None: no Content-Type at all).
NOT_JSON_CONTENT_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "application/octet-stream",
    "text/json",
    None,
]
# The 404 of a path that matches no route.
NO_ROUTE = error_body(
    404,
    "The requested URL was not found on the server. If you entered the URL manually please "
    "check your spelling and try again.",
)
# The 413 of an app whose body limit is set to 1,024 bytes.
TOO_LARGE = error_body(
    413,
    "The request body is larger than this service's limit of 1,024 bytes; "
    "split it into smaller requests.",
)


def internal_error(request_id: str) -> dict:
    """The 500 that quotes the request's id, and nothing of what went wrong."""
    return error_body(
        500, f"Internal server error; quote request id {request_id} when reporting it."
    )


def usage_error(command: str, message: str, arguments: str = "") -> str:
    """What the `leads` command writes to stderr for a usage error of `command` (whose usage
    line ends in `arguments`, e.g. `[IDS]...`)."""
    usage = f"{command} [OPTIONS]" + (f" {arguments}" if arguments else "")
    return f"Usage: {usage}\nTry '{command} --help' for help.\n\nError: {message}\n"


SUPPRESSIONS = "/api/suppressions"
SUPPRESSIONS_CHECK = "/api/suppressions/check"


# The ways a path's campaign id can name no campaign of the request's workspace: each one
# must be the same 404.
MISSING_CAMPAIGNS = ("unknown", "other workspace", "not a uuid", "uuid prefix")


def missing_campaign_id(which: str, ours: dict, theirs: dict) -> str:
    """The campaign id of one of MISSING_CAMPAIGNS; `theirs` is another workspace's."""
    return {
        "unknown": MISSING_UUID,
        "other workspace": theirs["id"],
        "not a uuid": "not-a-uuid",
        "uuid prefix": ours["id"][:-1],
    }[which]


def leads_url(campaign_id: str, **query) -> str:
    """The campaign's roster, with these query parameters (in this order)."""
    params = "&".join(f"{key}={quote(str(value), safe='')}" for key, value in query.items())
    return f"/api/campaigns/{campaign_id}/leads" + (f"?{params}" if params else "")


# The servers and databases the tests run on.

APP_TABLES = (
    "workspaces",
    "api_tokens",
    "campaigns",
    "leads",
    "campaign_lead_counts",
    "idempotency_keys",
    "suppressions",
    "event_positions",
    "events",
    "webhook_endpoints",
    "webhook_deliveries",
)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listened on when asked."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_request(
    base_url: str, method: str, path: str, *, body=None, headers=None
) -> tuple[int, Message, bytes]:
    """(status, headers, body) of one request to a service that runs, sent over HTTP as a
    client sends it: `body` as JSON; an error status is an answer, not an exception."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base_url + path, data=data, method=method, headers=dict(headers or {})
    )
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def with_database(url: str, name: str) -> str:
    """`url` with its database replaced by `name`."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextmanager
def connected(url: str) -> Iterator[psycopg2.extensions.connection]:
    """An autocommit connection to `url`, closed on leaving."""
    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        yield connection
    finally:
        connection.close()


@contextmanager
def open_transaction(url: str) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor in a transaction on a connection of its own, rolled back and closed on
    leaving: for holding a lock while the service runs."""
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            yield cursor
    finally:
        connection.rollback()
        connection.close()


@contextmanager
def committed(url: str) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor in a transaction on a connection of its own, committed on leaving (rolled
    back on an error), then closed."""
    connection = psycopg2.connect(url)
    try:
        with connection, connection.cursor() as cursor:
            yield cursor
    finally:
        connection.close()


def create_database(server_url: str, name: str) -> str:
    """Create the database `name` on the server of `server_url`; return its URL."""
    with connected(with_database(server_url, "postgres")) as connection:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """Drop the database `name` from the server of `server_url`, if there, sessions and all."""
    with connected(with_database(server_url, "postgres")) as connection:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


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


def wait_for_lock_waiters(db, count: int) -> None:
    """Wait until `count` sessions of this database are waiting for a lock."""
    deadline = time.monotonic() + THREAD_TIMEOUT
    with db.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= count:
                return
            time.sleep(0.02)
    raise AssertionError(f"no {count} session(s) waiting for a lock")


def make_token(pool, workspace: str) -> str:
    with transaction(pool) as tx:
        return auth.create_token(tx, workspace)


def run_threads(workers: list[Callable[[], Any]]) -> list[Any]:
    """Run each worker in its own thread, all released at once; return their results."""
    barrier = threading.Barrier(len(workers))

    def start(worker):
        barrier.wait(timeout=THREAD_TIMEOUT)
        return worker()

    with ThreadPoolExecutor(max_workers=len(workers)) as executor:
        futures = [executor.submit(start, worker) for worker in workers]
        return [future.result(timeout=THREAD_TIMEOUT) for future in futures]


# The API, as a client sees it.


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


# Every authenticated route: (method, path, JSON body). {id} is a campaign, {lead} a lead.
ROUTES = [
    ("GET", "/api/campaigns", None),
    ("POST", "/api/campaigns", {"name": "New", "type": "email"}),
    ("GET", "/api/campaigns/{id}", None),
    ("GET", "/api/campaigns/{id}/leads", None),
    ("POST", "/api/campaigns/{id}/leads", {"prospects": [{"email": "new@example.com"}]}),
    ("PATCH", "/api/campaigns/{id}/leads", {"prospect_id": "{lead}", "updates": {"company": "X"}}),
    ("DELETE", "/api/campaigns/{id}/leads", {"all": True}),
    ("POST", "/api/campaigns/{id}/launch", None),
    ("POST", "/api/campaigns/{id}/pause", None),
    ("POST", "/api/campaigns/{id}/resume", None),
    ("POST", "/api/campaigns/{id}/complete", None),
    ("GET", "/api/suppressions", None),
    ("POST", "/api/suppressions", {"entries": [{"kind": "email", "value": "new@example.com"}]}),
    ("DELETE", "/api/suppressions", {"ids": [MISSING_UUID]}),
    ("POST", "/api/suppressions/check", {"identities": [{"email": "new@example.com"}]}),
    ("GET", "/api/events", None),
]


def route_id(route) -> str:
    return f"{route[0]} {route[1]}"


def fill(route, campaign_id: str, lead_id: str) -> tuple[str, str, dict | None]:
    """The route's method, path and body for this campaign and lead."""
    method, path, body = route
    if body is not None and body.get("prospect_id") == "{lead}":
        body = {**body, "prospect_id": lead_id}
    return method, path.format(id=campaign_id), body


def add_leads(api, campaign: dict, rows: list[dict]) -> list[dict]:
    """Add rows that are all new and return every lead as the API lists it (oldest first)."""
    response = api.post(leads_url(campaign["id"]), json={"prospects": rows})
    assert response.status_code == 200, response.json
    assert response.json["imported"] == len(rows), response.json
    listing = api.get(leads_url(campaign["id"], limit=200))
    assert listing.status_code == 200, listing.json
    return listing.json["prospects"]


def suppress(api, entries: list[dict], **options) -> dict:
    """POST these entries to the suppression list (with these other keys of the body);
    the 200's body."""
    response = api.post(SUPPRESSIONS, json={"entries": entries, **options})
    assert response.status_code == 200, response.json
    return response.json


def result(index: int, outcome: str, id_: str, identity: str, duplicate_of: str | None) -> dict:
    """One row's result in the response of a lead add."""
    return {
        "index": index,
        "outcome": outcome,
        "id": id_,
        "identity": identity,
        "duplicate_of": duplicate_of,
    }


def move_to(api, campaign: dict, status: str) -> dict:
    """Walk the campaign to `status` with the transition routes; return it as last answered."""
    current = campaign
    for transition in TRANSITIONS_TO[status]:
        response = api.post(f"/api/campaigns/{campaign['id']}/{transition}")
        assert response.status_code == 200, response.json
        current = response.json["campaign"]
    assert current["status"] == status
    return current


def record_five_events(api) -> dict:
    """Five changes, five events: a campaign created, leads added, one updated, a suppression
    entry added, the campaign launched."""
    campaign = api.create_campaign("Spring", "email")
    ada, _ = add_leads(api, campaign, [{"email": "ada@example.com"}, {"email": "bob@example.com"}])
    updated = api.patch(
        leads_url(campaign["id"]), json={"prospect_id": ada["id"], "updates": {"company": "ACME"}}
    )
    assert updated.status_code == 200, updated.json
    suppressed = api.post(
        "/api/suppressions", json={"entries": [{"kind": "domain", "value": "x.io"}]}
    )
    assert suppressed.status_code == 200, suppressed.json
    assert api.post(f"/api/campaigns/{campaign['id']}/launch").status_code == 200
    return campaign


# What the database holds.


def database_state(db) -> dict[str, list[dict]]:
    """Every row of every application table, in a stable order: equal states mean nothing
    was written."""
    state = {}
    with db.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
        for table in APP_TABLES:
            cursor.execute(sql.SQL("SELECT * FROM {} ORDER BY 1, 2").format(sql.Identifier(table)))
            state[table] = cursor.fetchall()
    return state


def purge_events_through(app, db, position: int) -> str:
    """Age the events up to `position` past the 30 days kept, then run the daily purge; its
    output."""
    with db.cursor() as cursor:
        cursor.execute(
            "UPDATE events SET occurred_at = now() - interval '31 days' WHERE position <= %s",
            (position,),
        )
    result = app.test_cli_runner().invoke(args=["events", "purge"])
    assert result.exit_code == 0, result.output
    return result.output


def query_rows(db, query: str | sql.Composable, params: Sequence = ()) -> list[dict]:
    """The rows a query returns, each as a dict of its columns."""
    with db.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
        cursor.execute(query, params)
        return [dict(row) for row in cursor.fetchall()]


def stored_campaign(db, campaign_id: str) -> dict | None:
    """A campaign as stored, with its workspace's name (None when there is none)."""
    rows = query_rows(
        db,
        "SELECT campaigns.id, workspaces.name AS workspace, campaigns.name, campaigns.type,"
        " campaigns.status, campaigns.stats, campaigns.created_at, campaigns.updated_at"
        " FROM campaigns JOIN workspaces ON workspaces.id = campaigns.workspace_id"
        " WHERE campaigns.id = %s",
        (campaign_id,),
    )
    return rows[0] if rows else None


def as_stored_campaign(campaign: dict, workspace: str) -> dict:
    """The campaigns row behind an API campaign, as stored_campaign reads it."""
    return {
        "id": uuid.UUID(campaign["id"]),
        "workspace": workspace,
        "name": campaign["name"],
        "type": campaign["type"],
        "status": campaign["status"],
        "stats": campaign["stats"],
        "created_at": datetime.fromisoformat(campaign["created_at"]),
        "updated_at": datetime.fromisoformat(campaign["updated_at"]),
    }


# Every column of a lead, and those a client's writes set (its identity and profile).
LEAD_COLUMNS = ("identity", *LEAD_KEYS)
STORED_FIELDS = ("identity", *PROFILE_FIELDS)


def _lead_columns(columns: Sequence[str]) -> sql.Composable:
    """A select list of these lead columns; ids and the status read as text, as the API shows
    them."""
    return sql.SQL(", ").join(
        sql.SQL("{0}::text AS {0}").format(sql.Identifier(column))
        if column in ("id", "campaign_id", "status")
        else sql.Identifier(column)
        for column in columns
    )


def stored_leads(db, campaign_id: str, columns: Sequence[str] = LEAD_COLUMNS) -> list[dict]:
    """The campaign's leads as stored, oldest first (ties by id): these columns of each."""
    return query_rows(
        db,
        sql.SQL("SELECT {} FROM leads WHERE campaign_id = %s ORDER BY created_at, leads.id").format(
            _lead_columns(columns)
        ),
        (campaign_id,),
    )


def stored_lead_ids(db, campaign_id: str) -> list[str]:
    """The ids of the campaign's leads as stored, oldest first (ties by id)."""
    return [lead["id"] for lead in stored_leads(db, campaign_id, ["id"])]


def stored_lead(db, lead_id: str, columns: Sequence[str] = LEAD_COLUMNS) -> dict | None:
    """One lead as stored (None when there is none): these columns of it."""
    rows = query_rows(
        db,
        sql.SQL("SELECT {} FROM leads WHERE leads.id = %s").format(_lead_columns(columns)),
        (lead_id,),
    )
    return rows[0] if rows else None


def ids_by_identity(db, campaign_id: str) -> dict[str, str]:
    """The campaign's lead ids by the identity each is stored under."""
    return {
        lead["identity"]: lead["id"] for lead in stored_leads(db, campaign_id, ["identity", "id"])
    }


def stored_suppressions(db) -> list[dict]:
    """Every suppression entry as stored, of every workspace (its name), in list order
    (oldest first, ties by id)."""
    return query_rows(
        db,
        "SELECT workspaces.name AS workspace, suppressions.id::text AS id,"
        " suppressions.kind::text AS kind, suppressions.value,"
        " suppressions.reason::text AS reason, suppressions.note, suppressions.created_at"
        " FROM suppressions JOIN workspaces ON workspaces.id = suppressions.workspace_id"
        " ORDER BY suppressions.created_at, suppressions.id",
    )


def entry_as_listed(row: dict) -> dict:
    """A stored suppression entry (stored_suppressions) as the API shows it."""
    return {
        "id": row["id"],
        "kind": row["kind"],
        "value": row["value"],
        "reason": row["reason"],
        "note": row["note"],
        "created_at": row["created_at"].isoformat(),
    }


def as_listed(row: dict) -> dict:
    """A stored lead (its LEAD_KEYS columns) as the API shows it: ids as text, the name
    derived from the first and last name when none was given, times in ISO 8601."""
    derived = " ".join(part for part in (row["first_name"], row["last_name"]) if part)
    return {
        **row,
        "id": str(row["id"]),
        "campaign_id": str(row["campaign_id"]),
        "name": row["name"] or derived or None,
        "created_at": timestamp_text(row["created_at"]),
        "updated_at": timestamp_text(row["updated_at"]),
    }


def set_statuses(db, statuses_by_id: dict[str, str]) -> None:
    """Give these leads these statuses, in SQL, as the sending engine does: the API never
    sets a lead's status."""
    with db.cursor() as cursor:
        for lead_id, status in statuses_by_id.items():
            cursor.execute("UPDATE leads SET status = %s WHERE id = %s", (status, lead_id))


# Campaign stats, checked against the roster itself.


def _per_status(db, query: str, campaign_id: str) -> dict[str, int]:
    """Leads per status (all ten, in enum order) from a query's (status, count) rows."""
    with db.cursor() as cursor:
        cursor.execute(query, (campaign_id,))
        counted = dict(cursor.fetchall())
    return {status: counted.get(status, 0) for status in LEAD_STATUSES}


def recount(db, campaign_id: str) -> dict[str, int]:
    """Leads per status, counted from the roster itself."""
    return _per_status(
        db,
        "SELECT status::text, count(*) FROM leads WHERE campaign_id = %s GROUP BY status",
        campaign_id,
    )


def maintained_counts(db, campaign_id: str) -> dict[str, int]:
    """Leads per status as the triggers keep them in campaign_lead_counts."""
    return _per_status(
        db,
        "SELECT status::text, lead_count FROM campaign_lead_counts WHERE campaign_id = %s",
        campaign_id,
    )


def stats_of(counts: dict[str, int], last_synced_at: str) -> dict:
    """The stats object for these per-status counts."""
    total = sum(counts.values())
    return {
        "total": total,
        **counts,
        "contacted": total - counts["pending"] - counts["cancelled"],
        "last_synced_at": last_synced_at,
    }


def pending_stats(total: int, last_synced_at: str) -> dict:
    """The stats of a roster whose `total` leads are all pending."""
    counts = {status: 0 for status in LEAD_STATUSES} | {"pending": total}
    return stats_of(counts, last_synced_at)


def stored_stats(db, campaign_id: str) -> dict:
    with db.cursor() as cursor:
        cursor.execute("SELECT stats FROM campaigns WHERE id = %s", (campaign_id,))
        return cursor.fetchone()[0]


def workspace_of(db, campaign_id: str) -> str:
    """The workspace of a campaign, as the database holds it."""
    with db.cursor() as cursor:
        cursor.execute("SELECT workspace_id::text FROM campaigns WHERE id = %s", (campaign_id,))
        return cursor.fetchone()[0]


def recalculate(db, campaign_id: str) -> tuple[dict, datetime]:
    """What recalculate_campaign_stats returns, with the time of its transaction."""
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT recalculate_campaign_stats(workspace_id, id), now() FROM campaigns"
            " WHERE id = %s",
            (campaign_id,),
        )
        return cursor.fetchone()


def assert_stats_match_roster(db, campaign_id: str, answered: dict | None = None) -> None:
    """The stored stats and the maintained counts both equal a full recount; so do the stats
    a response `answered`, when given."""
    counts = recount(db, campaign_id)
    stats = stored_stats(db, campaign_id)
    assert stats == stats_of(counts, stats["last_synced_at"])
    assert maintained_counts(db, campaign_id) == counts
    if answered is not None:
        assert answered == stats


# People to add, and the ways to write them.


def identity(campaign_type: str, who: str) -> str:
    """The key `who` is stored under in a campaign of this type."""
    if campaign_type == "email":
        return f"{who}@example.com"
    return f"https://www.linkedin.com/in/{who}"


def spelling(rng: random.Random, campaign_type: str, who: str) -> str:
    """One of the ways to write `who`'s identity that normalize to identity(type, who)."""
    if campaign_type == "email":
        return rng.choice(
            [f"{who}@example.com", f" {who.upper()}@Example.COM", f"{who}@EXAMPLE.com\t"]
        )
    return rng.choice(
        [
            f"linkedin.com/in/{who}",
            f"https://uk.linkedin.com/in/{who.upper()}/",
            f"http://www.linkedin.com/in/{who}?trk=soak#x",
            f"m.linkedin.com/in/{who}/recent-activity/all/",
        ]
    )


# The change feed.


def stored_events(db) -> list[dict]:
    """Every event the database holds, in feed order, as the API shows them."""
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT position, id::text, type, occurred_at, campaign_id::text, data"
            " FROM events ORDER BY workspace_id, position"
        )
        return [
            {
                "position": position,
                "event": {
                    "id": event_id,
                    "type": event_type,
                    "occurred_at": timestamp_text(occurred_at),
                    "campaign_id": campaign_id,
                    "data": data,
                },
            }
            for position, event_id, event_type, occurred_at, campaign_id, data in cursor
        ]


def feed(api, **query) -> dict:
    """The API's answer to GET /api/events with this query."""
    response = api.get("/api/events", query_string=query)
    assert response.status_code == 200, response.json
    assert list(response.json) == ["events", "next_cursor"]
    return response.json


def follow(api, cursor: str | None = None, **query) -> tuple[list[dict], str]:
    """Every event after the cursor, polling until a page comes back empty."""
    events = []
    while True:
        page = feed(api, **({"after": cursor} if cursor else {}), **query)
        cursor = page["next_cursor"]
        if not page["events"]:
            return events, cursor
        events.extend(page["events"])


@contextmanager
def polling_feed(client) -> Iterator[list[dict]]:
    """A thread that follows the change feed with `client` while the block runs, and once
    more after it: the list it yields fills with every event read, in the order read. What
    went wrong in the thread fails the test on leaving."""
    stop = threading.Event()
    polled: list[dict] = []
    errors: list[BaseException] = []

    def poll():
        cursor = None
        try:
            while True:
                finished = stop.is_set()
                events, cursor = follow(client, cursor, limit=7)
                polled.extend(events)
                if finished:
                    return
                time.sleep(0.01)
        except BaseException as error:  # reported in the test's thread, below
            errors.append(error)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        yield polled
    finally:
        stop.set()
        poller.join(timeout=THREAD_TIMEOUT)
    assert not errors, errors
    assert not poller.is_alive()
