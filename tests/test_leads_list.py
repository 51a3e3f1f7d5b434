"""GET /api/campaigns/{id}/leads: the lead object, paging, order, status filter, errors."""

from __future__ import annotations

import math
import re
from uuid import UUID

import pytest

from leads_contract.values import LEAD_STATUSES, MAX_PAGE
from tests.contract import (
    ANN_PROFILE,
    LEAD_KEYS,
    LIMIT_RANGE,
    MISSING_CAMPAIGNS,
    NOT_FOUND,
    PAGE_RANGE,
    STATUS_CHOICES,
    as_listed,
    bad_query,
    bad_request,
    database_state,
    leads_url,
    missing_campaign_id,
    move_to,
    set_statuses,
    stored_leads,
)


def page_body(response, prospects: list, *, total: int, page: int, limit: int) -> dict:
    """The whole list body. `next_cursor` (a key beyond the contract's four, for keyset
    paging) is opaque: it is taken from the response, and must be a string exactly when a
    later page holds leads."""
    next_cursor = response.json.get("next_cursor")
    if page * limit < total:
        assert isinstance(next_cursor, str)
    else:
        assert next_cursor is None
    return {
        "prospects": prospects,
        "total": total,
        "page": page,
        "limit": limit,
        "next_cursor": next_cursor,
    }


def add(api, campaign_id: str, rows: list[dict]) -> None:
    response = api.post(leads_url(campaign_id), json={"prospects": rows})
    assert response.status_code == 200, response.json
    assert response.json["imported"] == len(rows), response.json


def emails(start: int, count: int) -> list[dict]:
    return [{"email": f"lead{n:04d}@example.com"} for n in range(start, start + count)]


def expected_listing(db, campaign_id: str, status: str | None = None) -> list[dict]:
    """Oldest first, ties by id (computed here, not by the database's ORDER BY)."""
    rows = [
        row for row in stored_leads(db, campaign_id, LEAD_KEYS) if status in (None, row["status"])
    ]
    rows.sort(key=lambda row: (row["created_at"], UUID(row["id"])))
    return [as_listed(row) for row in rows]


def listed_ids(api, campaign_id: str, query: str = "") -> list[str]:
    response = api.get(leads_url(campaign_id) + query)
    assert response.status_code == 200, response.json
    return [lead["id"] for lead in response.json["prospects"]]


@pytest.fixture
def roster(api, db, email_campaign) -> str:
    """An email campaign of 57 leads in three batches; every status used, some ties of
    created_at whose ids are out of insertion order."""
    campaign_id = email_campaign["id"]
    add(api, campaign_id, emails(0, 20))
    add(api, campaign_id, emails(20, 30))
    add(api, campaign_id, emails(50, 7))
    leads = sorted(stored_leads(db, campaign_id, LEAD_KEYS), key=lambda row: row["email"])
    set_statuses(
        db, {lead["id"]: LEAD_STATUSES[n % len(LEAD_STATUSES)] for n, lead in enumerate(leads)}
    )
    with db.cursor() as cursor:
        # Leads 10..29 share one created_at and get fresh random ids: only the id orders them.
        cursor.execute(
            "UPDATE leads SET created_at = %s, id = gen_random_uuid() WHERE id = ANY(%s::uuid[])",
            (leads[10]["created_at"], [lead["id"] for lead in leads[10:30]]),
        )
    return campaign_id


