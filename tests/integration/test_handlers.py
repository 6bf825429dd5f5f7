"""The thin Lambda handlers in functions/*/app.py, called as Lambda would, against moto."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import httpx
import pytest
import respx
from avatar_local.samples import portrait_png, speech_audio
from avatar_pipeline import aws as pipeline_aws
from avatar_pipeline.errors import CONTRACT_ERROR_NAMES
from avatar_pipeline.jobs import JobStore
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError

from .conftest import create_admission_table, create_jobs_table
from .lambda_handlers import FakeLambdaContext, load_handler

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]

ROOT = Path(__file__).resolve().parents[2]
INPUT_BUCKET = "avatar-input"
TABLE = "avatar-jobs"
EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:avatar:exec-1"
WAVESPEED = "https://wavespeed.test"
API_KEY = "ws-handler-key"
COMMON_ENV = {
    "POWERTOOLS_SERVICE_NAME": "avatar-pipeline",
    "POWERTOOLS_METRICS_NAMESPACE": "Test",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
DEPLOYMENT = "arn:aws:cloudformation:us-east-1:123456789012:stack/avatar/1"
# The template gives every function the secret's ARN; a test that reads the secret passes the ARN of the one it made.
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:none"
ADMISSION_TABLE = "avatar-admission"
HANDLERS = (
    "intake",
    "claim_job",
    "validate_media",
    "submit_job",
    "check_status",
    "record_outcome",
    "reconcile",
    "admit_job",
    "queue_job",
    "dispatch_slots",
)
# What the template's references stand for here: the test doubles, and parameter defaults for the rest. The provider
# secret is created per test (its ARN is passed with the invocation), and Powertools' own settings are COMMON_ENV's.
DOUBLES = {
    "WaveSpeedBaseUrl": WAVESPEED,
    "VolcengineBaseUrl": "https://volcengine.test",
    "KlingBaseUrl": "https://kling.test",
}
TEST_RESOURCES = {
    "InputBucket": INPUT_BUCKET,
    "OutputBucket": "avatar-output",
    "JobsTable": TABLE,
    "AdmissionTable": ADMISSION_TABLE,
    "DispatchSlotsFunction": "avatar-dispatch-slots",
}
WEBHOOK_URL = "https://webhook.lambda-url.us-east-1.on.aws/"
GIVEN_PER_TEST = {"PROVIDER_SECRET_ARN"} | set(COMMON_ENV)


def _template_environment() -> dict[str, dict[str, str]]:
    """Each handler's environment exactly as template.yaml (Globals and the function) gives it."""
    from avatar_local.cfn_intrinsics import Created, Intrinsics
    from avatar_local.cfn_parameters import checked_parameters
    from avatar_local.template import expand

    template = expand(ROOT / "template.yaml", {}, "us-east-1")
    intrinsics = Intrinsics(
        parameters=checked_parameters(template.parameters, DOUBLES),
        region="us-east-1",
        stack_name="avatar",
        stack_id=DEPLOYMENT,
        created={
            **{logical: Created(name) for logical, name in TEST_RESOURCES.items()},
            "WebhookFunctionUrl": Created(WEBHOOK_URL, {"FunctionUrl": WEBHOOK_URL}),
        },
    )
    environments = {}
    for name in HANDLERS:
        logical = "".join(part.title() for part in name.split("_")) + "Function"
        declared = template.resources[logical]["Properties"]["Environment"]["Variables"]
        environments[name] = {
            variable: str(intrinsics.resolve(value))
            for variable, value in declared.items()
            if variable not in GIVEN_PER_TEST
        }
    return environments


FUNCTION_ENV = _template_environment()
ALL_PIPELINE_VARS = {name for env in FUNCTION_ENV.values() for name in env} | {
    "PROVIDER_SECRET_ARN",
    "OUTPUT_BUCKET",
    "ALLOW_LOOPBACK_ENDPOINTS",
    "MAX_RESULT_BYTES",
}


@pytest.fixture(scope="module")
def handlers() -> Iterator[dict[str, ModuleType]]:
    # Powertools reads its settings when avatar_pipeline.observability is first imported.
    with pytest.MonkeyPatch.context() as patch:
        for name, value in COMMON_ENV.items():
            patch.setenv(name, value)
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        yield {name: load_handler(name) for name in HANDLERS}


