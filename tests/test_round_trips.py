"""The messages each request sends to the database: every round trip is a cost per request
(docs/PERFORMANCE.md), so the budget of the hot routes is pinned here.

A message is one call to the server: BEGIN travels with a transaction's first statement,
the statement timeout with every first statement. Every request starts with the one access
check, `find_token` (leads/web/auth.py), a message of its own.
"""

from __future__ import annotations

import pytest

from leads.db import pool as leads_db
from leads.db.pool import DictRowCursor
from leads.db.queries import QUERIES
from schemas.leads import LeadsListQuerySchema
from tests.contract import ROUTES, add_leads, fill, route_id


def label(statement: str) -> str:
    """The query a message carries, by name; `BEGIN name` when BEGIN travels with it."""
    for name, text in QUERIES.items():
        if statement.endswith(text):
            return f"BEGIN {name}" if statement.startswith("BEGIN") else name
    return statement


@pytest.fixture
def messages(monkeypatch) -> list[str]:
    sent: list[str] = []
    real_execute = DictRowCursor.execute
    real_end = leads_db._end_transaction

    def execute(cursor, statement, params=None):
        sent.append(label(statement))
        return real_execute(cursor, statement, params)

    def end_transaction(connection, statement):
        sent.append(statement)
        return real_end(connection, statement)

    monkeypatch.setattr(DictRowCursor, "execute", execute)
    monkeypatch.setattr(leads_db, "_end_transaction", end_transaction)
    return sent


@pytest.fixture
def roster(api) -> tuple[dict, list[dict]]:
    campaign = api.create_campaign("Round trips", "email")
    leads = add_leads(api, campaign, [{"email": f"lead{n}@example.com"} for n in range(3)])
    return campaign, leads


def stored(db, campaign_id: str) -> dict:
    """What the database holds for the campaign: its leads' emails, its status and the
    total of its stats, and how many Idempotency-Key records exist."""
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT email FROM leads WHERE campaign_id = %s ORDER BY email", (campaign_id,)
        )
        emails = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT status::text, (stats->>'total')::int FROM campaigns WHERE id = %s",
            (campaign_id,),
        )
        status, total = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM idempotency_keys")
        (records,) = cursor.fetchone()
    return {"emails": emails, "status": status, "total": total, "records": records}


ROSTER = ["lead0@example.com", "lead1@example.com", "lead2@example.com"]


def test_a_page_of_leads_is_one_message_after_the_access_check(api, roster, messages):
    campaign, _ = roster
    response = api.get(f"/api/campaigns/{campaign['id']}/leads?limit=2")
    assert response.status_code == 200
    assert messages == ["find_token", "list_leads"]


def test_a_bad_list_query_looks_the_token_up_before_answering(api, roster, messages):
    campaign, _ = roster
    response = api.get(f"/api/campaigns/{campaign['id']}/leads?limit=0")
    assert response.status_code == 400
    assert messages == ["find_token"]


@pytest.mark.parametrize(
    ("query", "emails", "end", "held"),
    [
        # lead0 is in the roster already: its id comes back with the same statement.
        ("", ["new@example.com", "lead0@example.com"], "COMMIT", [*ROSTER, "new@example.com"]),
        ("?dry_run=true", ["new@example.com"], "ROLLBACK", ROSTER),
    ],
    ids=["import", "dry-run"],
)
def test_an_import(api, db, roster, messages, query, emails, end, held):
    campaign, leads = roster
    response = api.post(
        f"/api/campaigns/{campaign['id']}/leads{query}",
        json={"prospects": [{"email": email} for email in emails]},
    )
    assert response.status_code == 200
    assert messages == ["find_token", "find_campaign_type", "BEGIN add_leads", end]
    if "lead0@example.com" in emails:
        assert response.get_json()["results"][1]["id"] == leads[0]["id"]
    assert stored(db, campaign["id"]) == {
        "emails": held,
        "status": "draft",
        "total": len(held),
        "records": 0,
    }


@pytest.mark.parametrize(
    ("headers", "sent", "records"),
    [
        ({}, ["find_token", "BEGIN delete_leads", "COMMIT"], 0),
        # The Idempotency-Key's record is written in the removal's transaction.
        (
            {"Idempotency-Key": "delete-1"},
            [
                "find_token",
                "BEGIN lock_idempotency_key",
                "find_idempotent_response",
                "SAVEPOINT nested_1",
                "delete_leads",
                "RELEASE SAVEPOINT nested_1",
                "save_idempotent_response",
                "COMMIT",
            ],
            1,
        ),
    ],
    ids=["plain", "idempotency-key"],
)
def test_a_removal(api, db, roster, messages, headers, sent, records):
    campaign, leads = roster
    response = api.delete(
        f"/api/campaigns/{campaign['id']}/leads",
        json={"prospect_ids": [leads[0]["id"]]},
        headers=headers,
    )
    assert response.status_code == 200
    assert messages == sent
    assert stored(db, campaign["id"]) == {
        "emails": ROSTER[1:],
        "status": "draft",
        "total": 2,
        "records": records,
    }


def test_a_campaign_transition(api, db, roster, messages):
    campaign, _ = roster
    response = api.post(f"/api/campaigns/{campaign['id']}/launch")
    assert response.status_code == 200
    assert messages == [
        "find_token",
        "BEGIN lock_campaign",
        "set_campaign_status",
        "record_event",
        "COMMIT",
    ]
    assert stored(db, campaign["id"]) == {
        "emails": ROSTER,
        "status": "active",
        "total": 3,
        "records": 0,
    }


# Every route that succeeds on a draft campaign.
@pytest.mark.parametrize(
    "route",
    [route for route in ROUTES if not route[1].endswith(("/pause", "/resume", "/complete"))],
    ids=route_id,
)
def test_every_request_looks_its_token_up_once_before_anything_else(api, roster, messages, route):
    campaign, leads = roster
    method, path, body = fill(route, campaign["id"], leads[0]["id"])
    response = api.request(method, path, json=body)
    assert response.status_code in (200, 201), response.json
    assert messages[0] == "find_token"
    assert messages.count("find_token") == 1


def test_argument_schemas_are_built_once_not_per_request(api, roster, monkeypatch):
    # leads.web.api.Blueprint.arguments: webargs would build a schema given as a class on
    # every request.
    built = []
    real_init = LeadsListQuerySchema.__init__
    monkeypatch.setattr(
        LeadsListQuerySchema,
        "__init__",
        lambda schema, *args, **kwargs: built.append(1) or real_init(schema, *args, **kwargs),
    )
    campaign, _ = roster
    for _ in range(3):
        assert api.get(f"/api/campaigns/{campaign['id']}/leads").status_code == 200
    assert built == []