class TestLeadObject:
    def test_a_lead_has_exactly_the_contracts_keys_in_order(self, api, db, linkedin_campaign):
        add(
            api,
            linkedin_campaign["id"],
            [
                {
                    "linkedin_url": "https://uk.linkedin.com/in/Ann-Lee/",
                    "email": " Ann@Example.com ",
                    "first_name": "Ann",
                    "last_name": "Lee",
                    "company": "Acme",
                    "position": "CTO",
                    "headline": "Builds things",
                    "custom_fields": {"tier": "gold", "seats": [1, 2], "meta": {"x": None}},
                },
                {"linkedin_url": "linkedin.com/in/bob"},
                {"linkedin_url": "linkedin.com/in/cy", "name": "Cy", "first_name": "C"},
            ],
        )

        response = api.get(leads_url(linkedin_campaign["id"]))

        assert response.status_code == 200
        assert list(response.json)[:4] == ["prospects", "total", "page", "limit"]
        assert [list(lead) for lead in response.json["prospects"]] == [LEAD_KEYS] * 3
        expected = expected_listing(db, linkedin_campaign["id"])
        assert response.json == page_body(response, expected, total=3, page=1, limit=100)
        ann, bob, cy = response.json["prospects"]
        assert ann == {
            "id": ann["id"],
            "campaign_id": linkedin_campaign["id"],
            "status": "pending",
            "email": "ann@example.com",
            "linkedin_url": "https://www.linkedin.com/in/ann-lee",
            **ANN_PROFILE,
            "custom_fields": {"tier": "gold", "seats": [1, 2], "meta": {"x": None}},
            "created_at": expected[0]["created_at"],
            "updated_at": expected[0]["updated_at"],
        }
        assert (bob["name"], bob["email"], bob["custom_fields"]) == (None, None, {})
        assert (cy["name"], cy["first_name"]) == ("Cy", "C")

    @pytest.mark.parametrize(
        ("stamp", "fraction"),
        [
            # Always six fraction digits, trailing zeros included (timestamp_text).
            ("2026-03-01 12:00:00+00", ".000000"),
            ("2026-03-01 12:00:00.5+00", ".500000"),
            ("2026-03-01 12:00:00.000001+00", ".000001"),
            ("1999-12-31 23:59:59.999999+00", ".999999"),
        ],
    )
    def test_times_and_custom_fields_are_written_as_every_other_response_writes_them(
        self, api, db, email_campaign, stamp, fraction
    ):
        custom_fields = {"u": "ünï ç☃de", "n": 10**30, "f": 1.5, "nested": {"a": [True, None]}}
        add(
            api,
            email_campaign["id"],
            [{"email": "ann@example.com", "custom_fields": custom_fields}],
        )
        with db.cursor() as cursor:
            cursor.execute(
                "UPDATE leads SET created_at = %s, updated_at = %s WHERE campaign_id = %s"
                " RETURNING id::text",
                (stamp, stamp, email_campaign["id"]),
            )
            (lead_id,) = cursor.fetchone()

        listed = api.get(leads_url(email_campaign["id"]))
        patched = api.patch(
            leads_url(email_campaign["id"]),
            json={"prospect_id": lead_id, "updates": {"company": "Acme"}},
        )

        assert listed.status_code == 200 and patched.status_code == 200, patched.json
        (lead,) = listed.json["prospects"]
        # One writer (leads/web/json_bodies.py): the page and the PATCH write the same.
        assert lead["created_at"] == patched.json["prospect"]["created_at"]
        stored = expected_listing(db, email_campaign["id"])[0]  # timestamp_text, in Python
        assert (lead["created_at"], lead["updated_at"]) == (stored["created_at"],) * 2
        assert re.fullmatch(
            rf"[\d-]{{10}}T[\d:]{{8}}{re.escape(fraction)}[+-]\d\d:\d\d", lead["created_at"]
        )
        assert lead["custom_fields"] == custom_fields
        # Byte for byte too: the same spacing, the same UTF-8, the same big integer.
        written = [
            body.split(b'"custom_fields":', 1)[1].split(b',"created_at"', 1)[0]
            for body in (listed.data, patched.data)
        ]
        assert written[0] == written[1]
        assert "ünï ç☃de".encode() in written[0] and str(10**30).encode() in written[0]

    def test_only_the_campaigns_own_leads_are_listed(self, api, other_api, db, email_campaign):
        mine_too = api.create_campaign("Mine too", "email")
        theirs = other_api.create_campaign("Theirs", "email")
        add(api, email_campaign["id"], emails(0, 2))
        add(api, mine_too["id"], emails(0, 3))
        add(other_api, theirs["id"], emails(0, 4))

        response = api.get(leads_url(email_campaign["id"]))

        assert response.json == page_body(
            response, expected_listing(db, email_campaign["id"]), total=2, page=1, limit=100
        )
        assert {lead["campaign_id"] for lead in response.json["prospects"]} == {
            email_campaign["id"]
        }


