"""Rate limits per token on /api: 429 with Retry-After and RateLimit-* headers.

The counting is limits' (fixed windows, in memory or in Redis); this module is the Flask
glue: which requests count, under which key, what a 429 and the headers say, and what
happens while Redis is unreachable. Not flask-limiter: it resolves its decorated, blueprint
and default limits afresh on every request, where the service has one budget for all of /api.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import flask
import flask_smorest
from flask import Flask, g, request
from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from leads.config import Settings
from leads.errors import Unauthorized, error_response
from leads.web.auth import token_hash_of
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
# While the shared storage is down, it is tried again after 1, 2, 4 ... up to this many
# seconds (as flask-limiter did): a hung Redis costs one request a timeout that often.
STORAGE_RETRY_MAX_SECONDS = 32
MEMORY_SCHEME = "memory://"
# How often the in-process storage drops the counters of windows that have ended: it holds
# the live windows plus those that ended within this long.
SWEEP_SECONDS = 60.0


class FixedWindowMemoryStorage(Storage):
    """Fixed-window counters in this process's memory: the storage of `memory://`, and the
    fallback while a shared storage is down.

    limits' MemoryStorage drops ended windows from a timer thread, which it starts again on
    a hit whenever the last one has run: a new thread on nearly every request of a worker
    that is not busy. Replacing that timer would mean overriding its private methods, so
    this is a storage of our own through limits' documented extension point (a `Storage`
    subclass). It holds only what FixedWindowRateLimiter asks for, and drops ended windows
    on a hit, at most once every SWEEP_SECONDS, in the thread that counts.
    """

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._lock = threading.Lock()
        # key -> (hits, end of the window as seconds since the epoch)
        self._windows: dict[str, tuple[int, float]] = {}
        self._next_sweep = 0.0

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            if now >= self._next_sweep:
                self._windows = {
                    name: window for name, window in self._windows.items() if window[1] > now
                }
                self._next_sweep = now + SWEEP_SECONDS
            hits, ends = self._windows.get(key, (0, 0.0))
            if ends <= now:
                hits, ends = 0, now + expiry
            self._windows[key] = (hits + amount, ends)
            return hits + amount

    def get(self, key: str) -> int:
        hits, ends = self._windows.get(key, (0, 0.0))
        return hits if ends > time.time() else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        _, ends = self._windows.get(key, (0, 0.0))
        return ends if ends > now else now

    def check(self) -> bool:
        return True

    def reset(self) -> int:
        with self._lock:
            count, self._windows = len(self._windows), {}
        return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)


@dataclass(frozen=True)
class LimitCheck:
    """One request's count: the limit its headers describe (the one it broke, else the one
    with the smallest window) and that limit's window after the request."""

    limit: RateLimitItem
    allowed: bool
    remaining: int
    reset_time: float  # seconds since the epoch

    def seconds_until_reset(self) -> int:
        return max(0, math.ceil(self.reset_time - time.time()))


