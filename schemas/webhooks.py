"""Request and response shapes of /api/webhooks: endpoints and their deliveries."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from leads.domain.webhook_urls import InvalidWebhookUrl, parse_webhook_url
from leads_contract.values import (
    EVENT_TYPES,
    MAX_PAGE_SIZE,
    MAX_WEBHOOK_DESCRIPTION,
    MAX_WEBHOOK_URL_LENGTH,
)
from schemas.events import FeedCursorField
from schemas.fields import StrictBoolean, TrimmedString, next_cursor_field
from schemas.key_rules import AtLeastOneKey

ALL_EVENTS = "*"
DELIVERY_STATES = ("pending", "delivered", "failed")


class WebhookUrlField(TrimmedString):
    """An https or http URL with a host name or an IP address (where it resolves to is
    checked by the operation: leads/domain/webhooks.py)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_length=MAX_WEBHOOK_URL_LENGTH,
            allow_none=False,
            metadata={
                "description": "Where deliveries are POSTed: https (or http), resolving to "
                "public internet addresses only.",
            },
            **kwargs,
        )

    def load_trimmed(self, text: str) -> str:
        text = super().load_trimmed(text)
        try:
            parse_webhook_url(text)
        except InvalidWebhookUrl as error:
            raise ValidationError(str(error)) from None
        return text


class EventTypesField(fields.List):
    """Event types, each once, or ["*"] for every type."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            fields.String(validate=validate.OneOf((*EVENT_TYPES, ALL_EVENTS))),
            validate=validate.Length(min=1, max=len(EVENT_TYPES)),
            metadata={
                "description": 'The event types to deliver, or ["*"] for all.',
                # What _deserialize checks: each type once, and "*" alone.
                "uniqueItems": True,
                "anyOf": [{"maxItems": 1}, {"items": {"enum": list(EVENT_TYPES)}}],
            },
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        types = super()._deserialize(value, attr, data, **kwargs)
        if len(set(types)) < len(types):
            raise ValidationError("Name each type once.")
        if ALL_EVENTS in types and len(types) > 1:
            raise ValidationError('"*" stands alone: it means every type.')
        return types


class WebhookCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    url = WebhookUrlField(required=True)
    event_types = EventTypesField(required=True)
    description = TrimmedString(max_length=MAX_WEBHOOK_DESCRIPTION)


class WebhookUpdateSchema(Schema):
    class Meta:
        unknown = RAISE

    url = WebhookUrlField()
    event_types = EventTypesField()
    description = TrimmedString(
        max_length=MAX_WEBHOOK_DESCRIPTION, metadata={"description": "null clears it."}
    )
    enabled = StrictBoolean(
        metadata={
            "description": "false holds its deliveries back; true sends them again and "
            "delivers the events from then on."
        }
    )

    key_rule = AtLeastOneKey("Send at least one of url, event_types, description, enabled.")

    @validates_schema
    def something_to_change(self, data: dict, **kwargs: Any) -> None:
        self.key_rule.check(data)


class WebhookSchema(Schema):
    id = fields.UUID()
    url = fields.String()
    description = fields.String(allow_none=True)
    event_types = fields.List(fields.String())
    enabled = fields.Boolean()
    failing_since = fields.DateTime(
        allow_none=True,
        metadata={
            "description": "The first failed attempt since the last successful one; a "
            "webhook failing for 24 hours is disabled."
        },
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class WebhookEnvelopeSchema(Schema):
    webhook = fields.Nested(WebhookSchema)


class WebhookWithSecretSchema(Schema):
    webhook = fields.Nested(WebhookSchema)
    secret = fields.String(
        metadata={"description": "whsec_<base64>: the signing secret, shown this once."}
    )


class WebhookListSchema(Schema):
    webhooks = fields.List(fields.Nested(WebhookSchema))


class DeliveriesQuerySchema(Schema):
    cursor = FeedCursorField(metadata={"description": "The `next_cursor` of the previous page."})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class DeliverySchema(Schema):
    id = fields.UUID()
    event_id = fields.UUID(
        metadata={"description": "Also the `webhook-id` header the delivery is sent with."}
    )
    event_type = fields.String(validate=validate.OneOf(EVENT_TYPES))
    state = fields.String(validate=validate.OneOf(DELIVERY_STATES))
    attempts = fields.Integer()
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(
        allow_none=True,
        metadata={"description": "Why the last attempt failed, when it got no HTTP status."},
    )
    last_attempt_at = fields.DateTime(allow_none=True)
    next_attempt_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "null once delivered or failed, and while disabled."},
    )
    created_at = fields.DateTime()


class DeliveryEnvelopeSchema(Schema):
    delivery = fields.Nested(DeliverySchema)


class DeliveryPageSchema(Schema):
    deliveries = fields.List(fields.Nested(DeliverySchema))
    next_cursor = next_cursor_field()
