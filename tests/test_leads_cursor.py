"""GET /api/campaigns/{id}/leads?cursor=: keyset paging, next_cursor, and bad cursors."""

from __future__ import annotations

import base64
import hashlib
import struct
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from leads.domain.cursors import ListCursor, encode_cursor
from leads_contract.values import LEAD_STATUSES
from tests.contract import (
    LEAD_KEYS,
    PAGE_AND_CURSOR,
    as_listed,
    bad_query,
    leads_url,
    set_statuses,
)

INVALID_CURSOR = "Not a valid cursor: pass the next_cursor of a previous page unchanged."
BAD_CURSOR_BODY = bad_query("cursor", INVALID_CURSOR)


def add_named_leads(api, campaign_id: str, emails: list[str]) -> list[str]:
    """Add a lead per email, with a first name and every other one a last name; their ids."""
    prospects = [
        {"email": email, "first_name": f"F{n}", "last_name": "L" if n % 2 else None}
        for n, email in enumerate(emails)
    ]
    response = api.post(leads_url(campaign_id), json={"prospects": prospects})
    assert response.status_code == 200, response.json
    return [result["id"] for result in response.json["results"]]


def roster_rows(db, campaign_id: str, status: str | None = None) -> list[dict]:
    """The campaign's leads as the database holds them, in the list order."""
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(LEAD_KEYS)} FROM leads WHERE campaign_id = %s "
            "AND (%s::lead_status IS NULL OR status = %s::lead_status) ORDER BY created_at, id",
            (campaign_id, status, status),
        )
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def cursor_after(campaign_id: str, row: dict, status: str | None) -> str:
    return encode_cursor(ListCursor(uuid.UUID(campaign_id), row["created_at"], row["id"], status))


def walk_by_cursor(api, campaign_id: str, limit: int, status: str | None = None, between=None):
    """Every page from the first, by next_cursor; `between(page_number)` runs after each."""
    query = {"limit": limit, **({"status": status} if status else {})}
    responses = [api.get(leads_url(campaign_id, **query))]
    while responses[-1].json["next_cursor"] is not None:
        assert responses[-1].status_code == 200, responses[-1].json
        assert len(responses) < 100, "the cursor does not move on"
        if between:
            between(len(responses))
        cursor = responses[-1].json["next_cursor"]
        responses.append(api.get(leads_url(campaign_id, **query, cursor=cursor)))
    assert responses[-1].status_code == 200, responses[-1].json
    return responses


def page_of(
    campaign_id: str,
    rows: list[dict],
    *,
    total: int,
    page: int | None,
    limit: int,
    more: bool,
    status: str | None = None,
) -> dict:
    """The body of a page listing these stored rows; when `more` leads follow, its next_cursor
    points past the last of them."""
    return {
        "prospects": [as_listed(row) for row in rows],
        "total": total,
        "page": page,
        "limit": limit,
        "next_cursor": cursor_after(campaign_id, rows[-1], status) if more else None,
    }


def expected_pages(campaign_id: str, rows: list[dict], limit: int, status: str | None):
    """The body of every page of a walk over an unchanged roster holding `rows`."""
    return [
        page_of(
            campaign_id,
            rows[start : start + limit],
            total=len(rows),
            page=1 if start == 0 else None,
            limit=limit,
            more=start + limit < len(rows),
            status=status,
        )
        for start in range(0, max(len(rows), 1), limit)
    ]


def raw_cursor(payload_fields: tuple, checksum_ok: bool = True) -> str:
    """A cursor built by hand in the documented layout, with a correct checksum or not."""
    payload = struct.pack(">B16sq16sB", *payload_fields)
    checksum = hashlib.blake2b(payload, digest_size=6, person=b"leads-cursor").digest()
    if not checksum_ok:
        checksum = bytes(byte ^ 0xFF for byte in checksum)
    return base64.urlsafe_b64encode(payload + checksum).decode()


