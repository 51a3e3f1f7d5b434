"""The contract's common rules: request ids, JSON only, the error shape for every failure
(400/404/405/413/415/500/503), the probes, and the OpenAPI document and its Swagger UI."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator

import psycopg2.errors
import pytest
from werkzeug.exceptions import InternalServerError

from app import create_app
from tests.contract import (
    JSON,
    NO_ROUTE,
    NOT_AN_OBJECT,
    NOT_JSON_CONTENT_TYPES,
    TOO_LARGE,
    UNAVAILABLE,
    UNSUPPORTED,
    add_leads,
    database_state,
    error_body,
    internal_error,
    invalid_json,
)

UNREACHABLE_DATABASE = "postgresql://postgres@127.0.0.1:1/nowhere"
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


def make_app(**overrides):
    return create_app({"rate_limit": None, **overrides})


@pytest.fixture
def roster(api, email_campaign) -> dict:
    """acme's draft email campaign with one lead: the URLs and bodies of every write."""
    (lead,) = add_leads(api, email_campaign, [{"email": "lead@example.com"}])
    leads = f"/api/campaigns/{email_campaign['id']}/leads"
    return {
        "campaign": email_campaign,
        "lead": lead,
        "writes": [
            ("POST", "/api/campaigns", {"name": "New", "type": "email"}),
            ("POST", leads, {"prospects": [{"email": "new@example.com"}]}),
            ("PATCH", leads, {"prospect_id": lead["id"], "updates": {"company": "X"}}),
            ("DELETE", leads, {"all": True}),
        ],
    }


WRITE_IDS = ["create-campaign", "add-leads", "update-lead", "delete-leads"]


class TestProbes:
    def test_healthz(self, app):
        response = app.test_client().get("/healthz")
        assert response.status_code == 200
        assert response.json == {"status": "ok"}

    def test_readyz(self, app):
        response = app.test_client().get("/readyz")
        assert response.status_code == 200
        assert response.json == {"status": "ready"}


# One request per kind of outcome: (with a token?, method, path, request kwargs, status).
# {id} is a campaign of the token's workspace.
REQUESTS = {
    "200-probe": (False, "GET", "/healthz", {}, 200),
    "200-api": (True, "GET", "/api/campaigns", {}, 200),
    "201": (True, "POST", "/api/campaigns", {"json": {"name": "N", "type": "email"}}, 201),
    "400-body": (True, "POST", "/api/campaigns", {"json": {"name": "N"}}, 400),
    "400-json": (True, "POST", "/api/campaigns", {"data": b"{", "headers": JSON}, 400),
    "400-transition": (True, "POST", "/api/campaigns/{id}/pause", {}, 400),
    "401": (False, "GET", "/api/campaigns", {}, 401),
    "404-campaign": (True, "GET", f"/api/campaigns/{uuid.uuid4()}", {}, 404),
    "404-route": (False, "GET", "/api/nowhere", {}, 404),
    "405": (True, "PUT", "/api/campaigns/{id}", {}, 405),
    "409": (
        True,
        "POST",
        "/api/campaigns",
        {"json": {"name": "Email campaign", "type": "email"}},
        409,
    ),
    "415": (
        True,
        "POST",
        "/api/campaigns",
        {"data": b"{}", "headers": {"Content-Type": "text/plain"}},
        415,
    ),
}


def send(app, token: str, campaign: dict, kind: str, request_id: str | None = None):
    """Send the REQUESTS[kind] request; check its status; return the response."""
    authenticated, method, path, kwargs, status = REQUESTS[kind]
    headers = dict(kwargs.get("headers", {}))
    if authenticated:
        headers["Authorization"] = f"Bearer {token}"
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    response = app.test_client().open(
        path.format(id=campaign["id"]), method=method, **{**kwargs, "headers": headers}
    )
    assert response.status_code == status, response.json
    return response


