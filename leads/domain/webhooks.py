"""Webhook endpoints and their deliveries: create, read, change, delete, rotate the secret,
list deliveries, retry one; and the retry rules the worker (leads/webhooks/) follows.

Deliveries are made from the change feed by the worker, not by the writes: a write records
its event (leads/domain/events.py) and nothing more, whatever the number of webhooks.
"""

from __future__ import annotations

import base64
import secrets
from uuid import UUID, uuid4

from leads.db.pool import ConnectionPool, Transaction, read_all, transaction
from leads.domain.cursors import encode_feed_cursor
from leads.domain.webhook_urls import RefusedAddress, parse_webhook_url, resolve_target
from leads.errors import BadRequest, Conflict, NotFound, validation_message
from leads_contract.values import MAX_WEBHOOKS_PER_WORKSPACE

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the Standard Webhooks specification asks for 24 to 64
# Seconds after a failed attempt before the next: about 5 s, 30 s, 2 min, 10 min, 1 h,
# then hourly.
BACKOFF = (5, 30, 120, 600, 3600)
# Seconds a delivery is retried for before it fails; seconds an endpoint may fail every
# attempt before it is disabled; seconds a rotated secret still signs.
RETRY_WINDOW = 24 * 3600
FAILING_WINDOW = 24 * 3600
ROTATION_GRACE = 24 * 3600


class WebhookNotFound(NotFound):
    """One body for a webhook that does not exist and one of another workspace."""

    def __init__(self) -> None:
        super().__init__("Webhook not found.")


class DeliveryNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Delivery not found.")


def retry_delay(failed_attempts: int, time_scale: float) -> float:
    """Seconds to wait after the `failed_attempts`-th failed attempt of a delivery."""
    return BACKOFF[min(failed_attempts, len(BACKOFF)) - 1] * time_scale


def new_secret() -> tuple[str, bytes]:
    """A signing secret as shown once (`whsec_` and the base64 of its bytes), and its bytes."""
    key = secrets.token_bytes(SECRET_BYTES)
    return SECRET_PREFIX + base64.b64encode(key).decode("ascii"), key


def parse_id(value: str, not_found: type[NotFound]) -> UUID:
    """A path id that is not a UUID names nothing: the same 404 as a missing one."""
    try:
        return UUID(value)
    except (ValueError, TypeError):
        raise not_found() from None


def check_url(url: str, *, allow_private: bool) -> None:
    """The URL's host resolves to public addresses only (unless `allow_private`), else the
    400 of a bad `url` field. Its syntax was checked by the schema."""
    try:
        resolve_target(parse_webhook_url(url), allow_private=allow_private)
    except RefusedAddress as error:
        errors = {"json": {"url": [str(error)]}}
        raise BadRequest(validation_message(errors), errors=errors) from None


def create_webhook(
    pool: ConnectionPool,
    workspace_id: UUID,
    *,
    url: str,
    event_types: list[str],
    description: str | None,
    allow_private: bool,
) -> dict:
    """A new endpoint, which receives the events that commit after it, and its secret."""
    check_url(url, allow_private=allow_private)
    secret, key = new_secret()
    with transaction(pool) as tx:
        # One creation at a time per workspace, so that the count below is the count.
        tx.execute("lock_workspace_webhooks", {"workspace_id": workspace_id})
        webhook = tx.fetch_one(
            "create_webhook",
            {
                "workspace_id": workspace_id,
                "id": uuid4(),
                "url": url,
                "description": description,
                "event_types": event_types,
                "secret": key,
                "limit": MAX_WEBHOOKS_PER_WORKSPACE,
            },
        )
        if webhook is None:
            raise BadRequest(
                f"A workspace may have at most {MAX_WEBHOOKS_PER_WORKSPACE} webhooks; "
                "delete one first."
            )
    return {"webhook": webhook, "secret": secret}


def list_webhooks(pool: ConnectionPool, workspace_id: UUID) -> list[dict]:
    return read_all(pool, "list_webhooks", {"workspace_id": workspace_id})


def get_webhook(pool: ConnectionPool, workspace_id: UUID, webhook_id: UUID) -> dict:
    rows = read_all(pool, "get_webhook", {"workspace_id": workspace_id, "id": webhook_id})
    if not rows:
        raise WebhookNotFound()
    return rows[0]


