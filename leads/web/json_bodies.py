"""The one writer of response bodies: every JSON body the service sends is encoded by
orjson through OrjsonProvider, Flask's JSON provider (flask-smorest's responses and the
error handlers go through it too). So every body is compact UTF-8, and every timestamp is
written by leads_contract.strict_json.timestamp_text.

The roster's hot responses (a page of leads, the outcome of an import of 1000 leads or of a
removal, a lead after an update) skip the marshmallow dump: a dump through the schemas costs
more than the database work itself. Their shapes are LeadPageSchema, LeadsAddedSchema,
LeadsDeletedSchema and LeadUpdatedSchema, which the routes keep documenting; the tests
compare whole bodies, so a drift from those schemas shows. A lead's custom_fields are
spliced in as the database writes them (orjson.Fragment), on every route that shows a lead.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson
from flask import Response, current_app
from flask.json.provider import DefaultJSONProvider

from leads_contract.strict_json import timestamp_text
from schemas.campaigns import StatsSchema

_STATS = StatsSchema()
# Error bodies key rows by index (int) beside field names; datetimes go to _default, so
# that timestamp_text writes them rather than orjson's own format (it drops zero
# microseconds).
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return timestamp_text(value)
    return DefaultJSONProvider.default(value)  # UUIDs, dates, decimals, dataclasses


def encode(body: Any) -> bytes:
    """`body` as JSON bytes. orjson refuses integers beyond 64 bits, which custom_fields may
    hold (JSON does not bound them); json writes those, the same way."""
    try:
        return orjson.dumps(body, default=_default, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return json.dumps(
            body, default=_default, ensure_ascii=False, separators=(",", ":")
        ).encode()


class OrjsonProvider(DefaultJSONProvider):
    """Flask's JSON provider with encode() as its writer; reading stays Flask's (request
    bodies are parsed by leads.web.api's strict parser)."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return encode(obj).decode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        body = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(encode(body) + b"\n", mimetype=self.mimetype)


def json_response(body: dict) -> Response:
    return current_app.json.response(body)


def outcome_response(outcome: dict) -> Response:
    """The outcome of an import or a removal, with the campaign's stats after it."""
    # The stats (a jsonb object: keys in jsonb's order) go through their schema, for the
    # documented key order; they are one small object.
    return json_response({**outcome, "stats": _STATS.dump(outcome["stats"])})
