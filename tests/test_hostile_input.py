"""Hostile input: every malformed, oversized or sneaky request is a 4xx in the contract's
error shape, and the database holds exactly what it held before."""

from __future__ import annotations

import io
import json

import pytest

from app import create_app
from tests.contract import (
    JSON,
    NO_ROUTE,
    NOT_FOUND,
    STATUS_CHOICES,
    TOO_LARGE,
    ApiClient,
    bad_body,
    bad_request,
    database_state,
    error_body,
    make_token,
    row_error,
)


@pytest.fixture
def rejected_row(rejected_rows, campaign):
    """POST one row to the campaign; check the 400 that names its bad field, and that
    nothing was written."""

    def check(row: dict, field: str, message: str) -> None:
        rejected_rows(campaign, [row], row_error(0, field, message))

    return check


@pytest.fixture
def campaign(api) -> dict:
    """A draft email campaign with one lead."""
    campaign = api.create_campaign("Hostile", "email")
    response = api.post(
        f"/api/campaigns/{campaign['id']}/leads", json={"prospects": [{"email": "ada@example.com"}]}
    )
    assert response.status_code == 200
    campaign["lead_id"] = response.json["results"][0]["id"]
    return campaign


# The writes that take a JSON body, as (method, path with {campaign}).
BODY_WRITES = [
    ("POST", "/api/campaigns"),
    ("POST", "/api/campaigns/{campaign}/leads"),
    ("PATCH", "/api/campaigns/{campaign}/leads"),
    ("DELETE", "/api/campaigns/{campaign}/leads"),
    ("POST", "/api/suppressions"),
    ("DELETE", "/api/suppressions"),
    ("POST", "/api/suppressions/check"),
]
BODY_WRITE_IDS = [f"{method} {path}" for method, path in BODY_WRITES]


class TestWrongTypes:
    @pytest.mark.parametrize(
        ("prospects", "expected"),
        [
            (
                {},
                bad_request(
                    "prospects: Not a valid list", {"json": {"prospects": ["Not a valid list."]}}
                ),
            ),
            (
                "x",
                bad_request(
                    "prospects: Not a valid list", {"json": {"prospects": ["Not a valid list."]}}
                ),
            ),
            (
                7,
                bad_request(
                    "prospects: Not a valid list", {"json": {"prospects": ["Not a valid list."]}}
                ),
            ),
            (
                None,
                bad_request(
                    "prospects: Field may not be null",
                    {"json": {"prospects": ["Field may not be null."]}},
                ),
            ),
            (
                [None],
                bad_request(
                    "prospects[0]: Field may not be null",
                    {"json": {"prospects": {"0": ["Field may not be null."]}}},
                ),
            ),
        ]
        + [
            (
                [{"email": "b@example.com"}, row],
                bad_request(
                    "prospects[1]: Invalid input type",
                    {"json": {"prospects": {"1": {"_schema": ["Invalid input type."]}}}},
                ),
            )
            for row in ("x", 1, [], True)
        ],
        ids=[
            "object",
            "string",
            "number",
            "null",
            "null row",
            "string row",
            "number row",
            "list row",
            "bool row",
        ],
    )
    def test_wrong_types_of_prospects_and_rows(self, rejected, campaign, prospects, expected):
        rejected(
            "POST",
            f"/api/campaigns/{campaign['id']}/leads",
            400,
            expected,
            json={"prospects": prospects},
        )

    @pytest.mark.parametrize("value", ["x", 1, True, [], [{"a": 1}]], ids=repr)
    def test_custom_fields_must_be_an_object(self, rejected_row, value):
        rejected_row(
            {"email": "b@example.com", "custom_fields": value},
            "custom_fields",
            "Not a valid mapping.",
        )

    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            (
                {"prospect_id": 1, "updates": []},
                bad_request(
                    "prospect_id: Not a valid UUID; updates: Invalid input type",
                    {
                        "json": {
                            "prospect_id": ["Not a valid UUID."],
                            "updates": {"_schema": ["Invalid input type."]},
                        }
                    },
                ),
            ),
            (
                {"prospect_id": "x", "updates": None},
                bad_request(
                    "prospect_id: Not a valid UUID; updates: Field may not be null",
                    {
                        "json": {
                            "prospect_id": ["Not a valid UUID."],
                            "updates": ["Field may not be null."],
                        }
                    },
                ),
            ),
            (
                {"prospect_id": "LEAD", "updates": {"first_name": {"a": 1}}},
                bad_body("updates.first_name", "Not a valid string."),
            ),
            (
                {"prospect_id": "LEAD", "updates": {"custom_fields": "x"}},
                bad_body("updates.custom_fields", "Not a valid mapping."),
            ),
            (
                {"prospect_id": "LEAD", "updates": {"email": 5}},
                bad_body("updates.email", "Not a valid string."),
            ),
        ],
        ids=[
            "number id, list updates",
            "string id, null updates",
            "object name",
            "string custom_fields",
            "number email",
        ],
    )
    def test_wrong_types_in_an_update(self, rejected, campaign, body, expected):
        body = json.loads(json.dumps(body).replace("LEAD", campaign["lead_id"]))
        rejected("PATCH", f"/api/campaigns/{campaign['id']}/leads", 400, expected, json=body)

    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            (
                {"prospect_ids": "x"},
                bad_request(
                    "prospect_ids: Not a valid list",
                    {"json": {"prospect_ids": ["Not a valid list."]}},
                ),
            ),
            (
                {"prospect_ids": [1, "x"]},
                bad_request(
                    "prospect_ids[0], prospect_ids[1]: Not a valid UUID",
                    {
                        "json": {
                            "prospect_ids": {"0": ["Not a valid UUID."], "1": ["Not a valid UUID."]}
                        }
                    },
                ),
            ),
            (
                {"all": "yes"},
                bad_request(
                    "all: Not a valid boolean", {"json": {"all": ["Not a valid boolean."]}}
                ),
            ),
            (
                {"all": None},
                bad_request(
                    "all: Field may not be null", {"json": {"all": ["Field may not be null."]}}
                ),
            ),
        ],
        ids=["string ids", "bad ids", "string all", "null all"],
    )
    def test_wrong_types_in_a_delete(self, rejected, campaign, body, expected):
        rejected("DELETE", f"/api/campaigns/{campaign['id']}/leads", 400, expected, json=body)


