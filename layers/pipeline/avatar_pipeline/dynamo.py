"""Plain Python values to and from DynamoDB attribute values (floats as Decimals, whole numbers back as ints).

The conversion is boto3's (``boto3.dynamodb.types``: its number context, types and errors; tests/unit/test_dynamo.py
holds the two to the same results), written out here because importing that module imports the boto3 package, and
with it s3transfer and multiprocessing: about 12 ms of every cold start, for what these 60 lines do.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

# DynamoDB's numbers: 38 significant digits, exponents from -130 to 125; anything else is refused, not rounded.
NUMBERS = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])


def to_value(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float | Decimal):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes | bytearray):
        return {"B": bytes(value)}
    if isinstance(value, Set):
        return _set(value)
    if isinstance(value, Mapping):
        return {"M": {key: to_value(item) for key, item in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_value(item) for item in value]}
    raise TypeError(f"Unsupported type {type(value)} for value {value!r}")


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _plain(value) for name, value in item.items()}


def _number(value: int | float | Decimal) -> str:
    number = str(NUMBERS.create_decimal(Decimal(str(value)) if isinstance(value, float) else value))
    if number in ("Infinity", "-Infinity", "NaN"):
        raise TypeError("Infinity and NaN not supported")
    return number


def _set(value: Set[Any]) -> dict[str, Any]:
    if any(isinstance(item, float) for item in value):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    if all(isinstance(item, int | Decimal) for item in value):
        return {"NS": [_number(item) for item in value]}
    if all(isinstance(item, str) for item in value):
        return {"SS": list(value)}
    if all(isinstance(item, bytes | bytearray) for item in value):
        return {"BS": [bytes(item) for item in value]}
    raise TypeError(f"Unsupported type {type(value)} for value {value!r}")


def _plain(value: dict[str, Any]) -> Any:
    """An attribute value as the plain value it stands for; numbers in sets stay Decimals, as boto3 gives them."""
    if not isinstance(value, dict) or len(value) != 1:
        raise TypeError("Value must be a nonempty dictionary whose key is a valid dynamodb type.")
    [(kind, content)] = value.items()
    if kind == "N":
        number = NUMBERS.create_decimal(content)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "M":
        return {key: _plain(item) for key, item in content.items()}
    if kind == "L":
        return [_plain(item) for item in content]
    if kind == "NS":
        return {NUMBERS.create_decimal(item) for item in content}
    if kind in ("SS", "BS"):
        return set(content)
    if kind == "NULL":
        return None
    if kind in ("S", "B", "BOOL"):
        return content
    raise TypeError(f"Dynamodb type {kind} is not supported")