class TestRequestId:
    @pytest.mark.parametrize("kind", list(REQUESTS))
    @pytest.mark.parametrize("sent", ["abc-123", "trace.9:Z_x", "x" * 128])
    def test_sent_id_is_echoed(self, app, token, email_campaign, kind, sent):
        response = send(app, token, email_campaign, kind, sent)
        assert response.headers["X-Request-ID"] == sent

    @pytest.mark.parametrize("kind", list(REQUESTS))
    def test_id_is_generated_when_none_is_sent(self, app, token, email_campaign, kind):
        first = send(app, token, email_campaign, kind)
        if kind == "201":
            kind = "409"  # the same create again
        second = send(app, token, email_campaign, kind)
        assert GENERATED_ID.match(first.headers["X-Request-ID"])
        assert GENERATED_ID.match(second.headers["X-Request-ID"])
        assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]

    # Choice: an id that could not be logged or echoed safely is replaced, not echoed.
    @pytest.mark.parametrize("sent", ["", "has space", "x" * 129, "semi;colon", 'quote"d'])
    def test_unsafe_id_is_replaced(self, api, sent):
        response = api.get("/api/campaigns", headers={"X-Request-ID": sent})
        assert response.status_code == 200
        assert GENERATED_ID.match(response.headers["X-Request-ID"])


class TestJsonOnly:
    @pytest.mark.parametrize("index", range(4), ids=WRITE_IDS)
    @pytest.mark.parametrize("content_type", NOT_JSON_CONTENT_TYPES)
    def test_write_with_another_content_type_is_415(self, rejected, roster, index, content_type):
        method, path, body = roster["writes"][index]
        headers = {} if content_type is None else {"Content-Type": content_type}
        rejected(method, path, 415, UNSUPPORTED, data=json.dumps(body).encode(), headers=headers)

    @pytest.mark.parametrize("transition", ["launch", "pause", "resume", "complete"])
    def test_transition_with_a_non_json_body_is_415(self, rejected, email_campaign, transition):
        rejected(
            "POST",
            f"/api/campaigns/{email_campaign['id']}/{transition}",
            415,
            UNSUPPORTED,
            data=b"go",
            headers={"Content-Type": "text/plain"},
        )

    @pytest.mark.parametrize(
        "content_type", ["application/json; charset=utf-8", "application/json;charset=UTF-8"]
    )
    def test_json_with_parameters_is_json(self, api, db, content_type):
        response = api.post(
            "/api/campaigns",
            data=b'{"name": "Spring", "type": "email"}',
            headers={"Content-Type": content_type},
        )
        assert response.status_code == 201, response.json
        assert [row["name"] for row in database_state(db)["campaigns"]] == ["Spring"]


# The reason of a body where a key should begin, at this column of line 1.
NO_NAME = "Expecting property name enclosed in double quotes at line 1 column"