class TestPaging:
    def test_an_empty_roster(self, api, email_campaign):
        response = api.get(leads_url(email_campaign["id"]))

        assert response.status_code == 200
        assert response.json == page_body(response, [], total=0, page=1, limit=100)

    def test_defaults_are_page_1_and_limit_100(self, api, db, email_campaign):
        add(api, email_campaign["id"], emails(0, 101))
        expected = expected_listing(db, email_campaign["id"])

        first = api.get(leads_url(email_campaign["id"]))
        second = api.get(leads_url(email_campaign["id"], page=2))

        assert first.json == page_body(first, expected[:100], total=101, page=1, limit=100)
        assert second.json == page_body(second, expected[100:], total=101, page=2, limit=100)

    @pytest.mark.parametrize("limit", [1, 7, 56, 57, 200])
    def test_paging_returns_every_lead_exactly_once(self, api, db, roster, limit):
        expected = expected_listing(db, roster)
        pages = math.ceil(len(expected) / limit)

        seen = []
        for page in range(1, pages + 2):
            response = api.get(leads_url(roster, page=page, limit=limit))
            assert response.status_code == 200
            assert response.json == page_body(
                response,
                expected[(page - 1) * limit : page * limit],
                total=57,
                page=page,
                limit=limit,
            )
            seen.extend(lead["id"] for lead in response.json["prospects"])

        assert response.json["prospects"] == []  # the page after the last one
        assert seen == [lead["id"] for lead in expected]
        assert len(set(seen)) == 57

    @pytest.mark.parametrize("status", ["pending", "bounced"])
    def test_paging_a_filtered_listing(self, api, db, roster, status):
        expected = expected_listing(db, roster, status)
        assert len(expected) == 6

        seen = []
        for page in (1, 2, 3, 4):
            response = api.get(leads_url(roster, status=status, limit=2, page=page))
            assert response.json == page_body(
                response, expected[(page - 1) * 2 : page * 2], total=6, page=page, limit=2
            )
            seen.extend(lead["id"] for lead in response.json["prospects"])

        assert seen == [lead["id"] for lead in expected]

    @pytest.mark.parametrize(
        ("query", "page", "limit"),
        [
            ("?limit=1", 1, 1),
            ("?limit=200", 1, 200),
            ("?page=1&limit=100", 1, 100),
            (f"?page={MAX_PAGE}", MAX_PAGE, 100),
            (f"?page={MAX_PAGE}&limit=200", MAX_PAGE, 200),
            ("?page=3&limit=25", 3, 25),
        ],
    )
    def test_boundary_values_are_accepted(self, api, db, roster, query, page, limit):
        expected = expected_listing(db, roster)

        response = api.get(leads_url(roster) + query)

        assert response.status_code == 200
        assert response.json == page_body(
            response, expected[(page - 1) * limit : page * limit], total=57, page=page, limit=limit
        )


# Query parameters whose values are each a 400 naming the parameter, by parameter and message.
REFUSED_VALUES = [
    ("limit", LIMIT_RANGE, ["0", "201", "-1", "-5", "9" * 400]),
    ("limit", "Not a valid integer.", ["abc", "", "1.5", "1e2"]),
    ("page", PAGE_RANGE, ["0", "-1", str(MAX_PAGE + 1), "9" * 23, "9" * 400, "-" + "9" * 400]),
    ("page", "Not a valid integer.", ["abc", "1e3", "1.5", "0x10", "", "%00", "NaN", "Infinity"]),
    ("status", f"Must be one of: {STATUS_CHOICES}.", ["unknown", "PENDING", "", "active"]),
    # Parameters the list does not take, whatever their value.
    ("offset", "Unknown field.", ["10"]),
    ("sort", "Unknown field.", ["id"]),
    ("statuss", "Unknown field.", ["pending"]),
]


