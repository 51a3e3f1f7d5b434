"""The HTTP side of the client: one authenticated session, retries with backoff, API errors."""

from __future__ import annotations

import email.utils
import json
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

# Worth another try: rate limited, or the service (or a gateway in front of it) is down for
# a moment. Every write carries an Idempotency-Key, so retrying a write is safe.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
NEW_KEY = "<a new random key>"  # sentinel: `request` draws a UUID


class ServiceError(Exception):
    """The API answered with an error; `message` is the sentence from its error body."""

    def __init__(self, status_code: int, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.body = body

    @property
    def errors(self) -> Mapping[str, Any]:
        errors = self.body.get("errors") if isinstance(self.body, dict) else None
        return errors if isinstance(errors, Mapping) else {}

    def __str__(self) -> str:
        return f"{self.message} (HTTP {self.status_code})"


class ApiUnreachable(Exception):
    """The API could not be reached (or kept dropping the connection) after every retry."""


@dataclass(frozen=True)
class RetryPolicy:
    """`retries` more tries after the first; exponential backoff with jitter between them,
    or the server's Retry-After when it sends one (capped at `max_wait` seconds)."""

    retries: int = 5
    backoff: float = 0.5
    max_wait: float = 120.0

    def wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_wait)
        ceiling = min(self.backoff * 2 ** (attempt - 1), self.max_wait)
        # Half fixed, half random: clients that failed together do not retry together.
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def normalize_base_url(url: str) -> str:
    """The service root: `http://host:8000`, `http://host:8000/` and `.../api` all work."""
    given = url
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http:// or https:// URL, got {given!r}")
    if url.endswith("/api"):
        url = url[: -len("/api")]
    return url


def path_segment(value: str) -> str:
    """An id as one URL path segment, whatever the user typed."""
    return quote(value, safe="")


def encode_json(data: Any) -> bytes:
    """The exact bytes sent, so that an Idempotency-Key can be derived from them."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class ApiClient:
    """One session against the API, with the workspace token on every request."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        on_retry: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url
        self.retry = retry or RetryPolicy()
        self._on_retry = on_retry or (lambda message: None)
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = NEW_KEY,
        retry_statuses: frozenset[int] = RETRYABLE_STATUSES,
    ) -> httpx.Response:
        """Send one request, retrying network errors and `retry_statuses`. A write gets a
        new random Idempotency-Key (the same for each of its retries) unless the caller
        gives one, or None for no key."""
        headers = {}
        content = None
        if body is not None:
            content = body if isinstance(body, bytes) else encode_json(body)
            headers["Content-Type"] = "application/json"
        if method != "GET" and idempotency_key is not None:
            key = str(uuid.uuid4()) if idempotency_key is NEW_KEY else idempotency_key
            headers["Idempotency-Key"] = key
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(
                    method, path, content=content, params=params, headers=headers
                )
            except httpx.TransportError as error:
                if attempt > self.retry.retries:
                    raise ApiUnreachable(
                        f"Could not reach the API at {self.base_url} "
                        f"after {attempt} attempts: {_describe(error)}"
                    ) from error
                self._pause(attempt, None, _describe(error))
                continue
            if response.is_success:
                return response
            if response.status_code in retry_statuses and attempt <= self.retry.retries:
                self._pause(
                    attempt,
                    parse_retry_after(response.headers.get("Retry-After")),
                    f"HTTP {response.status_code} {response.reason_phrase}",
                )
                continue
            raise _api_error(response)

    def _pause(self, attempt: int, retry_after: float | None, reason: str) -> None:
        wait = self.retry.wait(attempt, retry_after)
        self._on_retry(
            f"{reason}; retrying in {wait:.1f}s (retry {attempt} of {self.retry.retries})"
        )
        self._sleep(wait)

    def get(self, path: str, **kwargs: Any) -> Any:
        return response_json(self.request("GET", path, **kwargs))

    def post(self, path: str, **kwargs: Any) -> Any:
        return response_json(self.request("POST", path, **kwargs))

    def patch(self, path: str, **kwargs: Any) -> Any:
        return response_json(self.request("PATCH", path, **kwargs))

    def delete(self, path: str, **kwargs: Any) -> Any:
        return response_json(self.request("DELETE", path, **kwargs))


def response_json(response: httpx.Response) -> Any:
    """The body of a successful response; anything but JSON means a wrong URL or a proxy."""
    try:
        return response.json()
    except ValueError:
        raise ServiceError(
            response.status_code,
            f"The answer from {response.request.url} is not JSON: is the API URL right?",
        ) from None


def _describe(error: httpx.TransportError) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _api_error(response: httpx.Response) -> ServiceError:
    try:
        body = response.json()
    except ValueError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message:
        message = f"{response.status_code} {response.reason_phrase}"
    return ServiceError(response.status_code, message, body)
