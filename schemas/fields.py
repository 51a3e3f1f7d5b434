"""Field types shared by the resource schemas: trimmed strings, identities, custom fields."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from marshmallow import ValidationError, fields
from marshmallow.experimental.context import Context
from marshmallow.utils import missing

from leads.domain.identity import InvalidIdentity, normalize_email, normalize_linkedin_url

CUSTOM_FIELD_KEY = re.compile(r"^[A-Za-z0-9_]{1,64}$")
CUSTOM_FIELDS_MAX_KEYS = 100
CUSTOM_FIELDS_MAX_BYTES = 16 * 1024
CUSTOM_FIELDS_MAX_DEPTH = 4

# The campaign type that lead schemas validate identities against, set by the route
# around argument parsing: {"type": "email" | "linkedin"}.
CampaignContext = Context[dict]

IDENTITY_FIELD_BY_TYPE = {"email": "email", "linkedin": "linkedin_url"}
_NORMALIZERS = {"email": normalize_email, "linkedin_url": normalize_linkedin_url}


def check_storable_text(value: str) -> None:
    """PostgreSQL text cannot hold NUL, and UTF-8 cannot hold lone surrogates.

    The fields that a batch holds thousands of call it only for text that is not plain
    ASCII without NUL (`not value.isascii() or "\\x00" in value`), for which it has nothing
    to say: a call less per string, ~8 a row.
    """
    if "\x00" in value:
        raise ValidationError("Must not contain NUL characters.")
    if value.isascii():
        return  # no surrogate can be there
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Must be valid Unicode (no lone surrogates).") from None


class ShortcutField(fields.Field):
    """A field that a batch holds thousands of: skips marshmallow's deserialize() passes where
    they would do nothing. For a value of exactly `plain_type` and no extra validators they
    would only call _deserialize(), which would only check the type before `_load_plain`;
    for an absent optional key without a default they would only return `missing`.
    Anything else takes marshmallow's own path.

    Each level of calls costs ~0.3-0.5 us here, paid ~8 times a row: `_load_plain` is the
    check itself, called straight from deserialize().
    """

    plain_type: type
    # The field's check of a value of exactly plain_type (each subclass names its own).
    _load_plain: Callable[[Any], Any]

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any):
        if type(value) is self.plain_type and not self.validators:
            return self._load_plain(value)
        if value is missing and not self.required and self.load_default is missing:
            return missing
        return super().deserialize(value, attr, data, **kwargs)

    @property
    def plain_loader(self) -> tuple[type, Callable[[Any], Any]] | None:
        """(plain_type, check): what deserialize() calls for a value of exactly that type,
        for a caller that holds many such fields (a row of a batch); None when the field
        has validators, which only marshmallow's own path runs."""
        return None if self.validators else (self.plain_type, self._load_plain)

    @property
    def skips_absent_key(self) -> bool:
        """deserialize(missing) is `missing`: a row without the key need not call it."""
        return not self.required and self.load_default is missing


