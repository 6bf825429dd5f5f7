"""Provider credentials and presigned input URLs stay inside the functions that use them.

Runs last in the e2e session (files are collected alphabetically), so it scans everything every earlier
module left behind, and it runs its own jobs first (every provider id, plus one failing job) so there is
something to scan when it runs alone: the real credentials, read back from the local Secrets Manager secret,
must not appear in the handlers' log, in any execution's input, output or history, in any result.json, in
any function's configuration, nor in any outcome event; no presigned URL may appear in execution histories,
outputs or outcome events.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from avatar_local.samples import portrait_png, speech_audio
from avatar_pipeline.providers.registry import CONTRACT_PROVIDER_IDS

from .conftest import Stack, _seen_events

pytestmark = pytest.mark.e2e

PROVIDERS = CONTRACT_PROVIDER_IDS
# What a SigV4 presigned URL carries in its query (any case: some encoders lower-case it).
PRESIGNED = re.compile(r"x-amz-(signature|credential|security-token)", re.IGNORECASE)
URL = re.compile(r"https?://[^\s\"'\\]+")


def _slug(provider: str) -> str:
    return provider.replace("/", "-").replace(".", "")


@pytest.fixture(scope="module")
def jobs(stack: Stack) -> dict[str, dict[str, Any]]:
    """One finished job per provider id, and one that failed at the provider: ``job_id -> described``."""
    httpx.delete(f"{stack.simulator}/_simulator/faults").raise_for_status()  # whatever an earlier module left
    run = uuid.uuid4().hex[:8]
    folder = f"security/{run}"
    s3, bucket = stack.client("s3"), stack.info["input_bucket"]
    s3.put_object(Bucket=bucket, Key=f"{folder}/face.png", Body=portrait_png(400, seed=3))
    s3.put_object(Bucket=bucket, Key=f"{folder}/voice.wav", Body=speech_audio(2.5, fmt="wav", seed=3))
    sfn = stack.client("stepfunctions")

    def start(provider: str, job_id: str) -> str:
        request = {
            "provider": provider,
            "image": f"s3://{bucket}/{folder}/face.png",
            "audio": f"s3://{bucket}/{folder}/voice.wav",
            "job_id": job_id,
        }
        started = sfn.start_execution(stateMachineArn=stack.info["state_machine_arn"], input=json.dumps(request))
        return str(started["executionArn"])

    started = {f"security-{_slug(p)}-{run}": start(p, f"security-{_slug(p)}-{run}") for p in PROVIDERS}
    described = {job_id: stack.wait_until_done(arn) for job_id, arn in started.items()}
    # A failing job too: its error path (cause, failure event, jobs-table record) is scanned as well.
    stack.inject("wavespeed", operation="submit", fault="task_failed", times=1)
    failing = f"security-failing-{run}"
    described[failing] = stack.wait_until_done(start("wavespeed/omnihuman-1.5", failing))
    for job_id in described:
        stack.outcome_events(job_id)
    _drain_outcome_events(stack)
    return described


@pytest.fixture(scope="module")
def credentials(stack: Stack) -> dict[str, str]:
    """Every credential value in the provider secret (and each API key as a Bearer header): ``name -> value``."""
    secret = stack.client("secretsmanager").get_secret_value(SecretId=stack.info["secret_arn"])
    found: dict[str, str] = {}
    for provider, fields in json.loads(secret["SecretString"]).items():
        for field, value in fields.items():
            if isinstance(value, str) and value:
                found[f"{provider}.{field}"] = value
        # Kling's API key, or the HS256 signing key of its legacy JWT auth (secret_key), is covered above.
        if isinstance(fields.get("api_key"), str) and fields["api_key"]:
            found[f"{provider} Bearer header"] = f"Bearer {fields['api_key']}"
    assert {"wavespeed.api_key", "volcengine.access_key_id", "volcengine.secret_access_key"} <= set(found)
    assert {"kling.api_key", "kling.secret_key"} & set(found)
    assert all(len(value) >= 16 for value in found.values()), "credentials too short to scan for meaningfully"
    return found


def _leaked(text: str, credentials: dict[str, str]) -> list[str]:
    """Names (never values: a failing assertion must not print them) of the credentials found in ``text``."""
    return sorted(name for name, value in credentials.items() if value in text)


def _presigned(text: str) -> list[str]:
    """Presigned URLs in ``text`` (a JSON dump: a URL ends at a quote, a backslash or whitespace)."""
    return sorted({url for url in URL.findall(text) if PRESIGNED.search(url)} | _bare_markers(text))


def _bare_markers(text: str) -> set[str]:
    """Presigning parameters outside any URL (a query string passed on by itself, say)."""
    outside = URL.sub("", text)
    return {match.group(0) for match in PRESIGNED.finditer(outside)}


def _drain_outcome_events(stack: Stack) -> None:
    """Move every outcome event still queued into the session's seen events (as ``Stack.outcome_events`` does)."""
    sqs = stack.client("sqs")
    while True:
        messages = sqs.receive_message(QueueUrl=stack.events_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        if not messages.get("Messages"):
            return
        for message in messages["Messages"]:
            _seen_events.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=stack.events_queue_url, ReceiptHandle=message["ReceiptHandle"])