@pytest.fixture
def aws(handlers: dict[str, ModuleType], mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in COMMON_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ALL_PIPELINE_VARS:
        monkeypatch.delenv(name, raising=False)
    parameters.clear_caches()  # the secret provider's client and cached values belong to one mock
    boto3.client("s3").create_bucket(Bucket=INPUT_BUCKET)
    create_jobs_table(boto3.client("dynamodb"), TABLE)
    create_admission_table(boto3.client("dynamodb"), ADMISSION_TABLE)
    yield
    parameters.clear_caches()


@pytest.fixture
def invoke(handlers: dict[str, ModuleType], aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Calls one function's handler with only the environment the template gives that function."""

    def call(name: str, event: dict[str, Any], extra_env: dict[str, str] | None = None) -> Any:
        with monkeypatch.context() as patch:
            given = {"PROVIDER_SECRET_ARN": SECRET_ARN, **FUNCTION_ENV[name], **(extra_env or {})}
            for variable, value in given.items():
                patch.setenv(variable, value)
            context = FakeLambdaContext(function_name=f"avatar-{name}")
            result = handlers[name].lambda_handler(event, context)
        json.dumps(result)  # what Lambda returns must be JSON
        return result

    return call


def console_request(**overrides: Any) -> dict[str, Any]:
    return {
        "image": f"s3://{INPUT_BUCKET}/media/alice.png",
        "audio": f"s3://{INPUT_BUCKET}/media/alice.wav",
        **overrides,
    }


def upload_samples() -> tuple[bytes, bytes]:
    png, wav = portrait_png(256), speech_audio(2.0)
    s3 = boto3.client("s3")
    s3.put_object(Bucket=INPUT_BUCKET, Key="media/alice.png", Body=png)
    s3.put_object(Bucket=INPUT_BUCKET, Key="media/alice.wav", Body=wav)
    return png, wav


def intake_and_claim(invoke: Any, request: dict[str, Any], execution: str) -> dict[str, Any]:
    """What the state machine does before ValidateMedia: Intake, then Claim (its result replaces the state)."""
    taken = invoke("intake", {"event": request, "execution_name": execution})
    claimed = invoke("claim_job", {**taken, "execution_arn": arn(execution)})
    assert claimed["claim"]["outcome"] == "claimed", claimed
    return dict(claimed["job"])


def arn(execution: str) -> str:
    return EXECUTION_ARN.rsplit(":", 1)[0] + f":{execution}"


def test_intake_accepts_a_console_request(invoke: Any) -> None:
    result = invoke("intake", {"event": console_request(job_id="console-1"), "execution_name": "exec-1"})
    assert result["accepted"] is True
    assert result["rejection"] is None
    assert result["ref"]["job_id"] == "console-1"
    assert result["ref"]["origin"] == {
        "kind": "console",
        "delivery_id": "execution:exec-1",
        "execution_name": "exec-1",
        "manifest": None,
        "pair": None,
        "event_id": None,
        "batch": None,
        "row": None,
    }
    job = result["job"]
    assert job["job_id"] == "console-1"
    assert job["provider"] == "wavespeed/omnihuman-1.5"
    assert job["trigger"] == "console"
    assert job["image"]["s3"] == {"bucket": INPUT_BUCKET, "key": "media/alice.png"}


def manifest_event(key: str, put: dict[str, Any]) -> dict[str, Any]:
    """An S3 "Object Created" event as EventBridge delivers it (moto's numeric ``time`` included)."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": 1700000000,
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{INPUT_BUCKET}"],
        "detail": {
            "version": "0",
            "bucket": {"name": INPUT_BUCKET},
            "object": {
                "key": key,
                "size": 40,
                "etag": put["ETag"].strip('"'),
                "version-id": put["VersionId"],
                "sequencer": "00617F08299329D189",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject",
        },
    }


def put_manifest(key: str, body: bytes) -> dict[str, Any]:
    s3 = boto3.client("s3")
    s3.put_bucket_versioning(Bucket=INPUT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    response: dict[str, Any] = s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)
    return response


def test_intake_reads_a_manifest_from_s3(invoke: Any) -> None:
    key = "jobs/team/alice.json"
    put = put_manifest(key, json.dumps({"image": "a.png", "audio": "a.wav"}).encode())
    result = invoke("intake", {"event": manifest_event(key, put), "execution_name": "exec-2"})
    assert result["accepted"] is True
    assert result["job"]["image"]["s3"]["key"] == "jobs/team/a.png"
    assert result["job"]["manifest"] == {"bucket": INPUT_BUCKET, "key": key}
    assert re.fullmatch(r"alice-[0-9a-f]{8}", result["job"]["job_id"])


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"", "is empty (0 bytes)"), (b"not json", "is not valid JSON"), (b"[]", "must be a JSON object")],
    ids=["empty", "not-json", "not-object"],
)
def test_intake_bad_manifest_is_rejected_under_its_derived_id(invoke: Any, body: bytes, message: str) -> None:
    key = "jobs/broken.json"
    put = put_manifest(key, body)
    result = invoke("intake", {"event": manifest_event(key, put), "execution_name": "exec-9"})
    assert result["job"] is None
    assert result["rejection"]["Error"] == "InvalidRequest"
    assert f"manifest s3://{INPUT_BUCKET}/{key}" in result["rejection"]["Cause"]
    assert message in result["rejection"]["Cause"]
    assert re.fullmatch(r"broken-[0-9a-f]{8}", result["ref"]["job_id"])
    assert result["ref"]["origin"]["manifest"] == f"s3://{INPUT_BUCKET}/{key}"


def test_intake_ignores_objects_that_are_not_manifests(invoke: Any) -> None:
    event = {
        "version": "0",
        "id": "1",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2025-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "version": "0",
            "bucket": {"name": INPUT_BUCKET},
            "object": {"key": "media/alice.png", "etag": "e"},
            "request-id": "r",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }
    result = invoke("intake", {"event": event, "execution_name": "exec-3"})
    assert result == {
        "accepted": False,
        "ignored": f"s3://{INPUT_BUCKET}/media/alice.png is not a manifest (jobs/*.json)",
    }


def test_intake_invalid_request_is_a_rejection_under_the_callers_job_id(invoke: Any) -> None:
    event = console_request(image="alice.png", job_id="lesson-4")
    result = invoke("intake", {"event": event, "execution_name": "exec-4"})
    assert result["rejection"]["Error"] == "InvalidRequest"
    assert "is a relative key" in result["rejection"]["Cause"]
    assert result["ref"]["job_id"] == "lesson-4"


def test_validate_media_probes_uploaded_samples(invoke: Any) -> None:
    png, wav = upload_samples()
    job = intake_and_claim(invoke, console_request(), "exec-5")
    media = invoke("validate_media", {"job": job})
    assert media["image"]["format"] == "png"
    assert (media["image"]["width"], media["image"]["height"], media["image"]["size_bytes"]) == (256, 256, len(png))
    assert media["audio"]["format"] == "wav"
    assert media["audio"]["size_bytes"] == len(wav)
    assert media["audio"]["duration_seconds"] == pytest.approx(2.0, abs=1e-3)
    # Where the validated bytes are, and how little of them was read.
    assert media["image"]["location"] == {"bucket": INPUT_BUCKET, "key": "media/alice.png"}
    assert media["audio"]["location"] == {"bucket": INPUT_BUCKET, "key": "media/alice.wav"}
    assert 0 < media["image"]["bytes_read"] <= len(png)
    assert 0 < media["audio"]["bytes_read"] <= len(wav)
    assert media["audio"]["sample_rate"] > 0
    assert media["audio"]["channels"] >= 1


def test_validate_media_missing_input_raises_invalid_request(invoke: Any) -> None:
    job = intake_and_claim(invoke, console_request(), "exec-6")
    with pytest.raises(Exception, match="upload it before the manifest") as caught:
        invoke("validate_media", {"job": job})
    assert type(caught.value).__name__ == "InvalidRequest"
    assert f"s3://{INPUT_BUCKET}/media/alice.png does not exist" in str(caught.value)


def test_submit_and_check_status_use_the_secret_and_the_provider(invoke: Any) -> None:
    upload_samples()
    secret_arn = boto3.client("secretsmanager").create_secret(
        Name="provider-credentials", SecretString=json.dumps({"wavespeed": {"api_key": API_KEY}})
    )["ARN"]
    job = intake_and_claim(invoke, console_request(job_id="j-7"), "exec-7")
    media = invoke("validate_media", {"job": job})
    prediction = {"id": "pred-7", "status": "created", "outputs": []}
    with respx.mock(base_url=WAVESPEED, assert_all_called=True) as api:
        submit = api.post("/api/v3/bytedance/avatar-omni-human-1.5").respond(
            200, json={"code": 200, "message": "success", "data": prediction}
        )
        api.get("/api/v3/predictions/pred-7/result").respond(
            200, json={"code": 200, "message": "success", "data": {**prediction, "status": "processing"}}
        )
        owner = {"execution_arn": arn("exec-7")}
        task = invoke("submit_job", {"job": job, "media": media, **owner}, {"PROVIDER_SECRET_ARN": secret_arn})
        checked = invoke(
            "check_status", {"job": job, "media": media, "task": task, **owner}, {"PROVIDER_SECRET_ARN": secret_arn}
        )
    assert submit.calls.last.request.headers["Authorization"] == f"Bearer {API_KEY}"
    body = json.loads(submit.calls.last.request.content)
    assert body["image"].startswith(f"https://{INPUT_BUCKET}.s3.amazonaws.com/media/alice.png?")
    assert "X-Amz-Expires=900" in body["image"]
    assert "X-Amz-Signature=" in body["image"]
    assert body["audio"].startswith(f"https://{INPUT_BUCKET}.s3.amazonaws.com/media/alice.wav?")
    assert task["task_id"] == "pred-7"
    assert task["status"] == "running"
    assert task["estimated_generation_seconds"] == task["profile_estimate_seconds"] == 12.0, (
        "6 s of generation per audio second for 2 s of audio; nothing learned yet"
    )
    webhook = submit.calls.last.request.url.params["webhook"]
    assert webhook.startswith(f"{WEBHOOK_URL}callbacks/wavespeed/{job['job_id']}/{job['attempt']}/")
    assert task["callbacks"] is True
    assert task["next_wait_seconds"] == 13, "told to call back: the fallback check just after the estimated end (105 %)"
    assert checked["status"] == "running"
    assert checked["polls"] == 1
    assert 5 <= checked["next_wait_seconds"] <= 6
    record = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"job_id": {"S": "j-7"}})["Item"]
    assert record["provider_task_id"] == {"S": "pred-7"}, "the task id is recorded as soon as it is known"


def test_submitting_the_same_job_again_returns_the_first_task_without_paying_twice(invoke: Any) -> None:
    upload_samples()
    secret_arn = boto3.client("secretsmanager").create_secret(
        Name="provider-credentials", SecretString=json.dumps({"wavespeed": {"api_key": API_KEY}})
    )["ARN"]
    job = intake_and_claim(invoke, console_request(job_id="j-once"), "exec-once")
    other = intake_and_claim(invoke, console_request(job_id="j-other"), "exec-other")
    media = invoke("validate_media", {"job": job})
    env = {"PROVIDER_SECRET_ARN": secret_arn}
    with respx.mock(base_url=WAVESPEED) as api:
        submit = api.post("/api/v3/bytedance/avatar-omni-human-1.5").mock(
            side_effect=[
                httpx.Response(200, json={"code": 200, "data": {"id": "pred-1", "status": "created"}}),
                httpx.Response(200, json={"code": 200, "data": {"id": "pred-2", "status": "created"}}),
            ]
        )
        first = invoke("submit_job", {"job": job, "media": media, "execution_arn": arn("exec-once")}, env)
        again = invoke("submit_job", {"job": job, "media": media, "execution_arn": arn("exec-once")}, env)
        another_job = invoke("submit_job", {"job": other, "media": media, "execution_arn": arn("exec-other")}, env)
    assert submit.call_count == 2, "one paid task per job"
    assert again["task_id"] == first["task_id"] == "pred-1"
    assert another_job["task_id"] == "pred-2"


def test_record_outcome_records_a_failed_intake_under_the_execution_namespace(invoke: Any) -> None:
    cause = json.dumps({"errorType": "InvalidRequest", "errorMessage": "image 'a.png' is a relative key"})
    event = {
        "outcome": "failed",
        "execution_arn": EXECUTION_ARN,
        "execution_name": "exec-8",
        # After Intake itself fails, IntakeFailed hands over the error alone (never the caller's raw input).
        "state": {"error": {"Error": "InvalidRequest", "Cause": cause}},
    }
    detail = invoke("record_outcome", event)
    assert detail["job_id"] == "execution:exec-8"
    assert detail["error"] == "InvalidRequest"
    assert detail["cause"] == "image 'a.png' is a relative key"
    item = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"job_id": {"S": "execution:exec-8"}})["Item"]
    assert item["status"] == {"S": "FAILED"}
    assert item["error"] == {"S": "InvalidRequest"}
    assert item["cause"] == {"S": "image 'a.png' is a relative key"}
    assert item["execution_arn"] == {"S": EXECUTION_ARN}


def test_a_user_job_id_cannot_squat_the_execution_namespace(invoke: Any) -> None:
    """A job named ``execution-exec-13`` used to block the failure record of an execution named ``exec-13``."""
    intake_and_claim(invoke, console_request(job_id="execution-exec-13"), "exec-squat")
    event = {
        "outcome": "failed",
        "execution_arn": arn("exec-13"),
        "execution_name": "exec-13",
        "state": {"error": {"Error": "Runtime.ExitError", "Cause": "killed"}},
    }
    assert invoke("record_outcome", event)["job_id"] == "execution:exec-13"
    item = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"job_id": {"S": "execution:exec-13"}})["Item"]
    assert item["status"] == {"S": "FAILED"}


def test_claim_tells_duplicates_and_conflicts_apart(invoke: Any) -> None:
    first = invoke("intake", {"event": console_request(job_id="j-dup"), "execution_name": "exec-a"})
    assert invoke("claim_job", {**first, "execution_arn": arn("exec-a")})["claim"]["outcome"] == "claimed"
    same = invoke("intake", {"event": console_request(job_id="j-dup"), "execution_name": "exec-b"})
    duplicate = invoke("claim_job", {**same, "execution_arn": arn("exec-b")})
    assert (duplicate["claim"]["outcome"], duplicate["rejection"]) == ("duplicate", None)
    changed_request = console_request(job_id="j-dup", output_prefix="v2/")
    changed = invoke("intake", {"event": changed_request, "execution_name": "exec-c"})
    refused = invoke("claim_job", {**changed, "execution_arn": arn("exec-c")})
    assert refused["claim"]["outcome"] == "refused"
    assert refused["rejection"]["Error"] == "InvalidRequest"
    assert "job j-dup is already RUNNING (attempt 1) with another request" in refused["rejection"]["Cause"]


def test_reconcile_closes_a_stopped_executions_job_as_cancelled(invoke: Any) -> None:
    intake_and_claim(invoke, console_request(job_id="j-stop"), "exec-stop")
    event = {
        "version": "0",
        "id": "e-1",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2025-03-01T12:00:00Z",
        "region": "us-east-1",
        "resources": [arn("exec-stop")],
        "detail": {
            "executionArn": arn("exec-stop"),
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:avatar",
            "name": "exec-stop",
            "status": "ABORTED",
            "error": "JobCancelled",
            "cause": "cancelled by a person",
        },
    }
    assert invoke("reconcile", event) == {"done": ["job j-stop attempt 1 closed: JobCancelled"]}
    assert invoke("reconcile", event) == {"done": ["job j-stop was already closed (CANCELLED)"]}
    item = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"job_id": {"S": "j-stop"}})["Item"]
    assert (item["status"], item["error"]) == ({"S": "CANCELLED"}, {"S": "JobCancelled"})
    assert "cancelled by a person" in item["cause"]["S"]


def test_a_success_teaches_its_provider_how_long_generation_takes_and_the_next_submit_uses_it(invoke: Any) -> None:
    taken = invoke("intake", {"event": console_request(job_id="j-learn"), "execution_name": "exec-learn"})
    claimed = invoke("claim_job", {**taken, "execution_arn": arn("exec-learn")})
    task = {
        "provider": "wavespeed/omnihuman-1.5",
        "task_id": "pred-learn",
        "status": "succeeded",
        "submitted_at": "2025-03-01T12:00:00+00:00",
        "deadline": "2025-03-01T15:00:00+00:00",
        "polls": 3,
        "next_wait_seconds": 0,
        "estimated_generation_seconds": 12.0,
        "profile_estimate_seconds": 12.0,
        "detected_at": "2025-03-01T12:00:40+00:00",
        "observed_generation_seconds": 36.0,
    }
    output = {
        "bucket": "out",
        "video_key": "j-learn/video.mp4",
        "result_key": "j-learn/result.json",
        "video_uri": "s3://out/j-learn/video.mp4",
        "result_uri": "s3://out/j-learn/result.json",
        "size_bytes": 1,
        "crc32": "AAAAAA==",
        "duration_seconds": 2.0,
        "estimated_cost_usd": 0.3,
        "persisted_at": "2025-03-01T12:01:00+00:00",
        "timings": {"generation_seconds": 36.0, "generation_seconds_source": "detected", "detection_lag_seconds": None},
    }
    event = {
        "outcome": "succeeded",
        "execution_arn": arn("exec-learn"),
        "execution_name": "exec-learn",
        "state": {**claimed, "task": task, "output": output},
    }
    detail = invoke("record_outcome", event)
    assert detail["timings"] == output["timings"]
    record = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"job_id": {"S": "j-learn"}})["Item"]
    assert record["timings"]["M"]["generation_seconds_source"] == {"S": "detected"}, "jobs show reads it there"
    key = {"pk": {"S": "estimate#wavespeed/omnihuman-1.5"}, "sk": {"S": "estimate"}}
    item = boto3.client("dynamodb").get_item(TableName=ADMISSION_TABLE, Key=key)["Item"]
    assert float(item["correction"]["N"]) == pytest.approx(2.0), "36 s against 12 s: 3x, weighed ½ against the profile"
    assert item["samples"] == {"N": "1"}

    upload_samples()
    secret_arn = boto3.client("secretsmanager").create_secret(
        Name="provider-credentials", SecretString=json.dumps({"wavespeed": {"api_key": API_KEY}})
    )["ARN"]
    job = intake_and_claim(invoke, console_request(job_id="j-after"), "exec-after")
    media = invoke("validate_media", {"job": job})
    with respx.mock(base_url=WAVESPEED) as api:
        api.post("/api/v3/bytedance/avatar-omni-human-1.5").respond(
            200, json={"code": 200, "data": {"id": "pred-after", "status": "created"}}
        )
        submitted = invoke(
            "submit_job",
            {"job": job, "media": media, "execution_arn": arn("exec-after")},
            {"PROVIDER_SECRET_ARN": secret_arn},
        )
    assert (submitted["profile_estimate_seconds"], submitted["estimated_generation_seconds"]) == (12.0, 24.0)


def test_a_success_records_what_persist_priced_and_keeps_the_estimate_when_nothing_is_reported(invoke: Any) -> None:
    """The record's costs are what PersistResult put in result.json: the estimate, and Kling's units and USD."""
    for job_id, provider, reported in (
        ("j-kling", "kling/avatar", {"actual_units": 0.4, "actual_cost_usd": 0.4}),
        ("j-volc", "volcengine/omnihuman-1.5", {}),
    ):
        taken = invoke("intake", {"event": console_request(job_id=job_id, provider=provider), "execution_name": job_id})
        claimed = invoke("claim_job", {**taken, "execution_arn": arn(job_id)})
        task = {
            "provider": provider,
            "task_id": f"task-{job_id}",
            "status": "succeeded",
            "submitted_at": "2025-03-01T12:00:00+00:00",
            "deadline": "2025-03-01T15:00:00+00:00",
            "next_wait_seconds": 0,
            "estimated_generation_seconds": 12.0,
            "reported_units": reported.get("actual_units"),
        }
        output = {
            "bucket": "out",
            "video_key": f"{job_id}/video.mp4",
            "result_key": f"{job_id}/result.json",
            "video_uri": f"s3://out/{job_id}/video.mp4",
            "result_uri": f"s3://out/{job_id}/result.json",
            "size_bytes": 1,
            "crc32": "AAAAAA==",
            "duration_seconds": 4.0,
            "estimated_cost_usd": 0.4 if provider.startswith("kling/") else 0.56,
            **reported,
            "persisted_at": "2025-03-01T12:01:00+00:00",
        }
        state = {**claimed, "task": task, "output": output}
        detail = invoke(
            "record_outcome",
            {"outcome": "succeeded", "execution_arn": arn(job_id), "execution_name": job_id, "state": state},
        )
        item = JobStore(TABLE, boto3.client("dynamodb")).get(job_id)
        assert item is not None
        assert (item["status"], item["duration_seconds"]) == ("SUCCEEDED", 4.0)
        assert item["estimated_cost_usd"] == output["estimated_cost_usd"] == detail["estimated_cost_usd"]
        for name in ("actual_units", "actual_cost_usd"):
            assert item.get(name) == reported.get(name) == detail.get(name), (job_id, name)


def test_record_outcome_success_still_needs_a_complete_state(invoke: Any) -> None:
    event = {
        "outcome": "succeeded",
        "execution_arn": EXECUTION_ARN,
        "execution_name": "exec-11",
        "state": {"error": None},
    }
    with pytest.raises(ValueError, match="must carry its claim, task and output"):
        invoke("record_outcome", event)


def test_handlers_fail_without_their_environment(invoke: Any, handlers: dict[str, ModuleType]) -> None:
    with pytest.raises(RuntimeError, match="INPUT_BUCKET is not set"):
        handlers["intake"].lambda_handler({"event": console_request(), "execution_name": "x"}, FakeLambdaContext())


def test_function_env_is_the_templates() -> None:
    """Every variable a handler is given comes from the template; only the secret's ARN is given per test."""
    for name, env in FUNCTION_ENV.items():
        assert env, name
        assert not set(env) & GIVEN_PER_TEST, name
    assert FUNCTION_ENV["submit_job"]["WAVESPEED_BASE_URL"] == WAVESPEED
    assert FUNCTION_ENV["admit_job"]["PROVIDER_PRICES"] == "volcengine/omnihuman-1.5=0.14,kling/avatar=0.1"
    assert FUNCTION_ENV["check_status"]["DEPLOYMENT_ID"] == DEPLOYMENT


def test_validate_media_fails_without_its_input_bucket(invoke: Any, handlers: dict[str, ModuleType]) -> None:
    upload_samples()
    job = intake_and_claim(invoke, console_request(), "exec-12")
    with pytest.raises(RuntimeError, match="INPUT_BUCKET is not set"):
        handlers["validate_media"].lambda_handler({"job": job}, FakeLambdaContext())


# --- only contract names leave a handler ------------------------------------------------------------


def fail_call(service: str, operation: str, code: str) -> None:
    """Every ``operation`` of the pipeline's ``service`` client fails with the AWS error ``code``."""

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)

    client = {"s3": pipeline_aws.s3, "dynamodb": pipeline_aws.dynamodb, "events": pipeline_aws.events}[service]()
    client.meta.events.register(f"before-call.{service}.{operation}", refuse)


def wavespeed_secret(value: str = json.dumps({"wavespeed": {"api_key": API_KEY}})) -> dict[str, str]:
    arn = boto3.client("secretsmanager").create_secret(Name="provider-credentials", SecretString=value)["ARN"]
    return {"PROVIDER_SECRET_ARN": arn}


def expect_contract_error(call: Any, name: str) -> str:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the point is which class it is
        call()
    assert type(caught.value).__name__ == name, (type(caught.value).__name__, str(caught.value))
    assert name in CONTRACT_ERROR_NAMES
    return str(caught.value)


def test_a_manifest_read_throttled_by_s3_is_retried_as_provider_unavailable(invoke: Any) -> None:
    key = "jobs/throttled.json"
    put = put_manifest(key, b'{"image": "a.png", "audio": "a.wav"}')
    fail_call("s3", "GetObject", "SlowDown")
    event = {"event": manifest_event(key, put), "execution_name": "exec-e1"}
    assert "SlowDown" in expect_contract_error(lambda: invoke("intake", event), "ProviderUnavailable")


@pytest.mark.parametrize(
    ("code", "name"), [("AccessDenied", "InvalidRequest"), ("InternalError", "ProviderUnavailable")]
)
def test_an_input_s3_refuses_to_describe_is_a_contract_error(invoke: Any, code: str, name: str) -> None:
    job = intake_and_claim(invoke, console_request(), "exec-e2")
    fail_call("s3", "HeadObject", code)
    expect_contract_error(lambda: invoke("validate_media", {"job": job}), name)


def test_an_https_input_with_an_impossible_port_is_an_invalid_request(invoke: Any) -> None:
    request = console_request(image="https://cdn.example.com:99999/a.png")
    taken = invoke("intake", {"event": request, "execution_name": "exec-e3"})
    assert taken["rejection"]["Error"] == "InvalidRequest"


def test_a_throttled_jobs_table_is_retried_as_provider_unavailable(invoke: Any) -> None:
    taken = invoke("intake", {"event": console_request(job_id="j-e4"), "execution_name": "exec-e4"})
    fail_call("dynamodb", "PutItem", "ProvisionedThroughputExceededException")
    call = lambda: invoke("claim_job", {**taken, "execution_arn": arn("exec-e4")})  # noqa: E731
    expect_contract_error(call, "ProviderUnavailable")


@pytest.mark.parametrize(
    ("secret", "fragment"),
    [("not json {", "is not a JSON document"), ('["a"]', "it is an array"), ('{"wavespeed": "k"}', "entry must be")],
)
def test_a_malformed_provider_secret_is_provider_rejected_without_its_content(
    invoke: Any, secret: str, fragment: str
) -> None:
    upload_samples()
    job = intake_and_claim(invoke, console_request(job_id="j-e5"), "exec-e5")
    media = invoke("validate_media", {"job": job})
    event = {"job": job, "media": media, "execution_arn": arn("exec-e5")}
    cause = expect_contract_error(lambda: invoke("submit_job", event, wavespeed_secret(secret)), "ProviderRejected")
    assert fragment in cause
    assert secret not in cause


def test_a_refused_event_publish_is_retried_as_provider_unavailable(invoke: Any) -> None:
    taken = invoke("intake", {"event": console_request(job_id="j-e6"), "execution_name": "exec-e6"})
    claimed = invoke("claim_job", {**taken, "execution_arn": arn("exec-e6")})
    fail_call("events", "PutEvents", "InternalException")
    event = {
        "outcome": "failed",
        "execution_arn": arn("exec-e6"),
        "execution_name": "exec-e6",
        "state": {**claimed, "error": {"Error": "ProviderTaskFailed", "Cause": "no"}},
    }
    expect_contract_error(lambda: invoke("record_outcome", event), "ProviderUnavailable")


def test_a_throttled_index_query_in_reconcile_is_retried_as_provider_unavailable(invoke: Any) -> None:
    fail_call("dynamodb", "Query", "ThrottlingException")
    event = {
        "version": "0",
        "id": "e-7",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2025-03-01T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"executionArn": arn("exec-e7"), "name": "exec-e7", "status": "ABORTED"},
    }
    expect_contract_error(lambda: invoke("reconcile", event), "ProviderUnavailable")


