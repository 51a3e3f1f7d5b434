"""/api/webhooks: endpoints (create with a secret shown once, list, get, patch, delete, rotate
the secret), their deliveries (list, retry), the address rule of their URLs, limits, and
workspace isolation. Deliveries are made by the worker's own fan-out
(leads/webhooks/worker.py), run here in the test's process; tests/test_webhooks_delivery.py
runs the worker itself."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest

from leads.domain.webhook_urls import NOT_PUBLIC
from leads.webhooks.worker import Worker
from leads_contract.values import EVENT_TYPES, MAX_WEBHOOKS_PER_WORKSPACE
from tests.contract import (
    MISSING_UUID,
    bad_body,
    bad_query,
    bad_request,
    database_state,
    error_body,
    query_rows,
)

URL = "https://1.1.1.1/hooks"  # a public address: no DNS lookup needed
WEBHOOK_KEYS = [
    "id",
    "url",
    "description",
    "event_types",
    "enabled",
    "failing_since",
    "created_at",
    "updated_at",
]
DELIVERY_KEYS = [
    "id",
    "event_id",
    "event_type",
    "state",
    "attempts",
    "last_status_code",
    "last_error",
    "last_attempt_at",
    "next_attempt_at",
    "created_at",
]
WEBHOOK_NOT_FOUND = error_body(404, "Webhook not found.")
DELIVERY_NOT_FOUND = error_body(404, "Delivery not found.")
SECRET = re.compile(r"whsec_[A-Za-z0-9+/]{43}=")


def create(api, **body) -> dict:
    response = api.post("/api/webhooks", json={"url": URL, "event_types": ["*"], **body})
    assert response.status_code == 201, response.json
    return response.json


def stored(db, webhook_id: str) -> dict:
    (row,) = query_rows(
        db,
        "SELECT url, description, event_types, enabled, secret, previous_secret,"
        " previous_secret_until, fanned_out_through, failing_since, created_at, updated_at"
        " FROM webhook_endpoints WHERE id = %s",
        (webhook_id,),
    )
    return row


def as_shown(webhook_id: str, row: dict) -> dict:
    """A stored endpoint as the API shows it."""
    return {
        "id": webhook_id,
        "url": row["url"],
        "description": row["description"],
        "event_types": row["event_types"],
        "enabled": row["enabled"],
        "failing_since": row["failing_since"] and row["failing_since"].isoformat(),
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


def stored_deliveries(db, webhook_id: str) -> list[dict]:
    """The endpoint's deliveries as the API shows them, newest event first."""
    rows = query_rows(
        db,
        "SELECT d.id::text, e.id::text AS event_id, e.type AS event_type, d.state::text,"
        " d.attempts, d.last_status_code, d.last_error, d.last_attempt_at,"
        " d.next_attempt_at, d.created_at FROM webhook_deliveries AS d"
        " JOIN events AS e ON e.workspace_id = d.workspace_id AND e.position = d.event_position"
        " WHERE d.endpoint_id = %s ORDER BY d.event_position DESC",
        (webhook_id,),
    )
    for row in rows:
        for key in ("last_attempt_at", "next_attempt_at", "created_at"):
            row[key] = row[key] and row[key].isoformat()
    return rows


def webhook_with_a_delivery(api, db, fan_out, update: str, params: tuple = ()) -> dict:
    """A webhook with the delivery of one event, which `update` then changes (a state the
    worker would reach after some attempts)."""
    webhook = create(api)["webhook"]
    api.create_campaign()
    assert fan_out() == 1
    with db.cursor() as cursor:
        cursor.execute(update, params)
    return webhook


@pytest.fixture
def fan_out(app):
    """Make the deliveries of the new events, as the worker does."""
    worker = Worker(app.extensions["leads_pool"], app.config["LEADS_SETTINGS"])
    return worker.fan_out