class TestHugeInput:
    def test_a_huge_email(self, rejected, campaign):
        rejected(
            "POST",
            f"/api/campaigns/{campaign['id']}/leads",
            400,
            bad_request(
                "prospects[0]: email is longer than 254 characters",
                {"json": {"prospects": {"0": {"email": ["email is longer than 254 characters"]}}}},
            ),
            json={"prospects": [{"email": "a" * 1_000_000 + "@example.com"}]},
        )

    def test_huge_custom_fields(self, rejected_row):
        rejected_row(
            {"email": "b@example.com", "custom_fields": {"k": "x" * 1_000_000}},
            "custom_fields",
            "Must be at most 16384 bytes serialized, got 1000008.",
        )

    def test_too_many_custom_fields(self, rejected_row):
        fields = {f"k{n}": n for n in range(10_000)}
        rejected_row(
            {"email": "b@example.com", "custom_fields": fields},
            "custom_fields",
            "Must hold at most 100 keys.",
        )

    def test_1001_rows(self, rejected, campaign):
        rows = [{"email": f"person{n}@example.com"} for n in range(1001)]
        rejected(
            "POST",
            f"/api/campaigns/{campaign['id']}/leads",
            400,
            bad_request(
                "prospects: Length must be between 1 and 1000",
                {"json": {"prospects": ["Length must be between 1 and 1000."]}},
            ),
            json={"prospects": rows},
        )

    def test_501_ids(self, rejected, campaign):
        rejected(
            "DELETE",
            f"/api/campaigns/{campaign['id']}/leads",
            400,
            bad_request(
                "prospect_ids: Length must be between 1 and 500",
                {"json": {"prospect_ids": ["Length must be between 1 and 500."]}},
            ),
            json={"prospect_ids": [campaign["lead_id"]] * 501},
        )


class TestDeepNesting:
    @pytest.mark.parametrize("depth", [5, 50, 500])
    def test_custom_fields_nested_deeper_than_4(self, rejected_row, depth):
        value: object = 1
        for level in range(depth - 1):
            value = {"k": value} if level % 2 else [value]
        rejected_row(
            {"email": "b@example.com", "custom_fields": {"deep": value}},
            "custom_fields",
            "Value of 'deep' is nested deeper than 4.",
        )

    def test_nested_rows(self, rejected, campaign):
        rejected(
            "POST",
            f"/api/campaigns/{campaign['id']}/leads",
            400,
            bad_request(
                "prospects[0]: Invalid input type",
                {"json": {"prospects": {"0": {"_schema": ["Invalid input type."]}}}},
            ),
            data='{"prospects": ' + "[" * 500 + "]" * 500 + "}",
            headers=JSON,
        )


