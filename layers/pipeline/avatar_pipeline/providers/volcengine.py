"""Volcengine Visual, OmniHuman 1.5: ``POST /?Action=CVSubmitTask|CVGetResult|CVProcess&Version=2022-08-31``.

JSON bodies, signed with SignerV4 (``volcengine_signing``); answers and their codes: ``volcengine_answers``.

Flow: optional subject recognition (an asynchronous task, stage ``subject_check``), optional subject
detection (synchronous ``CVProcess``, to pick the mask of the subject that speaks), then the video task
(stage ``generate``). Task status: ``processing`` / ``in_queue`` / ``generating`` → ``done`` (success, or a
failure told by the outer code), ``not_found`` (never existed or older than 12 h), ``expired``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from ..capabilities import ProviderCapabilities
from ..credentials import provider_credentials
from ..errors import (
    InvalidMedia,
    InvalidRequest,
    ProviderRejected,
    ProviderTaskFailed,
    ProviderUnavailable,
    ResultUnavailable,
)
from ..models import Job
from ..options import VolcengineOmniHumanOptions, options_as
from .api import ProviderApi, validated
from .base import GENERATE, PresignedInputs, ProviderAdapter, ResultLocation, TaskCheck, TaskRef
from .volcengine_answers import NAME, VolcengineDialect
from .volcengine_signing import SignerV4Auth

VERSION = "2022-08-31"
VIDEO_REQ_KEY = "jimeng_realman_avatar_picture_omni_v15"
SUBJECT_REQ_KEY = "jimeng_realman_avatar_picture_create_role_omni_v15"
DETECTION_REQ_KEY = "jimeng_realman_avatar_object_detection"
SUBJECT_CHECK = "subject_check"
RUNNING_STATUSES = frozenset({"processing", "in_queue", "generating"})


class SubmitData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    task_id: str | int


class TaskData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: str = Field(min_length=1)
    video_url: str | None = None
    aigc_meta_tagged: bool | None = None
    resp_data: str | dict[str, Any] | None = None


class ProcessData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    resp_data: str | dict[str, Any] | None = None


def _keys(secret_arn: str) -> tuple[str, str]:
    credentials = provider_credentials(secret_arn, NAME)
    access_key_id, secret_access_key = credentials.get("access_key_id"), credentials.get("secret_access_key")
    if not isinstance(access_key_id, str) or not access_key_id:
        raise ProviderRejected("the provider secret has no volcengine.access_key_id")
    if not isinstance(secret_access_key, str) or not secret_access_key:
        raise ProviderRejected("the provider secret has no volcengine.secret_access_key")
    return access_key_id, secret_access_key


class VolcengineAdapter(ProviderAdapter):
    def __init__(
        self, capabilities: ProviderCapabilities, base_url: str, client: httpx.Client, secret_arn: str
    ) -> None:
        self.capabilities = capabilities
        self.api = ProviderApi(VolcengineDialect(), base_url, client, SignerV4Auth(lambda: _keys(secret_arn)))

    # --- the adapter interface ---------------------------------------------------------------------

    def first_stage(self, job: Job) -> str:
        return SUBJECT_CHECK if _options(job).check_subject else GENERATE

    def submit(
        self,
        job: Job,
        inputs: PresignedInputs,
        *,
        stage: str | None = None,
        external_id: str = "",
        callback_url: str | None = None,
    ) -> TaskRef:
        stage = stage or self.first_stage(job)
        if stage == SUBJECT_CHECK:
            body = {"req_key": SUBJECT_REQ_KEY, "image_url": inputs.image_url}
            return TaskRef(self._submit_task(body, "subject recognition submit"), SUBJECT_CHECK)
        if stage != GENERATE:
            raise ProviderTaskFailed(f"volcengine has no stage {stage!r}")
        return TaskRef(self._submit_video(job, _options(job), inputs), GENERATE)

    def check(self, job: Job, task: TaskRef) -> TaskCheck:
        if task.stage == SUBJECT_CHECK:
            return self._check_subject(job, task)
        if task.stage != GENERATE:
            raise ProviderTaskFailed(f"volcengine task {task.task_id} is in an unknown stage {task.stage!r}")
        data = self._video_result(job, task.task_id, "status query")
        if data.status in RUNNING_STATUSES:
            return TaskCheck(status="running", provider_status=data.status)
        if data.status == "done":
            if not data.video_url:
                raise ProviderTaskFailed(f"volcengine task {task.task_id} is done without a video_url")
            return TaskCheck(status="succeeded", provider_status=data.status)
        raise _task_status_failure(task.task_id, data.status)

    def result(self, job: Job, task: TaskRef) -> ResultLocation:
        if task.stage != GENERATE:
            raise ResultUnavailable(f"volcengine task {task.task_id} ({task.stage}) has no video")
        # The video_url lives 1 h: every call asks for a fresh one.
        data = self._video_result(job, task.task_id, "result query")
        if data.status == "done" and data.video_url:
            return ResultLocation(data.video_url, aigc_meta_tagged=data.aigc_meta_tagged)
        if data.status in ("not_found", "expired"):
            raise ResultUnavailable(_task_status_failure(task.task_id, data.status).cause)
        raise ResultUnavailable(f"volcengine task {task.task_id} has no video (status {data.status})")

    # --- stages -------------------------------------------------------------------------------------

    def _check_subject(self, job: Job, task: TaskRef) -> TaskCheck:
        body = {"req_key": SUBJECT_REQ_KEY, "task_id": task.task_id}
        data = self._task_data(self._call("CVGetResult", body, "subject recognition query"), "subject recognition")
        if data.status in RUNNING_STATUSES:
            return TaskCheck(status="running", provider_status=data.status)
        if data.status != "done":
            raise _task_status_failure(task.task_id, data.status)
        found = _resp_data(data.resp_data, "subject recognition").get("status")
        if found == 0:
            raise InvalidMedia(
                f"image {job.image.display} has no recognisable subject (volcengine subject recognition)"
            )
        if found != 1:
            raise ProviderUnavailable(f"volcengine subject recognition returned an unknown status {found!r}")
        return TaskCheck(status="running", provider_status=data.status, next_stage=GENERATE)

    def _submit_video(self, job: Job, options: VolcengineOmniHumanOptions, inputs: PresignedInputs) -> str:
        if inputs.audio_url is None:
            raise InvalidRequest("volcengine/omnihuman-1.5 needs an audio file")
        body: dict[str, Any] = {
            "req_key": VIDEO_REQ_KEY,
            "image_url": inputs.image_url,
            "audio_url": inputs.audio_url,
        }
        if options.speaker is not None:
            body["mask_url"] = [self._speaker_mask(job, inputs.image_url, options.speaker)]
        elif options.mask_url:
            body["mask_url"] = [inputs.presign(uri) for uri in options.mask_url]
        if job.request.seed is not None:
            body["seed"] = job.request.seed
        if job.request.prompt:
            body["prompt"] = job.request.prompt
        # Always both: the documented pairing (720 with fast mode, 1080 without) unless the job sets both.
        body["output_resolution"], body["pe_fast_mode"] = options.quality()
        return self._submit_task(body, "submit")

    def _speaker_mask(self, job: Job, image_url: str, speaker: int) -> str:
        """Subject detection; masks come ordered by area, so subject N is the Nth largest."""
        what = "subject detection"
        answer = self._call("CVProcess", {"req_key": DETECTION_REQ_KEY, "image_url": image_url}, what)
        data = validated(ProcessData, answer, f"volcengine {what} returned unreadable data")
        result = _resp_data(data.resp_data, what)
        masks = _mask_urls(result)
        if len(masks) < speaker:
            raise InvalidMedia(
                f"options.speaker asks for subject {speaker}, but volcengine subject detection found "
                f"{len(masks)} subject(s) in image {job.image.display}"
            )
        return masks[speaker - 1]

    # --- calls --------------------------------------------------------------------------------------

    def _submit_task(self, body: dict[str, Any], what: str) -> str:
        data = self._call("CVSubmitTask", body, what, creates_task=True)
        task_id = str(validated(SubmitData, data, f"volcengine {what} returned no task_id").task_id)
        if not task_id:
            raise ProviderUnavailable(f"volcengine {what} returned an empty task_id")
        return task_id

    def _video_result(self, job: Job, task_id: str, what: str) -> TaskData:
        body = {"req_key": VIDEO_REQ_KEY, "task_id": task_id}
        if job.request.aigc_meta is not None:
            # A serialized string, as documented; only the fields the job sets.
            aigc_meta = job.request.aigc_meta.model_dump(exclude_none=True)
            body["req_json"] = json.dumps({"aigc_meta": aigc_meta}, ensure_ascii=False)
        return self._task_data(self._call("CVGetResult", body, what), what)

    def _task_data(self, data: Any, what: str) -> TaskData:
        return validated(TaskData, data, f"volcengine {what} returned unreadable data")

    def _call(self, action: str, body: dict[str, Any], what: str, *, creates_task: bool = False) -> Any:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        path = f"/?Action={action}&Version={VERSION}"
        headers = {"Content-Type": "application/json"}
        return self.api.call("POST", path, what, creates_task=creates_task, content=content, headers=headers)


def _options(job: Job) -> VolcengineOmniHumanOptions:
    return options_as(job.options, VolcengineOmniHumanOptions, NAME)


def _task_status_failure(task_id: str, status: str) -> ProviderTaskFailed:
    """A status that ends the task without a video: nothing to wait for, never polled again."""
    if status == "not_found":
        return ProviderTaskFailed(f"volcengine task {task_id} not found: it never existed or is older than 12 h")
    if status == "expired":
        # Decision: an expired task fails the job instead of being resubmitted here. Resubmitting would start
        # a second paid generation under the same job_id behind the caller's back (job_id is the idempotency
        # key, and the persisted result names one provider task); the caller decides whether to pay again.
        return ProviderTaskFailed(
            f"volcengine task {task_id} expired at the provider; resubmit the job with a new job_id"
        )
    return ProviderTaskFailed(f"volcengine task {task_id} reported an unknown status {status!r}")


def _resp_data(value: str | dict[str, Any] | None, what: str) -> dict[str, Any]:
    """``resp_data`` is documented as a JSON string; an object is accepted as well."""
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value or "")
    except ValueError as error:
        raise ProviderUnavailable(f"volcengine {what} returned an unreadable resp_data: {error}") from error
    if not isinstance(parsed, dict):
        raise ProviderUnavailable(f"volcengine {what} returned a resp_data that is not a JSON object")
    return parsed


def _mask_urls(result: dict[str, Any]) -> list[str]:
    detection = result.get("object_detection_result")
    mask = detection.get("mask") if isinstance(detection, dict) else None
    urls = mask.get("url") if isinstance(mask, dict) else None
    if urls is None:
        return []
    if not isinstance(urls, list) or not all(isinstance(url, str) and url for url in urls):
        raise ProviderUnavailable("volcengine subject detection returned unreadable mask URLs")
    return urls