class TestCursorPaging:
    @pytest.mark.parametrize("limit", [1, 2, 3, 5, 9, 10, 11, 200])
    def test_unchanged_roster_lists_every_lead_once_in_order(self, api, email_campaign, db, limit):
        campaign_id = email_campaign["id"]
        # Three batches: leads of one batch share created_at, so ties are broken by id.
        for batch in (range(0, 4), range(4, 7), range(7, 10)):
            add_named_leads(api, campaign_id, [f"lead{n}@example.com" for n in batch])
        rows = roster_rows(db, campaign_id)

        responses = walk_by_cursor(api, campaign_id, limit)

        assert [response.json for response in responses] == expected_pages(
            campaign_id, rows, limit, None
        )
        listed = [lead["id"] for response in responses for lead in response.json["prospects"]]
        assert listed == [str(row["id"]) for row in rows]
        assert len(set(listed)) == 10

    @pytest.mark.parametrize("status", ["pending", "sent", "bounced", "cancelled"])
    @pytest.mark.parametrize("limit", [1, 2, 4])
    def test_status_filter_pages_only_that_status(self, api, email_campaign, db, status, limit):
        campaign_id = email_campaign["id"]
        ids = add_named_leads(api, campaign_id, [f"lead{n}@example.com" for n in range(12)])
        set_statuses(db, dict(zip(ids, ["pending", "sent", "bounced", "sent"] * 3, strict=True)))
        rows = roster_rows(db, campaign_id, status)

        responses = walk_by_cursor(api, campaign_id, limit, status)

        assert [response.json for response in responses] == expected_pages(
            campaign_id, rows, limit, status
        )

    def test_equal_created_at_is_ordered_by_id(self, api, email_campaign, db):
        campaign_id = email_campaign["id"]
        ids = [uuid.uuid4() for _ in range(6)]  # random: not in insertion order
        with db.cursor() as cursor:
            for n, lead_id in enumerate(ids):
                cursor.execute(
                    "INSERT INTO leads (workspace_id, id, campaign_id, identity, email,"
                    " created_at, updated_at)"
                    " SELECT workspace_id, %s, id, %s, %s, '2030-01-01T00:00:00Z',"
                    " '2030-01-01T00:00:00Z' FROM campaigns WHERE id = %s",
                    (lead_id, f"tie{n}@example.com", f"tie{n}@example.com", campaign_id),
                )
        rows = roster_rows(db, campaign_id)
        assert [row["id"] for row in rows] == sorted(ids)

        responses = walk_by_cursor(api, campaign_id, 1)

        assert [response.json for response in responses] == expected_pages(
            campaign_id, rows, 1, None
        )

    def test_empty_roster_has_no_next_cursor(self, api, email_campaign):
        response = api.get(leads_url(email_campaign["id"]))

        assert response.status_code == 200
        assert response.json == {
            "prospects": [],
            "total": 0,
            "page": 1,
            "limit": 100,
            "next_cursor": None,
        }

    @pytest.mark.parametrize("page", [1, 2, 3])
    def test_a_numbered_page_hands_a_cursor_to_the_next(self, api, email_campaign, db, page):
        campaign_id = email_campaign["id"]
        add_named_leads(api, campaign_id, [f"lead{n}@example.com" for n in range(7)])
        rows = roster_rows(db, campaign_id)

        numbered = api.get(leads_url(campaign_id, limit=3, page=page))
        following = (
            api.get(leads_url(campaign_id, limit=3, cursor=numbered.json["next_cursor"]))
            if numbered.json["next_cursor"]
            else None
        )

        chunk = rows[(page - 1) * 3 : page * 3]
        assert numbered.status_code == 200
        assert numbered.json == page_of(
            campaign_id, chunk, total=7, page=page, limit=3, more=page < 3
        )
        if page < 3:
            rest = rows[page * 3 : page * 3 + 3]
            assert following.status_code == 200
            assert following.json == page_of(
                campaign_id, rest, total=7, page=None, limit=3, more=page < 2
            )

    @pytest.mark.parametrize("limit", [1, 3, 5])
    def test_the_limit_may_change_between_pages(self, api, email_campaign, db, limit):
        campaign_id = email_campaign["id"]
        add_named_leads(api, campaign_id, [f"lead{n}@example.com" for n in range(8)])
        rows = roster_rows(db, campaign_id)
        first = api.get(leads_url(campaign_id, limit=2))

        second = api.get(leads_url(campaign_id, limit=limit, cursor=first.json["next_cursor"]))

        chunk = rows[2 : 2 + limit]
        assert second.status_code == 200
        assert second.json == page_of(
            campaign_id, chunk, total=8, page=None, limit=limit, more=True
        )


