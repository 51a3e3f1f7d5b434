"""Request and response shapes of /api/campaigns/{id}/leads."""

from __future__ import annotations

import functools

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema
from marshmallow.utils import missing

from leads.domain.cursors import InvalidCursor, decode_cursor
from leads.domain.statuses import LEAD_STATUSES
from schemas.campaigns import StatsSchema
from schemas.fields import (
    CustomFields,
    IdentityField,
    ShortcutField,
    StrictBoolean,
    TrimmedString,
    UuidTextList,
)

MAX_LEADS_PER_ADD = 1000
MAX_IDS_PER_DELETE = 500
MAX_PAGE = 9007199254740991
MAX_LIMIT = 200

# Keys of a lead that exist but are never editable through the API.
READ_ONLY_LEAD_KEYS = ("id", "campaign_id", "status", "created_at", "updated_at")


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
            "type": "object",
        }
    )


class LeadInputSchema(LeadFieldsSchema):
    """One lead to add. The campaign's identity field is required."""

    email = IdentityField(required_in_load=True, metadata={"maxLength": 254})
    linkedin_url = IdentityField(required_in_load=True, metadata={"maxLength": 512})

    def load(self, data, *, many=None, partial=None, unknown=None):
        # A batch holds 1000 of these: marshmallow's per-row machinery (error store, hook
        # and unknown-key passes) cost more than the checks themselves. A row every field
        # accepts is loaded field by field, with the same fields; any other row takes the
        # full load, which builds the error messages. tests/test_fast_paths.py holds the
        # two to one answer.
        row = None if many or partial or unknown else self.load_if_valid(data)
        if row is None:
            return super().load(data, many=many, partial=partial, unknown=unknown)
        return row

    def load_if_valid(self, data) -> dict | None:
        """The row loaded field by field with the schema's own fields when every field
        accepts it; None otherwise (then only the full load can say what is wrong)."""
        if type(data) is not dict or self._has_hooks:
            return None
        deserializers = self._field_deserializers
        if not data.keys() <= deserializers.keys():
            return None  # unknown keys: the full load names them
        plain_loaders = self._plain_loaders
        row = {}
        try:
            for name, value in data.items():
                plain = plain_loaders.get(name)
                if plain is not None and type(value) is plain[0]:
                    row[name] = plain[1](value)  # what deserialize() would call: see below
                else:
                    row[name] = deserializers[name](value, name, data)
            # Of the keys a row lacks, only those whose field does more than return
            # `missing` (the identities) need a call.
            for name, deserialize in self._absent_key_deserializers:
                if name not in data:
                    value = deserialize(missing, name, data)
                    if value is not missing:
                        row[name] = value
        except ValidationError:
            return None
        return row

    @functools.cached_property
    def _has_hooks(self) -> bool:
        return any(self._hooks.values())

    @functools.cached_property
    def _field_deserializers(self) -> dict:
        return {name: field.deserialize for name, field in self.load_fields.items()}

    @functools.cached_property
    def _plain_loaders(self) -> dict:
        """Each ShortcutField's plain_loader, called straight from load_if_valid: a call
        less per field (~1 ms for 1000 rows)."""
        loaders = {
            name: field.plain_loader
            for name, field in self.load_fields.items()
            if isinstance(field, ShortcutField)
        }
        return {name: loader for name, loader in loaders.items() if loader is not None}

    @functools.cached_property
    def _absent_key_deserializers(self) -> tuple:
        return tuple(
            (name, field.deserialize)
            for name, field in self.load_fields.items()
            if not getattr(field, "skips_absent_key", False)
        )


class LeadRows(fields.List):
    """List(Nested(LeadInputSchema)), with a shortcut for a batch whose every row is valid.

    The list and nested fields of marshmallow cost ~4 us a row (an error store, a schema
    load and a re-raise per row): a quarter of validating a batch of 1000. A batch whose
    rows all load by LeadInputSchema's own shortcut is that list of rows; any other batch
    takes the full path, which names every offending row.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(fields.Nested(LeadInputSchema), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is list and not kwargs.get("partial"):
            load_if_valid = self.inner.schema.load_if_valid
            rows = [load_if_valid(item) for item in value]
            if not any(row is None for row in rows):
                return rows
        return super()._deserialize(value, attr, data, **kwargs)


class LeadsAddSchema(Schema):
    class Meta:
        unknown = RAISE

    prospects = LeadRows(required=True, validate=validate.Length(min=1, max=MAX_LEADS_PER_ADD))


class LeadsAddQuerySchema(Schema):
    dry_run = fields.Boolean(
        load_default=False,
        metadata={"description": "Validate and report the outcome without writing anything."},
    )


class LeadUpdatesSchema(LeadFieldsSchema):
    """The fields to change; an absent key is left as it is, null or blank clears it."""

    email = IdentityField(required_in_load=False, metadata={"maxLength": 254})
    linkedin_url = IdentityField(required_in_load=False, metadata={"maxLength": 512})

    @pre_load
    def refuse_read_only_and_empty(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        read_only = {key: [f"{key} is not editable."] for key in READ_ONLY_LEAD_KEYS if key in data}
        if read_only:
            raise ValidationError(read_only)
        if not data:
            raise ValidationError("updates must hold at least one field.")
        return data


class LeadUpdateSchema(Schema):
    class Meta:
        unknown = RAISE

    prospect_id = fields.UUID(required=True)
    updates = fields.Nested(LeadUpdatesSchema, required=True)


class LeadsDeleteSchema(Schema):
    class Meta:
        unknown = RAISE

    prospect_ids = UuidTextList(validate=validate.Length(min=1, max=MAX_IDS_PER_DELETE))
    all = StrictBoolean(metadata={"description": "true removes every lead of the campaign."})

    @validates_schema
    def exactly_one_selector(self, data, **kwargs):
        has_ids = "prospect_ids" in data
        if has_ids == ("all" in data):
            raise ValidationError(
                'Send exactly one of "prospect_ids" and "all" (a wipe is never implied).'
            )
        if not has_ids and data["all"] is not True:
            raise ValidationError(
                {"all": ['Must be true; to remove some leads send "prospect_ids".']}
            )


class LeadCursorField(fields.String):
    """The `next_cursor` of a previous page, decoded into the position it holds."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return decode_cursor(super()._deserialize(value, attr, data, **kwargs))
        except InvalidCursor:
            raise ValidationError(
                "Not a valid cursor: pass the next_cursor of a previous page unchanged."
            ) from None