class TestCreate:
    def test_the_secret_is_shown_once(self, api, db):
        api.create_campaign()  # position 1 of the feed: before the webhook
        created = api.post(
            "/api/webhooks",
            json={
                "url": URL,
                "event_types": ["leads.added", "campaign.created"],
                "description": "  CRM sync ",
            },
        )
        assert created.status_code == 201
        webhook_id = created.json["webhook"]["id"]
        row = stored(db, webhook_id)
        assert created.json == {
            "webhook": as_shown(webhook_id, row),
            "secret": created.json["secret"],
        }
        assert list(created.json["webhook"]) == WEBHOOK_KEYS
        assert (row["url"], row["description"], row["event_types"], row["enabled"]) == (
            URL,
            "CRM sync",
            ["leads.added", "campaign.created"],
            True,
        )
        # whsec_ and the base64 of 32 random bytes, kept as those bytes.
        secret = created.json["secret"]
        assert SECRET.fullmatch(secret)
        assert bytes(row["secret"]) == base64.b64decode(secret.removeprefix("whsec_"))
        assert row["previous_secret"] is None
        # It receives the events that commit after it.
        assert row["fanned_out_through"] == 1
        shown = api.get(f"/api/webhooks/{webhook_id}")
        assert shown.json == {"webhook": as_shown(webhook_id, row)}
        assert secret not in shown.get_data(as_text=True)

    def test_every_type_and_no_description(self, api, db):
        webhook = create(api)["webhook"]
        assert (webhook["event_types"], webhook["description"]) == (["*"], None)
        assert stored(db, webhook["id"])["fanned_out_through"] == 0

    def test_two_webhooks_have_two_secrets(self, api):
        assert create(api)["secret"] != create(api)["secret"]

    def test_an_idempotent_retry_gets_the_same_webhook_and_secret(self, api, db):
        headers = {"Idempotency-Key": "create-hook-1"}
        body = {"url": URL, "event_types": ["*"]}
        first = api.post("/api/webhooks", json=body, headers=headers)
        again = api.post("/api/webhooks", json=body, headers=headers)
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json == first.json
        assert query_rows(db, "SELECT count(*) FROM webhook_endpoints") == [{"count": 1}]

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1/hooks",
            "http://127.0.0.1:8080/hooks",
            "http://localhost:8000/hooks",
            "http://[::1]/hooks",
            "http://10.0.0.7/hooks",
            "http://172.16.0.1/hooks",
            "http://192.168.1.1/hooks",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/hooks",
            "http://0.0.0.0/hooks",
            "http://224.0.0.1/hooks",
            "http://255.255.255.255/hooks",
            "http://192.0.2.1/hooks",
            "http://[fe80::1]/hooks",
            "http://[fc00::1]/hooks",
            "http://[ff02::1]/hooks",
            "http://[::ffff:127.0.0.1]/hooks",
            "http://[64:ff9b::a00:7]/hooks",
            "http://[2002:c0a8:101::]/hooks",
            "https://no-such-host.invalid/hooks",
        ],
    )
    def test_a_url_that_does_not_lead_to_a_public_address_is_400(self, rejected, url):
        rejected(
            "POST",
            "/api/webhooks",
            400,
            bad_body("url", NOT_PUBLIC),
            json={"url": url, "event_types": ["*"]},
        )

    @pytest.mark.parametrize(
        ("body", "error"),
        [
            ({"event_types": ["*"]}, bad_body("url", "Missing data for required field.")),
            ({"url": URL}, bad_body("event_types", "Missing data for required field.")),
            ({"url": None, "event_types": ["*"]}, bad_body("url", "Field may not be null.")),
            ({"url": "  ", "event_types": ["*"]}, bad_body("url", "Field may not be blank.")),
            (
                {"url": URL, "event_types": ["*"], "description": "x" * 501},
                bad_body("description", "Longer than maximum length 500."),
            ),
            (
                {"url": URL, "event_types": []},
                bad_body("event_types", "Length must be between 1 and 7."),
            ),
            (
                {"url": URL, "event_types": list(EVENT_TYPES) + ["*"]},
                bad_body("event_types", '"*" stands alone: it means every type.'),
            ),
            (
                {"url": URL, "event_types": ["leads.added", "leads.added"]},
                bad_body("event_types", "Name each type once."),
            ),
            (
                {"url": URL, "event_types": ["*", "leads.added"]},
                bad_body("event_types", '"*" stands alone: it means every type.'),
            ),
            (
                {"url": URL, "event_types": "*"},
                bad_body("event_types", "Not a valid list."),
            ),
            (
                {"url": URL, "event_types": ["lead.added"]},
                bad_request(
                    "event_types[0]: Must be one of: " + ", ".join([*EVENT_TYPES, "*"]),
                    {
                        "json": {
                            "event_types": {
                                "0": ["Must be one of: " + ", ".join([*EVENT_TYPES, "*"]) + "."]
                            }
                        }
                    },
                ),
            ),
            (
                {"url": URL, "event_types": ["*"], "secret": "whsec_mine"},
                bad_body("secret", "Unknown field."),
            ),
        ],
    )
    def test_bad_input_is_400_and_writes_nothing(self, rejected, body, error):
        rejected("POST", "/api/webhooks", 400, error, json=body)

    @pytest.mark.parametrize(
        ("url", "message"),
        [
            ("ftp://1.1.1.1/hooks", "Must be an https or http URL."),
            ("1.1.1.1/hooks", "Must be an https or http URL."),
            ("https://user:pw@1.1.1.1/hooks", "Must not hold a user name or password."),
            ("https://1.1.1.1:0/hooks", "Must have a port from 1 to 65535."),
            ("https://1.1.1.1:65536/hooks", "Must have a port from 1 to 65535."),
            ("http://2130706433/", "Must have a host name or an IP address as its host."),
            ("http://127.1/", "Must have a host name or an IP address as its host."),
            ("http://-bad-.example.com/", "Must have a host name or an IP address as its host."),
            ("https:///hooks", "Must name a host."),
            ("https://1.1.1.1/a b", "Must not contain spaces or control characters."),
            ("https://1.1.1.1/\x00", "Must not contain NUL characters."),
            ("https://[::1/", "Not a valid URL."),
            (URL + "/" + "x" * 2048, "Longer than maximum length 2048."),
        ],
    )
    def test_a_bad_url_is_400_and_writes_nothing(self, rejected, url, message):
        body = {"url": url, "event_types": ["*"]}
        rejected("POST", "/api/webhooks", 400, bad_body("url", message), json=body)

    def test_a_workspace_has_at_most_so_many(self, api, other_api, rejected):
        for _ in range(MAX_WEBHOOKS_PER_WORKSPACE):
            create(api)
        rejected(
            "POST",
            "/api/webhooks",
            400,
            bad_request(
                f"A workspace may have at most {MAX_WEBHOOKS_PER_WORKSPACE} webhooks; "
                "delete one first."
            ),
            json={"url": URL, "event_types": ["*"]},
        )
        create(other_api)  # another workspace's count is its own