class TestPagingWhileTheRosterChanges:
    @pytest.mark.parametrize("limit", [1, 2, 3, 4, 8])
    def test_added_leads_cause_no_skip_or_repeat(self, api, email_campaign, db, limit):
        campaign_id = email_campaign["id"]
        originals = add_named_leads(api, campaign_id, [f"old{n}@example.com" for n in range(9)])
        added: list[str] = []

        def add_two(page_number: int) -> None:
            if page_number <= 3:
                added.extend(
                    add_named_leads(
                        api, campaign_id, [f"new{page_number}-{n}@example.com" for n in (0, 1)]
                    )
                )

        responses = walk_by_cursor(api, campaign_id, limit, between=add_two)

        listed = [lead["id"] for response in responses for lead in response.json["prospects"]]
        # New leads are newer than every original: they come after them, each once.
        assert listed == originals + added
        assert [row["id"] for row in roster_rows(db, campaign_id)] == [
            uuid.UUID(lead_id) for lead_id in listed
        ]

    @pytest.mark.parametrize("limit", [1, 2, 3])
    def test_removed_leads_cause_no_skip_or_repeat(self, api, email_campaign, db, limit):
        campaign_id = email_campaign["id"]
        ids = add_named_leads(api, campaign_id, [f"lead{n}@example.com" for n in range(9)])
        removed: list[str] = []

        def remove_last_seen(page_number: int) -> None:
            # The cursor's own lead goes: the cursor is a position, not a lead.
            last_seen = ids[page_number * limit - 1]
            response = api.delete(leads_url(campaign_id), json={"prospect_ids": [last_seen]})
            assert response.json["deleted"] == 1
            removed.append(last_seen)

        responses = walk_by_cursor(api, campaign_id, limit, between=remove_last_seen)

        listed = [lead["id"] for response in responses for lead in response.json["prospects"]]
        assert listed == ids
        assert [str(row["id"]) for row in roster_rows(db, campaign_id)] == [
            lead_id for lead_id in ids if lead_id not in removed
        ]

    def test_leads_older_than_the_cursor_are_not_listed_after_it(self, api, email_campaign, db):
        campaign_id = email_campaign["id"]
        ids = add_named_leads(api, campaign_id, [f"lead{n}@example.com" for n in range(4)])
        first = api.get(leads_url(campaign_id, limit=2))
        with db.cursor() as cursor:
            cursor.execute(
                "INSERT INTO leads (workspace_id, id, campaign_id, identity, email,"
                " created_at, updated_at)"
                " SELECT workspace_id, %s, id, 'old@example.com', 'old@example.com',"
                " '2000-01-01T00:00:00Z', '2000-01-01T00:00:00Z' FROM campaigns WHERE id = %s",
                (uuid.uuid4(), campaign_id),
            )

        second = api.get(leads_url(campaign_id, limit=2, cursor=first.json["next_cursor"]))

        rows = roster_rows(db, campaign_id)
        assert second.status_code == 200
        assert second.json == page_of(
            campaign_id, rows[3:5], total=5, page=None, limit=2, more=False
        )
        assert [str(row["id"]) for row in rows[1:]] == ids


