"""Request bodies as pydantic models: unknown fields refused, and the first problem told in the provider's words.

A model's ``problems`` word its errors, looked up by the field's dotted path, then by the error type; a template
may use ``{field}``, ``{msg}`` (pydantic's message) and ``{input}`` (the value). Without one, the defaults below
apply, and errors raised by this package's validators read ``{field} {msg}`` (``image_url must be an http(s) URL``).
"""

from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainValidator, ValidationError
from pydantic_core import ErrorDetails

from .media import MediaRef, http_url, media_ref

HttpUrl = Annotated[str, PlainValidator(http_url)]
Media = Annotated[MediaRef, PlainValidator(media_ref)]

_DEFAULTS = {
    "missing": "{field} is required",
    "string_type": "{field} must be a string",
    "bool_type": "{field} must be a boolean",
}


def _blank_is_absent(value: object) -> object:
    return None if value == "" else value


Blank = BeforeValidator(_blank_is_absent)
"""Annotates an optional field whose empty string means the field is not given."""


class BadRequest(ValueError):
    """A request body the provider refuses; the message says why."""


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    problems: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def parse(cls, body: object) -> Self:
        """The body as this model; raises BadRequest with the first problem."""
        return cls._checked(cls.model_validate, body)

    @classmethod
    def parse_json(cls, text: str) -> Self:
        """The JSON text as this model; raises BadRequest with the first problem."""
        return cls._checked(cls.model_validate_json, text)

    @classmethod
    def _checked(cls, validate: Callable[[Any], Self], value: object) -> Self:
        try:
            return validate(value)
        except ValidationError as exc:
            raise BadRequest(cls.describe(exc.errors())) from None

    @classmethod
    def describe(cls, errors: list[ErrorDetails]) -> str:
        """Unknown fields come first, as the providers check them; a field ``problems`` names before the rest."""
        unknown = sorted(str(error["loc"][-1]) for error in errors if error["type"] == "extra_forbidden")
        named = [cls.problems[name] for name in unknown if name in cls.problems]
        if named or unknown:
            return named[0] if named else f"unknown field: {', '.join(unknown)}"
        error = errors[0]
        # A mapping's key problem is located at "[key]" below the key; list indexes are left out.
        field = ".".join(part for part in error["loc"] if isinstance(part, str) and part != "[key]")
        template = (
            cls.problems.get(field)
            or cls.problems.get(error["type"])
            or _DEFAULTS.get(error["type"])
            or ("{field} {msg}" if field else "{msg}")
        )
        return template.format(field=field, msg=error["msg"], input=error["input"])