# --- admission -----------------------------------------------------------------------------------------


def admitted_job(invoke: Any, job_id: str, execution: str, **request: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    upload_samples()
    job = intake_and_claim(invoke, console_request(job_id=job_id, **request), execution)
    media = invoke("validate_media", {"job": job})
    return job, media


def test_admit_takes_a_slot_then_queues_when_the_account_is_full(invoke: Any) -> None:
    one = {**FUNCTION_ENV["admit_job"], "PROVIDER_CONCURRENCY": "wavespeed=1"}
    first, media = admitted_job(invoke, "j-a1", "exec-a1")
    second, _ = admitted_job(invoke, "j-a2", "exec-a2")
    event = {"action": "admit", "media": media, "admission": None}
    taken = invoke("admit_job", {**event, "job": first, "execution_arn": arn("exec-a1")}, one)
    assert (taken["admitted"], taken["account"]) == (True, "wavespeed")
    full = invoke("admit_job", {**event, "job": second, "execution_arn": arn("exec-a2")}, one)
    assert full["admitted"] is False
    assert 43000 < full["seconds_left"] <= 43200
    queued = invoke(
        "queue_job",
        {"token": "token-a2", "job": second, "execution_arn": arn("exec-a2"), "admission": full},
        {"PROVIDER_CONCURRENCY": "wavespeed=1"},
    )
    assert (queued["account"], queued["position"]) == ("wavespeed", 1)
    record = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"job_id": {"S": "j-a2"}})["Item"]
    assert record["status"] == {"S": "QUEUED"}
    assert record["queue"]["M"]["position"] == {"N": "1"}
    two = {**FUNCTION_ENV["admit_job"], "PROVIDER_CONCURRENCY": "wavespeed=2"}
    assert invoke("dispatch_slots", {"accounts": ["wavespeed"]}, {"PROVIDER_CONCURRENCY": "wavespeed=2"})["woken"] == 1
    admitted = invoke("admit_job", {**event, "job": second, "execution_arn": arn("exec-a2"), "admission": full}, two)
    assert admitted["admitted"] is True
    record = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"job_id": {"S": "j-a2"}})["Item"]
    assert record["status"] == {"S": "RUNNING"}
    assert "queue" not in record, "no longer waiting"
    assert float(record["queued_seconds"]["N"]) >= 0, "how long it waited stays on the record"


