"""Field types shared by the resource schemas: trimmed strings, identities, domains, custom
fields, list cursors."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from marshmallow import ValidationError, fields, validate

from leads.domain.cursors import InvalidCursor, decode_cursor
from leads.domain.identity import (
    EMAIL_MAX_LENGTH,
    LINKEDIN_URL_MAX_LENGTH,
    InvalidIdentity,
    normalize_email,
    normalize_linkedin_url,
)
from leads_contract.strict_json import timestamp_text

CUSTOM_FIELD_KEY = re.compile(r"^[A-Za-z0-9_]{1,64}$")
CUSTOM_FIELDS_MAX_KEYS = 100
CUSTOM_FIELDS_MAX_BYTES = 16 * 1024
CUSTOM_FIELDS_MAX_DEPTH = 4


def check_storable_text(value: str) -> None:
    """PostgreSQL text cannot hold NUL, and UTF-8 cannot hold lone surrogates."""
    if "\x00" in value:
        raise ValidationError("Must not contain NUL characters.")
    if value.isascii():
        return  # no surrogate can be there
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Must be valid Unicode (no lone surrogates).") from None


# The white space str.strip() drops (str.isspace), spelled out: JSON Schema patterns are
# ECMA-262 regular expressions, whose \s is another set (it leaves out U+001C to U+001F and
# U+0085, and holds U+FEFF).
WHITE_SPACE_CLASS = (
    r"\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)
# What check_storable_text and the blank check leave, as JSON Schema patterns: no NUL; and,
# where null is not allowed, a character that is neither white space nor NUL.
STORABLE_PATTERN = r"^[^\u0000]*$"
NOT_BLANK_PATTERN = rf"^[^\u0000]*[^\u0000{WHITE_SPACE_CLASS}][^\u0000]*$"


class TrimmedString(fields.String):
    """A string trimmed of surrounding white space; empty or blank counts as absent (null)."""

    default_error_messages = {"blank": "Field may not be blank."}
    # The error of a blank value where null is not allowed.
    blank_error = "blank"

    def __init__(self, max_length: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("allow_none", True)
        metadata = kwargs["metadata"] = dict(kwargs.get("metadata") or {})
        metadata["pattern"] = STORABLE_PATTERN if kwargs["allow_none"] else NOT_BLANK_PATTERN
        if max_length is not None:
            # The limit counts the trimmed text, which JSON Schema's maxLength cannot say (a
            # longer value padded with white space is accepted): the document says it in words.
            rule = f"At most {max_length} characters, surrounding white space not counted."
            metadata["description"] = " ".join(filter(None, [metadata.get("description"), rule]))
        super().__init__(**kwargs)
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        check_storable_text(text)
        text = text.strip()
        if not text:
            # allow_none=False (a campaign name) must not let a blank string through as null.
            if not self.allow_none:
                raise self.make_error(self.blank_error)
            return None
        return self.load_trimmed(text)

    def load_trimmed(self, text: str) -> str | None:
        """The value of a trimmed, non-blank string."""
        if self.max_length is not None and len(text) > self.max_length:
            raise ValidationError(f"Longer than maximum length {self.max_length}.")
        return text


class StrictBoolean(fields.Boolean):
    """A JSON true or false only: an irreversible action must not hang on 1 or "yes"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class IdentityField(TrimmedString):
    """An identity (email or linkedin_url), trimmed and normalized; blank counts as null.

    Each subclass names its normalizer. A schema says how strict the field is:
    `allow_none=False` refuses null and blank with the field's "null" message (the
    campaign's own identity); `invalid_as_null=True` stores an invalid value as null
    instead of refusing it (the other identity of a new lead).
    """

    blank_error = "null"
    max_length: int
    normalize: Callable[[str], str]  # raises InvalidIdentity

    def __init__(self, *, invalid_as_null: bool = False, **kwargs: Any) -> None:
        super().__init__(max_length=self.max_length, **kwargs)
        self.invalid_as_null = invalid_as_null

    def load_trimmed(self, text: str) -> str | None:
        try:
            return self.normalize(text)
        except InvalidIdentity as error:
            if self.invalid_as_null:
                return None
            raise ValidationError(str(error)) from None


class EmailField(IdentityField):
    """An email address, as normalize_email keys it."""

    max_length = EMAIL_MAX_LENGTH
    normalize = staticmethod(normalize_email)


