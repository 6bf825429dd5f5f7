"""CloudFormation's intrinsic functions and creation order, over the resources created so far."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .cfn_parameters import TemplateError

ACCOUNT_ID = "123456789012"
SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
NO_VALUE = object()


@dataclass
class Created:
    physical_id: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Intrinsics:
    """Resolves Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select and Fn::Split against the parameters, the pseudo
    parameters and the resources in ``created``; anything else is refused, never passed on unresolved."""

    parameters: dict[str, str]
    region: str
    stack_name: str
    stack_id: str
    created: dict[str, Created] = field(default_factory=dict)

    def _pseudo(self, name: str) -> Any:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }.get(name)

    def ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.created:
            return self.created[name].physical_id
        raise TemplateError(f"Ref to unknown or not yet created {name}")

    def get_att(self, logical_id: str, attribute: str) -> str:
        created = self.created.get(logical_id)
        if created is None or attribute not in created.attributes:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} is not available locally")
        return created.attributes[attribute]

    def sub(self, value: str | list[Any]) -> str:
        text, variables = (value, {}) if isinstance(value, str) else (value[0], self.resolve(value[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.created:
                return self.get_att(*name.split(".", 1))
            return str(self.ref(name))

        return SUB_VARIABLE.sub(replace, text)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in (self.resolve(i) for i in node) if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            function = self._function(key)
            if function is not None:
                return function(value)
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not supported by the local stack")
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}

    def _function(self, key: str) -> Callable[[Any], Any] | None:
        """The intrinsic function ``key`` names, as the local stack supports it."""
        functions: dict[str, Callable[[Any], Any]] = {
            "Ref": self.ref,
            "Fn::GetAtt": lambda value: self.get_att(*(value if isinstance(value, list) else value.split(".", 1))[:2]),
            "Fn::Sub": self.sub,
            "Fn::Join": lambda value: value[0].join(str(item) for item in self.resolve(value[1])),
            "Fn::Select": lambda value: self.resolve(value[1])[int(self.resolve(value[0]))],
            "Fn::Split": lambda value: str(self.resolve(value[1])).split(value[0]),
        }
        return functions.get(key)


def references(node: Any) -> set[str]:
    """Every name ``node`` refers to through Ref, Fn::GetAtt or Fn::Sub."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".", 1)[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {name.split(".", 1)[0] for name in SUB_VARIABLE.findall(text)}
                if isinstance(value, list):
                    found |= references(value[1])
            else:
                found |= references(value)
    return found


def creation_order(resources: dict[str, dict[str, Any]]) -> list[str]:
    """Logical ids, each after everything it refers to or depends on (alphabetical among the ready ones)."""
    dependencies = {
        logical: {dep for dep in references(res) | set(_as_list(res.get("DependsOn"))) if dep in resources}
        for logical, res in resources.items()
    }
    order: list[str] = []
    while dependencies:
        ready = sorted(logical for logical, deps in dependencies.items() if not deps - set(order))
        if not ready:
            raise TemplateError(f"circular dependencies among {sorted(dependencies)}")
        order.extend(ready)
        for logical in ready:
            del dependencies[logical]
    return order


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
