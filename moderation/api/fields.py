"""Marshmallow fields shared by the API schemas."""

from __future__ import annotations

import unicodedata
from typing import Any

from marshmallow import ValidationError, fields


def has_control_characters(value: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value)


def refuse_nul(value: str) -> None:
    """Validator: PostgreSQL cannot store NUL in text, and no comment field needs one."""
    if isinstance(value, str) and "\x00" in value:
        raise ValidationError("Must not contain NUL characters.")


class Trimmed(fields.String):
    """A string with surrounding whitespace removed; empty optional values become None."""

    def __init__(self, *, empty_as_none: bool = False, single_line: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.empty_as_none = empty_as_none
        self.single_line = single_line

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        result = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in result:
            raise ValidationError("Must not contain NUL characters.")
        result = result.strip()
        if self.single_line and has_control_characters(result):
            raise ValidationError("Must not contain control or invisible formatting characters.")
        if not result and self.empty_as_none:
            return None
        return result

    def _validate(self, value: Any) -> None:
        # An empty optional value became None: there is no length to check.
        if value is not None:
            super()._validate(value)


class Identifier(fields.Field):
    """A CMS identifier: a non-empty string or a non-negative integer, kept as a string."""

    default_error_messages = {"invalid": "Must be a string or an integer of at most 200 characters."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int):
            value = str(value)
        if not isinstance(value, str):
            raise self.make_error("invalid")
        value = value.strip()
        if not value:
            return None
        if len(value) > 200 or has_control_characters(value):
            raise self.make_error("invalid")
        return value

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value
