"""Small shared steps of the HTTP tests: set a roster up, snapshot the database, error bodies."""

from __future__ import annotations

import http

import psycopg2.extras
from psycopg2 import sql

from tests.conftest import APP_TABLES

# The contract's lead statuses, in its order (stated here, not imported from the service).
LEAD_STATUSES = (
    "pending",
    "sent",
    "connection_sent",
    "connected",
    "message_sent",
    "replied",
    "bounced",
    "completed",
    "timed_out",
    "cancelled",
)

# How to reach each campaign status through the API, from draft.
TRANSITIONS_TO = {
    "draft": [],
    "active": ["launch"],
    "paused": ["launch", "pause"],
    "completed": ["launch", "complete"],
}


def leads_url(campaign: dict) -> str:
    return f"/api/campaigns/{campaign['id']}/leads"


def add_leads(api, campaign: dict, rows: list[dict]) -> list[dict]:
    """Add rows that are all new and return every lead as the API lists it (oldest first)."""
    response = api.post(leads_url(campaign), json={"prospects": rows})
    assert response.status_code == 200, response.json
    assert response.json["imported"] == len(rows), response.json
    listing = api.get(f"{leads_url(campaign)}?limit=200")
    assert listing.status_code == 200, listing.json
    return listing.json["prospects"]


def move_to(api, campaign: dict, status: str) -> dict:
    """Walk the campaign to `status` with the transition routes; return it as last answered."""
    current = campaign
    for transition in TRANSITIONS_TO[status]:
        response = api.post(f"/api/campaigns/{campaign['id']}/{transition}")
        assert response.status_code == 200, response.json
        current = response.json["campaign"]
    assert current["status"] == status
    return current


def database_state(db) -> dict[str, list[dict]]:
    """Every row of every application table, in a stable order."""
    state = {}
    with db.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
        for table in APP_TABLES:
            cursor.execute(sql.SQL("SELECT * FROM {} ORDER BY 1, 2").format(sql.Identifier(table)))
            state[table] = cursor.fetchall()
    return state


def error_body(code: int, message: str, errors: dict | None = None) -> dict:
    """The contract's error shape."""
    body = {"code": code, "status": http.HTTPStatus(code).phrase, "message": message}
    if errors is not None:
        body["errors"] = errors
    return body
