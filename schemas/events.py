"""Request and response shapes of /api/events: the change feed."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from leads.domain.cursors import decode_feed_cursor
from leads_contract.values import EVENT_TYPES, MAX_EVENTS_PER_PAGE
from schemas.fields import CursorField, Timestamp


class FeedCursorField(CursorField):
    """The `next_cursor` of a previous answer, decoded into the feed position it holds."""

    decode = staticmethod(decode_feed_cursor)
    issued_by = "answer"


class EventsQuerySchema(Schema):
    after = FeedCursorField(
        metadata={
            "description": "The `next_cursor` of the previous answer; without it, the feed "
            "starts at the oldest event kept."
        }
    )
    limit = fields.Integer(
        load_default=100, validate=validate.Range(min=1, max=MAX_EVENTS_PER_PAGE)
    )
    type = fields.String(validate=validate.OneOf(EVENT_TYPES))


class EventSchema(Schema):
    id = fields.String()
    type = fields.String(validate=validate.OneOf(EVENT_TYPES))
    occurred_at = Timestamp()
    campaign_id = fields.UUID(allow_none=True)
    data = fields.Dict(metadata={"description": "Ids and counts of the change; see docs/API.md."})


class EventPageSchema(Schema):
    events = fields.List(fields.Nested(EventSchema))
    next_cursor = fields.String(
        metadata={
            "description": "Pass as `after` to poll for the events that follow; never null "
            "(an empty page gives it back to poll again)."
        }
    )
