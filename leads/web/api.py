"""The thin layer over flask-smorest: 400 validation errors, strict JSON, the Bearer scheme."""

from __future__ import annotations

import http
import json
from collections.abc import Callable, Iterable, Mapping

import flask_smorest
from apispec import BasePlugin
from flask import Flask, Request, request
from marshmallow import Schema, missing
from webargs.flaskparser import FlaskParser, abort
from werkzeug.exceptions import RequestEntityTooLarge

from leads.errors import ApiError, handle_http_exception
from leads.web.auth import authenticate_request
from leads_contract import strict_json
from schemas.errors import ErrorSchema

BEARER_SCHEME = "bearerAuth"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LeadsParser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400

    def load_json(self, req, schema):
        """The JSON body, parsed by the contract's rules (leads_contract.strict_json), or
        `missing` without one.

        webargs' own `load_json` parses with plain json.loads through hooks it keeps
        private, so the public method is overridden whole: a parser's `load_<location>`
        methods are what webargs documents for subclasses to replace.
        """
        if not req.is_json:
            return missing
        body = req.get_data(cache=True)
        if not body:
            return missing
        refuse_truncated_stream(req, body)
        try:
            return strict_json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            abort(400, messages={"json": [f"Invalid JSON body: {_reason(error)}."]})

    def load_querystring(self, req, schema):
        # `?status=pending&status=sent` would silently mean the first one only.
        repeated = sorted({key for key, values in req.args.lists() if len(values) > 1})
        if repeated:
            abort(400, messages={"query": {key: ["Give this parameter once."] for key in repeated}})
        return super().load_querystring(req, schema)


def refuse_truncated_stream(req, body: bytes) -> None:
    """413 for a body without Content-Length (chunked) that runs past the limit.

    werkzeug stops reading such a body at the limit and hands back what it read, so a
    longer body would be parsed cut short instead of refused.
    """
    limit = req.max_content_length
    if req.content_length is None and limit is not None and len(body) >= limit:
        if req.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()


def _reason(error: Exception) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno} column {error.colno}"
    if isinstance(error, UnicodeDecodeError):
        return "the body is not valid UTF-8"
    return str(error)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = LeadsParser()

    def arguments(self, schema, *args, **kwargs):
        # Given a schema class, webargs builds the schema (deep-copying its fields) on every
        # request. One instance serves every request (schemas hold no request state), and
        # the OpenAPI document is the same.
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)

    def arguments_chosen_per_request(
        self, schemas: Mapping[str, Schema], choose: Callable[[], str], *, description: str
    ) -> Callable:
        """Parse the JSON body with the one of `schemas` that `choose()` names for the
        request at hand, through the same parser as arguments().

        The choice is a webargs schema factory (a callable that takes the request and
        returns the schema). arguments() cannot take one: it hands its schema to the OpenAPI
        document too, which needs a Schema. So the body is documented here through doc(),
        as any of `schemas`, and its 400 through alt_response(), as arguments() does.
        """

        def schema_of_request(request: Request) -> Schema:
            return schemas[choose()]

        request_body = {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": {"anyOf": list(schemas.values())}}},
        }

        def decorator(view: Callable) -> Callable:
            view = self.ARGUMENTS_PARSER.use_args(schema_of_request, location="json")(view)
            view = self.alt_response(400, response=http.HTTPStatus.BAD_REQUEST.name)(view)
            return self.doc(requestBody=request_body)(view)

        return decorator


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema
    # No catch-all "default" response: every status an operation can answer is listed, so
    # that contract tests catch an undocumented one.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def handle_http_exception(self, error):
        return handle_http_exception(error)


def require_json_writes() -> None:
    """A write that carries a body must carry JSON: anything else is 415."""
    if request.method not in WRITE_METHODS:
        return
    has_body = (
        bool(request.content_length)
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )
    if has_body and not request.is_json:
        raise ApiError(
            "Request bodies must be JSON (Content-Type: application/json).", status_code=415
        )


def protect(blueprint: Blueprint) -> None:
    """Every route of the blueprint needs a token (checked first: a 401 comes before any
    other error of the request) and JSON bodies."""
    blueprint.before_request(authenticate_request)
    blueprint.before_request(require_json_writes)


def init_api(app: Flask, doc_plugins: Iterable[BasePlugin]) -> Api:
    """The Api, its document completed by `doc_plugins` (apispec plugins, which flask-smorest
    takes as `extra_plugins`)."""
    api = Api(
        app,
        spec_kwargs={
            "extra_plugins": list(doc_plugins),
            "info": {
                "description": "The lead roster of outreach campaigns. Authenticate with "
                "`Authorization: Bearer <token>` (create one with "
                "`flask --app app tokens create --workspace NAME`)."
            },
            "security": [{BEARER_SCHEME: []}],
        },
    )
    api.spec.components.security_scheme(
        BEARER_SCHEME, {"type": "http", "scheme": "bearer", "description": "A workspace token."}
    )
    return api
