"""Each provider's ``options``: unknown keys are rejected, values are checked, defaults follow the docs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class NoOptions(BaseModel):
    """The provider takes no options."""

    model_config = ConfigDict(extra="forbid")


class HunyuanAvatarOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", title="wavespeed/hunyuan-avatar options")

    resolution: Literal["480p", "720p"] = Field(default="480p", description="Output resolution.")


class VolcengineOmniHumanOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", title="volcengine/omnihuman-1.5 options")

    output_resolution: Literal[720, 1080] | None = Field(
        default=None, description="720 or 1080. Unset: follows pe_fast_mode (720 with fast mode, 1080 without)."
    )
    pe_fast_mode: bool | None = Field(
        default=None, description="Faster, slightly lower quality. Unset: true at 720, false at 1080."
    )
    mask_url: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=5,
        description="Masks of the subject that speaks: s3:// objects in the input bucket or https:// URLs.",
    )
    check_subject: bool = Field(
        default=False, description="Run subject recognition first; an image without a subject fails as InvalidMedia."
    )
    speaker: int | None = Field(
        default=None,
        ge=1,
        le=5,
        description="Run subject detection and make subject N (1 = largest) speak, using its mask.",
    )

    @model_validator(mode="after")
    def _one_way_to_choose_the_speaker(self) -> VolcengineOmniHumanOptions:
        if self.mask_url is not None and self.speaker is not None:
            raise ValueError("give either mask_url or speaker, not both")
        for url in self.mask_url or []:
            if not url.startswith(("s3://", "https://")):
                raise ValueError(f"mask_url entries must be s3:// or https:// URLs, got {url!r}")
        return self

    def quality(self) -> tuple[int, bool]:
        """The documented pairing: 720 with fast mode, 1080 without, unless both are given."""
        if self.output_resolution is not None and self.pe_fast_mode is not None:
            return self.output_resolution, self.pe_fast_mode
        if self.output_resolution is not None:
            return self.output_resolution, self.output_resolution == 720
        if self.pe_fast_mode is not None:
            return (720 if self.pe_fast_mode else 1080), self.pe_fast_mode
        return 1080, False


class KlingAvatarOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", title="kling/avatar options")

    mode: Literal["std", "pro"] = Field(default="std", description="std: cost-effective; pro: higher quality.")
    watermark: bool = Field(default=False, description="Also generate a watermarked result.")
    audio_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="Audio made by Kling's TTS in the last 30 days; replaces the request's audio.",
    )
