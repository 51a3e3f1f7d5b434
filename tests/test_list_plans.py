"""The plans that the function list_campaign_leads (leads/sql/functions/) runs with.

PL/pgSQL plans a statement for its first calls with the values given, then may keep a
generic plan, made without them, for every later call. The function keeps generic plans
from its first call, whatever the session's plan_cache_mode (its `SET plan_cache_mode`):
the page's statement, whose LIMIT is a parameter, would otherwise be planned again on every
call. Each
statement must be a scan of the list-order index under any plans, whatever filter, cursor
or page number the calls that came first asked for: a generic plan that scanned and sorted
the roster would turn every later page of that session into a scan of the whole roster.

The plans are read with auto_explain, which sends the plan of every statement the
function runs to the client as a NOTICE, on a roster large enough for the planner to
tell a scan of it from an index lookup (its statistics are those of a real roster).
"""

from __future__ import annotations

import re

import psycopg2
import pytest

from leads.db.queries import QUERIES

ROSTER = 50_000
PAGE_SIZE = 200
# The statements of list_campaign_leads that read leads, and the indexes they must scan.
ORDER_INDEXES = ("leads_campaign_order_idx", "leads_campaign_status_order_idx")

SEED_LEADS = """
INSERT INTO leads (workspace_id, id, campaign_id, identity, status, email, created_at)
SELECT (SELECT workspace_id FROM campaigns WHERE id = %(campaign_id)s),
       gen_random_uuid(), %(campaign_id)s, 'lead' || n || '@example.com',
       (CASE WHEN n %% 100 = 0 THEN 'bounced' WHEN n %% 10 < 7 THEN 'pending'
             WHEN n %% 10 < 9 THEN 'sent' ELSE 'replied' END)::lead_status,
       'lead' || n || '@example.com', '2020-01-01'::timestamptz + n * interval '1 second'
FROM generate_series(1, %(count)s) AS n
"""


@pytest.fixture
def workspace_id(db, api) -> str:
    """The workspace of `api`'s token (acme), as the access check finds it."""
    with db.cursor() as cursor:
        cursor.execute("SELECT id FROM workspaces WHERE name = 'acme'")
        return cursor.fetchone()[0]


@pytest.fixture
def roster(api, db):
    """A campaign of ROSTER leads (a rare status among them), another one beside it, and
    fresh statistics. Returns the campaign's id."""
    campaign_id = api.create_campaign("Large")["id"]
    other_id = api.create_campaign("Small")["id"]
    with db.cursor() as cursor:
        cursor.execute(SEED_LEADS, {"campaign_id": campaign_id, "count": ROSTER})
        cursor.execute(SEED_LEADS, {"campaign_id": other_id, "count": 100})
        cursor.execute("ANALYZE leads")
    return campaign_id


def list_leads_explained(
    database_url, workspace_id, calls, *, session_mode="auto", function_mode=None
):
    """Run the list query once per call in one session, with auto_explain on; return each
    call's rows and the plans of the statements it ran that read leads.

    `session_mode` is the session's plan_cache_mode. `function_mode`, when given, replaces
    the function's own setting for these calls, in a transaction that is rolled back: the
    database keeps the function as its file defines it.
    """
    connection = psycopg2.connect(database_url)
    connection.autocommit = function_mode is None
    try:
        with connection.cursor() as cursor:
            cursor.execute("LOAD 'auto_explain'")
            cursor.execute("SET auto_explain.log_min_duration = 0")
            cursor.execute("SET auto_explain.log_nested_statements = on")
            cursor.execute("SET auto_explain.log_level = notice")
            cursor.execute("SET plan_cache_mode = %s", (session_mode,))
            if function_mode is not None:
                # The only function of that name: no argument list needed.
                cursor.execute(
                    "ALTER FUNCTION list_campaign_leads SET plan_cache_mode = %s", (function_mode,)
                )
            results = []
            for call in calls:
                del connection.notices[:]
                cursor.execute(
                    QUERIES["list_leads"],
                    {
                        "workspace_id": workspace_id,
                        "after_created_at": None,
                        "after_id": None,
                        "offset": 0,
                        "page_size": PAGE_SIZE,
                        **call,
                    },
                )
                plans = [
                    notice
                    for notice in connection.notices
                    if re.search(r"\bFROM leads\b", notice) and "list_campaign_leads(" not in notice
                ]
                results.append((cursor.fetchall(), plans))
            return results
    finally:
        if not connection.autocommit:
            connection.rollback()
        connection.close()


