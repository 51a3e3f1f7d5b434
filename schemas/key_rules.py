"""Rules on which keys a request object holds, beyond what each field checks.

A schema names its rule as its `key_rule` and checks it with `key_rule.check(data)`; the
OpenAPI document states the same rule as JSON Schema keywords (KeyRulesPlugin), so that the
check and the statement come from one object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apispec import BasePlugin
from marshmallow import ValidationError


@dataclass(frozen=True)
class AtLeastOneKey:
    """The object holds at least one key (an empty one is refused with `message`)."""

    message: str

    def check(self, data: Mapping) -> None:
        if not data:
            raise ValidationError(self.message)

    def json_schema(self) -> dict:
        return {"minProperties": 1}


@dataclass(frozen=True)
class ExactlyOneKey:
    """The object holds exactly one of `keys` (neither or several is refused with `message`)."""

    keys: tuple[str, ...]
    message: str

    def check(self, data: Mapping) -> None:
        if sum(key in data for key in self.keys) != 1:
            raise ValidationError(self.message)

    def json_schema(self) -> dict:
        return {"oneOf": [{"required": [key]} for key in self.keys]}


class KeyRulesPlugin(BasePlugin):
    """Adds the keywords of a schema's `key_rule` to its component in the document.

    apispec runs each plugin's schema helper on every schema it adds as a component, after
    the marshmallow plugin has converted the fields; what the helper returns is merged in.
    """

    def schema_helper(self, name: str, definition: dict, schema: Any = None, **kwargs: Any):
        rule = getattr(schema, "key_rule", None)
        return None if rule is None else rule.json_schema()