class TestMalformedJson:
    @pytest.mark.parametrize("index", range(4), ids=WRITE_IDS)
    @pytest.mark.parametrize(
        ("raw", "reason"),
        [
            pytest.param(b'{"a": ', "Expecting value at line 1 column 7", id="truncated"),
            pytest.param(b"{", f"{NO_NAME} 2", id="unclosed"),
            pytest.param(
                b'{"prospects": [}', "Expecting value at line 1 column 16", id="bad-array"
            ),
            pytest.param(b"nul", "Expecting value at line 1 column 1", id="bare-word"),
            pytest.param(b"{'a': 1}", f"{NO_NAME} 2", id="single-quotes"),
            pytest.param(b'{"a": 1,}', f"{NO_NAME} 9", id="trailing-comma"),
            pytest.param(b'{"a": 1} {}', "Extra data at line 1 column 10", id="trailing-data"),
            pytest.param(b"{} x", "Extra data at line 1 column 4", id="extra-data"),
            pytest.param(b'{"a": 1, "a": 2}', "duplicate key 'a'", id="duplicate-key"),
            pytest.param(
                b'{"x": [{"b": 1, "b": 1}]}', "duplicate key 'b'", id="nested-duplicate-key"
            ),
            pytest.param(b"NaN", "NaN is not valid JSON", id="bare-nan"),
            pytest.param(b'{"a": NaN}', "NaN is not valid JSON", id="nan"),
            pytest.param(b'{"a": Infinity}', "Infinity is not valid JSON", id="infinity"),
            pytest.param(b'{"a": -Infinity}', "-Infinity is not valid JSON", id="minus-infinity"),
            pytest.param(b'{"a": "\xff"}', "the body is not valid UTF-8", id="not-utf8"),
            pytest.param(b'{"a": "\xc0\xaf"}', "the body is not valid UTF-8", id="overlong-utf8"),
            pytest.param(
                b'{"a": "\xed\xa0\x80"}', "the body is not valid UTF-8", id="utf8-surrogate"
            ),
            pytest.param('{"a": 1}'.encode("utf-16"), "the body is not valid UTF-8", id="utf16"),
            pytest.param(b"[" * 100_000 + b"]" * 100_000, "nested too deeply", id="deep-arrays"),
            pytest.param(
                b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, "nested too deeply", id="deep-objects"
            ),
        ],
    )
    def test_malformed_body_is_400_and_writes_nothing(self, rejected, roster, index, raw, reason):
        method, path, _ = roster["writes"][index]
        rejected(method, path, 400, invalid_json(reason), data=raw, headers=JSON)

    def test_a_utf16_body_declared_as_such_is_400(self, rejected, roster):
        method, path, body = roster["writes"][1]
        rejected(
            method,
            path,
            400,
            invalid_json("the body is not valid UTF-8"),
            data=json.dumps(body).encode("utf-16"),
            headers={"Content-Type": "application/json; charset=utf-16"},
        )

    def test_a_byte_order_mark_is_ignored(self, api, roster):
        method, path, _ = roster["writes"][1]
        response = api.request(
            method,
            path,
            data=b'\xef\xbb\xbf{"prospects": [{"email": "grace@example.com"}]}',
            headers=JSON,
        )
        assert response.status_code == 200
        assert response.json["imported"] == 1


class TestBodyIsAnObject:
    @pytest.mark.parametrize("index", range(4), ids=WRITE_IDS)
    @pytest.mark.parametrize(
        "raw",
        # arrays, strings, numbers, null and booleans
        [
            b"[]",
            b'[{"email": "a@example.com"}]',
            b'"x"',
            b'"Spring"',
            b'"updates"',
            b'"all"',
            b"1",
            b"3",
            b"null",
            b"true",
        ],
    )
    def test_a_body_that_is_not_an_object_is_400(self, rejected, roster, index, raw):
        method, path, _ = roster["writes"][index]
        rejected(method, path, 400, NOT_AN_OBJECT, data=raw, headers=JSON)


class TestDuplicateKeys:
    @pytest.mark.parametrize(
        ("index", "raw", "key"),
        [
            (0, '{"name": "a", "name": "b", "type": "email"}', "name"),
            (1, '{"prospects": [], "prospects": [{"email": "b@example.com"}]}', "prospects"),
            (1, '{"prospects": [{"email": "b@example.com", "email": "c@x.co"}]}', "email"),
            (
                1,
                '{"prospects": [{"email": "b@x.co", "custom_fields": {"a": {"b": 1, "b": 2}}}]}',
                "b",
            ),
            (2, '{"prospect_id": "LEAD", "prospect_id": "LEAD", "updates": {}}', "prospect_id"),
            (2, '{"prospect_id": "LEAD", "updates": {"name": "a", "name": "b"}}', "name"),
            (3, '{"all": true, "all": true}', "all"),
        ],
        ids=[
            "in a campaign",
            "top level",
            "in a row",
            "in custom_fields",
            "patch",
            "in updates",
            "delete",
        ],
    )
    def test_duplicate_keys_are_400(self, rejected, roster, index, raw, key):
        method, path, _ = roster["writes"][index]
        rejected(
            method,
            path,
            400,
            invalid_json(f"duplicate key {key!r}"),
            data=raw.replace("LEAD", roster["lead"]["id"]),
            headers=JSON,
        )


