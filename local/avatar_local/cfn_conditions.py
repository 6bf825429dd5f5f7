"""CloudFormation's Conditions: which resources a stack creates for its parameter values (``Condition:`` on a
resource), evaluated as CloudFormation does with ``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or`` and
``Condition``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .cfn_parameters import TemplateError


def evaluated(conditions: dict[str, Any], resolve: Callable[[Any], Any]) -> dict[str, bool]:
    """Every condition's value; ``resolve`` resolves the ``Ref``s and other intrinsics inside ``Fn::Equals``."""
    values: dict[str, bool] = {}

    def condition(name: str, seen: tuple[str, ...] = ()) -> bool:
        if name in seen:
            raise TemplateError(f"condition {name} refers to itself")
        if name not in values:
            if name not in conditions:
                raise TemplateError(f"unknown condition {name}")
            values[name] = evaluate(conditions[name], (*seen, name))
        return values[name]

    def evaluate(node: Any, seen: tuple[str, ...]) -> bool:
        if not isinstance(node, dict) or len(node) != 1:
            raise TemplateError(f"a condition must be one condition function, not {node!r}")
        ((function, argument),) = node.items()
        if function == "Condition":
            return condition(str(argument), seen)
        if function == "Fn::Equals":
            left, right = (resolve(item) for item in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not evaluate(argument[0], seen)
        if function == "Fn::And":
            return all(evaluate(item, seen) for item in argument)
        if function == "Fn::Or":
            return any(evaluate(item, seen) for item in argument)
        raise TemplateError(f"{function} is not a condition function the local stack supports")

    for name in conditions:
        condition(name)
    return values
