"""What each provider accepts and costs: one table that validation, the docs and the cost estimate read."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidRequest

MIB = 1024 * 1024


@dataclass(frozen=True)
class ProviderCapabilities:
    provider_id: str
    api: str
    image_formats: frozenset[str]
    max_image_bytes: int | None
    audio_formats: frozenset[str]
    max_audio_bytes: int | None
    max_audio_seconds: float | None
    supports_prompt: bool
    max_prompt_chars: int | None  # None: no documented limit beyond the request's own 2500
    supports_seed: bool
    # None where the provider publishes no price per output second (then the stack's own: pricing.py).
    price_per_output_second_usd: float | None
    # Profile for the first poll: seconds of generation per second of audio.
    generation_seconds_per_audio_second: float
    min_audio_seconds: float | None = None
    min_image_side_px: int | None = None
    # Allowed width/height ratio, inclusive.
    aspect_ratio_range: tuple[float, float] | None = None
    # True where the provider's API says when a task finished (WaveSpeed: created_at + timings.inference; Kling: the
    # task's updated_at): generation time by its clock, and a detection lag (timings.py). Volcengine says nothing.
    reports_completion_time: bool = False


_WAVESPEED_IMAGES = frozenset({"png", "jpeg", "webp"})
_COMMON_AUDIO = frozenset({"mp3", "wav", "m4a", "aac"})

WAVESPEED_OMNIHUMAN = ProviderCapabilities(
    provider_id="wavespeed/omnihuman",
    api="WaveSpeedAI v3 bytedance/avatar-omni-human",
    image_formats=_WAVESPEED_IMAGES,
    max_image_bytes=50 * MIB,
    audio_formats=_COMMON_AUDIO,
    max_audio_bytes=None,
    max_audio_seconds=None,
    supports_prompt=False,
    max_prompt_chars=None,
    supports_seed=False,
    price_per_output_second_usd=0.12,
    generation_seconds_per_audio_second=5.0,
    reports_completion_time=True,
)

WAVESPEED_OMNIHUMAN_15 = ProviderCapabilities(
    provider_id="wavespeed/omnihuman-1.5",
    api="WaveSpeedAI v3 bytedance/avatar-omni-human-1.5",
    image_formats=_WAVESPEED_IMAGES,
    max_image_bytes=50 * MIB,
    audio_formats=_COMMON_AUDIO,
    max_audio_bytes=None,
    max_audio_seconds=None,
    supports_prompt=False,
    max_prompt_chars=None,
    supports_seed=False,
    price_per_output_second_usd=0.15,
    generation_seconds_per_audio_second=6.0,
    reports_completion_time=True,
)

WAVESPEED_HUNYUAN_AVATAR = ProviderCapabilities(
    provider_id="wavespeed/hunyuan-avatar",
    api="WaveSpeedAI v3 wavespeed-ai/hunyuan-avatar",
    image_formats=_WAVESPEED_IMAGES,
    max_image_bytes=50 * MIB,
    audio_formats=_COMMON_AUDIO,
    max_audio_bytes=None,
    max_audio_seconds=120.0,
    supports_prompt=True,
    max_prompt_chars=None,
    supports_seed=True,
    price_per_output_second_usd=0.03,  # $0.15 per 5 s
    generation_seconds_per_audio_second=8.0,
    reports_completion_time=True,
)

VOLCENGINE_OMNIHUMAN_15 = ProviderCapabilities(
    provider_id="volcengine/omnihuman-1.5",
    api="Volcengine Visual CVSubmitTask / CVGetResult, req_key jimeng_realman_avatar_picture_omni_v15",
    image_formats=frozenset({"png", "jpeg", "webp"}),
    max_image_bytes=None,
    audio_formats=_COMMON_AUDIO,
    max_audio_bytes=None,
    max_audio_seconds=60.0,  # "under 60 s": longer audio is accepted at submit and fails later with 50215
    supports_prompt=True,
    max_prompt_chars=300,  # the documented recommendation
    supports_seed=True,
    price_per_output_second_usd=None,
    generation_seconds_per_audio_second=6.0,
)

KLING_AVATAR = ProviderCapabilities(
    provider_id="kling/avatar",
    api="Kling POST /v1/videos/avatar/image2video",
    image_formats=frozenset({"png", "jpeg"}),
    max_image_bytes=10 * MIB,
    audio_formats=_COMMON_AUDIO,
    max_audio_bytes=5 * MIB,
    max_audio_seconds=300.0,
    min_audio_seconds=2.0,
    supports_prompt=True,
    max_prompt_chars=2500,
    supports_seed=False,
    price_per_output_second_usd=None,
    generation_seconds_per_audio_second=8.0,
    min_image_side_px=300,
    aspect_ratio_range=(1 / 2.5, 2.5),
    reports_completion_time=True,
)

CAPABILITIES: dict[str, ProviderCapabilities] = {
    caps.provider_id: caps
    for caps in (
        VOLCENGINE_OMNIHUMAN_15,
        WAVESPEED_OMNIHUMAN,
        WAVESPEED_OMNIHUMAN_15,
        WAVESPEED_HUNYUAN_AVATAR,
        KLING_AVATAR,
    )
}


def capabilities_of(provider_id: str) -> ProviderCapabilities:
    """``provider_id``'s row; ``InvalidRequest`` naming the ids there are for any other. Functions that only check a
    request against a provider read this table, not the registry, which imports every adapter."""
    capabilities = CAPABILITIES.get(provider_id)
    if capabilities is None:
        raise InvalidRequest(f"unknown provider {provider_id!r}; available: {', '.join(sorted(CAPABILITIES))}")
    return capabilities