class TrimmedString(ShortcutField, fields.String):
    """A string trimmed of surrounding white space; empty or blank counts as absent (null)."""

    plain_type = str

    def __init__(self, max_length: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("allow_none", True)
        if max_length is not None:
            kwargs.setdefault("metadata", {})["maxLength"] = max_length
        super().__init__(**kwargs)
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        return self._clean(super()._deserialize(value, attr, data, **kwargs))

    def _clean(self, text: str) -> str | None:
        if not text.isascii() or "\x00" in text:
            check_storable_text(text)
        text = text.strip()
        if not text:
            # allow_none=False (a campaign name) must not let a blank string through as null.
            if not self.allow_none:
                raise ValidationError("Field may not be blank.")
            return None
        if self.max_length is not None and len(text) > self.max_length:
            raise ValidationError(f"Longer than maximum length {self.max_length}.")
        return text

    _load_plain = _clean  # a str needs no type check


# A list of UUIDs as PostgreSQL and str(uuid.UUID) write them, lowercased, joined by commas.
_CANONICAL_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_CANONICAL_UUID_LIST = re.compile(rf"{_CANONICAL_UUID}(?:,{_CANONICAL_UUID})*")


class UuidTextList(fields.List):
    """A list of UUIDs, loaded as their canonical text (lowercase, hyphenated).

    A DELETE holds 500 ids that only go on to the database: a list of canonical ids, in
    either case, is lowercased and checked as one text, with one pattern, where building
    UUID objects, and text again for the query, cost more than the DELETE's round trips
    (and a pattern per id, 0.8 ms for 500 here, three times the one pattern). Any other
    list takes List(fields.UUID())'s own path: the same ids, the same errors.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.UUID(), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        if type(value) is list and set(map(type, value)) == {str}:
            text = ",".join(value)
            # ASCII only: then lower() maps A-Z alone, and makes no hex digit of anything
            # that was not one (a Kelvin sign lowercases to "k").
            lowered = text.lower() if text.isascii() else ""
            if _CANONICAL_UUID_LIST.fullmatch(lowered):
                ids = lowered.split(",")
                if len(ids) == len(value):  # else an item held a comma of its own
                    return ids
        return [str(item) for item in super()._deserialize(value, attr, data, **kwargs)]


class StrictBoolean(fields.Boolean):
    """A JSON true or false only: an irreversible action must not hang on 1 or "yes"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class IdentityField(fields.String):
    """email or linkedin_url, normalized; strict only when it is the campaign's identity.

    For the campaign's identity an absent, blank or invalid value is an error; for the
    other identity field an invalid value is dropped (stored as null).
    `required_in_load` says whether a missing key is an error (add) or "unchanged" (update).
    """

    def __init__(self, required_in_load: bool, **kwargs: Any) -> None:
        kwargs.setdefault("allow_none", True)
        super().__init__(**kwargs)
        self.required_in_load = required_in_load

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any):
        campaign_type = CampaignContext.get()["type"]
        is_campaign_identity = IDENTITY_FIELD_BY_TYPE[campaign_type] == self.name
        if value is missing and not self.required_in_load:
            return missing
        if value is not missing and value is not None:
            if type(value) is str:
                text = value
            else:
                text = fields.String._deserialize(self, value, attr, data, **kwargs)
            if not text.isascii() or "\x00" in text:
                check_storable_text(text)
            value = text.strip() or None
        if value is missing or value is None:
            if is_campaign_identity:
                verb = "is required" if self.required_in_load else "cannot be cleared"
                raise ValidationError(f"{self.name} {verb} for {campaign_type} campaigns")
            return None
        try:
            return _NORMALIZERS[self.name](value)
        except InvalidIdentity as error:
            if is_campaign_identity or not self.required_in_load:
                raise ValidationError(str(error)) from None
            return None


class CustomFields(ShortcutField):
    """A JSON object of per-lead template data: `%custom_fields.<key>%` in messages."""

    plain_type = dict

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_none", True)
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict:
        if not isinstance(value, dict):
            raise ValidationError("Not a valid mapping.")
        return self._check_mapping(value)

    def _check_mapping(self, value: dict) -> dict:
        if len(value) > CUSTOM_FIELDS_MAX_KEYS:
            raise ValidationError(f"Must hold at most {CUSTOM_FIELDS_MAX_KEYS} keys.")
        if not all(map(CUSTOM_FIELD_KEY.fullmatch, value)):  # match() would let "key\n" through
            raise ValidationError(
                [
                    f"Key {key!r} must match {CUSTOM_FIELD_KEY.pattern}."
                    for key in value
                    if not CUSTOM_FIELD_KEY.fullmatch(key)
                ]
            )
        # The exact size needs the whole object serialized; the bound that the checks
        # compute anyway is enough to pass the typical few short values without it.
        bound = 2 + 2 * len(value)  # braces, and a colon and a comma (at most) per key
        for key, item in value.items():
            if type(item) is str and item.isascii() and "\x00" not in item:
                bound += len(key) + 4 + 6 * len(item)  # _check_json_value's, without its call
            else:
                bound += len(key) + 2 + _check_json_value(item, key, depth=1)
        if bound <= CUSTOM_FIELDS_MAX_BYTES:
            return value
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        if size > CUSTOM_FIELDS_MAX_BYTES:
            raise ValidationError(
                f"Must be at most {CUSTOM_FIELDS_MAX_BYTES} bytes serialized, got {size}."
            )
        return value

    _load_plain = _check_mapping  # a dict needs no type check

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any):
        if value is None:
            return {}
        return super().deserialize(value, attr, data, **kwargs)


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