class TestUnknownRoutesAndMethods:
    @pytest.mark.parametrize(
        "path",
        [
            "/",
            "/api",
            "/api/nowhere",
            "/api/campaigns/{id}/nowhere",
            "/api/campaigns/{id}/leads/{id}",
            "/api/campaigns/{id}/launch/now",
            "/api/leads",
        ],
    )
    @pytest.mark.parametrize("authenticated", [True, False])
    def test_unknown_route_is_404(self, api, app, email_campaign, path, authenticated):
        client = api if authenticated else app.test_client()
        response = client.get(path.format(id=email_campaign["id"]))
        assert response.status_code == 404
        assert response.json == NO_ROUTE

    @pytest.mark.parametrize(
        ("method", "path", "allowed"),
        [
            ("PUT", "/api/campaigns", {"GET", "HEAD", "OPTIONS", "POST"}),
            ("DELETE", "/api/campaigns", {"GET", "HEAD", "OPTIONS", "POST"}),
            ("PATCH", "/api/campaigns/{id}", {"GET", "HEAD", "OPTIONS"}),
            ("DELETE", "/api/campaigns/{id}", {"GET", "HEAD", "OPTIONS"}),
            (
                "PUT",
                "/api/campaigns/{id}/leads",
                {"GET", "HEAD", "OPTIONS", "POST", "PATCH", "DELETE"},
            ),
            ("GET", "/api/campaigns/{id}/launch", {"OPTIONS", "POST"}),
            ("DELETE", "/api/campaigns/{id}/complete", {"OPTIONS", "POST"}),
            ("POST", "/healthz", {"GET", "HEAD", "OPTIONS"}),
            ("POST", "/openapi.json", {"GET", "HEAD", "OPTIONS"}),
        ],
    )
    def test_wrong_method_is_405_with_allow(self, api, db, email_campaign, method, path, allowed):
        before = database_state(db)
        response = api.request(method, path.format(id=email_campaign["id"]), json={})
        assert response.status_code == 405
        assert response.json == error_body(405, "The method is not allowed for the requested URL.")
        assert set(response.headers["Allow"].split(", ")) == allowed
        assert database_state(db) == before


class Boom(Exception):
    pass


FAILURES = {
    "exception": lambda: Boom("SELECT token_hash FROM api_tokens -- password=hunter2"),
    "database-error": lambda: psycopg2.errors.UndefinedTable(
        'relation "api_tokens_secret" does not exist'
    ),
    "key-error": lambda: KeyError("hunter2"),
    "http-500": lambda: InternalServerError("SELECT hunter2"),
}


@pytest.fixture
def failing_app(database_url) -> Iterator:
    """A throwaway app with a route that raises whatever the test asks for."""
    app = make_app(database_url=database_url)

    @app.route("/boom/<kind>", methods=["GET", "POST"])
    def boom(kind):
        raise FAILURES[kind]()

    yield app
    app.extensions["leads_pool"].close()


class TestInternalError:
    @pytest.mark.parametrize("kind", list(FAILURES))
    @pytest.mark.parametrize("sent_id", [None, "client-req-42"])
    def test_500_leaks_nothing_and_carries_the_request_id(self, failing_app, caplog, kind, sent_id):
        headers = {} if sent_id is None else {"X-Request-ID": sent_id}
        with caplog.at_level(logging.ERROR, logger="leads"):
            response = failing_app.test_client().get(f"/boom/{kind}", headers=headers)
        request_id = response.headers["X-Request-ID"]
        if sent_id is not None:
            assert request_id == sent_id
        else:
            assert GENERATED_ID.match(request_id)
        assert response.status_code == 500
        assert response.json == internal_error(request_id)
        text = response.get_data(as_text=True)
        for leak in ("hunter2", "SELECT", "api_tokens", "Traceback", "Boom", "psycopg2"):
            assert leak not in text
        # The operator, not the client, gets the details.
        assert any(record.levelno >= logging.ERROR for record in caplog.records)

    def test_500_of_a_write_with_a_body(self, failing_app):
        response = failing_app.test_client().post("/boom/exception", json={"a": 1})
        assert response.status_code == 500
        request_id = response.headers["X-Request-ID"]
        assert response.json == internal_error(request_id)


@pytest.fixture
def unreachable_app() -> Iterator:
    app = make_app(database_url=UNREACHABLE_DATABASE, db_connect_timeout=1)
    yield app
    app.extensions["leads_pool"].close()


