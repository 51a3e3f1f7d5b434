"""Documentation shared by operations: the common errors and the Idempotency-Key header."""

from __future__ import annotations

import copy
import http
from collections.abc import Callable

import flask_smorest
from apispec import BasePlugin

from leads.web.idempotency import HEADER, KEY_PATTERN, REPLAYED_HEADER, idempotent
from leads.web.rate_limits import RATE_LIMITED_RESPONSE

# What any /api operation may answer, whatever it does.
COMMON_ERRORS = (401, 429, 500, 503)
# The mark `idempotent_write` leaves in an operation's documentation, for
# IdempotencyKeyPlugin to replace with the header's parameter.
IDEMPOTENT_WRITE_MARK = "x-leads-idempotent-write"
IDEMPOTENCY_KEY_PARAMETER = {
    "in": "header",
    "name": HEADER,
    "description": "Makes the write safe to retry for 24 hours: a retry with the same key and "
    f"request replays the first response (with `{REPLAYED_HEADER}: true`) and writes "
    "nothing; the same key with another request is 422; while the first is still running, "
    "409. Only successful (2xx) responses are recorded: a request that failed wrote "
    "nothing, and a retry with its key runs it again.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN},
    "required": False,
}


def error_responses(*status_codes: int) -> dict[int, str]:
    """The response components of the common errors plus the given ones, by status."""
    return {
        # 429 carries the Retry-After and RateLimit-* headers: see leads/web/rate_limits.py.
        code: RATE_LIMITED_RESPONSE if code == 429 else http.HTTPStatus(code).name
        for code in sorted({*COMMON_ERRORS, *status_codes})
    }


def documents_errors(blp: flask_smorest.Blueprint, *status_codes: int) -> Callable:
    """Document the common errors (401, 429, 500, 503) plus the given ones."""
    return blp.doc(responses=error_responses(*status_codes))


def idempotent_write(blp: flask_smorest.Blueprint) -> Callable:
    """Honour and document Idempotency-Key (use as the outermost decorator of a write)."""

    def decorator(func: Callable) -> Callable:
        document = blp.doc(responses=error_responses(409, 422), **{IDEMPOTENT_WRITE_MARK: True})
        return document(idempotent(func))

    return decorator


class IdempotencyKeyPlugin(BasePlugin):
    """Adds the Idempotency-Key header to the parameters of each operation marked by
    `idempotent_write`.

    The header is read by `idempotent`, not parsed into the view's arguments, so no
    `Blueprint.arguments` documents it; and `Blueprint.doc(parameters=...)` would replace
    the operation's parameters (its query string) rather than add to them. apispec's
    plugin hook sees each operation once its parameters are complete.
    """

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        for operation in (operations or {}).values():
            if operation.pop(IDEMPOTENT_WRITE_MARK, False):
                parameter = copy.deepcopy(IDEMPOTENCY_KEY_PARAMETER)
                operation.setdefault("parameters", []).append(parameter)