class LinkedinUrlField(IdentityField):
    """A LinkedIn profile URL, as normalize_linkedin_url keys it."""

    max_length = LINKEDIN_URL_MAX_LENGTH
    normalize = staticmethod(normalize_linkedin_url)


class CursorField(fields.String):
    """The `next_cursor` of a previous page, decoded into the position it holds. A subclass
    names another `decode` and what issued its cursors (`issued_by`, for the message)."""

    decode = staticmethod(decode_cursor)
    issued_by = "page"

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return self.decode(super()._deserialize(value, attr, data, **kwargs))
        except InvalidCursor:
            raise ValidationError(
                f"Not a valid cursor: pass the next_cursor of a previous {self.issued_by} "
                "unchanged."
            ) from None


def batch_of(item: fields.Field, max_items: int) -> fields.List:
    """A batch write's required list of 1 to `max_items` items."""
    return fields.List(item, required=True, validate=validate.Length(min=1, max=max_items))


def next_cursor_field(
    description: str = "Pass as `cursor` for the next page; null on the last page.",
) -> fields.String:
    """A page's `next_cursor`: where the next page starts, null on the last page."""
    return fields.String(allow_none=True, metadata={"description": description})


class Timestamp(fields.DateTime):
    """A timestamp, written as every body writes one (timestamp_text)."""

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any):
        return None if value is None else timestamp_text(value)


class CustomFields(fields.Field):
    """A JSON object of per-lead template data: `%custom_fields.<key>%` in messages.
    Null loads as an empty object."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_none", True)
        # The key syntax, the depth and the size are in words (OpenAPI 3.0 has no
        # propertyNames); the count is a schema keyword.
        metadata = {"type": "object", "maxProperties": CUSTOM_FIELDS_MAX_KEYS}
        kwargs["metadata"] = {**(kwargs.get("metadata") or {}), **metadata}
        super().__init__(**kwargs)

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any):
        if value is None:
            return {}
        return super().deserialize(value, attr, data, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict:
        if not isinstance(value, dict):
            raise ValidationError("Not a valid mapping.")
        if len(value) > CUSTOM_FIELDS_MAX_KEYS:
            raise ValidationError(f"Must hold at most {CUSTOM_FIELDS_MAX_KEYS} keys.")
        bad_keys = [key for key in value if not CUSTOM_FIELD_KEY.fullmatch(key)]
        if bad_keys:  # fullmatch: match() would let "key\n" through
            raise ValidationError(
                [f"Key {key!r} must match {CUSTOM_FIELD_KEY.pattern}." for key in bad_keys]
            )
        # The checks of the values compute a bound on the serialized size on the way: the
        # object is serialized to measure it exactly only when that bound is over the limit.
        bound = 2 + 2 * len(value)  # braces, and a colon and a comma (at most) per key
        for key, item in value.items():
            bound += len(key) + 2 + _check_json_value(item, key, depth=1)
        if bound <= CUSTOM_FIELDS_MAX_BYTES:
            return value
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        if size > CUSTOM_FIELDS_MAX_BYTES:
            raise ValidationError(
                f"Must be at most {CUSTOM_FIELDS_MAX_BYTES} bytes serialized, got {size}."
            )
        return value


def _check_json_value(value: Any, key: str, depth: int) -> int:
    """Check one value of custom_fields; return a bound on its serialized size in bytes."""
    if depth > CUSTOM_FIELDS_MAX_DEPTH:
        raise ValidationError(f"Value of {key!r} is nested deeper than {CUSTOM_FIELDS_MAX_DEPTH}.")
    if isinstance(value, str):
        try:
            check_storable_text(value)
        except ValidationError as error:
            raise ValidationError(f"Value of {key!r}: {error.messages[0]}") from None
        # Quotes, and at most 6 bytes a character: a \uXXXX escape, or 4 bytes of UTF-8.
        return 2 + 6 * len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return 2 + value.bit_length() // 3  # digits (bits x log10(2), rounded up) and sign
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"Value of {key!r} must be a finite number.")
        return 24  # the longest repr of a finite float: -1.7976931348623157e+308
    if isinstance(value, list):
        return 2 + len(value) + sum(_check_json_value(item, key, depth + 1) for item in value)
    if isinstance(value, dict):
        bound = 2 + 2 * len(value)
        for inner_key, item in value.items():
            bound += _check_json_value(inner_key, key, depth + 1)
            bound += _check_json_value(item, key, depth + 1)
        return bound
    return CUSTOM_FIELDS_MAX_BYTES + 1  # not from JSON: let the exact size decide
