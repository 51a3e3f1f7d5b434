"""The bodies of the two responses that carry many items, encoded without a marshmallow dump:
a page of leads and the outcome of an import of 1000 leads.

Their shapes are LeadPageSchema and LeadsAddedSchema, which the routes keep documenting;
the tests compare whole bodies, so a drift from those schemas shows. A dump through the
schemas cost more than the database work itself (see docs/PERFORMANCE.md).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask import Response, current_app

from schemas.campaigns import StatsSchema

_STATS = StatsSchema()


def _dumps(value: Any) -> str:
    # As Flask's jsonify: compact, ASCII only, keys in the order built; ids (UUID) as text.
    return json.dumps(value, separators=(",", ":"), default=str)


def _json_response(body: str) -> Response:
    return current_app.response_class(f"{body}\n", mimetype=current_app.json.mimetype)


def lead_page_response(page: dict) -> Response:
    """A page as leads.roster.list_leads returns it, written by orjson: datetimes as
    isoformat() writes them, custom_fields spliced in as the database wrote them."""
    return current_app.response_class(
        orjson.dumps(page, option=orjson.OPT_APPEND_NEWLINE), mimetype=current_app.json.mimetype
    )


def leads_added_response(outcome: dict) -> Response:
    # The stats (a jsonb object: keys in jsonb's order) go through their schema, for the
    # documented key order; they are one small object.
    return _json_response(_dumps({**outcome, "stats": _STATS.dump(outcome["stats"])}))