class TestNulAndInvalidUnicode:
    NUL = "Must not contain NUL characters."
    SURROGATE = "Must be valid Unicode (no lone surrogates)."
    TEXT_FIELDS = ["first_name", "last_name", "name", "company", "position", "headline"]

    @pytest.mark.parametrize("field", ["email", "linkedin_url", *TEXT_FIELDS])
    def test_nul_in_a_field(self, rejected_row, field):
        value = "b\x00@example.com" if field == "email" else "a\x00b"
        row = {"email": "b@example.com", field: value}
        rejected_row(row, field, self.NUL)

    @pytest.mark.parametrize("field", ["email", "linkedin_url", *TEXT_FIELDS])
    @pytest.mark.parametrize("surrogate", ["\ud800", "\udfff", "x\ud83d"], ids=ascii)
    def test_a_lone_surrogate_in_a_field(self, rejected, campaign, field, surrogate):
        value = f"b{surrogate}@example.com" if field == "email" else f"a{surrogate}"
        row = {"email": "b@example.com", field: value}
        rejected(
            "POST",
            f"/api/campaigns/{campaign['id']}/leads",
            400,
            row_error(0, field, self.SURROGATE),
            # json.dumps writes a lone surrogate as a \u escape, as a hostile client would.
            data=json.dumps({"prospects": [row]}),
            headers=JSON,
        )

    @pytest.mark.parametrize(
        ("custom_fields", "message"),
        [
            ('{"k": "a\\u0000"}', "Value of 'k': Must not contain NUL characters."),
            (
                '{"k": ["a", "\\ud800"]}',
                "Value of 'k': Must be valid Unicode (no lone surrogates).",
            ),
            ('{"k": {"\\u0000": 1}}', "Value of 'k': Must not contain NUL characters."),
            ('{"a\\u0000": 1}', "Key 'a\\x00' must match ^[A-Za-z0-9_]{1,64}$."),
        ],
        ids=["NUL value", "surrogate in a list", "NUL inner key", "NUL key"],
    )
    def test_in_custom_fields(self, rejected, campaign, custom_fields, message):
        rejected(
            "POST",
            f"/api/campaigns/{campaign['id']}/leads",
            400,
            row_error(0, "custom_fields", message),
            data='{"prospects": [{"email": "b@example.com", "custom_fields": '
            + custom_fields
            + "}]}",
            headers=JSON,
        )

    @pytest.mark.parametrize(
        ("character", "message"), [("\x00", NUL), ("\udc00", SURROGATE)], ids=["NUL", "surrogate"]
    )
    def test_in_an_update_and_a_campaign_name(self, rejected, campaign, character, message):
        rejected(
            "PATCH",
            f"/api/campaigns/{campaign['id']}/leads",
            400,
            bad_body("updates.company", message),
            data=json.dumps(
                {"prospect_id": campaign["lead_id"], "updates": {"company": f"a{character}"}}
            ),
            headers=JSON,
        )
        rejected(
            "POST",
            "/api/campaigns",
            400,
            bad_request(f"name: {message.rstrip('.')}", {"json": {"name": [message]}}),
            data=json.dumps({"name": f"a{character}", "type": "email"}),
            headers=JSON,
        )


