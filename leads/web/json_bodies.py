"""The bodies of the roster's hot responses, encoded without a marshmallow dump: a page of
leads, the outcome of an import of 1000 leads, and of a removal.

Their shapes are LeadPageSchema, LeadsAddedSchema and LeadsDeletedSchema, which the routes
keep documenting; the tests compare whole bodies, so a drift from those schemas shows. A
dump through the schemas costs more than the database work itself, and orjson writes a
large body several times faster than Flask's json. orjson writes UUIDs and datetimes as the
schemas do (isoformat), and non-ASCII text as UTF-8 rather than escaped.
"""

from __future__ import annotations

import orjson
from flask import Response, current_app

from schemas.campaigns import StatsSchema

_STATS = StatsSchema()


def _json_response(body: dict) -> Response:
    return current_app.response_class(
        orjson.dumps(body, option=orjson.OPT_APPEND_NEWLINE), mimetype=current_app.json.mimetype
    )


def lead_page_response(page: dict) -> Response:
    """A page as leads.domain.roster.list_leads returns it; custom_fields are spliced in as the
    database wrote them (orjson.Fragment)."""
    return _json_response(page)


def outcome_response(outcome: dict) -> Response:
    """The outcome of an import or a removal, with the campaign's stats after it."""
    # The stats (a jsonb object: keys in jsonb's order) go through their schema, for the
    # documented key order; they are one small object.
    return _json_response({**outcome, "stats": _STATS.dump(outcome["stats"])})