class TestReadChangeDelete:
    def test_list_oldest_first_and_only_the_workspaces_own(self, api, other_api, db):
        first = create(api, description="first")["webhook"]
        second = create(api)["webhook"]
        create(other_api)
        listing = api.get("/api/webhooks")
        assert listing.status_code == 200
        assert listing.json == {
            "webhooks": [as_shown(w["id"], stored(db, w["id"])) for w in (first, second)]
        }

    def test_patch_each_field(self, api, db):
        webhook = create(api, description="CRM")["webhook"]
        path = f"/api/webhooks/{webhook['id']}"
        changes = [
            ({"url": "https://8.8.8.8/other"}, {"url": "https://8.8.8.8/other"}),
            ({"event_types": ["leads.removed"]}, {"event_types": ["leads.removed"]}),
            ({"description": "Dashboard"}, {"description": "Dashboard"}),
            ({"description": None}, {"description": None}),
            ({"enabled": False}, {"enabled": False}),
        ]
        shown = webhook
        for body, changed in changes:
            response = api.patch(path, json=body)
            assert response.status_code == 200, response.json
            row = stored(db, webhook["id"])
            assert response.json == {"webhook": as_shown(webhook["id"], row)}
            assert {**shown, **changed, "updated_at": row["updated_at"].isoformat()} == (
                response.json["webhook"]
            )
            shown = response.json["webhook"]

    @pytest.mark.parametrize(
        ("body", "error"),
        [
            (
                {},
                bad_request(
                    "Send at least one of url, event_types, description, enabled",
                    {
                        "json": {
                            "_schema": [
                                "Send at least one of url, event_types, description, enabled."
                            ]
                        }
                    },
                ),
            ),
            ({"url": "http://10.1.2.3/"}, bad_body("url", NOT_PUBLIC)),
            ({"url": None}, bad_body("url", "Field may not be null.")),
            ({"enabled": "false"}, bad_body("enabled", "Not a valid boolean.")),
            ({"event_types": None}, bad_body("event_types", "Field may not be null.")),
            ({"id": MISSING_UUID}, bad_body("id", "Unknown field.")),
        ],
    )
    def test_bad_changes_are_400_and_change_nothing(self, api, rejected, body, error):
        webhook = create(api)["webhook"]
        rejected("PATCH", f"/api/webhooks/{webhook['id']}", 400, error, json=body)

    def test_delete(self, api, db, fan_out):
        webhook = create(api)["webhook"]
        kept = create(api)["webhook"]
        api.create_campaign()
        assert fan_out() == 2
        deleted = api.delete(f"/api/webhooks/{webhook['id']}")
        assert (deleted.status_code, deleted.get_data()) == (204, b"")
        assert api.get(f"/api/webhooks/{webhook['id']}").json == WEBHOOK_NOT_FOUND
        assert api.delete(f"/api/webhooks/{webhook['id']}").json == WEBHOOK_NOT_FOUND
        # Its deliveries went with it; the other's stay.
        assert query_rows(db, "SELECT endpoint_id::text FROM webhook_deliveries") == [
            {"endpoint_id": kept["id"]}
        ]

    def test_rotate_the_secret(self, api, db):
        created = create(api)
        webhook_id = created["webhook"]["id"]
        before = stored(db, webhook_id)
        rotated = api.post(f"/api/webhooks/{webhook_id}/rotate-secret")
        assert rotated.status_code == 200
        after = stored(db, webhook_id)
        assert rotated.json == {
            "webhook": as_shown(webhook_id, after),
            "secret": rotated.json["secret"],
        }
        assert SECRET.fullmatch(rotated.json["secret"])
        assert rotated.json["secret"] != created["secret"]
        assert bytes(after["secret"]) == base64.b64decode(rotated.json["secret"][6:])
        # The previous secret still signs for 24 hours.
        assert bytes(after["previous_secret"]) == bytes(before["secret"])
        grace = after["previous_secret_until"] - datetime.now(UTC)
        assert timedelta(hours=23, minutes=59) < grace <= timedelta(hours=24)


