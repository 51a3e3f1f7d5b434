"""Request and response shapes of /api/campaigns/{id}/leads."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from leads_contract.values import (
    DEDUPE_MODES,
    LEAD_STATUSES,
    MAX_IDS_PER_DELETE,
    MAX_LEADS_PER_ADD,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    READ_ONLY_FIELDS,
    SUPPRESSION_KINDS,
)
from schemas.campaigns import StatsSchema
from schemas.fields import (
    CursorField,
    CustomFields,
    EmailField,
    LinkedinUrlField,
    StrictBoolean,
    Timestamp,
    TrimmedString,
    next_cursor_field,
)
from schemas.key_rules import AtLeastOneKey, ExactlyOneKey


class LeadFieldsSchema(Schema):
    """The editable profile fields of a lead."""

    class Meta:
        unknown = RAISE

    first_name = TrimmedString(max_length=200)
    last_name = TrimmedString(max_length=200)
    name = TrimmedString(
        max_length=200, metadata={"description": "Derived from first and last name when absent."}
    )
    company = TrimmedString(max_length=300)
    position = TrimmedString(max_length=300)
    headline = TrimmedString(max_length=2000)
    custom_fields = CustomFields(
        metadata={
            "description": "Per-lead template data, rendered as %custom_fields.<key>%. "
            "Keys match ^[A-Za-z0-9_]{1,64}$; at most 100 keys and 16 KiB serialized.",
        }
    )


def _campaign_identity_errors(field: str, campaign_type: str, *, verb: str) -> dict:
    """The messages of a campaign's own identity when absent, null or blank."""
    message = f"{field} {verb} for {campaign_type} campaigns"
    return {"required": message, "null": message}


class LeadInputSchema(LeadFieldsSchema):
    """One lead to add. Each channel's schema below makes its identity required; the other
    identity is kept when valid and stored as null when not."""

    email = EmailField(invalid_as_null=True)
    linkedin_url = LinkedinUrlField(invalid_as_null=True)


class EmailLeadInputSchema(LeadInputSchema):
    """One lead of an email campaign: a valid `email` is required."""

    email = EmailField(
        required=True,
        allow_none=False,
        error_messages=_campaign_identity_errors("email", "email", verb="is required"),
    )


class LinkedinLeadInputSchema(LeadInputSchema):
    """One lead of a LinkedIn campaign: a valid `linkedin_url` is required."""

    linkedin_url = LinkedinUrlField(
        required=True,
        allow_none=False,
        error_messages=_campaign_identity_errors("linkedin_url", "linkedin", verb="is required"),
    )


def _prospects(row_schema: type[Schema]) -> fields.List:
    return fields.List(
        fields.Nested(row_schema),
        required=True,
        validate=validate.Length(min=1, max=MAX_LEADS_PER_ADD),
    )


class EmailLeadsAddSchema(Schema):
    """The leads to add to an email campaign."""

    class Meta:
        unknown = RAISE

    prospects = _prospects(EmailLeadInputSchema)


class LinkedinLeadsAddSchema(Schema):
    """The leads to add to a LinkedIn campaign."""

    class Meta:
        unknown = RAISE

    prospects = _prospects(LinkedinLeadInputSchema)


class LeadsAddQuerySchema(Schema):
    dry_run = fields.Boolean(
        load_default=False,
        metadata={"description": "Validate and report the outcome without writing anything."},
    )
    dedupe = fields.String(
        load_default="campaign",
        validate=validate.OneOf(DEDUPE_MODES),
        metadata={
            "description": "`campaign`: a row is a duplicate when this campaign holds its "
            "identity. `workspace`: also when a lead of any other campaign of the workspace "
            "holds it in the same field (email or linkedin_url, whatever that campaign's "
            "type); `live`: the same, counting only campaigns that are not completed."
        },
    )


