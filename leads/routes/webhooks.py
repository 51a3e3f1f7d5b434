"""/api/webhooks: the workspace's webhook endpoints, their secrets and their deliveries."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView

from leads.db.pool import current_pool
from leads.domain import webhooks
from leads.domain.webhooks import DeliveryNotFound, WebhookNotFound
from leads.web.api import Blueprint, protect
from leads.web.auth import current_workspace_id
from leads.web.documented_errors import documents_errors, idempotent_write
from leads.web.documented_links import documents_created_id
from schemas.webhooks import (
    DeliveriesQuerySchema,
    DeliveryEnvelopeSchema,
    DeliveryPageSchema,
    WebhookCreateSchema,
    WebhookEnvelopeSchema,
    WebhookListSchema,
    WebhookUpdateSchema,
    WebhookWithSecretSchema,
)

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/api/webhooks",
    description="Webhook endpoints: the workspace's events POSTed to a URL, signed as the "
    "Standard Webhooks specification says, by the worker.",
)
protect(blp)

WEBHOOK_PATH = "/api/webhooks/{webhook_id}"
# Every operation that takes a webhook's id, by link name (tests/test_openapi_document.py
# checks that none is left out).
WEBHOOK_ID_TARGETS = {
    "GetWebhook": ("get", WEBHOOK_PATH, "Show the webhook."),
    "UpdateWebhook": ("patch", WEBHOOK_PATH, "Change the webhook."),
    "DeleteWebhook": ("delete", WEBHOOK_PATH, "Delete the webhook."),
    "RotateSecret": ("post", f"{WEBHOOK_PATH}/rotate-secret", "Give it a new secret."),
    "ListDeliveries": ("get", f"{WEBHOOK_PATH}/deliveries", "List its deliveries."),
    "RetryDelivery": (
        "post",
        f"{WEBHOOK_PATH}/deliveries/{{delivery_id}}/retry",
        "Attempt one of its deliveries again.",
    ),
}


def _settings():
    return current_app.config["LEADS_SETTINGS"]


def _webhook_id(value: str):
    return webhooks.parse_id(value, WebhookNotFound)


@blp.route("")
class Webhooks(MethodView):
    # In the order of docs/API.md's table: a webhook is created, then listed.
    @idempotent_write(blp)
    @blp.arguments(WebhookCreateSchema)
    @blp.response(201, WebhookWithSecretSchema)
    @documents_created_id(blp, "webhook", WEBHOOK_ID_TARGETS)
    @documents_errors(blp, 413, 415)
    def post(self, body):
        """Create a webhook; its signing secret is in this answer only.

        It receives the events that commit from now on, of its `event_types` (or all with
        `["*"]`). The URL must resolve to public internet addresses only (400). A workspace
        has at most 20 webhooks.
        """
        return webhooks.create_webhook(
            current_pool(),
            current_workspace_id(),
            url=body["url"],
            event_types=body["event_types"],
            description=body.get("description"),
            allow_private=_settings().webhooks_allow_private_urls,
        )

    @blp.response(200, WebhookListSchema)
    @documents_errors(blp)
    def get(self):
        """List the workspace's webhooks, oldest first."""
        return {"webhooks": webhooks.list_webhooks(current_pool(), current_workspace_id())}


@blp.route("/<webhook_id>")
class Webhook(MethodView):
    @blp.response(200, WebhookEnvelopeSchema)
    @documents_errors(blp, 404)
    def get(self, webhook_id):
        """Show a webhook (never its secret)."""
        webhook = webhooks.get_webhook(
            current_pool(), current_workspace_id(), _webhook_id(webhook_id)
        )
        return {"webhook": webhook}

    @idempotent_write(blp)
    @blp.arguments(WebhookUpdateSchema)
    @blp.response(200, WebhookEnvelopeSchema)
    @documents_errors(blp, 404, 413, 415)
    def patch(self, body, webhook_id):
        """Change a webhook's `url`, `event_types`, `description` or `enabled`.

        Disabling holds its pending deliveries back; enabling sends them again and
        delivers the events that commit from then on.
        """
        settings = _settings()
        webhook = webhooks.update_webhook(
            current_pool(),
            current_workspace_id(),
            _webhook_id(webhook_id),
            body,
            allow_private=settings.webhooks_allow_private_urls,
            time_scale=settings.webhooks_time_scale,
        )
        return {"webhook": webhook}

    @idempotent_write(blp)
    @blp.response(204)
    @documents_errors(blp, 400, 404, 415)
    def delete(self, webhook_id):
        """Delete a webhook and its deliveries (after an attempt in flight has ended)."""
        webhooks.delete_webhook(current_pool(), current_workspace_id(), _webhook_id(webhook_id))


@blp.route("/<webhook_id>/rotate-secret", methods=["POST"])
@idempotent_write(blp)
@blp.response(200, WebhookWithSecretSchema)
@documents_errors(blp, 400, 404, 415)
def rotate_secret(webhook_id):
    """Give a webhook a new signing secret, in this answer only. The previous secret signs
    each delivery too for 24 hours (a second signature), so that a receiver can switch."""
    return webhooks.rotate_secret(
        current_pool(),
        current_workspace_id(),
        _webhook_id(webhook_id),
        time_scale=_settings().webhooks_time_scale,
    )


@blp.route("/<webhook_id>/deliveries")
@blp.arguments(DeliveriesQuerySchema, location="query", unknown="raise")
@blp.response(200, DeliveryPageSchema)
@documents_errors(blp, 404)
def list_deliveries(query, webhook_id):
    """List a webhook's deliveries, newest event first, with their attempts, last status
    code or error, and next attempt. Page with `cursor`: the previous page's
    `next_cursor`."""
    return webhooks.list_deliveries(
        current_pool(),
        current_workspace_id(),
        _webhook_id(webhook_id),
        before=query.get("cursor"),
        limit=query["limit"],
    )


@blp.route("/<webhook_id>/deliveries/<delivery_id>/retry", methods=["POST"])
@idempotent_write(blp)
@blp.response(202, DeliveryEnvelopeSchema)
@documents_errors(blp, 400, 404, 409, 415)
def retry_delivery(webhook_id, delivery_id):
    """Attempt a delivery again, now: a pending one within its 24 hours, a delivered or
    failed one once more. 409 while the webhook is disabled."""
    delivery = webhooks.retry_delivery(
        current_pool(),
        current_workspace_id(),
        _webhook_id(webhook_id),
        webhooks.parse_id(delivery_id, DeliveryNotFound),
    )
    return {"delivery": delivery}
