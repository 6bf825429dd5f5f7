"""Every function's settings validate against exactly the environment template.yaml gives it, with the
parameters' defaults: no variable a function needs is missing from its template entry, and every default parses."""

import re
from pathlib import Path
from typing import Any

import pytest
from avatar_local.template import expand
from avatar_pipeline.settings import EnvSettings, SettingsError, load_settings

from .lambda_handlers import load_handler

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = expand(ROOT / "template.yaml", {}, "us-east-1")
FUNCTIONS = {
    logical: path.name
    for logical, path in TEMPLATE.local_paths.items()
    if TEMPLATE.resources.get(logical, {}).get("Type") == "AWS::Lambda::Function"
}
# Its one layer has no pydantic (c2pa-python takes the size budget): its settings are a dataclass, tested below.
WITHOUT_PYDANTIC = "SignVideoFunction"


def resolved(value: Any) -> str:
    """A template value as the deployed function sees it: a parameter's default, a resource's name."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        parameter = TEMPLATE.parameters.get(value["Ref"])
        return str(parameter["Default"]) if parameter else f"{value['Ref']}-name"
    if "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        return f"https://{logical}-{attribute}.example/".lower()
    if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{([^}]+)\}", lambda found: resolved({"Ref": found.group(1)}), value["Fn::Sub"])
    raise AssertionError(f"unexpected template value {value!r}")


@pytest.mark.parametrize("logical", sorted(set(FUNCTIONS) - {WITHOUT_PYDANTIC}))
def test_settings_validate_against_the_template_environment(logical: str, monkeypatch: pytest.MonkeyPatch) -> None:
    variables = TEMPLATE.resources[logical]["Properties"]["Environment"]["Variables"]
    with monkeypatch.context() as patch:
        for name, value in variables.items():
            patch.setenv(name, resolved(value))
        handler = load_handler(FUNCTIONS[logical])
    model = handler.Settings
    assert issubclass(model, EnvSettings)
    names = {field.alias for field in model.model_fields.values()}
    assert names <= set(variables), (
        f"{logical} reads variables its template entry does not give: {names - set(variables)}"
    )
    for name in names:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, resolved(value))
    load_settings(model)


def test_sign_video_reads_its_settings_from_the_template_environment_and_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    variables = TEMPLATE.resources[WITHOUT_PYDANTIC]["Properties"]["Environment"]["Variables"]
    with monkeypatch.context() as patch:
        for name, value in variables.items():
            patch.setenv(name, resolved(value))
        handler = load_handler(FUNCTIONS[WITHOUT_PYDANTIC])
    assert handler.SETTINGS.provider_secret_arn == resolved(variables["PROVIDER_SECRET_ARN"])
    monkeypatch.delenv("PROVIDER_SECRET_ARN", raising=False)
    with pytest.raises(RuntimeError, match="SignVideo needs PROVIDER_SECRET_ARN"):
        handler.Settings.from_environment()


def test_a_function_without_its_environment_fails_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    handler = load_handler("check_status")
    for field in handler.Settings.model_fields.values():
        monkeypatch.delenv(str(field.alias), raising=False)
    with pytest.raises(SettingsError, match="environment variable JOBS_TABLE is not set for this function"):
        load_settings(handler.Settings)