class LeadUpdatesSchema(LeadFieldsSchema):
    """The fields to change; an absent key is left as it is, null or blank clears it.
    Each channel's schema below refuses to clear its identity."""

    key_rule = AtLeastOneKey("updates must hold at least one field.")
    email = EmailField()
    linkedin_url = LinkedinUrlField()

    @pre_load
    def refuse_read_only_and_empty(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        read_only = {key: [f"{key} is not editable."] for key in READ_ONLY_FIELDS if key in data}
        if read_only:
            raise ValidationError(read_only)
        self.key_rule.check(data)
        return data


class EmailLeadUpdatesSchema(LeadUpdatesSchema):
    """The fields to change of a lead of an email campaign."""

    email = EmailField(
        allow_none=False,
        error_messages=_campaign_identity_errors("email", "email", verb="cannot be cleared"),
    )


class LinkedinLeadUpdatesSchema(LeadUpdatesSchema):
    """The fields to change of a lead of a LinkedIn campaign."""

    linkedin_url = LinkedinUrlField(
        allow_none=False,
        error_messages=_campaign_identity_errors(
            "linkedin_url", "linkedin", verb="cannot be cleared"
        ),
    )


class EmailLeadUpdateSchema(Schema):
    """One lead of an email campaign and the fields to change."""

    class Meta:
        unknown = RAISE

    prospect_id = fields.UUID(required=True)
    updates = fields.Nested(EmailLeadUpdatesSchema, required=True)


class LinkedinLeadUpdateSchema(Schema):
    """One lead of a LinkedIn campaign and the fields to change."""

    class Meta:
        unknown = RAISE

    prospect_id = fields.UUID(required=True)
    updates = fields.Nested(LinkedinLeadUpdatesSchema, required=True)


# The body of each write that a campaign's type shapes, by campaign type: built once, and
# chosen per request once the campaign is known (see leads/routes/leads.py).
LEADS_ADD_SCHEMAS: dict[str, Schema] = {
    "email": EmailLeadsAddSchema(),
    "linkedin": LinkedinLeadsAddSchema(),
}
LEAD_UPDATE_SCHEMAS: dict[str, Schema] = {
    "email": EmailLeadUpdateSchema(),
    "linkedin": LinkedinLeadUpdateSchema(),
}


class LeadsDeleteSchema(Schema):
    class Meta:
        unknown = RAISE

    prospect_ids = fields.List(
        fields.UUID(), validate=validate.Length(min=1, max=MAX_IDS_PER_DELETE)
    )
    # Documented as the one value it may have: false is refused below.
    all = StrictBoolean(
        metadata={"description": "true removes every lead of the campaign.", "enum": [True]}
    )

    key_rule = ExactlyOneKey(
        ("prospect_ids", "all"),
        'Send exactly one of "prospect_ids" and "all" (a wipe is never implied).',
    )

    @validates_schema
    def exactly_one_selector(self, data, **kwargs):
        self.key_rule.check(data)
        if "all" in data and data["all"] is not True:
            raise ValidationError(
                {"all": ['Must be true; to remove some leads send "prospect_ids".']}
            )


class LeadsListQuerySchema(Schema):
    page = fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, max=MAX_PAGE),
        metadata={"description": "Page number (OFFSET paging). Not with `cursor`."},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))
    status = fields.String(validate=validate.OneOf(LEAD_STATUSES))
    cursor = CursorField(
        metadata={
            "description": "Keyset paging: the opaque `next_cursor` of the previous page, "
            "listed with the same `status`. Its cost does not grow with the depth, and leads "
            "added or removed meanwhile never make it skip or repeat a lead. Not with `page`."
        }
    )

    @pre_load
    def page_or_cursor(self, data, **kwargs):
        if "page" in data and "cursor" in data:
            raise ValidationError("Send either page or cursor, not both.")
        return data


class LeadSchema(Schema):
    id = fields.UUID()
    campaign_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(LEAD_STATUSES))
    email = fields.String(allow_none=True)
    linkedin_url = fields.String(allow_none=True)
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    company = fields.String(allow_none=True)
    position = fields.String(allow_none=True)
    headline = fields.String(allow_none=True)
    custom_fields = fields.Dict()
    created_at = Timestamp()
    updated_at = Timestamp()


class LeadPageSchema(Schema):
    prospects = fields.List(fields.Nested(LeadSchema))
    total = fields.Integer(metadata={"description": "Leads matching the filter."})
    page = fields.Integer(
        allow_none=True, metadata={"description": "The page number; null when listed by cursor."}
    )
    limit = fields.Integer()
    next_cursor = next_cursor_field(
        "Pass as `cursor` (with the same `status`) for the next page; null on the last page."
    )


class SuppressedBySchema(Schema):
    id = fields.UUID()
    kind = fields.String(validate=validate.OneOf(SUPPRESSION_KINDS))
    value = fields.String()


class AddResultSchema(Schema):
    index = fields.Integer()
    outcome = fields.String(validate=validate.OneOf(["imported", "duplicate", "suppressed"]))
    id = fields.UUID(
        allow_none=True,
        metadata={"description": "The new lead, or the lead it duplicates; null when suppressed."},
    )
    identity = fields.String(metadata={"description": "The normalized dedup key."})
    duplicate_of = fields.String(
        allow_none=True, validate=validate.OneOf(["batch", "campaign", "workspace"])
    )
    campaign_id = fields.UUID(
        metadata={"description": "The campaign of the lead it duplicates (workspace only)."}
    )
    suppressed_by = fields.Nested(
        SuppressedBySchema,
        metadata={"description": "The suppression entry that matched (suppressed only)."},
    )


class LeadsAddedSchema(Schema):
    imported = fields.Integer()
    duplicates = fields.Integer()
    suppressed = fields.Integer(
        metadata={"description": "Rows not added because the suppression list matched them."}
    )
    results = fields.List(fields.Nested(AddResultSchema))
    stats = fields.Nested(StatsSchema)
    dry_run = fields.Boolean(metadata={"description": "Present (true) on a dry run only."})


class LeadUpdatedSchema(Schema):
    prospect = fields.Nested(LeadSchema)


class LeadsDeletedSchema(Schema):
    deleted = fields.Integer()
    stats = fields.Nested(StatsSchema)