class TokenRateLimiter:
    """Every limit of the setting, counted per key in limits' fixed windows, smallest
    window first; the first one broken stops the count (the request is refused).

    Counts go to `storage`. With `fallback`, while that storage (Redis) fails they go to
    this process's memory, and the storage is tried again after 1, 2, 4 ... 32 seconds.
    Threads may race on that state; the worst outcome is one extra try of the storage.
    """

    def __init__(self, limits: list[RateLimitItem], storage: Storage, *, fallback: bool) -> None:
        self.limits = sorted(limits)
        self.storage = storage
        self._counter = FixedWindowRateLimiter(storage)
        self._fallback = FixedWindowRateLimiter(FixedWindowMemoryStorage()) if fallback else None
        self._storage_down = False
        self._retries = 0
        self._retry_at = 0.0

    def check(self, key: str) -> LimitCheck:
        counter = self._current_counter()
        try:
            return self._count(counter, key)
        except Exception:
            if self._fallback is None or counter is self._fallback:
                raise
            logger.warning(
                "rate limit storage unreachable: counting in this process until it answers",
                exc_info=True,
            )
            self._storage_down, self._retries = True, 0
            self._retry_at = time.monotonic() + 1
            return self._count(self._fallback, key)

    def _count(self, counter: FixedWindowRateLimiter, key: str) -> LimitCheck:
        identifiers = (KEY_PREFIX, key, API_SCOPE)
        shown, allowed = self.limits[0], True
        for limit in self.limits:
            if not counter.hit(limit, *identifiers):
                shown, allowed = limit, False
                break
        window = counter.get_window_stats(shown, *identifiers)
        return LimitCheck(shown, allowed, max(0, window.remaining), window.reset_time)

    def _current_counter(self) -> FixedWindowRateLimiter:
        if not self._storage_down:
            return self._counter
        now = time.monotonic()
        if now >= self._retry_at:
            self._retries += 1
            self._retry_at = now + min(2**self._retries, STORAGE_RETRY_MAX_SECONDS)
            if self._storage_answers():
                logger.info("rate limit storage answers again")
                self._storage_down = False
                return self._counter
        return self._fallback

    def _storage_answers(self) -> bool:
        try:
            return bool(self.storage.check())
        except Exception:
            return False


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
        token_hash = token_hash_of(request.headers.get("Authorization"))
    except Unauthorized:
        return f"client:{request.remote_addr}"
    return f"token:{token_hash.hex()}"


def init_rate_limits(app: Flask, settings: Settings, blueprints: Iterable[flask.Blueprint]) -> None:
    """Limit every route of `blueprints` per token, unless settings.rate_limit is None."""
    if settings.rate_limit is None:
        return
    storage_uri = settings.rate_limit_storage_uri
    shared_storage = not storage_uri.startswith(MEMORY_SCHEME)
    if shared_storage:
        storage_options = {}
        if storage_uri.startswith(("redis://", "rediss://")):
            storage_options = {
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
            }
        storage = storage_from_string(storage_uri, **storage_options)
    else:
        storage = FixedWindowMemoryStorage()
    limiter = TokenRateLimiter(
        parse_many(settings.rate_limit),  # a bad limit fails at start, not on a request
        storage,
        fallback=shared_storage,
    )
    app.extensions["rate_limiter"] = limiter
    limited_blueprints = {blueprint.name for blueprint in blueprints}

    # An app-wide hook, so that it runs before the blueprints' own (the token check): a
    # request refused with 401 counts too.
    @app.before_request
    def count_request():
        if request.blueprint not in limited_blueprints:
            return None
        key = rate_limit_key()
        g.rate_limit = check = limiter.check(key)
        if check.allowed:
            return None
        logger.info("rate limit %s exceeded by %s", check.limit, key)
        return error_response(
            429,
            f"Rate limit of {check.limit} exceeded for this token; "
            "retry after the number of seconds in Retry-After.",
        )

    # Headers after the IETF draft: RateLimit-Reset in seconds, Retry-After on a 429 only.
    @app.after_request
    def add_rate_limit_headers(response: flask.Response) -> flask.Response:
        check = g.get("rate_limit")
        if check is None:
            return response
        reset_in = check.seconds_until_reset()
        response.headers[LIMIT_HEADER] = str(check.limit.amount)
        response.headers[REMAINING_HEADER] = str(check.remaining)
        response.headers[RESET_HEADER] = str(reset_in)
        if response.status_code == 429:
            response.headers["Retry-After"] = str(max(1, reset_in))
        return response


def document_rate_limits(api: flask_smorest.Api) -> None:
    """The 429 response every /api operation documents (whether limits are on or not)."""
    api.spec.components.response(
        RATE_LIMITED_RESPONSE,
        {
            "description": "Too many requests for this token (when rate limits are "
            f"configured). While limits are on, every /api response carries {LIMIT_HEADER}, "
            f"{REMAINING_HEADER} and {RESET_HEADER}.",
            "headers": {
                name: {"description": description, "schema": {"type": "integer", "minimum": 0}}
                for name, description in _HEADER_DOCS.items()
            },
            "content": {"application/json": {"schema": ErrorSchema}},
        },
    )