def _executions(stack: Stack) -> Iterator[dict[str, Any]]:
    sfn = stack.client("stepfunctions")
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=stack.info["state_machine_arn"]):
        yield from page["executions"]


def _history(stack: Stack, execution_arn: str) -> list[dict[str, Any]]:
    paginator = stack.client("stepfunctions").get_paginator("get_execution_history")
    return [event for page in paginator.paginate(executionArn=execution_arn) for event in page["events"]]


def test_own_jobs_ran_for_every_provider_and_one_failed(jobs: dict[str, dict[str, Any]]) -> None:
    statuses = {job_id: described["status"] for job_id, described in jobs.items()}
    failing = next(job_id for job_id in jobs if job_id.startswith("security-failing-"))
    assert statuses.pop(failing) == "FAILED"
    assert jobs[failing]["error"] == "ProviderTaskFailed"
    assert set(statuses.values()) == {"SUCCEEDED"}, statuses
    assert len(statuses) == len(PROVIDERS)


def test_lambda_log_holds_no_credential(
    stack: Stack, jobs: dict[str, dict[str, Any]], credentials: dict[str, str]
) -> None:
    log = Path(stack.info["lambda_log"]).read_text(encoding="utf-8")
    assert all(job_id in log for job_id in jobs), "the handlers' log does not cover this module's jobs"
    assert _leaked(log, credentials) == []


def test_executions_hold_no_credential_and_no_presigned_url(
    stack: Stack, jobs: dict[str, dict[str, Any]], credentials: dict[str, str]
) -> None:
    sfn = stack.client("stepfunctions")
    scanned = 0
    for execution in _executions(stack):
        arn = execution["executionArn"]
        described = sfn.describe_execution(executionArn=arn)
        execution_input, output = described.get("input", ""), described.get("output", "")
        history = json.dumps(_history(stack, arn), default=str)
        for part, text in (("input", execution_input), ("output", output), ("history", history)):
            assert _leaked(text, credentials) == [], (arn, part)
        # A caller may hand in a presigned https URL of its own; the pipeline must make and pass on none.
        own = set(_presigned(execution_input))
        assert set(_presigned(output)) - own == set(), (arn, "output")
        assert set(_presigned(history)) - own == set(), (arn, "history")
        scanned += 1
    assert scanned >= len(jobs)


def test_results_hold_no_credential_and_no_presigned_url(
    stack: Stack, jobs: dict[str, dict[str, Any]], credentials: dict[str, str]
) -> None:
    s3, bucket = stack.client("s3"), stack.info["output_bucket"]
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
        if item["Key"].endswith("/result.json")
    ]
    assert sum(1 for key in keys if "/security-" in f"/{key}") >= len(PROVIDERS)
    for key in keys:
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        assert _leaked(text, credentials) == [], key
        assert _presigned(text) == [], key


def test_function_configurations_hold_no_credential(stack: Stack, credentials: dict[str, str]) -> None:
    lambda_client = stack.client("lambda")
    names = [
        function["FunctionName"]
        for page in lambda_client.get_paginator("list_functions").paginate()
        for function in page["Functions"]
    ]
    assert len(names) >= 7
    for name in names:
        configuration = lambda_client.get_function_configuration(FunctionName=name)
        configuration.pop("ResponseMetadata", None)
        assert _leaked(json.dumps(configuration, default=str), credentials) == [], name


def test_outcome_events_hold_no_credential_and_no_presigned_url(
    stack: Stack, jobs: dict[str, dict[str, Any]], credentials: dict[str, str]
) -> None:
    _drain_outcome_events(stack)
    seen_jobs = {event["detail"].get("job_id") for event in _seen_events}
    assert set(jobs) <= seen_jobs
    for event in _seen_events:
        text = json.dumps(event)
        assert _leaked(text, credentials) == [], event["detail"].get("job_id")
        assert _presigned(text) == [], event["detail"].get("job_id")


def test_jobs_table_holds_no_credential_and_no_presigned_url(
    stack: Stack, jobs: dict[str, dict[str, Any]], credentials: dict[str, str]
) -> None:
    dynamodb = stack.client("dynamodb")
    deadline = time.monotonic() + 10
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        items = [
            item
            for page in dynamodb.get_paginator("scan").paginate(TableName=stack.info["jobs_table"])
            for item in page["Items"]
        ]
        if set(jobs) <= {item["job_id"]["S"] for item in items}:
            break
        time.sleep(0.2)
    assert set(jobs) <= {item["job_id"]["S"] for item in items}
    for item in items:
        text = json.dumps(item)
        assert _leaked(text, credentials) == [], item["job_id"]
        assert _presigned(text) == [], item["job_id"]
