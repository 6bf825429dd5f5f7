"""Provider options: unknown keys refused, documented defaults, and the capability table's cost estimate."""

from __future__ import annotations

import pytest
from avatar_pipeline.capabilities import CAPABILITIES, KLING_AVATAR, VOLCENGINE_OMNIHUMAN_15, WAVESPEED_OMNIHUMAN_15
from avatar_pipeline.errors import InvalidMedia
from avatar_pipeline.media import check_audio_duration
from avatar_pipeline.options import HunyuanAvatarOptions, KlingAvatarOptions, VolcengineOmniHumanOptions
from avatar_pipeline.pricing import estimated_cost_usd
from avatar_pipeline.providers.registry import CONTRACT_PROVIDER_IDS, PROVIDERS
from pydantic import ValidationError


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, (1080, False)),
        ({"output_resolution": 720}, (720, True)),
        ({"output_resolution": 1080}, (1080, False)),
        ({"pe_fast_mode": True}, (720, True)),
        ({"pe_fast_mode": False}, (1080, False)),
        ({"output_resolution": 1080, "pe_fast_mode": True}, (1080, True)),
    ],
)
def test_volcengine_quality_follows_the_documented_pairing(
    given: dict[str, object], expected: tuple[int, bool]
) -> None:
    assert VolcengineOmniHumanOptions.model_validate(given).quality() == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"output_resolution": 480}, "output_resolution"),
        ({"mask_url": ["s3://b/m.png"], "speaker": 1}, "either mask_url or speaker"),
        ({"mask_url": ["http://x/m.png"]}, "s3:// or https://"),
        ({"mask_url": []}, "mask_url"),
        ({"speaker": 0}, "speaker"),
        ({"resolution": "720p"}, "Extra inputs are not permitted"),
    ],
)
def test_volcengine_options_refuse_bad_values(given: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        VolcengineOmniHumanOptions.model_validate(given)


def test_hunyuan_and_kling_defaults() -> None:
    assert HunyuanAvatarOptions().resolution == "480p"
    assert KlingAvatarOptions().model_dump() == {"mode": "std", "watermark": False, "audio_id": None}
    with pytest.raises(ValidationError):
        KlingAvatarOptions.model_validate({"mode": "turbo"})


def test_the_capability_table_and_the_registry_cover_exactly_the_contract_providers() -> None:
    assert set(CAPABILITIES) == set(CONTRACT_PROVIDER_IDS)
    assert set(PROVIDERS) == set(CONTRACT_PROVIDER_IDS)
    assert all(entry.capabilities is CAPABILITIES[provider] for provider, entry in PROVIDERS.items())


def test_every_registry_row_names_an_adapter_class_and_a_bad_row_fails_by_name() -> None:
    from avatar_pipeline.providers.base import ProviderAdapter
    from avatar_pipeline.providers.registry import ProviderEntry

    for entry in PROVIDERS.values():
        assert issubclass(entry.factory, ProviderAdapter)
    wrong = ProviderEntry(CAPABILITIES["kling/avatar"], "kling_tasks.KlingTask")
    with pytest.raises(TypeError, match=r"kling_tasks\.KlingTask is not a ProviderAdapter"):
        _ = wrong.factory


def test_cost_estimate_uses_the_price_per_output_second() -> None:
    assert estimated_cost_usd(WAVESPEED_OMNIHUMAN_15.provider_id, 4.0, {}) == pytest.approx(0.6)
    assert estimated_cost_usd(WAVESPEED_OMNIHUMAN_15.provider_id, None, {}) is None
    assert KLING_AVATAR.price_per_output_second_usd is None, "Kling publishes no per-second price"
    assert estimated_cost_usd(KLING_AVATAR.provider_id, 4.0, {}) is None, "and the stack set none"


def test_audio_duration_limits_name_the_file_the_duration_and_the_limit() -> None:
    with pytest.raises(
        InvalidMedia, match=r"audio s3://b/a\.wav is 73\.2 s; volcengine/omnihuman-1\.5 accepts under 60 s"
    ):
        check_audio_duration("s3://b/a.wav", 73.2, VOLCENGINE_OMNIHUMAN_15)
    with pytest.raises(InvalidMedia, match="kling/avatar needs at least 2 s"):
        check_audio_duration("s3://b/a.wav", 1.5, KLING_AVATAR)
    check_audio_duration("s3://b/a.wav", 59.9, VOLCENGINE_OMNIHUMAN_15)
    check_audio_duration("s3://b/a.wav", None, KLING_AVATAR)