class TestQueryValidation:
    @pytest.mark.parametrize(
        ("query", "field", "message"),
        [
            *[
                (f"?{field}={value}", field, message)
                for field, message, values in REFUSED_VALUES
                for value in values
            ],
            ("?page=1&page=2", "page", "Give this parameter once."),
            ("?limit=5&limit=5", "limit", "Give this parameter once."),
            ("?status=pending&status=sent", "status", "Give this parameter once."),
        ],
    )
    def test_out_of_range_or_unknown_values_are_400(self, rejected, roster, query, field, message):
        rejected("GET", leads_url(roster) + query, 400, bad_query(field, message))

    def test_every_bad_parameter_is_named(self, api, roster):
        response = api.get(leads_url(roster, page=0, limit=500, status="nope"))

        assert response.status_code == 400
        assert response.json == bad_request(
            f"page: {PAGE_RANGE.rstrip('.')}; limit: {LIMIT_RANGE.rstrip('.')}; "
            f"status: Must be one of: {STATUS_CHOICES}",
            {
                "query": {
                    "page": [PAGE_RANGE],
                    "limit": [LIMIT_RANGE],
                    "status": [f"Must be one of: {STATUS_CHOICES}."],
                }
            },
        )


class TestStatusFilter:
    @pytest.mark.parametrize("status", LEAD_STATUSES)
    def test_the_filter_returns_the_leads_of_that_status_and_their_total(
        self, api, db, roster, status
    ):
        expected = expected_listing(db, roster, status)
        assert len(expected) in (5, 6)

        response = api.get(leads_url(roster, status=status))

        assert response.status_code == 200
        assert response.json == page_body(
            response, expected, total=len(expected), page=1, limit=100
        )

    def test_total_follows_status_changes(self, api, db, email_campaign):
        campaign_id = email_campaign["id"]
        add(api, campaign_id, emails(0, 5))
        ids = listed_ids(api, campaign_id)

        def totals() -> dict[str, int]:
            return {
                status: api.get(leads_url(campaign_id, status=status, limit=1)).json["total"]
                for status in ("pending", "sent", "replied")
            }

        assert totals() == {"pending": 5, "sent": 0, "replied": 0}
        set_statuses(db, {ids[0]: "sent", ids[1]: "sent", ids[2]: "replied"})
        assert totals() == {"pending": 2, "sent": 2, "replied": 1}
        with db.cursor() as cursor:  # one statement moving leads between several statuses
            cursor.execute(
                "UPDATE leads SET status = CASE status WHEN 'sent' THEN 'replied'::lead_status"
                " WHEN 'pending' THEN 'sent'::lead_status ELSE status END"
                " WHERE campaign_id = %s",
                (campaign_id,),
            )
        assert totals() == {"pending": 0, "sent": 2, "replied": 3}
        assert listed_ids(api, campaign_id, "?status=replied") == [ids[0], ids[1], ids[2]]
        assert listed_ids(api, campaign_id, "?status=sent") == [ids[3], ids[4]]
        with db.cursor() as cursor:
            cursor.execute("DELETE FROM leads WHERE id = %s", (ids[4],))
        assert totals() == {"pending": 0, "sent": 1, "replied": 3}
        assert api.get(leads_url(campaign_id)).json["total"] == 4


