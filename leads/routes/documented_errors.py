"""Documentation shared by operations: the common errors and the Idempotency-Key header."""

from __future__ import annotations

import http
from collections.abc import Callable

from marshmallow import Schema, fields, validate

from leads.api import Blueprint
from leads.idempotency import HEADER, REPLAYED_HEADER, idempotent

IdempotencyHeaderSchema = Schema.from_dict(
    {
        "idempotency_key": fields.String(
            data_key=HEADER,
            validate=validate.Length(min=1, max=255),
            metadata={
                "description": "Makes the write safe to retry for 24 hours: a retry with the "
                f"same key and request replays the first response (with `{REPLAYED_HEADER}: "
                "true`) and writes nothing; the same key with another request is 422; while "
                "the first is still running, 409."
            },
        )
    },
    name="IdempotencyHeader",
)


def documents_errors(blp: Blueprint, *status_codes: int) -> Callable:
    """Document the common errors (401, 500, 503) plus the given ones."""

    def decorator(func: Callable) -> Callable:
        for code in sorted({401, 500, 503, *status_codes}):
            func = blp.alt_response(code, response=http.HTTPStatus(code).name)(func)
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
