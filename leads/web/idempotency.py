"""Idempotency-Key: a retried write replays the first response instead of writing again.

The first response is recorded in the same transaction as its write, so a write and its
record commit together or not at all. A request whose key is held by a request still
running gets 409; the same key with a different request gets 422. Records last 24 hours.
Only successful (2xx) responses are recorded: a failed request wrote nothing, so
retrying it with the same key simply runs it again.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable

from flask import current_app, make_response, request

from leads.db.pool import Transaction, current_pool, transaction
from leads.errors import ApiError, BadRequest, Conflict
from leads.web.auth import current_workspace_id

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
RETENTION = "24 hours"
# 1 to 255 visible ASCII characters (the OpenAPI document states the same pattern).
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
_VALID_KEY = re.compile(KEY_PATTERN)


def request_fingerprint() -> bytes:
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string, request.get_data()):
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\x00")
    return digest.digest()


def idempotent(view: Callable) -> Callable:
    """Honour the Idempotency-Key header on a write view (outermost decorator)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not _VALID_KEY.match(key):
            raise BadRequest(
                f"{HEADER} must be 1 to 255 visible ASCII characters (a UUID is a good choice)."
            )
        params = {
            "workspace_id": current_workspace_id(),
            "idempotency_key": key,
            "retention": RETENTION,
        }
        fingerprint = request_fingerprint()
        with transaction(current_pool()) as tx:
            if not tx.fetch_one("lock_idempotency_key", params)["locked"]:
                raise Conflict(
                    f"A request with this {HEADER} is still in progress; retry it later.",
                    headers={"Retry-After": "1"},
                )
            recorded = tx.fetch_one("find_idempotent_response", params)
            if recorded is not None:
                if bytes(recorded["request_hash"]) != fingerprint:
                    raise ApiError(
                        f"This {HEADER} was used with a different request; "
                        "use a new key for a new request.",
                        status_code=422,
                    )
                response = current_app.response_class(
                    bytes(recorded["response_body"]),
                    status=recorded["response_status"],
                    mimetype="application/json",
                )
                response.headers[REPLAYED_HEADER] = "true"
                return response
            response = make_response(view(*args, **kwargs))
            if 200 <= response.status_code < 300:
                tx.execute(
                    "save_idempotent_response",
                    {
                        **params,
                        "request_hash": fingerprint,
                        "response_status": response.status_code,
                        "response_body": response.get_data(),
                    },
                )
            return response

    return wrapper


def purge_expired(tx: Transaction) -> int:
    """Delete the records past their 24 hours (expired ones are already ignored on read:
    this only keeps the table from growing). Returns how many went."""
    tx.execute("purge_idempotency_keys", {"retention": RETENTION})
    return tx.rowcount
