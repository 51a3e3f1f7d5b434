"""Idempotency-Key: a retry replays the first response byte for byte and writes nothing;
another request with the key is 422; a key in use is 409; keys last 24 hours per workspace."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.contract import (
    SUPPRESSIONS,
    THREAD_TIMEOUT,
    ApiClient,
    add_leads,
    bad_request,
    database_state,
    error_body,
    open_transaction,
    suppress,
    wait_for_lock_waiters,
)

KEY = "retry-7f3c2a9e-5d1b-4c8e-9a6f-0b2d4e6f8a1c"
ADA = {"email": "ada@example.com"}
GRACE = {"email": "grace@example.com"}
REPLAYED = "Idempotent-Replayed"
DIFFERENT_REQUEST = error_body(
    422,
    "This Idempotency-Key was used with a different request; use a new key for a new request.",
)
IN_PROGRESS = error_body(
    409, "A request with this Idempotency-Key is still in progress; retry it later."
)
MALFORMED_KEY = bad_request(
    "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good choice)."
)


def recorded_keys(db) -> list[tuple[str, str, int]]:
    """(workspace name, key, status) of every stored record."""
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT workspaces.name, idempotency_key, response_status FROM idempotency_keys "
            "JOIN workspaces ON workspaces.id = idempotency_keys.workspace_id "
            "ORDER BY 1, 2"
        )
        return cursor.fetchall()


def create_campaign_keyed(api, name: str, type_: str = "email", key: str = KEY):
    """POST /api/campaigns with this Idempotency-Key; the response."""
    return api.post(
        "/api/campaigns", json={"name": name, "type": type_}, headers={"Idempotency-Key": key}
    )


def lead_count(db, campaign_id: str) -> int:
    with db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM leads WHERE campaign_id = %s", (campaign_id,))
        return cursor.fetchone()[0]


def transition(api, campaign_id: str, *names: str) -> None:
    for name in names:
        response = api.post(f"/api/campaigns/{campaign_id}/{name}")
        assert response.status_code == 200, response.json


@dataclass
class Write:
    method: str
    path: str
    body: dict | None
    status: int
    # A second request, different from the first, that the same route would accept.
    other_body: dict | None = None
    other_path: str | None = None
    extra: dict = field(default_factory=dict)

    def send(self, api, key: str | None = KEY, body: dict | None = None, path: str | None = None):
        headers = {} if key is None else {"Idempotency-Key": key}
        kwargs = {} if (body or self.body) is None else {"json": body or self.body}
        return api.request(self.method, path or self.path, headers=headers, **kwargs)


def create_campaign_write(api) -> Write:
    return Write(
        "POST",
        "/api/campaigns",
        {"name": "Spring outreach", "type": "email"},
        201,
        other_body={"name": "Autumn outreach", "type": "email"},
    )


def add_leads_write(api) -> Write:
    campaign = api.create_campaign()
    add_leads(api, campaign, [{"email": "existing@example.com"}])
    return Write(
        "POST",
        f"/api/campaigns/{campaign['id']}/leads",
        {
            "prospects": [
                {"email": "ada@example.com", "first_name": "Ada"},
                {"email": "grace@example.com"},
                {"email": "EXISTING@example.com"},
            ]
        },
        200,
        other_body={"prospects": [{"email": "alan@example.com"}]},
    )


def update_lead_write(api) -> Write:
    campaign = api.create_campaign()
    [lead] = add_leads(api, campaign, [ADA])
    lead_id = lead["id"]
    return Write(
        "PATCH",
        f"/api/campaigns/{campaign['id']}/leads",
        {"prospect_id": lead_id, "updates": {"company": "Analytical Engines"}},
        200,
        other_body={"prospect_id": lead_id, "updates": {"company": "Difference Engines"}},
    )


def delete_leads_write(api) -> Write:
    campaign = api.create_campaign()
    ids = [lead["id"] for lead in add_leads(api, campaign, [ADA, GRACE])]
    return Write(
        "DELETE",
        f"/api/campaigns/{campaign['id']}/leads",
        {"prospect_ids": [ids[0]]},
        200,
        other_body={"prospect_ids": [ids[1]]},
    )


def delete_all_leads_write(api) -> Write:
    campaign = api.create_campaign()
    add_leads(api, campaign, [ADA, GRACE])
    return Write(
        "DELETE",
        f"/api/campaigns/{campaign['id']}/leads",
        {"all": True},
        200,
        other_body={"prospect_ids": [str(uuid.uuid4())]},
    )


def transition_write(name: str, *before: str) -> Callable:
    def build(api) -> Write:
        campaign = api.create_campaign()
        other = api.create_campaign("Other campaign")
        transition(api, campaign["id"], *before)
        transition(api, other["id"], *before)
        return Write(
            "POST",
            f"/api/campaigns/{campaign['id']}/{name}",
            None,
            200,
            other_path=f"/api/campaigns/{other['id']}/{name}",
        )

    return build


def add_suppressions_write(api) -> Write:
    # With remove_from_drafts: a replay must neither add entries nor remove leads again.
    campaign = api.create_campaign()
    add_leads(api, campaign, [ADA, GRACE])
    suppress(api, [{"kind": "email", "value": "listed@example.com"}])
    return Write(
        "POST",
        SUPPRESSIONS,
        {
            "entries": [
                {"kind": "email", "value": ADA["email"]},
                {"kind": "domain", "value": "initech.com"},
                {"kind": "email", "value": "listed@example.com"},
            ],
            "remove_from_drafts": True,
        },
        200,
        other_body={"entries": [{"kind": "email", "value": GRACE["email"]}]},
    )


def delete_suppressions_write(api) -> Write:
    ids = [
        item["id"]
        for item in suppress(
            api,
            [{"kind": "email", "value": ADA["email"]}, {"kind": "email", "value": GRACE["email"]}],
        )["results"]
    ]
    return Write("DELETE", SUPPRESSIONS, {"ids": [ids[0]]}, 200, other_body={"ids": [ids[1]]})


WRITES = {
    "create campaign": create_campaign_write,
    "add leads": add_leads_write,
    "update lead": update_lead_write,
    "delete leads": delete_leads_write,
    "delete all leads": delete_all_leads_write,
    "launch": transition_write("launch"),
    "pause": transition_write("pause", "launch"),
    "resume": transition_write("resume", "launch", "pause"),
    "complete": transition_write("complete", "launch"),
    "add suppressions": add_suppressions_write,
    "delete suppressions": delete_suppressions_write,
}


@pytest.fixture(params=list(WRITES), ids=list(WRITES))
def write(request, api) -> Write:
    return WRITES[request.param](api)


class TestReplay:
    def test_retry_replays_the_first_response_and_writes_nothing(self, api, db, write):
        first = write.send(api)
        assert first.status_code == write.status, first.json
        assert REPLAYED not in first.headers
        after_first = database_state(db)
        assert recorded_keys(db) == [("acme", KEY, write.status)]

        for _ in range(2):
            retry = write.send(api)
            assert retry.status_code == write.status
            assert retry.data == first.data
            assert retry.headers["Content-Type"] == first.headers["Content-Type"]
            assert retry.headers[REPLAYED] == "true"
            assert database_state(db) == after_first

    def test_retried_add_is_not_reported_as_duplicates(self, api, db, email_campaign):
        path = f"/api/campaigns/{email_campaign['id']}/leads"
        body = {"prospects": [{"email": "ada@example.com"}, {"email": "grace@example.com"}]}
        first = api.post(path, json=body, headers={"Idempotency-Key": KEY})
        assert (first.json["imported"], first.json["duplicates"]) == (2, 0)

        retry = api.post(path, json=body, headers={"Idempotency-Key": KEY})
        assert retry.json == first.json
        assert (retry.json["imported"], retry.json["duplicates"]) == (2, 0)
        assert lead_count(db, email_campaign["id"]) == 2

        # Without the key, the same request really runs again.
        again = api.post(path, json=body)
        assert (again.json["imported"], again.json["duplicates"]) == (0, 2)
        assert REPLAYED not in again.headers

    def test_retry_replays_even_after_the_campaign_moved_on(self, api, db, email_campaign):
        launch = f"/api/campaigns/{email_campaign['id']}/launch"
        first = api.post(launch, headers={"Idempotency-Key": KEY})
        transition(api, email_campaign["id"], "pause")
        before = database_state(db)

        retry = api.post(launch, headers={"Idempotency-Key": KEY})
        assert (retry.status_code, retry.data) == (200, first.data)
        assert retry.json["campaign"]["status"] == "active"  # the first response, as it was
        assert database_state(db) == before

    def test_without_a_key_nothing_is_recorded(self, api, db, write):
        response = write.send(api, key=None)
        assert response.status_code == write.status
        assert REPLAYED not in response.headers
        assert recorded_keys(db) == []

    def test_every_write_operation_documents_the_header(self, api):
        spec = api.get("/openapi.json").json
        documented = {}
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                if method == "parameters":  # the path's own, e.g. campaign_id
                    continue
                headers = {
                    parameter["name"]
                    for parameter in operation.get("parameters", [])
                    if parameter["in"] == "header"
                }
                documented[f"{method.upper()} {path}"] = "Idempotency-Key" in headers
        # The check is a POST only to carry its identities: it reads, and takes no key.
        reads = {"POST /api/suppressions/check"}
        writes = {operation for operation in documented if not operation.startswith("GET ")}
        writes -= reads
        assert writes == {
            "POST /api/campaigns",
            "POST /api/campaigns/{campaign_id}/launch",
            "POST /api/campaigns/{campaign_id}/pause",
            "POST /api/campaigns/{campaign_id}/resume",
            "POST /api/campaigns/{campaign_id}/complete",
            "POST /api/campaigns/{campaign_id}/leads",
            "PATCH /api/campaigns/{campaign_id}/leads",
            "DELETE /api/campaigns/{campaign_id}/leads",
            "POST /api/suppressions",
            "DELETE /api/suppressions",
            "POST /api/webhooks",
            "PATCH /api/webhooks/{webhook_id}",
            "DELETE /api/webhooks/{webhook_id}",
            "POST /api/webhooks/{webhook_id}/rotate-secret",
            "POST /api/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
        }
        assert {operation for operation, has in documented.items() if has} == writes


class TestDifferentRequest:
    def test_same_key_with_another_body_or_path_is_422(self, api, db, write):
        first = write.send(api)
        assert first.status_code == write.status
        before = database_state(db)

        other = write.send(api, body=write.other_body, path=write.other_path)
        assert other.status_code == 422
        assert other.json == DIFFERENT_REQUEST
        assert REPLAYED not in other.headers
        assert database_state(db) == before

        # The key still replays the first request.
        assert write.send(api).data == first.data

    def test_same_key_on_another_route_is_422(self, api, db, email_campaign):
        created = create_campaign_keyed(api, "Keyed")
        assert created.status_code == 201
        before = database_state(db)

        response = api.post(
            f"/api/campaigns/{email_campaign['id']}/launch", headers={"Idempotency-Key": KEY}
        )
        assert response.json == DIFFERENT_REQUEST
        assert database_state(db) == before

    def test_the_same_json_spelled_differently_is_another_request(self, api, db, email_campaign):
        path = f"/api/campaigns/{email_campaign['id']}/leads"
        headers = {"Idempotency-Key": KEY, "Content-Type": "application/json"}
        first = api.post(
            path, data='{"prospects": [{"email": "ada@example.com"}]}', headers=headers
        )
        assert first.status_code == 200
        before = database_state(db)

        response = api.post(
            path, data='{"prospects":[{"email":"ada@example.com"}]}', headers=headers
        )
        assert response.status_code == 422
        assert response.json == DIFFERENT_REQUEST
        assert database_state(db) == before


class TestConcurrentRequests:
    def test_a_key_held_by_a_running_request_is_409(self, api, db, database_url, token, write):
        with db.cursor() as cursor:
            cursor.execute("SELECT id FROM workspaces WHERE name = 'acme'")
            workspace_id = cursor.fetchone()[0]
        before = database_state(db)
        # The lock the first request holds while it runs (see lock_idempotency_key), held
        # in an open transaction: behind pgbouncer in transaction mode a session's lock
        # would stay on a server connection that the app may be handed next.
        with open_transaction(database_url) as holder:
            holder.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s::text || ':' || %s, 0))",
                (workspace_id, KEY),
            )
            response = write.send(api)
            assert response.status_code == 409
            assert response.json == IN_PROGRESS
            assert response.headers["Retry-After"] == "1"
            assert database_state(db) == before

        # Once the first request is over, the key is free again.
        assert write.send(api).status_code == write.status

    def test_two_requests_at_once_give_one_write_and_one_409(
        self, app, token, api, db, database_url, email_campaign
    ):
        path = f"/api/campaigns/{email_campaign['id']}/leads"
        body = {"prospects": [{"email": f"person{n}@example.com"} for n in range(20)]}
        responses = {}

        def send(name: str) -> None:
            client = ApiClient(app, token)
            responses[name] = client.post(path, json=body, headers={"Idempotency-Key": KEY})

        # Another connection holds the campaign row, so the first request, once it holds
        # the key, waits on the row: the second one certainly runs while the first does.
        with open_transaction(database_url) as locker:
            locker.execute(
                "SELECT id FROM campaigns WHERE id = %s FOR UPDATE", (email_campaign["id"],)
            )
            first = threading.Thread(target=send, args=("first",))
            first.start()
            wait_for_lock_waiters(db, 1)
            second = threading.Thread(target=send, args=("second",))
            second.start()
            second.join(THREAD_TIMEOUT)
            assert "first" not in responses
        first.join(THREAD_TIMEOUT)

        assert responses["second"].status_code == 409
        assert responses["second"].json == IN_PROGRESS
        assert responses["first"].status_code == 200
        assert responses["first"].json["imported"] == 20
        assert lead_count(db, email_campaign["id"]) == 20
        assert recorded_keys(db) == [("acme", KEY, 200)]

        retry = api.post(path, json=body, headers={"Idempotency-Key": KEY})
        assert retry.data == responses["first"].data
        assert retry.headers[REPLAYED] == "true"

    def test_racing_threads_write_once(self, app, token, db, email_campaign):
        path = f"/api/campaigns/{email_campaign['id']}/leads"
        body = {"prospects": [{"email": f"person{n}@example.com"} for n in range(50)]}
        barrier = threading.Barrier(6)
        responses = []

        def send() -> None:
            client = ApiClient(app, token)
            barrier.wait(THREAD_TIMEOUT)
            responses.append(client.post(path, json=body, headers={"Idempotency-Key": KEY}))

        threads = [threading.Thread(target=send) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(THREAD_TIMEOUT)

        statuses = sorted(response.status_code for response in responses)
        assert len(statuses) == 6
        assert set(statuses) <= {200, 409}
        successes = [response for response in responses if response.status_code == 200]
        # Every 200 is the one write or a replay of it, byte for byte.
        assert {response.data for response in successes} == {successes[0].data}
        assert [response.headers.get(REPLAYED) for response in successes].count(None) == 1
        assert successes[0].json["imported"] == 50
        for response in responses:
            if response.status_code == 409:
                assert response.json == IN_PROGRESS
        assert lead_count(db, email_campaign["id"]) == 50


class TestExpiry:
    def age_records(self, db, hours: int) -> None:
        with db.cursor() as cursor:
            cursor.execute(
                "UPDATE idempotency_keys SET created_at = now() - make_interval(hours => %s)",
                (hours,),
            )

    def test_a_key_replays_for_24_hours(self, api, db, email_campaign):
        path = f"/api/campaigns/{email_campaign['id']}/leads"
        body = {"prospects": [{"email": "ada@example.com"}]}
        first = api.post(path, json=body, headers={"Idempotency-Key": KEY})
        self.age_records(db, 23)

        retry = api.post(path, json=body, headers={"Idempotency-Key": KEY})
        assert retry.data == first.data
        assert retry.headers[REPLAYED] == "true"

    def test_after_24_hours_the_key_is_new_again(self, api, db, email_campaign):
        path = f"/api/campaigns/{email_campaign['id']}/leads"
        body = {"prospects": [{"email": "ada@example.com"}]}
        api.post(path, json=body, headers={"Idempotency-Key": KEY})
        self.age_records(db, 25)

        # The same request runs again (and finds its lead already there)...
        again = api.post(path, json=body, headers={"Idempotency-Key": KEY})
        assert again.status_code == 200
        assert REPLAYED not in again.headers
        assert (again.json["imported"], again.json["duplicates"]) == (0, 1)
        # ...and its response replaces the expired record.
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT response_body, created_at > now() - interval '1 minute' "
                "FROM idempotency_keys"
            )
            [(stored, fresh)] = cursor.fetchall()
        assert (bytes(stored), fresh) == (again.data, True)
        assert api.post(path, json=body, headers={"Idempotency-Key": KEY}).data == again.data

    def test_after_24_hours_the_key_takes_another_request(self, api, db, email_campaign):
        path = f"/api/campaigns/{email_campaign['id']}/leads"
        api.post(
            path,
            json={"prospects": [{"email": "ada@example.com"}]},
            headers={"Idempotency-Key": KEY},
        )
        self.age_records(db, 25)

        response = api.post(
            path,
            json={"prospects": [{"email": "grace@example.com"}]},
            headers={"Idempotency-Key": KEY},
        )
        assert response.status_code == 200
        assert response.json["imported"] == 1
        assert lead_count(db, email_campaign["id"]) == 2


class TestWorkspaceScope:
    def test_one_key_in_two_workspaces_is_two_requests(self, api, other_api, db):
        body = {"name": "Spring outreach", "type": "email"}
        ours = api.post("/api/campaigns", json=body, headers={"Idempotency-Key": KEY})
        theirs = other_api.post("/api/campaigns", json=body, headers={"Idempotency-Key": KEY})
        assert (ours.status_code, theirs.status_code) == (201, 201)
        assert REPLAYED not in theirs.headers
        assert ours.json["campaign"]["id"] != theirs.json["campaign"]["id"]
        assert recorded_keys(db) == [("acme", KEY, 201), ("globex", KEY, 201)]

        # Each workspace replays its own response.
        assert api.post("/api/campaigns", json=body, headers={"Idempotency-Key": KEY}).data == (
            ours.data
        )
        assert other_api.post(
            "/api/campaigns", json=body, headers={"Idempotency-Key": KEY}
        ).data == (theirs.data)

    def test_another_workspace_cannot_read_a_response_through_the_key(self, api, other_api, db):
        ours = create_campaign_keyed(api, "Secret plan")
        theirs = create_campaign_keyed(other_api, "Their plan", "linkedin")
        assert theirs.status_code == 201
        assert theirs.json["campaign"]["name"] == "Their plan"
        assert b"Secret plan" not in theirs.data
        assert ours.json["campaign"]["name"] == "Secret plan"


class TestMalformedKey:
    @pytest.mark.parametrize(
        "key",
        ["", " ", "a" * 256, "two words", "tab\there", "caf\u00e9", " padded"],
        ids=["empty", "space", "256 chars", "inner space", "tab", "latin-1", "leading space"],
    )
    def test_a_malformed_key_is_400(self, rejected, email_campaign, key):
        rejected(
            "POST",
            f"/api/campaigns/{email_campaign['id']}/leads",
            400,
            MALFORMED_KEY,
            json={"prospects": [{"email": "ada@example.com"}]},
            headers={"Idempotency-Key": key},
        )

    def test_every_write_route_checks_the_key(self, api, db, write):
        before = database_state(db)
        response = write.send(api, key="not a key")
        assert response.status_code == 400
        assert response.json == MALFORMED_KEY
        assert database_state(db) == before

    @pytest.mark.parametrize("key", ["a" * 255, "!", "~" * 10, str(uuid.uuid4())])
    def test_edge_keys_are_accepted(self, api, db, key):
        response = create_campaign_keyed(api, "Edge", key=key)
        assert response.status_code == 201
        assert recorded_keys(db) == [("acme", key, 201)]


class TestDryRun:
    def test_a_dry_run_replays_its_own_report(self, api, db, email_campaign):
        path = f"/api/campaigns/{email_campaign['id']}/leads"
        body = {"prospects": [{"email": "ada@example.com"}]}
        dry = api.post(f"{path}?dry_run=true", json=body, headers={"Idempotency-Key": KEY})
        assert dry.json["dry_run"] is True
        assert dry.json["imported"] == 1
        assert lead_count(db, email_campaign["id"]) == 0
        assert recorded_keys(db) == [("acme", KEY, 200)]

        # The roster changes; a retry of the dry run still gets its first report.
        add_leads(api, email_campaign, [ADA])
        retry = api.post(f"{path}?dry_run=true", json=body, headers={"Idempotency-Key": KEY})
        assert retry.data == dry.data
        assert retry.headers[REPLAYED] == "true"

    def test_the_real_request_needs_its_own_key(self, api, db, email_campaign):
        path = f"/api/campaigns/{email_campaign['id']}/leads"
        body = {"prospects": [{"email": "ada@example.com"}]}
        api.post(f"{path}?dry_run=true", json=body, headers={"Idempotency-Key": KEY})
        before = database_state(db)

        response = api.post(path, json=body, headers={"Idempotency-Key": KEY})
        assert response.status_code == 422
        assert response.json == DIFFERENT_REQUEST
        assert database_state(db) == before


class TestFailedRequestsAreNotRecorded:
    @pytest.mark.parametrize(
        ("body", "status"),
        [
            ({"prospects": [{"first_name": "No email"}]}, 400),
            ({"prospects": []}, 400),
            ({"leads": []}, 400),
        ],
    )
    def test_a_rejected_add_is_not_recorded_and_runs_again(
        self, api, db, email_campaign, body, status
    ):
        path = f"/api/campaigns/{email_campaign['id']}/leads"
        before = database_state(db)
        first = api.post(path, json=body, headers={"Idempotency-Key": KEY})
        assert first.status_code == status
        assert database_state(db) == before

        retry = api.post(path, json=body, headers={"Idempotency-Key": KEY})
        assert (retry.status_code, retry.json) == (status, first.json)
        assert REPLAYED not in retry.headers

        # The client fixes its request and retries with the same key: it runs.
        fixed = api.post(
            path,
            json={"prospects": [{"email": "ada@example.com"}]},
            headers={"Idempotency-Key": KEY},
        )
        assert fixed.status_code == 200
        assert recorded_keys(db) == [("acme", KEY, 200)]

    def test_a_frozen_roster_is_not_recorded(self, api, db, email_campaign):
        transition(api, email_campaign["id"], "launch")
        path = f"/api/campaigns/{email_campaign['id']}/leads"
        body = {"prospects": [{"email": "ada@example.com"}]}
        response = api.post(path, json=body, headers={"Idempotency-Key": KEY})
        assert response.status_code == 400
        assert recorded_keys(db) == []

    def test_a_missing_campaign_is_not_recorded(self, api, db):
        response = api.post(
            f"/api/campaigns/{uuid.uuid4()}/launch", headers={"Idempotency-Key": KEY}
        )
        assert response.status_code == 404
        assert recorded_keys(db) == []

    def test_a_conflict_is_not_recorded(self, api, db, email_campaign):
        ids = [lead["id"] for lead in add_leads(api, email_campaign, [ADA, GRACE])]
        before = database_state(db)
        response = api.patch(
            f"/api/campaigns/{email_campaign['id']}/leads",
            json={"prospect_id": ids[1], "updates": {"email": "ada@example.com"}},
            headers={"Idempotency-Key": KEY},
        )
        assert response.status_code == 409
        assert database_state(db) == before

    def test_a_duplicate_campaign_name_is_not_recorded(self, api, db, email_campaign):
        before = database_state(db)
        response = create_campaign_keyed(api, email_campaign["name"])
        assert response.status_code == 409
        assert database_state(db) == before


class TestPurge:
    """`flask --app app idempotency purge` deletes the records past 24 hours, no others."""

    def test_purge_deletes_only_expired_records(self, app, api, db, email_campaign):
        path = f"/api/campaigns/{email_campaign['id']}/leads"
        for n in range(3):
            body = {"prospects": [{"email": f"ada{n}@example.com"}]}
            assert api.post(path, json=body, headers={"Idempotency-Key": f"key-{n}"}).status_code
        with db.cursor() as cursor:
            cursor.execute(
                "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' "
                "WHERE idempotency_key IN ('key-0', 'key-1')"
            )

        result = app.test_cli_runner().invoke(args=["idempotency", "purge"])
        assert (result.exit_code, result.output) == (0, "Purged 2 expired idempotency records.\n")
        with db.cursor() as cursor:
            cursor.execute("SELECT idempotency_key FROM idempotency_keys")
            assert cursor.fetchall() == [("key-2",)]

        again = app.test_cli_runner().invoke(args=["idempotency", "purge"])
        assert (again.exit_code, again.output) == (0, "Purged 0 expired idempotency records.\n")