# Every route of a webhook: (method, path, JSON body); {id} is the webhook, {delivery} one of
# its deliveries.
WEBHOOK_ROUTES = [
    ("GET", "/api/webhooks/{id}", None),
    ("PATCH", "/api/webhooks/{id}", {"enabled": False}),
    ("DELETE", "/api/webhooks/{id}", None),
    ("POST", "/api/webhooks/{id}/rotate-secret", None),
    ("GET", "/api/webhooks/{id}/deliveries", None),
    ("POST", "/api/webhooks/{id}/deliveries/{delivery}/retry", None),
]


class TestIsolation:
    @pytest.mark.parametrize("route", WEBHOOK_ROUTES, ids=lambda route: f"{route[0]} {route[1]}")
    @pytest.mark.parametrize("whose", ["another workspace's", "missing", "not a uuid"])
    def test_another_workspaces_webhook_is_404_and_untouched(
        self, api, other_api, db, fan_out, route, whose
    ):
        theirs = create(other_api)["webhook"]
        other_api.create_campaign()
        fan_out()
        (delivery,) = query_rows(db, "SELECT id::text FROM webhook_deliveries")
        webhook_id = {
            "another workspace's": theirs["id"],
            "missing": MISSING_UUID,
            "not a uuid": "hook-1",
        }[whose]
        method, path, body = route
        before = database_state(db)
        response = api.request(
            method, path.format(id=webhook_id, delivery=delivery["id"]), json=body
        )
        assert (response.status_code, response.json) == (404, WEBHOOK_NOT_FOUND)
        assert database_state(db) == before

    @pytest.mark.parametrize("whose", ["another workspace's", "another webhook's", "missing"])
    def test_a_delivery_not_of_the_webhook_is_404(self, api, other_api, db, fan_out, whose):
        mine = create(api)["webhook"]
        create(api, event_types=["campaign.status_changed"])
        create(other_api)
        api.create_campaign()
        other_api.create_campaign()
        fan_out()
        others = query_rows(
            db,
            "SELECT d.id::text FROM webhook_deliveries AS d"
            " JOIN webhook_endpoints AS e ON e.workspace_id = d.workspace_id"
            " AND e.id = d.endpoint_id WHERE e.id <> %s",
            (mine["id"],),
        )
        assert len(others) == 1  # the other workspace's: the second webhook wants no such event
        second = create(api)["webhook"]
        api.create_campaign("Another")
        fan_out()
        delivery_id = {
            "another workspace's": others[0]["id"],
            "another webhook's": query_rows(
                db,
                "SELECT id::text FROM webhook_deliveries WHERE endpoint_id = %s",
                (second["id"],),
            )[0]["id"],
            "missing": MISSING_UUID,
        }[whose]
        before = database_state(db)
        response = api.post(f"/api/webhooks/{mine['id']}/deliveries/{delivery_id}/retry")
        assert (response.status_code, response.json) == (404, DELIVERY_NOT_FOUND)
        assert database_state(db) == before

    def test_deliveries_are_made_for_the_workspaces_own_events(self, api, other_api, db, fan_out):
        mine = create(api)["webhook"]
        theirs = create(other_api)["webhook"]
        api.create_campaign()
        other_api.create_campaign("Theirs")
        other_api.create_campaign("Theirs too")
        assert fan_out() == 3
        assert len(stored_deliveries(db, mine["id"])) == 1
        assert len(stored_deliveries(db, theirs["id"])) == 2
        assert api.get(f"/api/webhooks/{mine['id']}/deliveries").json["deliveries"] == (
            stored_deliveries(db, mine["id"])
        )


