"""Each provider's ``options``: unknown keys are rejected, values are checked, defaults follow the docs.

A request's ``options`` travel as the JSON object the caller wrote (contract); ``parse_options`` turns them, once per
job, into the typed options of the job's provider: a union discriminated by provider id, the one table of which
options each provider takes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from .errors import InvalidRequest, describe_validation


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


class WaveSpeedOmniHumanChoice(BaseModel):
    provider: Literal["wavespeed/omnihuman", "wavespeed/omnihuman-1.5"]
    options: NoOptions


class HunyuanAvatarChoice(BaseModel):
    provider: Literal["wavespeed/hunyuan-avatar"]
    options: HunyuanAvatarOptions


class VolcengineOmniHumanChoice(BaseModel):
    provider: Literal["volcengine/omnihuman-1.5"]
    options: VolcengineOmniHumanOptions


class KlingAvatarChoice(BaseModel):
    provider: Literal["kling/avatar"]
    options: KlingAvatarOptions


ProviderChoice = WaveSpeedOmniHumanChoice | HunyuanAvatarChoice | VolcengineOmniHumanChoice | KlingAvatarChoice
JobOptions = NoOptions | HunyuanAvatarOptions | VolcengineOmniHumanOptions | KlingAvatarOptions
Opts = TypeVar("Opts", bound=BaseModel)
_CHOICES: TypeAdapter[ProviderChoice] = TypeAdapter(Annotated[ProviderChoice, Field(discriminator="provider")])
OPTION_MODELS: dict[str, type[BaseModel]] = {
    provider: choice.model_fields["options"].annotation
    for choice in get_args(ProviderChoice)
    for provider in get_args(choice.model_fields["provider"].annotation)
}


def parse_options(provider: str, options: dict[str, Any]) -> JobOptions:
    """``options`` as ``provider`` takes them; unknown keys name what is allowed, bad values what is wrong."""
    try:
        return _CHOICES.validate_python({"provider": provider, "options": options}).options
    except ValidationError as error:
        unknown = sorted(str(item["loc"][-1]) for item in error.errors() if item["type"] == "extra_forbidden")
        if unknown:
            allowed = ", ".join(sorted(OPTION_MODELS[provider].model_fields)) or "none"
            raise InvalidRequest(
                f"unknown option(s) for {provider}: {', '.join(unknown)}; allowed: {allowed}"
            ) from None
        raise InvalidRequest(f"invalid options for {provider}: {describe_validation(error, skip=2)}") from error


def options_as(options: JobOptions, model: type[Opts], provider: str) -> Opts:
    """The job's options as the adapter of ``provider`` reads them (the job was parsed for another provider: a bug)."""
    if not isinstance(options, model):
        raise InvalidRequest(f"the job's options are not {provider}'s")
    return options