def update_webhook(
    pool: ConnectionPool,
    workspace_id: UUID,
    webhook_id: UUID,
    changes: dict,
    *,
    allow_private: bool,
    time_scale: float,
) -> dict:
    """Change the fields given. Disabling holds the pending deliveries back; enabling sends
    them again, each with a new retry window, and delivers the events that commit from
    then on (not those of the time it was disabled: the feed has them)."""
    if "url" in changes:
        check_url(changes["url"], allow_private=allow_private)
    params = {"workspace_id": workspace_id, "id": webhook_id}
    with transaction(pool) as tx:
        current = tx.fetch_one("lock_webhook", params)
        if current is None:
            raise WebhookNotFound()
        enabled = changes.get("enabled", current["enabled"])
        webhook = tx.fetch_one(
            "update_webhook",
            {
                **params,
                "url": changes.get("url"),
                "event_types": changes.get("event_types"),
                "set_description": "description" in changes,
                "description": changes.get("description"),
                "enabled": enabled,
                "enabling": enabled and not current["enabled"],
            },
        )
        if enabled != current["enabled"]:
            set_pending_deliveries(tx, workspace_id, webhook_id, enabled, time_scale)
    return webhook


def set_pending_deliveries(
    tx: Transaction, workspace_id: UUID, webhook_id: UUID, enabled: bool, time_scale: float
) -> None:
    """Hold back (disabled) or schedule now (enabled) the webhook's pending deliveries."""
    tx.execute(
        "schedule_pending_deliveries" if enabled else "hold_pending_deliveries",
        {
            "workspace_id": workspace_id,
            "endpoint_id": webhook_id,
            "retry_window": RETRY_WINDOW * time_scale,
        },
    )


def delete_webhook(pool: ConnectionPool, workspace_id: UUID, webhook_id: UUID) -> None:
    """Delete the endpoint and its deliveries (after an attempt in flight has ended)."""
    with transaction(pool) as tx:
        if tx.fetch_one("delete_webhook", {"workspace_id": workspace_id, "id": webhook_id}) is None:
            raise WebhookNotFound()


def rotate_secret(
    pool: ConnectionPool, workspace_id: UUID, webhook_id: UUID, *, time_scale: float
) -> dict:
    """A new secret, shown once; the previous one still signs for 24 hours, so that a
    receiver can switch without refusing a delivery."""
    secret, key = new_secret()
    with transaction(pool) as tx:
        webhook = tx.fetch_one(
            "rotate_webhook_secret",
            {
                "workspace_id": workspace_id,
                "id": webhook_id,
                "secret": key,
                "grace": ROTATION_GRACE * time_scale,
            },
        )
    if webhook is None:
        raise WebhookNotFound()
    return {"webhook": webhook, "secret": secret}


def list_deliveries(
    pool: ConnectionPool,
    workspace_id: UUID,
    webhook_id: UUID,
    *,
    before: int | None,
    limit: int,
) -> dict:
    """One page of the webhook's deliveries, newest event first, and the cursor of the
    next (null on the last)."""
    with transaction(pool, read_only=True) as tx:
        if tx.fetch_one("get_webhook", {"workspace_id": workspace_id, "id": webhook_id}) is None:
            raise WebhookNotFound()
        rows = tx.fetch_all(
            "list_webhook_deliveries",
            {
                "workspace_id": workspace_id,
                "endpoint_id": webhook_id,
                "before": before,
                "limit": limit + 1,
            },
        )
    next_cursor = None
    if len(rows) > limit:
        del rows[limit:]
        next_cursor = encode_feed_cursor(rows[-1]["event_position"])
    return {"deliveries": rows, "next_cursor": next_cursor}


def retry_delivery(
    pool: ConnectionPool, workspace_id: UUID, webhook_id: UUID, delivery_id: UUID
) -> dict:
    """Attempt a delivery again, now: a pending one within its retry window, a delivered
    or failed one once more (it fails again if that attempt fails)."""
    with transaction(pool) as tx:
        webhook = tx.fetch_one("get_webhook", {"workspace_id": workspace_id, "id": webhook_id})
        if webhook is None:
            raise WebhookNotFound()
        if not webhook["enabled"]:
            raise Conflict("The webhook is disabled: enable it to retry its deliveries.")
        delivery = tx.fetch_one(
            "retry_webhook_delivery",
            {"workspace_id": workspace_id, "endpoint_id": webhook_id, "id": delivery_id},
        )
    if delivery is None:
        raise DeliveryNotFound()
    return delivery
