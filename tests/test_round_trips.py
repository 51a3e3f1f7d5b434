"""The messages each request sends to the database: every round trip is a cost per request
(docs/PERFORMANCE.md), so the budget of the hot routes is pinned here.

A message is one call to the server: BEGIN travels with a transaction's first statement,
the statement timeout with every first statement, and the roster's routes check the token
in their own first query (leads.api.checks_token_in_its_query).
"""

from __future__ import annotations

import pytest

from leads import db as leads_db
from leads.db import DictRowCursor
from leads.queries import QUERIES
from tests.roster_api import add_leads


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


def test_a_page_of_leads_is_one_message(api, roster, messages):
    campaign, _ = roster
    response = api.get(f"/api/campaigns/{campaign['id']}/leads?limit=2")
    assert response.status_code == 200
    assert messages == ["list_leads"]


def test_a_bad_list_query_looks_the_token_up_before_answering(api, roster, messages):
    campaign, _ = roster
    response = api.get(f"/api/campaigns/{campaign['id']}/leads?limit=0")
    assert response.status_code == 400
    assert messages == ["find_token"]


@pytest.mark.parametrize(
    ("query", "emails", "found", "end"),
    [
        # lead0 is in the roster already: its id is looked up.
        ("", ["new@example.com", "lead0@example.com"], ["find_leads_by_identity"], "COMMIT"),
        ("?dry_run=true", ["new@example.com"], [], "ROLLBACK"),
    ],
    ids=["import", "dry-run"],
)
def test_an_import(api, roster, messages, query, emails, found, end):
    campaign, _ = roster
    response = api.post(
        f"/api/campaigns/{campaign['id']}/leads{query}",
        json={"prospects": [{"email": email} for email in emails]},
    )
    assert response.status_code == 200
    assert messages == [
        "find_campaign_type",
        "BEGIN lock_campaign",
        "insert_leads",
        *found,
        "recalculate_campaign_stats",
        end,
    ]


def test_a_removal(api, roster, messages):
    campaign, leads = roster
    response = api.delete(
        f"/api/campaigns/{campaign['id']}/leads", json={"prospect_ids": [leads[0]["id"]]}
    )
    assert response.status_code == 200
    assert messages == [
        "BEGIN lock_campaign",
        "delete_leads",
        "recalculate_campaign_stats",
        "COMMIT",
    ]


def test_a_write_with_an_idempotency_key_needs_the_workspace_first(api, roster, messages):
    campaign, leads = roster
    response = api.delete(
        f"/api/campaigns/{campaign['id']}/leads",
        json={"prospect_ids": [leads[0]["id"]]},
        headers={"Idempotency-Key": "delete-1"},
    )
    assert response.status_code == 200
    assert messages == [
        "find_token",
        "BEGIN lock_idempotency_key",
        "find_idempotent_response",
        "SAVEPOINT nested_1",
        "lock_campaign",
        "delete_leads",
        "recalculate_campaign_stats",
        "RELEASE SAVEPOINT nested_1",
        "save_idempotent_response",
        "COMMIT",
    ]


def test_a_campaign_transition(api, roster, messages):
    campaign, _ = roster
    response = api.post(f"/api/campaigns/{campaign['id']}/launch")
    assert response.status_code == 200
    assert messages == ["find_token", "BEGIN lock_campaign", "set_campaign_status", "COMMIT"]