def test_admit_refuses_a_job_over_its_max_cost_before_anything_is_paid(invoke: Any) -> None:
    job, media = admitted_job(invoke, "j-cheap", "exec-cheap", max_cost_usd=0.05)
    event = {"action": "admit", "job": job, "media": media, "execution_arn": arn("exec-cheap"), "admission": None}
    cause = expect_contract_error(lambda: invoke("admit_job", event), "BudgetExceeded")
    assert "over its max_cost_usd $0.05" in cause
    slots = boto3.client("dynamodb").get_item(
        TableName=ADMISSION_TABLE, Key={"pk": {"S": "account#wavespeed"}, "sk": {"S": "slots"}}
    )
    assert slots.get("Item", {}).get("holders", {"M": {}}) == {"M": {}}, "no slot was taken"


def test_a_slot_given_back_after_throttling_is_handed_to_the_waiting_job(invoke: Any) -> None:
    one = {**FUNCTION_ENV["admit_job"], "PROVIDER_CONCURRENCY": "wavespeed=1"}
    first, media = admitted_job(invoke, "j-d1", "exec-d1")
    second, _ = admitted_job(invoke, "j-d2", "exec-d2")
    event = {"action": "admit", "media": media, "admission": None}
    invoke("admit_job", {**event, "job": first, "execution_arn": arn("exec-d1")}, one)
    full = invoke("admit_job", {**event, "job": second, "execution_arn": arn("exec-d2")}, one)
    invoke(
        "queue_job",
        {"token": "token-d2", "job": second, "execution_arn": arn("exec-d2"), "admission": full},
        {"PROVIDER_CONCURRENCY": "wavespeed=1"},
    )
    requeued = invoke(
        "admit_job",
        {
            **event,
            "action": "requeue",
            "job": first,
            "execution_arn": arn("exec-d1"),
            "admission": {"account": "wavespeed", "admitted": True},
        },
        one,
    )
    assert requeued["backoff_seconds"] >= 1, "the throttled job gave its slot back"
    done = invoke("dispatch_slots", {"accounts": ["wavespeed"]}, {"PROVIDER_CONCURRENCY": "wavespeed=1"})
    assert done["woken"] == 1
    slots = boto3.client("dynamodb").get_item(
        TableName=ADMISSION_TABLE, Key={"pk": {"S": "account#wavespeed"}, "sk": {"S": "slots"}}
    )["Item"]
    assert set(slots["holders"]["M"]) == {"j-d2#1"}
