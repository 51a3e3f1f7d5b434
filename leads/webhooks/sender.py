"""One delivery attempt: an event as a Standard Webhooks request, signed with the
`standardwebhooks` library, POSTed with httpx to an address that the URL's host resolved
to and that passed the address rule (leads/domain/webhook_urls.py) moments before.

The connection goes to that checked address, never to the name: httpx would resolve the
name again, and a second answer could point elsewhere (DNS rebinding). The request names
the host in its Host header, and for https in its TLS server name, against which the
certificate is verified. No connection is kept for another attempt: one made with one
host's name must not carry another's request. Redirects are not followed, proxies from the
environment are not used, and at most 64 KiB of the answer is read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import orjson
from standardwebhooks import Webhook

from leads.domain.webhook_urls import (
    InvalidWebhookUrl,
    RefusedAddress,
    parse_webhook_url,
    resolve_target,
)

MAX_RESPONSE_BYTES = 64 * 1024
# Kept in last_error: enough for any reason httpx gives.
MAX_ERROR_LENGTH = 300
USER_AGENT = "leads-webhooks/1.0"


@dataclass(frozen=True)
class Outcome:
    """What an attempt came to: the answer's status, or why there was none."""

    # delivered (2xx), status (any other answer), timeout, connection, refused (the address
    # rule refused the URL's host)
    result: str
    status_code: int | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.result == "delivered"


def signed_request(event: dict, keys: list[bytes], now: datetime) -> tuple[bytes, dict]:
    """The body and headers of an event's delivery: `webhook-id` is the event's id (the
    same on every attempt), `webhook-timestamp` this attempt's time, `webhook-signature` one
    `v1,<base64>` per key (the current secret, and a rotated one in its grace period)."""
    sent_at = now.astimezone(UTC).replace(microsecond=0)
    body = orjson.dumps({"type": event["type"], "timestamp": event["occurred_at"], "data": event})
    text = body.decode("utf-8")
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event["id"],
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": " ".join(
            Webhook(key).sign(event["id"], sent_at, text) for key in keys
        ),
    }
    return body, headers


class Sender:
    """Sends attempts for one worker thread (httpx clients are not shared between threads)."""

    def __init__(self, *, timeout: float, allow_private: bool) -> None:
        self._timeout = timeout
        self._allow_private = allow_private
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def close(self) -> None:
        self._client.close()

    def send(self, url: str, body: bytes, headers: dict) -> Outcome:
        """POST the body to the URL, at one of the addresses its host resolves to now (in
        the resolver's order, the next when one refuses the connection)."""
        try:
            target = parse_webhook_url(url)
            addresses = resolve_target(target, allow_private=self._allow_private)
        except (InvalidWebhookUrl, RefusedAddress) as error:
            reason = str(error)
            return Outcome("refused", error=_short(f"refused: {reason[:1].lower()}{reason[1:]}"))
        deadline = time.monotonic() + self._timeout
        failure = None
        for address in addresses:
            try:
                return self._post(target, str(address), body, headers, deadline)
            except httpx.ConnectError as error:
                failure = error
            except httpx.TimeoutException:
                return Outcome("timeout", error=f"timeout: no answer within {self._timeout:g} s")
            except httpx.HTTPError as error:
                return Outcome("connection", error=_short(f"{type(error).__name__}: {error}"))
        return Outcome("connection", error=_short(f"cannot connect: {failure}"))

    def _post(self, target, address: str, body: bytes, headers: dict, deadline: float) -> Outcome:
        extensions = {}
        if target.url.scheme == "https" and target.address is None:
            extensions["sni_hostname"] = target.host
        with self._client.stream(
            "POST",
            target.url.copy_with(host=address),
            content=body,
            headers={**headers, "host": target.host_header},
            extensions=extensions,
        ) as response:
            _read_some(response, deadline)
        status = response.status_code
        return Outcome("delivered" if 200 <= status < 300 else "status", status_code=status)


def _read_some(response: httpx.Response, deadline: float) -> None:
    """Read at most MAX_RESPONSE_BYTES of the body, as it comes (compressed or not), and
    no longer than the attempt's time; closing the response then drops the rest. The
    status decides the outcome, whatever the body holds or however it ends."""
    read = 0
    try:
        for chunk in response.iter_raw():
            read += len(chunk)
            if read >= MAX_RESPONSE_BYTES or time.monotonic() >= deadline:
                break
    except httpx.HTTPError:
        pass


def _short(text: str) -> str:
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"