class TestOversizedBodies:
    LIMIT = 1024

    @pytest.fixture
    def small(self, database_url):
        app = create_app(
            {"database_url": database_url, "rate_limit": None, "max_body_bytes": self.LIMIT}
        )
        yield app
        app.extensions["leads_pool"].close()

    @pytest.mark.parametrize(("method", "path"), BODY_WRITES, ids=BODY_WRITE_IDS)
    def test_a_body_over_the_limit_is_413(self, small, db, campaign, method, path):
        client = ApiClient(small, make_token(small.extensions["leads_pool"], "acme"))
        before = database_state(db)
        body = json.dumps({"prospects": [{"email": "b@example.com", "headline": "x" * 2000}]})
        response = client.request(
            method, path.format(campaign=campaign["id"]), data=body, headers=JSON
        )
        assert response.status_code == 413
        assert response.json == TOO_LARGE
        assert database_state(db) == before

    def test_a_body_at_the_limit_is_read(self, small, db, campaign):
        client = ApiClient(small, make_token(small.extensions["leads_pool"], "acme"))
        body = json.dumps({"prospects": [{"email": "b@example.com"}]})
        body = body[:-1] + " " * (self.LIMIT - len(body)) + "}"
        assert len(body) == self.LIMIT
        response = client.post(f"/api/campaigns/{campaign['id']}/leads", data=body, headers=JSON)
        assert response.status_code == 200
        assert response.json["imported"] == 1

    @pytest.mark.parametrize(("excess", "status"), [(1, 413), (10_000, 413), (0, 200)])
    def test_a_chunked_body_is_held_to_the_limit(self, small, db, campaign, excess, status):
        """A body without Content-Length, as a server that took it chunked passes it on."""
        token = make_token(small.extensions["leads_pool"], "acme")
        body = json.dumps({"prospects": [{"email": "b@example.com"}]})
        body = body[:-1] + " " * (self.LIMIT + excess - len(body)) + "}"
        before = database_state(db)
        response = small.test_client().post(
            f"/api/campaigns/{campaign['id']}/leads",
            input_stream=io.BytesIO(body.encode()),
            headers={**JSON, "Authorization": f"Bearer {token}", "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )
        assert response.status_code == status
        if status == 413:
            assert response.json == TOO_LARGE
            assert database_state(db) == before
        else:
            assert response.json["imported"] == 1


class TestSqlMetacharacters:
    """Every value goes to the database as a bound parameter: stored and returned verbatim."""

    PROFILE = {
        "first_name": "Robert'); DROP TABLE leads;--",
        "last_name": "%(campaign_id)s %s %% {0}",
        "name": "\\'; SELECT pg_sleep(10);--",
        "company": "$$ LANGUAGE sql; $1 E'\\x41' $tag$",
        "position": '" OR ""="',
        "headline": "*/ /* -- # ; COMMIT; ROLLBACK; \\\\ \\' ''",
        "custom_fields": {
            "sql": "'; DELETE FROM campaigns;--",
            "fmt": "%(x)s %s %%",
            "nested": {"q": ["' OR 1=1 --", "$$", None, 1.5]},
        },
    }
    # Quotes, percent signs and dollars are all valid in an email's local part.
    EMAIL = "o'brien%s$$--{x}|`@example.com"

    def test_stored_and_returned_verbatim(self, api, db, campaign):
        path = f"/api/campaigns/{campaign['id']}/leads"
        added = api.post(path, json={"prospects": [{"email": self.EMAIL, **self.PROFILE}]})
        assert added.status_code == 200
        assert added.json["results"][0]["identity"] == self.EMAIL
        lead_id = added.json["results"][0]["id"]

        listed = api.get(path).json["prospects"]
        [lead] = [lead for lead in listed if lead["id"] == lead_id]
        assert {key: lead[key] for key in ["email", *self.PROFILE]} == {
            "email": self.EMAIL,
            **self.PROFILE,
        }
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT email, first_name, last_name, name, company, position, headline, "
                "custom_fields FROM leads WHERE id = %s",
                (lead_id,),
            )
            assert cursor.fetchone() == (self.EMAIL, *self.PROFILE.values())
            cursor.execute("SELECT count(*) FROM leads")
            assert cursor.fetchone() == (2,)

    def test_updated_verbatim(self, api, db, campaign):
        updates = {
            key: value[::-1] for key, value in self.PROFILE.items() if key != "custom_fields"
        }
        response = api.patch(
            f"/api/campaigns/{campaign['id']}/leads",
            json={"prospect_id": campaign["lead_id"], "updates": updates},
        )
        assert response.status_code == 200
        assert {key: response.json["prospect"][key] for key in updates} == updates
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT first_name, last_name, name, company, position, headline FROM leads "
                "WHERE id = %s",
                (campaign["lead_id"],),
            )
            assert cursor.fetchone() == tuple(updates.values())

    def test_campaign_names_and_idempotency_keys(self, api, db):
        name = "Robert'); DROP TABLE campaigns;-- %s $$"
        key = "';DROP_TABLE_idempotency_keys;--%s$$"
        response = api.post(
            "/api/campaigns", json={"name": name, "type": "email"}, headers={"Idempotency-Key": key}
        )
        assert response.status_code == 201
        assert response.json["campaign"]["name"] == name
        with db.cursor() as cursor:
            cursor.execute("SELECT name FROM campaigns")
            assert cursor.fetchall() == [(name,)]
            cursor.execute("SELECT idempotency_key FROM idempotency_keys")
            assert cursor.fetchall() == [(key,)]

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            (
                "status=pending'%20OR%20'1'='1",
                bad_request(
                    f"status: Must be one of: {STATUS_CHOICES}",
                    {"query": {"status": [f"Must be one of: {STATUS_CHOICES}."]}},
                ),
            ),
            (
                "page=1;DROP%20TABLE%20leads",
                bad_request(
                    "page: Not a valid integer", {"query": {"page": ["Not a valid integer."]}}
                ),
            ),
            (
                "limit=1%20OR%201=1",
                bad_request(
                    "limit: Not a valid integer", {"query": {"limit": ["Not a valid integer."]}}
                ),
            ),
        ],
        ids=["status", "page", "limit"],
    )
    def test_in_query_parameters(self, rejected, campaign, query, expected):
        rejected("GET", f"/api/campaigns/{campaign['id']}/leads?{query}", 400, expected)

    @pytest.mark.parametrize("campaign_id", ["1'%20OR%20'1'='1", "%27%3B--", "x%00", "%2E%2E"])
    def test_in_the_path(self, rejected, campaign_id):
        rejected("GET", f"/api/campaigns/{campaign_id}", 404, NOT_FOUND)
        rejected("GET", f"/api/campaigns/{campaign_id}/leads", 404, NOT_FOUND)
        rejected("POST", f"/api/campaigns/{campaign_id}/launch", 404, NOT_FOUND)

    def test_an_encoded_slash_in_the_path_matches_no_route(self, rejected):
        rejected(
            "GET",
            "/api/campaigns/..%2F..%2Fetc%2Fpasswd",
            404,
            NO_ROUTE,
        )