class TestDeliveries:
    def test_listed_newest_first_a_page_at_a_time(self, api, db, fan_out):
        webhook = create(api, event_types=["campaign.created"])["webhook"]
        for name in ("One", "Two", "Three"):
            campaign = api.create_campaign(name)
        api.post(f"/api/campaigns/{campaign['id']}/launch")  # not a type it wants
        assert fan_out() == 3
        path = f"/api/webhooks/{webhook['id']}/deliveries"
        expected = stored_deliveries(db, webhook["id"])
        first = api.get(f"{path}?limit=2")
        assert first.status_code == 200
        assert first.json == {"deliveries": expected[:2], "next_cursor": first.json["next_cursor"]}
        assert [list(delivery) for delivery in first.json["deliveries"]] == [DELIVERY_KEYS] * 2
        assert [d["state"] for d in expected] == ["pending"] * 3
        assert [d["event_id"] for d in expected] == [
            event["id"]
            for event in reversed(api.get("/api/events?type=campaign.created").json["events"])
        ]
        second = api.get(f"{path}?limit=2&cursor={first.json['next_cursor']}")
        assert second.json == {"deliveries": expected[2:], "next_cursor": None}

    @pytest.mark.parametrize(
        ("query", "error"),
        [
            (
                "cursor=abc",
                bad_query(
                    "cursor",
                    "Not a valid cursor: pass the next_cursor of a previous answer unchanged.",
                ),
            ),
            (
                "limit=0",
                bad_query(
                    "limit", "Must be greater than or equal to 1 and less than or equal to 200."
                ),
            ),
            ("state=failed", bad_query("state", "Unknown field.")),
        ],
    )
    def test_bad_queries_are_400(self, api, query, error):
        webhook = create(api)["webhook"]
        response = api.get(f"/api/webhooks/{webhook['id']}/deliveries?{query}")
        assert (response.status_code, response.json) == (400, error)

    @pytest.mark.parametrize("state", ["failed", "delivered"])
    def test_retry_an_ended_delivery_once_more(self, api, db, fan_out, state):
        webhook = webhook_with_a_delivery(
            api,
            db,
            fan_out,
            "UPDATE webhook_deliveries SET state = %s, attempts = 20, last_status_code = 500,"
            " last_attempt_at = now(), next_attempt_at = NULL",
            (state,),
        )
        (delivery,) = stored_deliveries(db, webhook["id"])
        retried = api.post(f"/api/webhooks/{webhook['id']}/deliveries/{delivery['id']}/retry")
        assert retried.status_code == 202
        (after,) = stored_deliveries(db, webhook["id"])
        assert retried.json == {"delivery": after}
        assert {
            **delivery,
            "state": "pending",
            "next_attempt_at": after["next_attempt_at"],
        } == after
        # Due now, and its one attempt ends its retries (a failure fails it again).
        assert query_rows(
            db,
            "SELECT next_attempt_at <= now() AS due, retry_until <= now() AS once"
            " FROM webhook_deliveries",
        ) == [{"due": True, "once": True}]

    def test_retry_a_pending_delivery_now_within_its_window(self, api, db, fan_out):
        webhook = webhook_with_a_delivery(
            api,
            db,
            fan_out,
            "UPDATE webhook_deliveries SET attempts = 2,"
            " next_attempt_at = now() + interval '1 hour'",
        )
        (delivery,) = stored_deliveries(db, webhook["id"])
        (window,) = query_rows(db, "SELECT retry_until FROM webhook_deliveries")
        retried = api.post(f"/api/webhooks/{webhook['id']}/deliveries/{delivery['id']}/retry")
        assert retried.status_code == 202
        assert retried.json == {"delivery": stored_deliveries(db, webhook["id"])[0]}
        assert query_rows(
            db, "SELECT retry_until, next_attempt_at <= now() AS due FROM webhook_deliveries"
        ) == [{**window, "due": True}]

    def test_retry_on_a_disabled_webhook_is_409(self, api, db, fan_out, rejected):
        webhook = create(api)["webhook"]
        api.create_campaign()
        fan_out()
        api.patch(f"/api/webhooks/{webhook['id']}", json={"enabled": False})
        (delivery,) = stored_deliveries(db, webhook["id"])
        rejected(
            "POST",
            f"/api/webhooks/{webhook['id']}/deliveries/{delivery['id']}/retry",
            409,
            error_body(409, "The webhook is disabled: enable it to retry its deliveries."),
        )

    def test_disabling_holds_the_pending_deliveries_and_enabling_schedules_them(
        self, api, db, fan_out
    ):
        webhook = create(api)["webhook"]
        path = f"/api/webhooks/{webhook['id']}"
        api.create_campaign("Before")
        fan_out()
        api.patch(path, json={"enabled": False})
        assert [d["next_attempt_at"] for d in stored_deliveries(db, webhook["id"])] == [None]
        api.create_campaign("While disabled")
        assert fan_out() == 0  # a disabled webhook gets no deliveries
        with db.cursor() as cursor:
            cursor.execute("UPDATE webhook_endpoints SET failing_since = now()")
        enabled = api.patch(path, json={"enabled": True})
        assert enabled.json["webhook"]["failing_since"] is None
        row = stored(db, webhook["id"])
        assert row["fanned_out_through"] == 2  # from now on: not the events of the pause
        (held,) = query_rows(
            db,
            "SELECT next_attempt_at <= now() AS due, retry_until > now() + interval '23 hours'"
            " AS new_window FROM webhook_deliveries",
        )
        assert held == {"due": True, "new_window": True}
        api.create_campaign("After")
        assert fan_out() == 1
