"""Request and response shapes of /api/campaigns."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from leads_contract.values import CAMPAIGN_STATUSES, CAMPAIGN_TYPES, LEAD_STATUSES
from schemas.fields import Timestamp, TrimmedString

CAMPAIGN_NAME_MAX_LENGTH = 200

StatsSchema = Schema.from_dict(
    {
        "total": fields.Integer(),
        **{status: fields.Integer() for status in LEAD_STATUSES},
        "contacted": fields.Integer(
            metadata={"description": "Leads past pending, not counting cancelled ones."}
        ),
        "last_synced_at": fields.String(
            metadata={"description": "When these stats were last computed (ISO 8601)."}
        ),
    },
    name="Stats",
)

ProspectsByStatusSchema = Schema.from_dict(
    {status: fields.Integer() for status in LEAD_STATUSES}, name="ProspectsByStatus"
)


class CampaignCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    name = TrimmedString(
        required=True,
        allow_none=False,
        max_length=CAMPAIGN_NAME_MAX_LENGTH,
    )
    type = fields.String(required=True, validate=validate.OneOf(CAMPAIGN_TYPES))


class CampaignSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    type = fields.String(validate=validate.OneOf(CAMPAIGN_TYPES))
    status = fields.String(validate=validate.OneOf(CAMPAIGN_STATUSES))
    stats = fields.Nested(StatsSchema)
    created_at = Timestamp()
    updated_at = Timestamp()


class CampaignEnvelopeSchema(Schema):
    campaign = fields.Nested(CampaignSchema)


class CampaignDetailSchema(Schema):
    campaign = fields.Nested(CampaignSchema)
    prospects_by_status = fields.Nested(ProspectsByStatusSchema)


class CampaignListSchema(Schema):
    campaigns = fields.List(fields.Nested(CampaignSchema))
