"""Bearer tokens (401s, hashed storage, the tokens CLI) and workspace isolation (404s)."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid

import pytest
from psycopg2 import sql

from tests.contract import (
    APP_TABLES,
    JSON,
    LIMIT_RANGE,
    MISSING_UUID,
    PAGE_AND_CURSOR,
    ROUTES,
    ApiClient,
    add_leads,
    bad_query,
    database_state,
    error_body,
    fill,
    make_token,
    move_to,
    query_rows,
    route_id,
)

TOKEN = re.compile(r"^ld_[A-Za-z0-9_-]{43}$")
WWW_AUTHENTICATE = 'Bearer realm="leads"'
MISSING = "Authentication required: send Authorization: Bearer <token>."
MALFORMED = "The Authorization header is malformed: expected Bearer <token>."
OVERSIZED = "The Authorization header is malformed."
UNKNOWN = "The token is unknown or revoked."
CAMPAIGN_NOT_FOUND = error_body(404, "Campaign not found.")

CAMPAIGN_ROUTES = [route for route in ROUTES if "{id}" in route[1]]
# The status a campaign needs for each route to succeed for its owner, so that a 404 for
# anyone else is the isolation at work, not a refused transition.
STATUS_FOR = {"pause": "active", "resume": "paused", "complete": "active"}


@pytest.fixture
def victim(api) -> tuple[dict, str]:
    """acme's campaign with one lead: (campaign, lead id)."""
    campaign = api.create_campaign("Victim", "email")
    (lead,) = add_leads(api, campaign, [{"email": "lead@example.com"}])
    return campaign, lead["id"]


