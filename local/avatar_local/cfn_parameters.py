"""Template parameters as CloudFormation takes them: each value is the override or the default, and must meet every
constraint the template declares (Type Number, AllowedValues, AllowedPattern, MinLength, MaxLength, MinValue,
MaxValue), or the stack is refused with an error naming the parameter, as ``sam deploy`` refuses it."""

from __future__ import annotations

import math
import re
from typing import Any


class TemplateError(Exception):
    pass


def checked_parameters(declared: dict[str, dict[str, Any]], overrides: dict[str, str]) -> dict[str, str]:
    """Every declared parameter's value, checked against its constraints."""
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"unknown template parameter(s): {', '.join(sorted(unknown))}")
    values: dict[str, str] = {}
    for name, spec in declared.items():
        if name in overrides:
            value = overrides[name]
        elif "Default" in spec:
            value = str(spec["Default"])
        else:
            raise TemplateError(f"template parameter {name} has no default; pass {name}=... as an override")
        problem = constraint_violation(spec, value)
        if problem:
            hint = spec.get("ConstraintDescription")
            raise TemplateError(f"parameter {name}={value!r} {problem}" + (f" ({hint})" if hint else ""))
        values[name] = value
    return values


def constraint_violation(spec: dict[str, Any], value: str) -> str | None:
    """What is wrong with ``value`` for a parameter declared as ``spec``; None when it is acceptable."""
    kind = str(spec.get("Type", "String"))
    items = [item.strip() for item in value.split(",")] if kind.startswith(("List<", "CommaDelimitedList")) else [value]
    for item in items:
        problem = _number_violation(spec, item) if "Number" in kind else _string_violation(spec, item)
        if problem:
            return problem
    return None


def _allowed(spec: dict[str, Any], value: str, same: Any) -> str | None:
    allowed = spec.get("AllowedValues")
    if allowed and not any(same(value, item) for item in allowed):
        return f"is not one of the AllowedValues {[str(item) for item in allowed]}"
    return None


def _string_violation(spec: dict[str, Any], value: str) -> str | None:
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        return f"is shorter than MinLength {spec['MinLength']}"
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        return f"is longer than MaxLength {spec['MaxLength']}"
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), value) is None:
        return f"does not match the AllowedPattern {pattern}"
    return _allowed(spec, value, lambda actual, item: actual == str(item))


def _number(text: Any) -> float | None:
    try:
        number = float(str(text))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _number_violation(spec: dict[str, Any], value: str) -> str | None:
    number = _number(value)
    if number is None:
        return "is not a number"
    if "MinValue" in spec and number < float(spec["MinValue"]):
        return f"is below MinValue {spec['MinValue']}"
    if "MaxValue" in spec and number > float(spec["MaxValue"]):
        return f"is above MaxValue {spec['MaxValue']}"
    return _allowed(spec, value, lambda actual, item: _number(item) == number)
