"""What each provider accepts and costs: one table that validation, the docs and the cost estimate read."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class ProviderCapabilities:
    provider_id: str
    api: str
    image_formats: frozenset[str]
    max_image_bytes: int
    audio_formats: frozenset[str]
    max_audio_bytes: int
    max_audio_seconds: float | None
    max_prompt_chars: int | None  # None: the provider takes no prompt
    supports_seed: bool
    price_per_output_second_usd: float
    # Profile for the first poll: seconds of generation per second of audio.
    generation_seconds_per_audio_second: float
    result_url_lifetime_seconds: int

    def estimated_cost_usd(self, output_seconds: float | None) -> float | None:
        if output_seconds is None:
            return None
        return round(self.price_per_output_second_usd * output_seconds, 4)


WAVESPEED_OMNIHUMAN_15 = ProviderCapabilities(
    provider_id="wavespeed/omnihuman-1.5",
    api="WaveSpeedAI v3 bytedance/avatar-omni-human-1.5",
    image_formats=frozenset({"png", "jpeg", "webp"}),
    max_image_bytes=50 * MIB,
    audio_formats=frozenset({"mp3", "wav", "m4a", "aac"}),
    max_audio_bytes=50 * MIB,
    max_audio_seconds=None,
    max_prompt_chars=None,
    supports_seed=False,
    price_per_output_second_usd=0.15,
    generation_seconds_per_audio_second=6.0,
    result_url_lifetime_seconds=7 * 24 * 3600,
)
