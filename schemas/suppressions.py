"""Request and response shapes of /api/suppressions: the workspace's do-not-contact list."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from leads.domain.identity import (
    DOMAIN_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    LINKEDIN_URL_MAX_LENGTH,
    InvalidIdentity,
    normalize_domain,
    normalize_email,
    normalize_linkedin_url,
)
from leads_contract.values import (
    MAX_IDENTITIES_PER_CHECK,
    MAX_IDS_PER_SUPPRESSION_DELETE,
    MAX_PAGE_SIZE,
    MAX_SUPPRESSION_NOTE,
    MAX_SUPPRESSIONS_PER_ADD,
    SUPPRESSION_KINDS,
    SUPPRESSION_REASONS,
)
from schemas.fields import (
    CursorField,
    EmailField,
    LinkedinUrlField,
    StrictBoolean,
    Timestamp,
    TrimmedString,
    batch_of,
    next_cursor_field,
)
from schemas.key_rules import ExactlyOneKey

# How an entry's value is normalized, by its kind: as the identities it matches are.
NORMALIZE_VALUE = {
    "email": normalize_email,
    "domain": normalize_domain,
    "linkedin_url": normalize_linkedin_url,
}


class SuppressionValueField(TrimmedString):
    """An entry's value, normalized as its entry's `kind` says. Without a valid kind the
    value is left as it is: the kind's own error refuses the request."""

    def __init__(self, **kwargs: Any) -> None:
        longest = max(EMAIL_MAX_LENGTH, DOMAIN_MAX_LENGTH, LINKEDIN_URL_MAX_LENGTH)
        super().__init__(max_length=longest, allow_none=False, required=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        kind = data.get("kind") if isinstance(data, dict) else None
        normalize = NORMALIZE_VALUE.get(kind) if isinstance(kind, str) else None
        if normalize is None:
            return text
        try:
            return normalize(text)
        except InvalidIdentity as error:
            raise ValidationError(str(error)) from None


class SuppressionInputSchema(Schema):
    """One entry to add."""

    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=validate.OneOf(SUPPRESSION_KINDS))
    value = SuppressionValueField(
        metadata={
            "description": "An email, a domain (matching its subdomains too) or a LinkedIn "
            "profile URL, normalized as lead identities are; domains in IDNA form."
        }
    )
    reason = fields.String(load_default="manual", validate=validate.OneOf(SUPPRESSION_REASONS))
    note = TrimmedString(max_length=MAX_SUPPRESSION_NOTE)


class SuppressionsAddSchema(Schema):
    class Meta:
        unknown = RAISE

    entries = batch_of(fields.Nested(SuppressionInputSchema), MAX_SUPPRESSIONS_PER_ADD)
    remove_from_drafts = StrictBoolean(
        load_default=False,
        metadata={
            "description": "Also remove the leads these entries match from every draft "
            "roster of the workspace, in the same transaction. Launched rosters never change."
        },
    )


class SuppressionsListQuerySchema(Schema):
    kind = fields.String(validate=validate.OneOf(SUPPRESSION_KINDS))
    # Not nullable: a query parameter is text or absent, and a blank one is refused as the
    # other parameters' blanks are.
    q = TrimmedString(
        max_length=500,
        allow_none=False,
        metadata={"description": "A case-insensitive substring of the value."},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))
    cursor = CursorField(
        metadata={
            "description": "The opaque `next_cursor` of the previous page, listed with the "
            "same `kind` and `q`."
        }
    )


class SuppressionsDeleteSchema(Schema):
    class Meta:
        unknown = RAISE

    ids = batch_of(fields.UUID(), MAX_IDS_PER_SUPPRESSION_DELETE)


class IdentityToCheckSchema(Schema):
    """One identity: exactly one of `email` and `linkedin_url`."""

    class Meta:
        unknown = RAISE

    email = EmailField(allow_none=False)
    linkedin_url = LinkedinUrlField(allow_none=False)

    key_rule = ExactlyOneKey(
        ("email", "linkedin_url"), "Send exactly one of email and linkedin_url."
    )

    @validates_schema
    def exactly_one(self, data: dict, **kwargs: Any) -> None:
        self.key_rule.check(data)


class SuppressionsCheckSchema(Schema):
    class Meta:
        unknown = RAISE

    identities = batch_of(fields.Nested(IdentityToCheckSchema), MAX_IDENTITIES_PER_CHECK)


class SuppressionSchema(Schema):
    id = fields.UUID()
    kind = fields.String(validate=validate.OneOf(SUPPRESSION_KINDS))
    value = fields.String()
    reason = fields.String(validate=validate.OneOf(SUPPRESSION_REASONS))
    note = fields.String(allow_none=True)
    created_at = Timestamp()


class SuppressionAddResultSchema(Schema):
    index = fields.Integer()
    outcome = fields.String(validate=validate.OneOf(["added", "duplicate"]))
    id = fields.UUID(metadata={"description": "The new entry, or the entry it duplicates."})
    value = fields.String(metadata={"description": "The normalized value."})


class RemovedFromCampaignSchema(Schema):
    id = fields.UUID(metadata={"description": "A draft campaign that lost leads."})
    removed = fields.Integer()


class RemovedFromDraftsSchema(Schema):
    leads = fields.Integer()
    campaigns = fields.List(fields.Nested(RemovedFromCampaignSchema))


class SuppressionsAddedSchema(Schema):
    added = fields.Integer()
    duplicates = fields.Integer()
    results = fields.List(fields.Nested(SuppressionAddResultSchema))
    removed_from_drafts = fields.Nested(
        RemovedFromDraftsSchema,
        metadata={"description": "Present when `remove_from_drafts` was true."},
    )


class SuppressionPageSchema(Schema):
    suppressions = fields.List(fields.Nested(SuppressionSchema))
    total = fields.Integer(metadata={"description": "Entries matching the filters."})
    next_cursor = next_cursor_field()


class SuppressionsDeletedSchema(Schema):
    deleted = fields.Integer()


class CheckResultSchema(Schema):
    index = fields.Integer()
    suppressed = fields.Boolean()
    matched = fields.Nested(SuppressionSchema, allow_none=True)


class SuppressionsCheckedSchema(Schema):
    results = fields.List(fields.Nested(CheckResultSchema))
