"""CloudFormation's Conditions: which resources a stack creates for its parameter values (``Condition:`` on a
resource), evaluated as CloudFormation does with ``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or`` and
``Condition``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .cfn_parameters import TemplateError


@dataclass
class _Conditions:
    conditions: dict[str, Any]
    resolve: Callable[[Any], Any]
    values: dict[str, bool] = field(default_factory=dict)

    def condition(self, name: str, seen: tuple[str, ...] = ()) -> bool:
        if name in seen:
            raise TemplateError(f"condition {name} refers to itself")
        if name not in self.values:
            if name not in self.conditions:
                raise TemplateError(f"unknown condition {name}")
            self.values[name] = self.evaluate(self.conditions[name], (*seen, name))
        return self.values[name]

    def evaluate(self, node: Any, seen: tuple[str, ...]) -> bool:
        if not isinstance(node, dict) or len(node) != 1:
            raise TemplateError(f"a condition must be one condition function, not {node!r}")
        ((function, argument),) = node.items()
        functions: dict[str, Callable[[Any], bool]] = {
            "Condition": lambda name: self.condition(str(name), seen),
            "Fn::Equals": lambda pair: str(self.resolve(pair[0])) == str(self.resolve(pair[1])),
            "Fn::Not": lambda items: not self.evaluate(items[0], seen),
            "Fn::And": lambda items: all(self.evaluate(item, seen) for item in items),
            "Fn::Or": lambda items: any(self.evaluate(item, seen) for item in items),
        }
        if function not in functions:
            raise TemplateError(f"{function} is not a condition function the local stack supports")
        return functions[function](argument)


def evaluated(conditions: dict[str, Any], resolve: Callable[[Any], Any]) -> dict[str, bool]:
    """Every condition's value; ``resolve`` resolves the ``Ref``s and other intrinsics inside ``Fn::Equals``."""
    found = _Conditions(conditions, resolve)
    return {name: found.condition(name) for name in conditions}