def position_in(db, campaign_id, offset):
    """(created_at, id) of the campaign's lead at `offset` in list order: where a cursor
    taken there starts the next page."""
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT created_at, id FROM leads WHERE campaign_id = %s"
            " ORDER BY created_at, id OFFSET %s LIMIT 1",
            (campaign_id, offset),
        )
        return cursor.fetchone()


def calls_of_every_shape(campaign_id, cursor_position):
    """First pages, cursor pages and page numbers, without and with filters (one of them a
    rare status), each twice: the plans kept after five calls are the ones that
    matter, and the order puts each shape after calls of the others."""
    created_at, lead_id = cursor_position
    shapes = []
    for status in (None, "sent", "bounced"):
        shapes += [
            {"status": status},
            {"status": status, "after_created_at": created_at, "after_id": lead_id},
            {"status": status, "offset": 2 * PAGE_SIZE},
        ]
    return [{"campaign_id": campaign_id, **shape} for shape in shapes * 2]


# None: the function as defined (generic plans from the first call); the others replace
# its setting, so that plans made with the values are checked too.
@pytest.mark.parametrize("function_mode", [None, "force_custom_plan", "auto"])
def test_every_statement_scans_the_list_order_index(
    roster, database_url, db, workspace_id, function_mode
):
    cursor_position = position_in(db, roster, ROSTER // 2)
    calls = calls_of_every_shape(roster, cursor_position)

    results = list_leads_explained(database_url, workspace_id, calls, function_mode=function_mode)

    for call, (rows, plans) in zip(calls, results, strict=True):
        # The campaign's row, the page and one lead more.
        assert len(rows) == 1 + PAGE_SIZE + 1 or call["status"] == "bounced", call
        # The page, and before it the lead where a page number starts.
        assert len(plans) == (2 if call.get("offset") else 1), (call, plans)
        for plan in plans:
            scans = re.findall(r"(Index Only Scan|Index Scan) using (\w+) on leads", plan)
            assert [index for _, index in scans] in ([name] for name in ORDER_INDEXES), plan
            # Every condition is a bound of the index scan: none filters the rows it reads.
            for node in ("Seq Scan", "Sort", "Bitmap", "Filter"):
                assert node not in plan, plan


def test_generic_plans_give_the_pages_that_custom_plans_give(
    roster, database_url, db, workspace_id
):
    cursor_position = position_in(db, roster, ROSTER - 100)
    past_the_end = {"campaign_id": roster, "status": "bounced", "offset": ROSTER}
    calls = [*calls_of_every_shape(roster, cursor_position), past_the_end]

    generic = list_leads_explained(database_url, workspace_id, calls)
    custom = list_leads_explained(
        database_url, workspace_id, calls, function_mode="force_custom_plan"
    )

    assert [rows for rows, _ in generic] == [rows for rows, _ in custom]
    # No filter, sent, bounced: the first page, after the cursor, page 3; then past the
    # last lead, an empty page: the campaign's row alone. Each page after the campaign's row.
    counts = [len(rows) - 1 for rows, _ in custom]
    assert counts[:9] + counts[-1:] == [201, 99, 201, 201, 20, 201, 201, 1, 100, 0]
    assert custom[-1][0][0][1:] == (None,) * 13


def planned_with_the_values(plan, campaign_id):
    """A plan made with the call's values names them; a generic plan names parameters."""
    return campaign_id in plan


@pytest.mark.parametrize("session_mode", ["auto", "force_custom_plan", "force_generic_plan"])
def test_the_function_keeps_generic_plans_whatever_the_session_asks(
    roster, database_url, db, workspace_id, session_mode
):
    cursor_position = position_in(db, roster, ROSTER // 2)
    calls = calls_of_every_shape(roster, cursor_position)

    results = list_leads_explained(database_url, workspace_id, calls, session_mode=session_mode)

    plans = [plan for _, call_plans in results for plan in call_plans]
    assert len(plans) == len(calls) + sum(1 for call in calls if call.get("offset"))
    for plan in plans:
        assert not planned_with_the_values(plan, roster), plan
        assert re.search(r"campaign_id = \$\d+", plan), plan


def test_without_the_setting_the_page_is_planned_with_the_values_on_every_call(
    roster, database_url, db, workspace_id
):
    """Why the function sets plan_cache_mode: under PL/pgSQL's own choice the page's
    statement (a LIMIT given as a parameter) is planned with the values on every call, the
    sixth and later ones included. Also shows that planned_with_the_values tells the two
    apart."""
    calls = [{"campaign_id": roster, "status": None}] * 8

    results = list_leads_explained(database_url, workspace_id, calls, function_mode="auto")

    assert [len(call_plans) for _, call_plans in results] == [1] * 8
    assert all(planned_with_the_values(plans[0], roster) for _, plans in results)
