"""The local stack creates a resource with a ``Condition`` only when CloudFormation would."""

from __future__ import annotations

from typing import Any

import pytest
from avatar_local.cfn_conditions import evaluated
from avatar_local.cfn_parameters import TemplateError

PARAMETERS = {"AlarmEmail": "", "DailySpendAlarmUsd": "25", "Callbacks": "enabled"}


def _resolve(node: Any) -> Any:
    return PARAMETERS[node["Ref"]] if isinstance(node, dict) and "Ref" in node else node


def test_equals_not_and_or_and_conditions_referring_to_conditions() -> None:
    conditions = {
        "HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]},
        "HasDailySpendAlarm": {"Fn::Not": [{"Fn::Equals": [{"Ref": "DailySpendAlarmUsd"}, 0]}]},
        "Both": {"Fn::And": [{"Condition": "HasAlarmEmail"}, {"Condition": "HasDailySpendAlarm"}]},
        "Either": {"Fn::Or": [{"Condition": "HasAlarmEmail"}, {"Condition": "HasDailySpendAlarm"}]},
        "CallbacksOn": {"Fn::Equals": ["enabled", {"Ref": "Callbacks"}]},
    }
    assert evaluated(conditions, _resolve) == {
        "HasAlarmEmail": False,
        "HasDailySpendAlarm": True,
        "Both": False,
        "Either": True,
        "CallbacksOn": True,
    }


@pytest.mark.parametrize(
    "conditions",
    [
        {"A": {"Condition": "A"}},
        {"A": {"Condition": "Missing"}},
        {"A": {"Fn::If": ["B", True, False]}},
        {"A": "true"},
    ],
)
def test_what_cloudformation_would_refuse_is_refused(conditions: dict[str, Any]) -> None:
    with pytest.raises(TemplateError):
        evaluated(conditions, _resolve)