class TestDatabaseUnreachable:
    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("GET", "/readyz", None),
            ("GET", "/api/campaigns", None),
            ("POST", "/api/campaigns", {"name": "Spring", "type": "email"}),
            ("GET", f"/api/campaigns/{uuid.uuid4()}", None),
            ("GET", f"/api/campaigns/{uuid.uuid4()}/leads", None),
            ("POST", f"/api/campaigns/{uuid.uuid4()}/launch", None),
        ],
    )
    def test_503_with_retry_after(self, unreachable_app, token, method, path, body):
        response = unreachable_app.test_client().open(
            path,
            method=method,
            json=body,
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "during-outage"},
        )
        assert response.status_code == 503
        assert response.json == UNAVAILABLE
        assert response.headers["Retry-After"] == "5"
        assert response.headers["X-Request-ID"] == "during-outage"
        text = response.get_data(as_text=True)
        assert "127.0.0.1" not in text
        assert "nowhere" not in text

    def test_healthz_stays_200(self, unreachable_app):
        response = unreachable_app.test_client().get("/healthz")
        assert response.status_code == 200
        assert response.json == {"status": "ok"}

    def test_retry_after_follows_the_setting(self):
        app = make_app(
            database_url=UNREACHABLE_DATABASE, db_connect_timeout=1, retry_after_seconds=42
        )
        try:
            response = app.test_client().get("/readyz")
        finally:
            app.extensions["leads_pool"].close()
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "42"

    def test_token_checks_come_before_the_database(self, unreachable_app):
        """A request without a token needs no database to be refused."""
        response = unreachable_app.test_client().get("/api/campaigns")
        assert response.status_code == 401


class TestBodyLimit:
    def test_body_over_the_limit_is_413(self, database_url, token, db):
        app = make_app(database_url=database_url, max_body_bytes=1024)
        try:
            before = database_state(db)
            response = app.test_client().post(
                "/api/campaigns",
                json={"name": "n" * 2000, "type": "email"},
                headers={"Authorization": f"Bearer {token}"},
            )
        finally:
            app.extensions["leads_pool"].close()
        assert response.status_code == 413
        assert response.json == TOO_LARGE
        assert database_state(db) == before


def strict_json(raw: bytes):
    def refuse(name):
        raise ValueError(f"{name} in the document")

    def no_duplicates(pairs):
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), keys
        return dict(pairs)

    return json.loads(raw, parse_constant=refuse, object_pairs_hook=no_duplicates)


def resolve(document: dict, ref: str):
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        assert part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


def all_refs(node) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from all_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_refs(item)


@pytest.fixture(scope="module")
def openapi(app) -> dict:
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return strict_json(response.get_data())


