"""Pydantic models at the pipeline's boundaries: the job request (contract), the normalized job,
and the records passed between the state machine's steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from .options import JobOptions, parse_options
from .request_rules import JobId, OutputPrefix

MAX_OUTPUT_PREFIX_CHARS = 256
MAX_MEDIA_REF_CHARS = 2048


class AigcMeta(BaseModel):
    """Implicit AIGC labelling metadata (Volcengine ``req_json.aigc_meta``); each field at most 256 chars."""

    model_config = ConfigDict(extra="forbid")

    content_producer: str | None = Field(default=None, max_length=256)
    producer_id: str = Field(min_length=1, max_length=256)
    content_propagator: str = Field(min_length=1, max_length=256)
    propagate_id: str | None = Field(default=None, max_length=256)


class JobRequest(BaseModel):
    """The one job request shape of every entry point (contract field names)."""

    model_config = ConfigDict(extra="forbid", title="Avatar video job request")

    provider: str | None = Field(
        default=None,
        description="Provider id, e.g. wavespeed/omnihuman-1.5; defaults to the stack's default.",
    )
    image: str = Field(
        min_length=1,
        max_length=MAX_MEDIA_REF_CHARS,
        description="Portrait: a key relative to the manifest's folder, an s3://bucket/key URI or an https:// URL.",
    )
    audio: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_MEDIA_REF_CHARS,
        description="Voice track, same forms as image. Kling's options.audio_id replaces it.",
    )
    prompt: str | None = Field(default=None, max_length=2500, description="Text guiding motion and camera.")
    seed: int | None = Field(default=None, ge=-1, le=2_147_483_647, description="Random seed; -1 is random.")
    options: dict[str, Any] = Field(
        default_factory=dict, description="Provider-specific options; unknown options are an error."
    )
    aigc_meta: AigcMeta | None = Field(default=None, description="AIGC labelling metadata (Volcengine).")
    output_prefix: OutputPrefix = Field(
        default="",
        max_length=MAX_OUTPUT_PREFIX_CHARS,
        description="Folder in the output bucket, ending with '/'. Output: <output_prefix><job_id>/video.mp4.",
    )
    job_id: JobId | None = Field(
        default=None,
        description=(
            "Idempotency key: letters, digits, '.', '_', '-', at most 64 chars. Derived from the trigger if absent."
        ),
    )
    max_cost_usd: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="The most this job may cost (estimate: price per output second x audio seconds); "
        "over it, BudgetExceeded before anything is submitted.",
    )

    @model_validator(mode="after")
    def _check_audio_source(self) -> JobRequest:
        has_audio_id = "audio_id" in self.options
        if self.audio is None and not has_audio_id:
            raise ValueError("audio is required (or options.audio_id for providers that support it)")
        if self.audio is not None and has_audio_id:
            raise ValueError("give either audio or options.audio_id, not both")
        return self


class S3Location(BaseModel):
    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class MediaSource(BaseModel):
    """Where a medium lives: an object in the input bucket or an https URL."""

    model_config = ConfigDict(frozen=True)

    s3: S3Location | None = None
    url: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> MediaSource:
        if (self.s3 is None) == (self.url is None):
            raise ValueError("exactly one of s3 or url")
        return self

    @property
    def display(self) -> str:
        return self.s3.uri if self.s3 else str(self.url)


TriggerKind = Literal["manifest", "event", "console", "pair", "batch"]


class Origin(BaseModel):
    """What started a job attempt: the trigger the jobs table and the outcome events name.

    ``delivery_id`` identifies this delivery of the trigger (an S3 object version, an event id, an execution
    name): a trigger delivered twice repeats it, so the second delivery is told apart from a re-run.
    """

    model_config = ConfigDict(frozen=True)

    kind: TriggerKind
    delivery_id: str
    manifest: str | None = None
    pair: tuple[str, str] | None = None
    event_id: str | None = None
    execution_name: str | None = None
    batch: dict[str, str] | None = None  # the batch file a row comes from: name, batch_id, key
    row: int | None = None

    def describe(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, exclude={"delivery_id"})

    @classmethod
    def execution(cls, name: str) -> Origin:
        """A run known only by its execution: a console input, or a run whose trigger could not be read."""
        return cls(kind="console", delivery_id=f"execution:{name}", execution_name=name)


class JobRef(BaseModel):
    """Who a run is about, known even when its request is invalid: what Claim and RecordOutcome need."""

    job_id: str
    origin: Origin
    provider: str | None = None
    request_hash: str | None = None  # None: the request never became valid


class Job(BaseModel):
    """A validated job: the request plus what intake resolved (id, provider, media locations, trigger)."""

    job_id: str
    provider: str
    image: MediaSource
    audio: MediaSource | None
    request: JobRequest
    trigger: TriggerKind
    manifest: S3Location | None = None
    requested_at: datetime
    origin: Origin | None = None
    request_hash: str | None = None
    attempt: int = Field(default=0, ge=0, description="Set by Claim; 0 until the job is claimed.")
    _options: JobOptions = PrivateAttr()

    @model_validator(mode="after")
    def _parse_options(self) -> Job:
        self._options = parse_options(self.provider, self.request.options)
        return self

    @property
    def options(self) -> JobOptions:
        """The request's ``options``, typed as the job's provider takes them (parsed once, with the job)."""
        return self._options

    def output_key(self, name: str) -> str:
        return f"{self.request.output_prefix}{self.job_id}/{name}"


class MediaProbe(BaseModel):
    """What validation found out about one input, and where its bytes are (in the input bucket)."""

    source: str
    location: S3Location
    format: str
    size_bytes: int
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    duration_estimated: bool | None = None
    sample_rate: int | None = None
    channels: int | None = None
    bytes_read: int | None = None


class ValidatedMedia(BaseModel):
    image: MediaProbe
    audio: MediaProbe | None = None


TaskStatus = Literal["running", "succeeded"]


class ProviderTask(BaseModel):
    """The provider task as the state machine carries it between Submit and CheckStatus."""

    provider: str
    task_id: str
    stage: str = "generate"
    status: TaskStatus = "running"
    submitted_at: datetime
    deadline: datetime
    polls: int = 0
    next_wait_seconds: int
    estimated_generation_seconds: float  # the profile's, corrected by what this provider's jobs took (estimates.py)
    profile_estimate_seconds: float | None = None  # the profile's alone; None when the audio's length is unknown
    detected_at: datetime | None = None  # when we learned the task was done (the status check or the callback)
    provider_completed_at: datetime | None = None  # when the provider says it finished, where its API says so
    observed_generation_seconds: float | None = None  # what the task took: the provider's time, else the checks'
    reported_units: float | None = None  # what the provider charged, in its units, when it says
    callbacks: bool = False  # the provider was told to call back; the wait is also resumed by a callback


class PersistedResult(BaseModel):
    bucket: str
    video_key: str
    result_key: str
    video_uri: str
    result_uri: str
    version_id: str | None = None
    size_bytes: int
    crc32: str | None = None  # the video's FULL_OBJECT CRC-32 as S3 reports it (base64)
    duration_seconds: float | None
    estimated_cost_usd: float | None
    actual_units: float | None = None  # what the provider reported charging, in its units (Kling)
    actual_cost_usd: float | None = None  # the same in USD, where a unit's price is known (KlingUsdPerUnit)
    aigc_meta_tagged: bool | None = None
    aigc_label: dict[str, str] | None = None  # the AIGC label's fields as written into the video, None if off
    c2pa: str | None = None  # the C2PA manifest's label, when outputs are signed
    c2pa_failure: str | None = None  # why signing failed, when it was not required
    persisted_at: datetime
    timings: dict[str, Any] | None = None  # result.json's timings (timings.py); copied onto the record at success


class StepFailure(BaseModel):
    """``ResultPath: $.error`` of a Catch: Step Functions' error name and raw cause."""

    Error: str
    Cause: str | None = None