class TestAuthorizationHeader:
    MALFORMED = "The Authorization header is malformed: expected Bearer <token>."

    def unauthorized(self, message: str) -> dict:
        return error_body(401, message)

    @pytest.fixture
    def send(self, app, db):
        client = app.test_client()

        def send(authorization: str | None, message: str) -> None:
            headers = {} if authorization is None else {"Authorization": authorization}
            before = database_state(db)
            for method, path in [("GET", "/api/campaigns"), ("POST", "/api/campaigns")]:
                response = client.open(
                    path, method=method, headers=headers, json={"name": "x", "type": "email"}
                )
                assert response.status_code == 401
                assert response.json == error_body(401, message)
                assert response.headers["WWW-Authenticate"] == 'Bearer realm="leads"'
            assert database_state(db) == before

        return send

    @pytest.mark.parametrize(
        "authorization",
        [
            "Bearer",
            "Bearer ",
            "Basic dXNlcjpwYXNz",
            "Token TOKEN",
            "Bearer TOKEN extra",
            "Bearer TOKENx",
            "Bearer TOKEN\u00e9",
            "Bearer ' OR '1'='1",
            "Bearer ld_" + "a" * 42 + "'",
            "BearerTOKEN",
        ],
        ids=[
            "scheme only",
            "empty token",
            "basic",
            "other scheme",
            "extra words",
            "too long token",
            "latin-1",
            "sql",
            "sql in a token shape",
            "no space",
        ],
    )
    def test_malformed(self, send, token, authorization):
        send(authorization.replace("TOKEN", token), self.MALFORMED)

    @pytest.mark.parametrize("size", [513, 8 * 1024, 64 * 1024])
    def test_oversized(self, send, token, size):
        send(
            "Bearer " + token + "x" * (size - len(token) - 7),
            "The Authorization header is malformed.",
        )

    def test_missing(self, send):
        send(None, "Authentication required: send Authorization: Bearer <token>.")

    def test_unknown_and_revoked(self, send, token, db):
        send("Bearer ld_" + "a" * 43, "The token is unknown or revoked.")
        with db.cursor() as cursor:
            cursor.execute("UPDATE api_tokens SET revoked_at = now()")
        send(f"Bearer {token}", "The token is unknown or revoked.")

    def test_a_hostile_request_id_is_not_echoed(self, api):
        for sent in ["x" * 129, "a b", "<script>", "id\u00e9"]:
            response = api.get("/api/campaigns", headers={"X-Request-ID": sent})
            assert response.status_code == 200
            assert response.headers["X-Request-ID"] != sent
            assert len(response.headers["X-Request-ID"]) == 32
