"""Documentation shared by operations: the common errors and the Idempotency-Key header."""

from __future__ import annotations

import http
from collections.abc import Callable

from marshmallow import Schema, fields, validate

from leads.web.api import Blueprint
from leads.web.idempotency import HEADER, KEY_PATTERN, REPLAYED_HEADER, idempotent
from leads.web.rate_limits import RATE_LIMITED_RESPONSE

IdempotencyHeaderSchema = Schema.from_dict(
    {
        "idempotency_key": fields.String(
            data_key=HEADER,
            validate=[validate.Length(min=1, max=255), validate.Regexp(KEY_PATTERN)],
            metadata={
                "description": "Makes the write safe to retry for 24 hours: a retry with the "
                f"same key and request replays the first response (with `{REPLAYED_HEADER}: "
                "true`) and writes nothing; the same key with another request is 422; while "
                "the first is still running, 409. Only successful (2xx) responses are "
                "recorded: a request that failed wrote nothing, and a retry with its key runs "
                "it again."
            },
        )
    },
    name="IdempotencyHeader",
)


def documents_errors(blp: Blueprint, *status_codes: int) -> Callable:
    """Document the common errors (401, 429, 500, 503) plus the given ones.

    Documentation only: `alt_response` wraps the view in a pass-through function per status
    (five to seven layers of calls on every request, for nothing but their `_apidoc`), so
    the view keeps the documentation the wrappers carry and goes on unwrapped.
    """

    def decorator(func: Callable) -> Callable:
        documented = func
        for code in sorted({401, 429, 500, 503, *status_codes}):
            # 429 carries the Retry-After and RateLimit-* headers: see leads/rate_limits.py.
            name = RATE_LIMITED_RESPONSE if code == 429 else http.HTTPStatus(code).name
            documented = blp.alt_response(code, response=name)(documented)
        func._apidoc = documented._apidoc
        return func

    return decorator


def idempotent_write(blp: Blueprint) -> Callable:
    """Honour and document Idempotency-Key (use as the outermost decorator of a write)."""

    def decorator(func: Callable) -> Callable:
        func = documents_errors(blp, 409, 422)(idempotent(func))
        # Documented only: the header is read by `idempotent`, not parsed into arguments.
        func._apidoc.setdefault("arguments", {}).setdefault("parameters", []).append(
            {"in": "headers", "required": False, "schema": IdempotencyHeaderSchema}
        )
        return func

    return decorator