class TestBadCursors:
    @pytest.fixture
    def campaign_id(self, api, email_campaign) -> str:
        add_named_leads(api, email_campaign["id"], [f"lead{n}@example.com" for n in range(3)])
        return email_campaign["id"]

    @pytest.fixture
    def good_cursor(self, api, campaign_id) -> str:
        return api.get(leads_url(campaign_id, limit=1)).json["next_cursor"]

    @pytest.mark.parametrize(
        "edit",
        [
            pytest.param(lambda cursor: "", id="empty"),
            pytest.param(lambda cursor: "abc", id="short"),
            pytest.param(lambda cursor: "A" * 64, id="right-length-garbage"),
            pytest.param(lambda cursor: cursor[:-1], id="truncated"),
            pytest.param(lambda cursor: cursor + "A", id="extended"),
            pytest.param(lambda cursor: cursor + "\n", id="trailing-newline"),
            pytest.param(lambda cursor: cursor[:-2] + "==", id="padded"),
            pytest.param(lambda cursor: cursor[:10] + "+" + cursor[11:], id="plus-sign"),
            pytest.param(lambda cursor: cursor[:10] + "é" + cursor[11:], id="non-ascii"),
            pytest.param(lambda cursor: cursor[::-1], id="reversed"),
            pytest.param(lambda cursor: cursor.lower(), id="lowercased"),
            *[
                pytest.param(
                    lambda cursor, at=at: (
                        cursor[:at] + ("B" if cursor[at] != "B" else "C") + cursor[at + 1 :]
                    ),
                    id=f"char-{at}-changed",
                )
                for at in (0, 1, 5, 21, 22, 30, 40, 56, 57, 63)
            ],
        ],
    )
    def test_malformed_or_edited_cursor_is_400(self, api, campaign_id, good_cursor, edit):
        response = api.get(leads_url(campaign_id, cursor=edit(good_cursor)))

        assert response.status_code == 400
        assert response.json == BAD_CURSOR_BODY

    @pytest.mark.parametrize(
        "version, micros, status_code, checksum_ok",
        [
            (1, 0, 0, False),  # a layout that decodes, with a wrong checksum
            (2, 0, 0, True),  # an unknown version
            (1, 0, len(LEAD_STATUSES) + 1, True),  # no such status
            (1, 2**62, 0, True),  # a timestamp past year 9999
            (1, -(2**62), 0, True),  # and before year 1
        ],
    )
    def test_well_formed_but_impossible_cursor_is_400(
        self, api, campaign_id, version, micros, status_code, checksum_ok
    ):
        payload = (version, uuid.UUID(campaign_id).bytes, micros, uuid.uuid4().bytes, status_code)

        response = api.get(leads_url(campaign_id, cursor=raw_cursor(payload, checksum_ok)))

        assert response.status_code == 400
        assert response.json == BAD_CURSOR_BODY

    def test_hand_built_cursor_with_a_correct_checksum_is_accepted(self, api, campaign_id, db):
        rows = roster_rows(db, campaign_id)
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        micros = (rows[0]["created_at"] - epoch) // timedelta(microseconds=1)
        payload = (1, uuid.UUID(campaign_id).bytes, micros, rows[0]["id"].bytes, 0)

        response = api.get(leads_url(campaign_id, cursor=raw_cursor(payload)))

        # The control case of the test above: the layout it builds is the service's.
        assert response.status_code == 200
        assert response.json["prospects"] == [as_listed(row) for row in rows[1:]]

    @pytest.mark.parametrize("page", ["1", "2", "0", "x"])
    def test_page_and_cursor_together_is_400(self, api, campaign_id, good_cursor, page):
        response = api.get(leads_url(campaign_id, page=page, cursor=good_cursor))

        assert response.status_code == 400
        assert response.json == PAGE_AND_CURSOR

    def test_cursor_of_another_campaign_is_400(self, api, campaign_id, good_cursor):
        other = api.create_campaign("Other campaign", "email")
        add_named_leads(api, other["id"], ["lead0@example.com", "lead1@example.com"])

        response = api.get(leads_url(other["id"], cursor=good_cursor))

        assert response.status_code == 400
        assert response.json == bad_query("cursor", "This cursor belongs to another campaign.")

    @pytest.mark.parametrize(
        "issued_with, used_with, issued",
        [
            (None, "pending", "without a status filter"),
            ("pending", None, "for status=pending"),
            ("pending", "sent", "for status=pending"),
        ],
    )
    def test_cursor_used_with_another_status_filter_is_400(
        self, api, campaign_id, issued_with, used_with, issued
    ):
        first_query = {"limit": 1, **({"status": issued_with} if issued_with else {})}
        cursor = api.get(leads_url(campaign_id, **first_query)).json["next_cursor"]
        query = {"cursor": cursor, **({"status": used_with} if used_with else {})}

        response = api.get(leads_url(campaign_id, **query))

        problem = f"This cursor was issued {issued}; list with the same status filter."
        assert response.status_code == 400
        assert response.json == bad_query("cursor", problem)

    def test_cursor_on_a_campaign_of_another_workspace_is_404(
        self, other_api, campaign_id, good_cursor
    ):
        response = other_api.get(leads_url(campaign_id, cursor=good_cursor))

        assert response.status_code == 404
        assert response.json == {
            "code": 404,
            "status": "Not Found",
            "message": "Campaign not found.",
        }


class TestCursorIsDocumented:
    def test_openapi_documents_cursor_and_next_cursor(self, app):
        spec = app.test_client().get("/openapi.json").json

        parameters = spec["paths"]["/api/campaigns/{campaign_id}/leads"]["get"]["parameters"]
        cursor = next(parameter for parameter in parameters if parameter["name"] == "cursor")
        assert cursor == {
            "in": "query",
            "name": "cursor",
            "description": "Keyset paging: the opaque `next_cursor` of the previous page, "
            "listed with the same `status`. Its cost does not grow with the depth, and leads "
            "added or removed meanwhile never make it skip or repeat a lead. Not with `page`.",
            "schema": {"type": "string"},
            "required": False,
        }
        page_schema = spec["components"]["schemas"]["LeadPage"]["properties"]
        assert page_schema["next_cursor"] == {
            "type": "string",
            "description": "Pass as `cursor` (with the same `status`) for the next page; "
            "null on the last page.",
            "nullable": True,
        }
        assert page_schema["page"] == {
            "type": "integer",
            "description": "The page number; null when listed by cursor.",
            "nullable": True,
        }
