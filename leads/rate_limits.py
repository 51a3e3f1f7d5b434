"""Rate limits per token on /api (flask-limiter): 429 with Retry-After and RateLimit-* headers."""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Iterable

import flask
import flask_smorest
from flask import Flask, request
from flask_limiter import Limiter, RateLimitExceeded, RequestLimit
from flask_smorest.utils import prepare_response
from limits import parse_many
from limits.storage import MemoryStorage

from leads.auth import bearer_token, hash_token
from leads.config import Settings
from leads.errors import Unauthorized, error_response
from schemas.errors import ErrorSchema

logger = logging.getLogger("leads")

RATE_LIMITED_RESPONSE = "RATE_LIMITED"
LIMIT_HEADER = "RateLimit-Limit"
REMAINING_HEADER = "RateLimit-Remaining"
RESET_HEADER = "RateLimit-Reset"
# Every key this service writes to the storage starts with it (Redis may be shared).
KEY_PREFIX = "leads"
# One budget per token across every /api route, not one per route.
API_SCOPE = "api"
# A Redis that hangs must not hang requests: give up on it after this long.
REDIS_TIMEOUT_SECONDS = 1
MEMORY_SCHEME = "memory://"
SWEPT_MEMORY_SCHEME = "leads-memory://"
# How often the in-process storage drops the counters of windows that have ended.
SWEEP_SECONDS = 1.0


class SweptMemoryStorage(MemoryStorage):
    """limits' in-process storage, its ended windows dropped by one long-lived thread.

    MemoryStorage starts a timer thread on a hit whenever its last one has run (10 ms after
    it started): ~260 us a start on this machine, paid by every request of a worker that
    serves fewer than one each 10 ms. Counting is MemoryStorage's own (a counter whose
    window has ended is dropped when read); the sweep only frees the memory of keys no
    longer hit. Used for `memory://` (see init_rate_limits); tests/test_rate_limits.py
    holds it to both.
    """

    STORAGE_SCHEME = [SWEPT_MEMORY_SCHEME.removesuffix("://")]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        # A weak reference: the thread ends once the storage (its app) is gone.
        sweeper = threading.Thread(
            target=_sweep, args=(weakref.ref(self),), name="rate-limit-sweeper", daemon=True
        )
        sweeper.start()

    # Overrides the private method MemoryStorage calls on every hit (name-mangled).
    def _MemoryStorage__schedule_expiry(self) -> None:
        """Replaces the timer MemoryStorage starts on a hit: the sweeper does its work."""

    def sweep(self) -> None:
        self._MemoryStorage__expire_events()


def _sweep(storage_ref: weakref.ref) -> None:
    while True:
        time.sleep(SWEEP_SECONDS)
        storage = storage_ref()
        if storage is None:
            return
        storage.sweep()
        del storage


_HEADER_DOCS = {
    "Retry-After": "Seconds until the token's window resets and requests are served again.",
    LIMIT_HEADER: "Requests a token may make per window.",
    REMAINING_HEADER: "Requests left in the current window.",
    RESET_HEADER: "Seconds until the current window resets.",
}


def rate_limit_key() -> str:
    """The bucket of a request: the SHA-256 of its token, never the token itself.

    A request without a well-formed token (it gets 401 anyway) counts against its client
    address, so a flood of them is limited too.
    """
    try:
        token = bearer_token(request.headers.get("Authorization"))
    except Unauthorized:
        return f"client:{request.remote_addr}"
    return f"token:{hash_token(token).hex()}"


def seconds_until_reset(limit: RequestLimit) -> int:
    return max(0, math.ceil(limit.window.reset_time - time.time()))


def init_rate_limits(app: Flask, settings: Settings, blueprints: Iterable[flask.Blueprint]) -> None:
    """Limit every route of `blueprints` per token, unless settings.rate_limit is None."""
    if settings.rate_limit is None:
        return
    parse_many(settings.rate_limit)  # a bad limit fails at start, not on the first request
    storage_uri = settings.rate_limit_storage_uri
    shared_storage = not storage_uri.startswith(MEMORY_SCHEME)
    if not shared_storage:
        storage_uri = SWEPT_MEMORY_SCHEME + storage_uri.removeprefix(MEMORY_SCHEME)
    storage_options = {}
    if storage_uri.startswith(("redis://", "rediss://")):
        storage_options = {
            "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            "socket_timeout": REDIS_TIMEOUT_SECONDS,
        }
    limiter = Limiter(
        rate_limit_key,
        app=app,
        storage_uri=storage_uri,
        storage_options=storage_options,
        strategy="fixed-window",
        key_prefix=KEY_PREFIX,
        # flask-limiter's own headers put Retry-After on every response and RateLimit-Reset
        # as a timestamp; ours follow the IETF draft (seconds) and touch only what they must.
        headers_enabled=False,
        # While the shared storage is down, count in this process rather than fail requests.
        in_memory_fallback_enabled=shared_storage,
    )
    api_limit = limiter.shared_limit(settings.rate_limit, scope=API_SCOPE)
    for blueprint in blueprints:
        api_limit(blueprint)

    @app.errorhandler(RateLimitExceeded)
    def handle_rate_limited(error: RateLimitExceeded):
        return error_response(
            429,
            f"Rate limit of {error.limit.limit} exceeded for this token; "
            "retry after the number of seconds in Retry-After.",
        )

    @app.after_request
    def add_rate_limit_headers(response: flask.Response) -> flask.Response:
        current = limiter.current_limit
        if current is None:
            return response
        try:
            reset_in = seconds_until_reset(current)
            remaining = current.remaining
        except Exception:
            # The headers are advice: a storage failure after the request was served must
            # not turn its response into an error.
            logger.warning("rate limit headers skipped: storage unavailable", exc_info=True)
            return response
        response.headers[LIMIT_HEADER] = str(current.limit.amount)
        response.headers[REMAINING_HEADER] = str(remaining)
        response.headers[RESET_HEADER] = str(reset_in)
        if response.status_code == 429:
            response.headers["Retry-After"] = str(max(1, reset_in))
        return response


def document_rate_limits(api: flask_smorest.Api) -> None:
    """The 429 response every /api operation documents (whether limits are on or not)."""
    response = {
        "description": "Too many requests for this token (when rate limits are configured). "
        f"While limits are on, every /api response carries {LIMIT_HEADER}, "
        f"{REMAINING_HEADER} and {RESET_HEADER}.",
        "schema": ErrorSchema,
        "headers": {
            name: {"description": description, "schema": {"type": "integer", "minimum": 0}}
            for name, description in _HEADER_DOCS.items()
        },
    }
    prepare_response(response, api.spec, "application/json")
    api.spec.components.response(RATE_LIMITED_RESPONSE, response)