def operations(document: dict) -> Iterator[tuple[str, str, dict]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield method.upper(), path, operation


# The operations of the contract and the error responses each must document at least.
API_ERRORS = {401, 429, 500, 503}
REQUIRED_RESPONSES = {
    ("GET", "/api/campaigns"): {200} | API_ERRORS,
    ("POST", "/api/campaigns"): {201, 400, 409, 413, 415} | API_ERRORS,
    ("GET", "/api/campaigns/{campaign_id}"): {200, 404} | API_ERRORS,
    ("GET", "/api/campaigns/{campaign_id}/leads"): {200, 400, 404} | API_ERRORS,
    ("POST", "/api/campaigns/{campaign_id}/leads"): {200, 400, 404, 413, 415} | API_ERRORS,
    ("PATCH", "/api/campaigns/{campaign_id}/leads"): {200, 400, 404, 409, 413, 415} | API_ERRORS,
    ("DELETE", "/api/campaigns/{campaign_id}/leads"): {200, 400, 404, 413, 415} | API_ERRORS,
    **{
        ("POST", f"/api/campaigns/{{campaign_id}}/{transition}"): {200, 400, 404, 415} | API_ERRORS
        for transition in ("launch", "pause", "resume", "complete")
    },
    ("GET", "/api/suppressions"): {200, 400} | API_ERRORS,
    ("POST", "/api/suppressions"): {200, 400, 409, 413, 415, 422} | API_ERRORS,
    ("DELETE", "/api/suppressions"): {200, 400, 409, 413, 415, 422} | API_ERRORS,
    ("POST", "/api/suppressions/check"): {200, 400, 413, 415} | API_ERRORS,
    ("GET", "/healthz"): {200},
    ("GET", "/readyz"): {200, 503},
}


class TestOpenApi:
    def test_document_basics(self, openapi):
        assert openapi["openapi"].startswith("3.")
        assert openapi["info"]["title"] == "leads"
        assert openapi["components"]["securitySchemes"]["bearerAuth"] == {
            "type": "http",
            "scheme": "bearer",
            "description": "A workspace token.",
        }
        assert openapi["security"] == [{"bearerAuth": []}]

    def test_every_ref_resolves(self, openapi):
        refs = set(all_refs(openapi))
        assert refs
        for ref in refs:
            resolve(openapi, ref)

    def test_error_schema_is_the_contract_shape(self, openapi):
        error = openapi["components"]["schemas"]["Error"]
        assert set(error["properties"]) == {"code", "status", "message", "errors"}
        assert sorted(error["required"]) == ["code", "message", "status"]
        assert error["properties"]["code"]["type"] == "integer"
        assert error["properties"]["errors"]["type"] == "object"

    @pytest.mark.parametrize(("method", "path"), list(REQUIRED_RESPONSES))
    def test_operation_documents_its_responses(self, openapi, method, path):
        operation = openapi["paths"][path][method.lower()]
        documented = {int(code) for code in operation["responses"] if code != "default"}
        assert REQUIRED_RESPONSES[(method, path)] <= documented

    def test_probes_need_no_token(self, openapi):
        for path in ("/healthz", "/readyz"):
            assert openapi["paths"][path]["get"]["security"] == []

    def test_every_operation_follows_the_common_rules(self, openapi):
        seen = set()
        for method, path, operation in operations(openapi):
            seen.add((method, path))
            responses = operation["responses"]
            codes = {int(code) for code in responses if code != "default"}
            where = f"{method} {path}"
            if path.startswith("/api/"):
                assert "security" not in operation, where  # the document-wide bearerAuth
                assert {401, 500, 503} <= codes, where
            if "{campaign_id}" in path:
                assert 404 in codes, where
            takes_input = "requestBody" in operation or any(
                parameter["in"] == "query" for parameter in operation.get("parameters", [])
            )
            if takes_input:
                # Validation errors are 400, never flask-smorest's default 422.
                assert 400 in codes, where
            if "requestBody" in operation:
                assert {413, 415} <= codes, where
                assert list(operation["requestBody"]["content"]) == ["application/json"], where
            if 422 in codes:
                # 422 is only the Idempotency-Key mismatch, never a validation error.
                headers = {
                    parameter["name"]
                    for parameter in operation.get("parameters", [])
                    if parameter["in"] == "header"
                }
                assert "Idempotency-Key" in headers, where
                key = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
                assert "422" in key["description"], where
            # Every error has the one error body; successes (a 202 with its body, a 204
            # without) have their own.
            for code in {code for code in codes if code >= 400}:
                response = responses[str(code)]
                if "$ref" in response:
                    response = resolve(openapi, response["$ref"])
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (where, code)
        assert set(REQUIRED_RESPONSES) <= seen


class TestSwaggerUi:
    def test_docs_load_their_assets_from_the_service(self, app):
        client = app.test_client()
        response = client.get("/docs")
        assert response.status_code == 200
        assert response.mimetype == "text/html"
        html = response.get_data(as_text=True)
        assert "://" not in html  # no CDN, no absolute URL at all
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert len(assets) >= 3
        spec_urls = re.findall(r'url: "([^"]+)"', html)
        assert spec_urls == ["/openapi.json"]
        for url in assets + spec_urls:
            assert url.startswith("/") and not url.startswith("//"), url
            with client.get(url) as asset:
                assert asset.status_code == 200, url
                assert len(asset.get_data()) > 100, url
        kinds = {url.rsplit(".", 1)[-1] for url in assets}
        assert kinds == {"css", "js"}