class LeadsListQuerySchema(Schema):
    page = fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, max=MAX_PAGE),
        metadata={"description": "Page number (OFFSET paging). Not with `cursor`."},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_LIMIT))
    status = fields.String(validate=validate.OneOf(LEAD_STATUSES))
    cursor = LeadCursorField(
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

    def load(self, data, *, many=None, partial=None, unknown=None):
        # Every GET of a page loads this: a query of plain values is read here, the way
        # the fields below would read it, without marshmallow's passes (~60 % of webargs'
        # parse). Anything else takes the full load, which alone writes the errors.
        # tests/test_fast_paths.py holds the two to one answer.
        query = None if many or partial else self.load_if_plain(data)
        if query is None:
            return super().load(data, many=many, partial=partial, unknown=unknown)
        return query

    def load_if_plain(self, data) -> dict | None:
        """The query loaded when it holds only known keys with values the fields accept
        as they are (page and limit in plain ASCII digits, within their ranges; a listed
        status; a cursor its field decodes); None otherwise."""
        if not data.keys() <= self.fields.keys() or ("page" in data and "cursor" in data):
            return None  # the second: page_or_cursor's error
        query = dict(self._defaults)
        for name, value in data.items():
            if type(value) is not str:
                return None
            if name == "page" or name == "limit":
                if not (value.isascii() and value.isdigit() and len(value) <= 16):
                    return None
                number = int(value)
                bounds = self._ranges[name]
                if not bounds.min <= number <= bounds.max:
                    return None
                query[name] = number
            elif name == "status":
                if value not in LEAD_STATUSES:
                    return None
                query[name] = value
            else:
                try:
                    query[name] = self.fields["cursor"].deserialize(value)
                except ValidationError:
                    return None
        return query

    @functools.cached_property
    def _ranges(self) -> dict[str, validate.Range]:
        """The Range validator of `page` and of `limit`: the fields' own bounds."""
        return {
            name: next(v for v in self.fields[name].validators if isinstance(v, validate.Range))
            for name in ("page", "limit")
        }

    @functools.cached_property
    def _defaults(self) -> dict:
        return {
            name: field.load_default
            for name, field in self.fields.items()
            if field.load_default is not missing
        }


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
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class LeadPageSchema(Schema):
    prospects = fields.List(fields.Nested(LeadSchema))
    total = fields.Integer(metadata={"description": "Leads matching the filter."})
    page = fields.Integer(
        allow_none=True, metadata={"description": "The page number; null when listed by cursor."}
    )
    limit = fields.Integer()
    next_cursor = fields.String(
        allow_none=True,
        metadata={
            "description": "Pass as `cursor` (with the same `status`) for the next page; "
            "null on the last page."
        },
    )


class AddResultSchema(Schema):
    index = fields.Integer()
    outcome = fields.String(validate=validate.OneOf(["imported", "duplicate"]))
    id = fields.UUID(metadata={"description": "The new lead, or the lead it duplicates."})
    identity = fields.String(metadata={"description": "The normalized dedup key."})
    duplicate_of = fields.String(allow_none=True, validate=validate.OneOf(["batch", "campaign"]))


class LeadsAddedSchema(Schema):
    imported = fields.Integer()
    duplicates = fields.Integer()
    results = fields.List(fields.Nested(AddResultSchema))
    stats = fields.Nested(StatsSchema)
    dry_run = fields.Boolean(metadata={"description": "Present (true) on a dry run only."})


class LeadUpdatedSchema(Schema):
    prospect = fields.Nested(LeadSchema)


class LeadsDeletedSchema(Schema):
    deleted = fields.Integer()
    stats = fields.Nested(StatsSchema)