def run_cli(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def create_token_with_cli(app, workspace: str) -> str:
    result = run_cli(app, "tokens", "create", "--workspace", workspace)
    assert result.exit_code == 0, result.output
    return result.output.splitlines()[-1]


def token_rows(db) -> list[dict]:
    return query_rows(
        db,
        "SELECT api_tokens.token_prefix, api_tokens.token_hash, workspaces.name AS workspace,"
        " api_tokens.created_at, api_tokens.revoked_at"
        " FROM api_tokens JOIN workspaces ON workspaces.id = api_tokens.workspace_id"
        " ORDER BY api_tokens.created_at, api_tokens.token_prefix",
    )


def well_formed_unknown_token() -> str:
    return "ld_" + secrets.token_urlsafe(32)


class TestUnauthorized:
    @pytest.mark.parametrize("route", ROUTES, ids=route_id)
    @pytest.mark.parametrize(
        ("authorization", "message"),
        [
            pytest.param(None, MISSING, id="missing"),
            pytest.param("", MISSING, id="empty"),
            pytest.param("Basic dXNlcjpwYXNzd29yZA==", MALFORMED, id="basic"),
            pytest.param("Bearer", MALFORMED, id="bearer-alone"),
            pytest.param("Bearer    ", MALFORMED, id="bearer-blank"),
            pytest.param("garbage", MALFORMED, id="garbage"),
            pytest.param("Bearer not-a-token", MALFORMED, id="not-a-token"),
            pytest.param("Token {token}", MALFORMED, id="other-scheme-real-token"),
            pytest.param("{token}", MALFORMED, id="token-without-scheme"),
            pytest.param("Bearer {token} extra", MALFORMED, id="trailing-junk"),
            pytest.param("Bearer {token}x", MALFORMED, id="token-too-long"),
            pytest.param("Bearer " + "A" * 600, OVERSIZED, id="oversized"),
            pytest.param("Bearer {unknown}", UNKNOWN, id="unknown"),
            pytest.param("Bearer {revoked}", UNKNOWN, id="revoked"),
        ],
    )
    def test_401_changes_nothing(self, app, db, token, victim, route, authorization, message):
        campaign, lead_id = victim
        if authorization is not None and "{revoked}" in authorization:
            revoked = create_token_with_cli(app, "acme")
            assert run_cli(app, "tokens", "revoke", revoked[:11]).exit_code == 0
            authorization = authorization.format(revoked=revoked)
        elif authorization is not None:
            authorization = authorization.format(token=token, unknown=well_formed_unknown_token())
        method, path, body = fill(route, campaign["id"], lead_id)
        headers = {} if authorization is None else {"Authorization": authorization}
        before = database_state(db)
        response = app.test_client().open(path, method=method, json=body, headers=headers)
        assert response.status_code == 401
        assert response.json == error_body(401, message)
        assert response.headers["WWW-Authenticate"] == WWW_AUTHENTICATE
        assert database_state(db) == before

    @pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
    def test_scheme_is_case_insensitive(self, app, token, scheme):
        response = app.test_client().get(
            "/api/campaigns", headers={"Authorization": f"{scheme} {token}"}
        )
        assert response.status_code == 200
        assert response.json == {"campaigns": []}

    @pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/docs"])
    def test_probes_and_docs_need_no_token(self, app, path):
        response = app.test_client().get(path)
        assert response.status_code == 200


class TestTokenStorage:
    def test_tokens_are_stored_hashed(self, app, db, token, other_token):
        cli_token = create_token_with_cli(app, "initech")
        tokens = {"acme": token, "globex": other_token, "initech": cli_token}
        rows = token_rows(db)
        assert [(row["workspace"], row["revoked_at"]) for row in rows] == [
            ("acme", None),
            ("globex", None),
            ("initech", None),
        ]
        for row in rows:
            secret = tokens[row["workspace"]]
            assert TOKEN.match(secret)
            assert bytes(row["token_hash"]) == hashlib.sha256(secret.encode()).digest()
            assert row["token_prefix"] == secret[:11]

        # No column of any table holds a token, whole or beyond its listed prefix.
        with db.cursor() as cursor:
            for table in APP_TABLES:
                cursor.execute(
                    sql.SQL("SELECT coalesce(string_agg(t::text, ' '), '') FROM {} AS t").format(
                        sql.Identifier(table)
                    )
                )
                dump = cursor.fetchone()[0]
                for secret in tokens.values():
                    assert secret not in dump
                    assert secret[:20] not in dump
                    assert secret.encode().hex() not in dump

    def test_every_token_is_different(self, pool, db):
        made = {make_token(pool, "acme") for _ in range(20)}
        assert len(made) == 20
        assert len({row["token_prefix"] for row in token_rows(db)}) == 20


class TestTokensCli:
    def test_create_prints_a_working_token_last(self, app, db):
        result = run_cli(app, "tokens", "create", "--workspace", "  initech ")
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert lines[:-1] == [
            "Token for workspace 'initech' (store it now, it is not shown again):"
        ]
        new_token = lines[-1]
        assert TOKEN.match(new_token)
        assert [row["workspace"] for row in token_rows(db)] == ["initech"]

        client = ApiClient(app, new_token)
        assert client.get("/api/campaigns").json == {"campaigns": []}
        created = client.create_campaign("Initech outreach", "email")
        assert client.get("/api/campaigns").json == {"campaigns": [created]}

    def test_new_token_of_an_existing_workspace_sees_its_campaigns(self, app, api, db):
        campaign = api.create_campaign("Acme outreach", "email")
        second = ApiClient(app, create_token_with_cli(app, "acme"))
        assert second.get("/api/campaigns").json == {"campaigns": [campaign]}
        with db.cursor() as cursor:
            cursor.execute("SELECT name FROM workspaces")
            assert cursor.fetchall() == [("acme",)]

    @pytest.mark.parametrize(
        ("args", "error_line"),
        [
            (["--workspace", "  "], "Error: Invalid value for --workspace: must not be blank"),
            (["--workspace", ""], "Error: Invalid value for --workspace: must not be blank"),
            ([], "Error: Missing option '--workspace'."),
        ],
    )
    def test_create_needs_a_workspace(self, app, db, args, error_line):
        before = database_state(db)
        result = run_cli(app, "tokens", "create", *args)
        assert result.exit_code == 2
        assert result.output.splitlines()[-1] == error_line
        assert database_state(db) == before

    def test_list_shows_prefixes_never_tokens(self, app, db, token, other_token):
        revoked = create_token_with_cli(app, "acme")
        assert run_cli(app, "tokens", "revoke", revoked[:11]).exit_code == 0
        result = run_cli(app, "tokens", "list")
        assert result.exit_code == 0, result.output
        rows = token_rows(db)
        width = max(len("WORKSPACE"), *(len(row["workspace"]) for row in rows))
        expected = [f"PREFIX       {'WORKSPACE'.ljust(width)}  CREATED           STATE"]
        for row in rows:
            state = f"revoked {row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else "active"
            expected.append(
                f"{row['token_prefix']}  {row['workspace'].ljust(width)}  "
                f"{row['created_at']:%Y-%m-%d %H:%M}  {state}"
            )
        assert result.output.splitlines() == expected
        # The columns line up: each starts at the same offset on every line.
        starts = {tuple(m.start() for m in re.finditer(r"(?<=  )\S", line)) for line in expected}
        assert len(starts) == 1, expected
        assert [line.split()[0] for line in expected[1:]] == [
            token[:11],
            other_token[:11],
            revoked[:11],
        ]
        for secret in (token, other_token, revoked):
            assert secret not in result.output
            assert secret[:12] not in result.output

    def test_list_with_no_tokens(self, app):
        result = run_cli(app, "tokens", "list")
        assert result.exit_code == 0
        assert result.output == ""

    def test_revoke_makes_the_token_401(self, app, db, token):
        doomed = create_token_with_cli(app, "acme")
        assert ApiClient(app, doomed).get("/api/campaigns").status_code == 200

        result = run_cli(app, "tokens", "revoke", doomed[:11])
        assert result.exit_code == 0, result.output
        assert result.output == f"Revoked {doomed[:11]}.\n"

        response = ApiClient(app, doomed).get("/api/campaigns")
        assert response.status_code == 401
        assert response.json == error_body(401, UNKNOWN)
        assert response.headers["WWW-Authenticate"] == WWW_AUTHENTICATE
        # The workspace's other token is untouched.
        assert ApiClient(app, token).get("/api/campaigns").status_code == 200
        states = {row["token_prefix"]: row["revoked_at"] is not None for row in token_rows(db)}
        assert states == {token[:11]: False, doomed[:11]: True}

    @pytest.mark.parametrize("which", ["already-revoked", "unknown"])
    def test_revoke_of_no_active_token_fails(self, app, db, token, which):
        if which == "already-revoked":
            prefix = token[:11]
            assert run_cli(app, "tokens", "revoke", prefix).exit_code == 0
        else:
            prefix = "ld_" + "z" * 8
        before = database_state(db)
        result = run_cli(app, "tokens", "revoke", prefix)
        assert result.exit_code == 1
        assert result.output == f"Error: No active token with prefix {prefix!r}.\n"
        assert database_state(db) == before


# GET .../leads requests that fail before the page query runs or make it find nothing:
# (id, path under the setting's campaigns, the answer with a valid token).
ROW = {"email": "new@example.com"}
FAILING_LISTS = [
    (
        "bad-limit",
        "{mine}/leads?limit=0",
        bad_query("limit", LIMIT_RANGE),
    ),
    (
        "unknown-parameter",
        "{mine}/leads?colour=red",
        bad_query("colour", "Unknown field."),
    ),
    (
        "repeated-parameter",
        "{mine}/leads?status=sent&status=pending",
        bad_query("status", "Give this parameter once."),
    ),
    (
        "malformed-cursor",
        "{mine}/leads?cursor=abc",
        bad_query(
            "cursor", "Not a valid cursor: pass the next_cursor of a previous page unchanged."
        ),
    ),
    (
        "page-and-cursor",
        "{mine}/leads?page=2&cursor={cursor}",
        PAGE_AND_CURSOR,
    ),
    (
        "cursor-of-another-campaign",
        "{mine}/leads?cursor={other_cursor}",
        bad_query("cursor", "This cursor belongs to another campaign."),
    ),
    ("another-workspace", "{theirs}/leads", CAMPAIGN_NOT_FOUND),
    ("missing-campaign", f"{MISSING_UUID}/leads", CAMPAIGN_NOT_FOUND),
    ("malformed-campaign-id", "not-a-uuid/leads", CAMPAIGN_NOT_FOUND),
]


# Writes to the roster that fail before their first query or make it find nothing:
# (id, method, path, JSON body or raw text, extra headers, answer with a valid token).
NOT_AN_EMAIL = "email is not a valid email address (An email address must have an @-sign.)"
NOT_A_UUID = "Not a valid UUID."
EXACTLY_ONE = 'Send exactly one of "prospect_ids" and "all" (a wipe is never implied)'
FAILING_WRITES = [
    (
        "bad-row",
        "POST",
        "{mine}/leads",
        {"prospects": [{"email": "nope"}]},
        {},
        error_body(
            400,
            f"prospects[0]: {NOT_AN_EMAIL}",
            {"json": {"prospects": {"0": {"email": [NOT_AN_EMAIL]}}}},
        ),
    ),
    (
        "bad-dry-run",
        "POST",
        "{mine}/leads?dry_run=maybe",
        {"prospects": [ROW]},
        {},
        error_body(
            400, "dry_run: Not a valid boolean", {"query": {"dry_run": ["Not a valid boolean."]}}
        ),
    ),
    (
        "bad-key",
        "POST",
        "{mine}/leads",
        {"prospects": [ROW]},
        {"Idempotency-Key": "a b"},
        error_body(
            400,
            "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good choice).",
        ),
    ),
    (
        "not-json",
        "POST",
        "{mine}/leads",
        "email=a@example.com",
        {},
        error_body(415, "Request bodies must be JSON (Content-Type: application/json)."),
    ),
    (
        "malformed-json",
        "POST",
        "{mine}/leads",
        '{"prospects": [',
        JSON,
        error_body(
            400,
            "Invalid JSON body: Expecting value at line 1 column 16",
            {"json": ["Invalid JSON body: Expecting value at line 1 column 16."]},
        ),
    ),
    ("theirs", "POST", "{theirs}/leads", {"prospects": [ROW]}, {}, CAMPAIGN_NOT_FOUND),
    ("malformed-id", "POST", "not-a-uuid/leads", {"prospects": [ROW]}, {}, CAMPAIGN_NOT_FOUND),
    (
        "empty-update",
        "PATCH",
        "{mine}/leads",
        {"prospect_id": MISSING_UUID, "updates": {}},
        {},
        error_body(
            400,
            "updates must hold at least one field",
            {"json": {"updates": {"_schema": ["updates must hold at least one field."]}}},
        ),
    ),
    (
        "missing-lead",
        "PATCH",
        "{mine}/leads",
        {"prospect_id": MISSING_UUID, "updates": {"company": "X"}},
        {},
        error_body(404, "Lead not found in this campaign."),
    ),
    (
        "bad-update",
        "PATCH",
        "{mine}/leads",
        {"prospect_id": "x", "updates": {"a": 1}},
        {},
        error_body(
            400,
            "prospect_id: Not a valid UUID; updates.a: Unknown field",
            {"json": {"prospect_id": [NOT_A_UUID], "updates": {"a": ["Unknown field."]}}},
        ),
    ),
    (
        "theirs",
        "PATCH",
        "{theirs}/leads",
        {"prospect_id": MISSING_UUID, "updates": {"company": "X"}},
        {},
        CAMPAIGN_NOT_FOUND,
    ),
    (
        "bad-ids",
        "DELETE",
        "{mine}/leads",
        {"prospect_ids": ["nope"]},
        {},
        error_body(
            400,
            "prospect_ids[0]: Not a valid UUID",
            {"json": {"prospect_ids": {"0": [NOT_A_UUID]}}},
        ),
    ),
    (
        "neither",
        "DELETE",
        "{mine}/leads",
        {},
        {},
        error_body(400, EXACTLY_ONE, {"json": {"_schema": [EXACTLY_ONE + "."]}}),
    ),
    ("theirs", "DELETE", "{theirs}/leads", {"all": True}, {}, CAMPAIGN_NOT_FOUND),
]


def send(client, method: str, path: str, body, headers: dict):
    if isinstance(body, str):
        headers = {"Content-Type": "text/plain", **headers}
        return client.request(method, path, data=body, headers=headers)
    return client.request(method, path, json=body, headers=headers)


class TestTheTokenIsCheckedFirst:
    """The token is resolved to its workspace before the view runs (leads/web/auth.py): an
    unknown or revoked token is a 401 whatever else is wrong with the request, and nothing
    is written for it."""

    @pytest.fixture
    def paths(self, api, other_api) -> dict:
        mine = api.create_campaign("Mine", "email")
        add_leads(api, mine, [{"email": "a@example.com"}, {"email": "b@example.com"}])
        sibling = api.create_campaign("Sibling", "email")
        add_leads(api, sibling, [{"email": "a@example.com"}, {"email": "b@example.com"}])
        theirs = other_api.create_campaign("Theirs", "email")
        return {
            "mine": mine["id"],
            "theirs": theirs["id"],
            "cursor": api.get(f"/api/campaigns/{mine['id']}/leads?limit=1").json["next_cursor"],
            "other_cursor": api.get(f"/api/campaigns/{sibling['id']}/leads?limit=1").json[
                "next_cursor"
            ],
        }

    @pytest.fixture
    def revoked(self, app) -> str:
        revoked = create_token_with_cli(app, "acme")
        assert run_cli(app, "tokens", "revoke", revoked[:11]).exit_code == 0
        return revoked

    @pytest.mark.parametrize(
        ("path", "answer"),
        [case[1:] for case in FAILING_LISTS],
        ids=[case[0] for case in FAILING_LISTS],
    )
    def test_a_valid_token_gets_the_requests_own_error(self, api, paths, path, answer):
        response = api.get("/api/campaigns/" + path.format(**paths))
        assert (response.status_code, response.json) == (answer["code"], answer)
        assert "WWW-Authenticate" not in response.headers

    @pytest.mark.parametrize(
        "path",
        ["{mine}/leads"] + [case[1] for case in FAILING_LISTS],
        ids=["fine"] + [case[0] for case in FAILING_LISTS],
    )
    @pytest.mark.parametrize("which", ["unknown", "revoked"])
    def test_an_unknown_or_revoked_token_is_401_first(self, app, db, paths, revoked, which, path):
        token = revoked if which == "revoked" else well_formed_unknown_token()
        before = database_state(db)
        response = ApiClient(app, token).get("/api/campaigns/" + path.format(**paths))
        assert (response.status_code, response.json) == (401, error_body(401, UNKNOWN))
        assert response.headers["WWW-Authenticate"] == WWW_AUTHENTICATE
        assert database_state(db) == before

    @pytest.mark.parametrize(
        ("method", "path", "body", "headers", "answer"),
        [case[1:] for case in FAILING_WRITES],
        ids=[f"{case[1]}-{case[0]}" for case in FAILING_WRITES],
    )
    def test_a_failing_write_is_its_own_error_for_a_valid_token(
        self, api, db, paths, method, path, body, headers, answer
    ):
        before = database_state(db)
        response = send(api, method, "/api/campaigns/" + path.format(**paths), body, headers)
        assert (response.status_code, response.json) == (answer["code"], answer)
        assert "WWW-Authenticate" not in response.headers
        assert database_state(db) == before

    @pytest.mark.parametrize(
        ("method", "path", "body", "headers"),
        [case[1:5] for case in FAILING_WRITES]
        + [
            ("POST", "{mine}/leads", {"prospects": [ROW]}, {}),
            ("DELETE", "{mine}/leads", {"all": True}, {}),
            ("DELETE", "{mine}/leads", {"all": True}, {"Idempotency-Key": "k-1"}),
        ],
        ids=[f"{case[1]}-{case[0]}" for case in FAILING_WRITES]
        + ["POST-fine", "DELETE-fine", "DELETE-fine-with-key"],
    )
    @pytest.mark.parametrize("which", ["unknown", "revoked"])
    def test_a_write_with_an_unknown_or_revoked_token_is_401_first(
        self, app, db, paths, revoked, which, method, path, body, headers
    ):
        client = ApiClient(app, revoked if which == "revoked" else well_formed_unknown_token())
        before = database_state(db)
        response = send(client, method, "/api/campaigns/" + path.format(**paths), body, headers)
        assert (response.status_code, response.json) == (401, error_body(401, UNKNOWN))
        assert response.headers["WWW-Authenticate"] == WWW_AUTHENTICATE
        assert database_state(db) == before

    def test_the_other_workspaces_token_gets_404_not_the_page(self, other_api, paths):
        response = other_api.get(f"/api/campaigns/{paths['mine']}/leads")
        assert (response.status_code, response.json) == (404, CAMPAIGN_NOT_FOUND)

    def test_a_token_revoked_between_two_pages_is_401_on_the_second(self, app, api, paths):
        doomed = create_token_with_cli(app, "acme")
        client = ApiClient(app, doomed)
        first = client.get(f"/api/campaigns/{paths['mine']}/leads?limit=1")
        assert first.status_code == 200
        assert [lead["email"] for lead in first.json["prospects"]] == ["a@example.com"]

        assert run_cli(app, "tokens", "revoke", doomed[:11]).exit_code == 0
        second = client.get(
            f"/api/campaigns/{paths['mine']}/leads?cursor={first.json['next_cursor']}"
        )
        assert (second.status_code, second.json) == (401, error_body(401, UNKNOWN))


class TestWorkspaceIsolation:
    @pytest.mark.parametrize("route", CAMPAIGN_ROUTES, ids=route_id)
    def test_foreign_missing_and_malformed_campaigns_look_alike(
        self, api, other_api, db, victim, route
    ):
        campaign, lead_id = victim
        transition = route[1].rsplit("/", 1)[-1]
        if transition in STATUS_FOR:
            move_to(api, campaign, STATUS_FOR[transition])
        before = database_state(db)
        attempts = {
            "other workspace": (other_api, campaign["id"]),
            "missing": (api, str(uuid.uuid4())),
            "not a uuid": (api, "not-a-uuid"),
            "uuid-ish": (api, campaign["id"][:-1]),
        }
        for name, (client, campaign_id) in attempts.items():
            method, path, body = fill(route, campaign_id, lead_id)
            response = client.request(method, path, json=body)
            assert (name, response.status_code, response.json) == (name, 404, CAMPAIGN_NOT_FOUND)
        assert database_state(db) == before

        # The owner gets through on the very same request.
        method, path, body = fill(route, campaign["id"], lead_id)
        assert api.request(method, path, json=body).status_code == 200

    def test_foreign_campaigns_are_not_listed(self, api, other_api, victim):
        campaign, _ = victim
        assert other_api.get("/api/campaigns").json == {"campaigns": []}
        assert api.get("/api/campaigns").json == {
            "campaigns": [api.get(f"/api/campaigns/{campaign['id']}").json["campaign"]]
        }

    def test_same_lead_identity_in_two_workspaces_is_independent(self, api, other_api, db):
        mine = api.create_campaign("Mine", "email")
        theirs = other_api.create_campaign("Theirs", "email")
        (my_lead,) = add_leads(api, mine, [{"email": "shared@example.com"}])
        (their_lead,) = add_leads(other_api, theirs, [{"email": "shared@example.com"}])
        assert my_lead["id"] != their_lead["id"]
        response = other_api.delete(
            f"/api/campaigns/{theirs['id']}/leads", json={"prospect_ids": [my_lead["id"]]}
        )
        assert response.json["deleted"] == 0
        assert [
            lead["id"] for lead in api.get(f"/api/campaigns/{mine['id']}/leads").json["prospects"]
        ] == [my_lead["id"]]