class TestOrder:
    def test_a_batch_lists_in_input_order(self, api, db, email_campaign):
        rows = [
            {"email": address}
            for address in ("zed@example.com", "amy@example.com", "mo@example.com", "bo@x.io")
        ]
        add(api, email_campaign["id"], rows)

        listed = api.get(leads_url(email_campaign["id"])).json["prospects"]

        assert [lead["email"] for lead in listed] == [row["email"] for row in rows]
        assert listed == expected_listing(db, email_campaign["id"])
        assert len({lead["created_at"] for lead in listed}) == 1  # only the id orders them

    def test_batches_list_oldest_first(self, api, db, email_campaign):
        add(api, email_campaign["id"], [{"email": "z2@example.com"}, {"email": "z1@example.com"}])
        add(api, email_campaign["id"], [{"email": "a2@example.com"}, {"email": "a1@example.com"}])

        listed = api.get(leads_url(email_campaign["id"])).json["prospects"]

        assert [lead["email"] for lead in listed] == [
            "z2@example.com",
            "z1@example.com",
            "a2@example.com",
            "a1@example.com",
        ]

    def test_created_at_orders_before_id(self, api, db, email_campaign):
        add(api, email_campaign["id"], emails(0, 3))
        first, second, third = listed_ids(api, email_campaign["id"])
        with db.cursor() as cursor:
            cursor.execute(
                "UPDATE leads SET created_at = created_at - interval '1 second' WHERE id = %s",
                (third,),
            )

        assert listed_ids(api, email_campaign["id"]) == [third, first, second]

    def test_ties_of_created_at_are_broken_by_id(self, api, db, email_campaign):
        add(api, email_campaign["id"], emails(0, 5))
        add(api, email_campaign["id"], emails(5, 5))
        with db.cursor() as cursor:  # one instant for all, ids out of insertion order
            cursor.execute(
                "UPDATE leads SET created_at = '2024-01-01T00:00:00Z', id = gen_random_uuid()"
                " WHERE campaign_id = %s",
                (email_campaign["id"],),
            )
        ids = [lead["id"] for lead in stored_leads(db, email_campaign["id"], LEAD_KEYS)]

        assert listed_ids(api, email_campaign["id"]) == sorted(ids, key=UUID)
        assert (
            listed_ids(api, email_campaign["id"], "?limit=3&page=2") == sorted(ids, key=UUID)[3:6]
        )


class TestCampaignStatuses:
    @pytest.mark.parametrize("status", ["draft", "active", "paused", "completed"])
    def test_listing_works_in_every_campaign_status_and_writes_nothing(
        self, api, db, email_campaign, roster, status
    ):
        move_to(api, email_campaign, status)
        expected = expected_listing(db, roster)
        before = database_state(db)

        responses = [
            api.get(leads_url(roster)),
            api.get(leads_url(roster, status="sent", limit=2, page=2)),
        ]

        assert [response.status_code for response in responses] == [200, 200]
        assert responses[0].json == page_body(responses[0], expected, total=57, page=1, limit=100)
        assert responses[1].json == page_body(
            responses[1], expected_listing(db, roster, "sent")[2:4], total=6, page=2, limit=2
        )
        assert database_state(db) == before


class TestAccess:
    @pytest.mark.parametrize("which", MISSING_CAMPAIGNS)
    @pytest.mark.parametrize("query", ["", "?page=2&limit=5&status=pending"])
    def test_every_missing_campaign_is_the_same_404(
        self, api, other_api, email_campaign, which, query
    ):
        theirs = other_api.create_campaign("Theirs", "email")
        add(other_api, theirs["id"], emails(0, 3))
        campaign_id = missing_campaign_id(which, email_campaign, theirs)

        response = api.get(leads_url(campaign_id) + query)

        assert response.status_code == 404
        assert response.json == NOT_FOUND

    @pytest.mark.parametrize(
        ("authorization", "message"),
        [
            (None, "Authentication required: send Authorization: Bearer <token>."),
            ("Bearer ld_" + "x" * 43, "The token is unknown or revoked."),
            ("Token abc", "The Authorization header is malformed: expected Bearer <token>."),
        ],
    )
    def test_a_request_without_a_valid_token_is_401(
        self, app, token, email_campaign, authorization, message
    ):
        headers = {} if authorization is None else {"Authorization": authorization}

        response = app.test_client().get(leads_url(email_campaign["id"]), headers=headers)

        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.json == {"code": 401, "status": "Unauthorized", "message": message}
