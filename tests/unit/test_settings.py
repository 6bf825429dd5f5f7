"""Each function's settings: read once from the environment, a missing or malformed variable named in the failure."""

import pytest
from avatar_pipeline.attempt_end import AttemptEndSettings
from avatar_pipeline.providers.registry import ProviderSettings
from avatar_pipeline.settings import SettingsError, load_settings

SLOTS = {
    "ADMISSION_TABLE": "admission",
    "PROVIDER_CONCURRENCY": "wavespeed=10,kling=5",
    "DISPATCHER_FUNCTION": "dispatch",
    "DAILY_BUDGET_USD": "12.5",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (*SLOTS, "JOB_DEADLINE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in SLOTS.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_values_are_parsed_once_into_their_types(env: pytest.MonkeyPatch) -> None:
    settings = load_settings(AttemptEndSettings)
    assert settings.provider_concurrency == {"wavespeed": 10, "kling": 5}
    assert (settings.daily_budget_usd, settings.job_deadline_seconds) == (12.5, 10800)
    assert load_settings(AttemptEndSettings) is settings, "the same environment is validated once"


def test_a_missing_variable_is_named(env: pytest.MonkeyPatch) -> None:
    env.setenv("DISPATCHER_FUNCTION", "")
    with pytest.raises(SettingsError, match="environment variable DISPATCHER_FUNCTION is not set for this function"):
        load_settings(AttemptEndSettings)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("JOB_DEADLINE_SECONDS", "3h", "JOB_DEADLINE_SECONDS must be an integer, got '3h'"),
        ("PROVIDER_CONCURRENCY", "wavespeed:10", "PROVIDER_CONCURRENCY is invalid .*account=N pairs"),
        ("DAILY_BUDGET_USD", "lots", "DAILY_BUDGET_USD is invalid"),
    ],
)
def test_a_malformed_variable_is_named(env: pytest.MonkeyPatch, name: str, value: str, expected: str) -> None:
    env.setenv(name, value)
    with pytest.raises(SettingsError, match=expected):
        load_settings(AttemptEndSettings)


def test_each_provider_family_has_its_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "WAVESPEED_BASE_URL": "https://w.test",
        "VOLCENGINE_BASE_URL": "https://v.test",
        "KLING_BASE_URL": "https://k.test",
        "PROVIDER_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:provider",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(ProviderSettings)
    assert settings.base_url("wavespeed/hunyuan-avatar") == "https://w.test"
    assert settings.base_url("volcengine/omnihuman-1.5") == "https://v.test"
    assert settings.base_url("kling/avatar") == "https://k.test"
