"""PrepareBatch and ReportBatch (contract: Batches) against moto S3, DynamoDB and EventBridge: the normalised
items the Distributed Map reads, and the report + ``Avatar Batch Completed`` once every row has ended."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from avatar_pipeline import batch_report, batches
from avatar_pipeline.batch_items import BatchIgnored, BatchSummary
from avatar_pipeline.batch_report import REPORT_COLUMNS, job_records, report_batch
from avatar_pipeline.batches import BatchSource, batch_source, prepare_batch
from avatar_pipeline.dynamo import to_value
from avatar_pipeline.errors import InvalidRequest, ProviderUnavailable
from botocore.stub import Stubber

from .conftest import create_jobs_table
from .lambda_handlers import FakeLambdaContext, load_handler

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]

INPUT_BUCKET = "avatar-input"
OUTPUT_BUCKET = "avatar-output"
TABLE = "avatar-jobs"
COMMON_ENV = {
    "POWERTOOLS_SERVICE_NAME": "avatar-pipeline",
    "POWERTOOLS_METRICS_NAMESPACE": "Test",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
FUNCTION_ENV = {
    "prepare_batch": {"INPUT_BUCKET": INPUT_BUCKET},
    "report_batch": {
        "INPUT_BUCKET": INPUT_BUCKET,
        "OUTPUT_BUCKET": OUTPUT_BUCKET,
        "JOBS_TABLE": TABLE,
        "EVENT_BUS_NAME": "default",
    },
}


def object_created(key: str, put: dict[str, Any], bucket: str = INPUT_BUCKET) -> dict[str, Any]:
    """An S3 "Object Created" event as EventBridge delivers it (moto's numeric ``time`` included)."""
    obj = {"key": key, "size": 1, "etag": put["ETag"].strip('"'), "sequencer": "00617F08299329D189"}
    if put.get("VersionId"):
        obj["version-id"] = put["VersionId"]
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": 1700000000,
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject",
        },
    }


class Stack:
    def __init__(self) -> None:
        self.s3, self.dynamodb, self.events = boto3.client("s3"), boto3.client("dynamodb"), boto3.client("events")
        for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
            self.s3.create_bucket(Bucket=bucket)
            self.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        create_jobs_table(self.dynamodb, TABLE)
        self.sqs = boto3.client("sqs")
        self.queue_url = self.sqs.create_queue(QueueName="batches")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        pattern = {"source": ["avatar.pipeline"], "detail-type": ["Avatar Batch Completed"]}
        self.events.put_rule(Name="batches", EventPattern=json.dumps(pattern))
        self.events.put_targets(Rule="batches", Targets=[{"Id": "queue", "Arn": queue_arn}])

    def drop(self, key: str, body: bytes, bucket: str = INPUT_BUCKET) -> BatchSource:
        return batch_source(object_created(key, self.s3.put_object(Bucket=bucket, Key=key, Body=body), bucket))

    def prepare(self, source: BatchSource) -> BatchSummary:
        summary = prepare_batch(self.s3, source, input_bucket=INPUT_BUCKET)
        assert isinstance(summary, BatchSummary)
        return summary

    def items(self, summary: BatchSummary) -> Any:
        return json.loads(self.s3.get_object(Bucket=summary.items.bucket, Key=summary.items.key)["Body"].read())

    def record(self, job_id: str, status: str, **fields: Any) -> None:
        item = {"job_id": job_id, "status": status, "attempt": 1, **fields}
        self.dynamodb.put_item(TableName=TABLE, Item={name: to_value(value) for name, value in item.items()})

    def report(self, summary: BatchSummary) -> Any:
        return report_batch(
            summary,
            s3=self.s3,
            dynamodb=self.dynamodb,
            events=self.events,
            input_bucket=INPUT_BUCKET,
            output_bucket=OUTPUT_BUCKET,
            jobs_table=TABLE,
            event_bus="default",
        )

    def output(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read()
        return body

    def published(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return [json.loads(message["Body"]) for message in messages.get("Messages", [])]


@pytest.fixture
def stack(mocked_aws: None) -> Stack:
    return Stack()


def jsonl(rows: list[Any]) -> bytes:
    return "\n".join(json.dumps(row) for row in rows).encode()


# --- PrepareBatch ---------------------------------------------------------------------------------


def test_prepare_writes_the_rows_as_one_json_array_for_the_map(stack: Stack) -> None:
    source = stack.drop("batches/team/lessons.jsonl", jsonl([{"image": "a.png", "audio": "a.mp3"}, [1], {"x": 1}]))
    summary = stack.prepare(source)
    batch_id = summary.batch.batch_id
    assert summary.model_dump(mode="json") == {
        "batch": {
            "name": "lessons",
            "batch_id": batch_id,
            "key": f"s3://{INPUT_BUCKET}/batches/team/lessons.jsonl",
            "folder": "batches/team",
        },
        "items": {"bucket": INPUT_BUCKET, "key": f"batches-normalized/{batch_id}/rows"},
        "rows": 3,
        "bad_rows": 1,
    }
    items = stack.items(summary)
    assert isinstance(items, list)
    assert [(item["row"], item["request"], item["problem"]) for item in items] == [
        (1, {"image": "a.png", "audio": "a.mp3"}, None),
        (2, None, "row 2: not a JSON object (an array) (line 2)"),
        (3, {"x": 1}, None),
    ]
    assert all(item["batch"] == summary.batch.model_dump() for item in items)
    assert len({item["job_id"] for item in items}) == 3


def test_prepare_is_idempotent_and_a_redrop_is_a_new_batch_with_the_same_job_ids(stack: Stack) -> None:
    body = b"image,audio,options.output_resolution\na.png,a.mp3,720\nb.png,b.mp3,1080\n"
    source = stack.drop("batches/lessons.CSV", body)
    first = stack.prepare(source)
    first_bytes = stack.s3.get_object(Bucket=INPUT_BUCKET, Key=first.items.key)["Body"].read()
    again = stack.prepare(source)
    assert again == first
    assert stack.s3.get_object(Bucket=INPUT_BUCKET, Key=again.items.key)["Body"].read() == first_bytes

    redrop = stack.prepare(stack.drop("batches/lessons.CSV", body))
    assert redrop.batch.batch_id != first.batch.batch_id
    assert [item["job_id"] for item in stack.items(redrop)] == [item["job_id"] for item in stack.items(first)]


def test_prepare_reads_the_version_the_event_names(stack: Stack) -> None:
    source = stack.drop("batches/v.jsonl", jsonl([{"image": "old.png"}]))
    stack.drop("batches/v.jsonl", jsonl([{"image": "new.png"}]))
    assert stack.items(stack.prepare(source))[0]["request"] == {"image": "old.png"}


def test_prepare_in_an_unversioned_bucket_refuses_a_file_replaced_since_its_event(stack: Stack) -> None:
    stack.s3.create_bucket(Bucket="plain-input")
    source = stack.drop("batches/p.jsonl", jsonl([{"image": "old.png"}]), bucket="plain-input")
    assert source.version_id is None
    summary = prepare_batch(stack.s3, source, input_bucket="plain-input")
    assert isinstance(summary, BatchSummary)
    stack.drop("batches/p.jsonl", jsonl([{"image": "new.png"}]), bucket="plain-input")
    with pytest.raises(InvalidRequest, match="was replaced after this event"):
        prepare_batch(stack.s3, source, input_bucket="plain-input")


def test_prepare_finds_a_url_encoded_key(stack: Stack) -> None:
    source = stack.drop("batches/spring lessons.jsonl", jsonl([{"image": "a.png"}]))
    encoded = BatchSource(INPUT_BUCKET, "batches/spring+lessons.jsonl", source.version_id, source.etag, None)
    summary = stack.prepare(encoded)
    assert summary.batch.key == f"s3://{INPUT_BUCKET}/batches/spring lessons.jsonl"
    assert summary.batch.name == "spring lessons"


def test_prepare_ignores_objects_that_are_not_batches(stack: Stack) -> None:
    source = stack.drop("batches/notes.txt", b"hello")
    result = prepare_batch(stack.s3, source, input_bucket=INPUT_BUCKET)
    assert isinstance(result, BatchIgnored)
    assert "is not a batch" in result.ignored


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"", "is empty"), (b"\xff\xfe", "is not UTF-8"), (b"a.png,a.mp3\n", "has no header row")],
)
def test_prepare_refuses_a_file_that_cannot_be_a_batch(stack: Stack, body: bytes, message: str) -> None:
    source = stack.drop("batches/broken.csv", body)
    with pytest.raises(InvalidRequest, match=message):
        prepare_batch(stack.s3, source, input_bucket=INPUT_BUCKET)


def test_prepare_refuses_a_file_over_the_cap_without_reading_it(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batches, "MAX_BATCH_BYTES", 1000)
    source = stack.drop("batches/big.jsonl", jsonl([{"image": "a.png", "prompt": "x" * 2000}]))
    with pytest.raises(InvalidRequest, match="larger than the limit of 1000 bytes"):
        prepare_batch(stack.s3, source, input_bucket=INPUT_BUCKET)


def test_prepare_refuses_a_deleted_file_and_one_in_another_bucket(stack: Stack) -> None:
    source = stack.drop("batches/gone.jsonl", jsonl([{"image": "a.png"}]))
    stack.s3.delete_object(Bucket=INPUT_BUCKET, Key="batches/gone.jsonl", VersionId=source.version_id)
    with pytest.raises(InvalidRequest, match="no longer exists"):
        prepare_batch(stack.s3, source, input_bucket=INPUT_BUCKET)
    with pytest.raises(InvalidRequest, match="is not in the input bucket"):
        prepare_batch(stack.s3, source, input_bucket="another-bucket")


def test_prepare_maps_s3_failures_to_contract_errors(stack: Stack) -> None:
    source = BatchSource("no-such-bucket", "batches/a.jsonl", None, "etag", None)
    with pytest.raises(InvalidRequest, match=r"reading batch s3://no-such-bucket/batches/a\.jsonl failed"):
        prepare_batch(stack.s3, source, input_bucket="no-such-bucket")
    throttled = boto3.client("s3")
    with Stubber(throttled) as stub:
        stub.add_client_error("get_object", service_error_code="SlowDown", http_status_code=503)
        with pytest.raises(ProviderUnavailable, match="answered SlowDown"):
            prepare_batch(throttled, stack.drop("batches/a.jsonl", b"{}"), input_bucket=INPUT_BUCKET)


# --- ReportBatch ----------------------------------------------------------------------------------


def prepared(stack: Stack, rows: int) -> tuple[BatchSummary, list[dict[str, Any]]]:
    summary = stack.prepare(stack.drop("batches/big run.jsonl", jsonl([{"image": f"{n}.png"} for n in range(rows)])))
    return summary, stack.items(summary)


def count_batch_gets(client: Any) -> list[int]:
    sizes: list[int] = []

    def seen(params: dict[str, Any], **_: Any) -> None:
        sizes.append(sum(len(request["Keys"]) for request in params["RequestItems"].values()))

    client.meta.events.register("provide-client-params.dynamodb.BatchGetItem", seen)
    return sizes


def test_report_reads_the_records_in_bulk_writes_both_reports_and_publishes(stack: Stack) -> None:
    summary, items = prepared(stack, 250)
    ids = [item["job_id"] for item in items]
    for n, job_id in enumerate(ids):
        if n % 5 == 0:
            stack.record(job_id, "FAILED", error="InvalidMedia", cause="=the portrait is 20 px wide", attempt=2)
        elif n % 5 == 1:
            stack.record(job_id, "CANCELLED", error="JobCancelled", cause="stopped")
        elif n < 240:
            output = f"s3://{OUTPUT_BUCKET}/{job_id}/video.mp4"
            stack.record(job_id, "SUCCEEDED", output_uri=output, estimated_cost_usd=0.14, actual_cost_usd=0.12)
    sizes = count_batch_gets(stack.dynamodb)

    completed = stack.report(summary)

    assert sizes == [100, 100, 50]
    counts = {"SUCCEEDED": 144, "FAILED": 50, "CANCELLED": 50, "RUNNING": 0, "QUEUED": 0, "MISSING": 6}
    folder = f"batches/big run/{summary.batch.batch_id}/"
    assert completed.model_dump() == {
        "batch_id": summary.batch.batch_id,
        "name": "big run",
        "source": f"s3://{INPUT_BUCKET}/batches/big run.jsonl",
        "rows": 250,
        "counts": counts,
        "report_uri": f"s3://{OUTPUT_BUCKET}/{folder}report.json",
        "report_csv_uri": f"s3://{OUTPUT_BUCKET}/{folder}report.csv",
    }

    report = json.loads(stack.output(f"{folder}report.json"))
    assert report["batch"] == summary.batch.model_dump()
    assert (report["rows"], report["counts"]) == (250, counts)
    entries = report["entries"]
    assert [entry["row"] for entry in entries] == list(range(1, 251))
    assert entries[0] == {
        "row": 1,
        "job_id": ids[0],
        "status": "FAILED",
        "attempt": 2,
        "error": "InvalidMedia",
        "cause": "=the portrait is 20 px wide",
        "output_uri": None,
        "estimated_cost_usd": None,
        "actual_cost_usd": None,
    }
    assert entries[2]["output_uri"] == f"s3://{OUTPUT_BUCKET}/{ids[2]}/video.mp4"
    assert (entries[2]["estimated_cost_usd"], entries[2]["actual_cost_usd"]) == (0.14, 0.12)
    assert entries[249]["status"] == "MISSING"
    assert entries[249]["cause"] == "no job record: this row's job never started"

    table = list(csv.reader(io.StringIO(stack.output(f"{folder}report.csv").decode())))
    assert table[0] == list(REPORT_COLUMNS)
    assert len(table) == 251
    assert table[1] == [
        "1",
        ids[0],
        "FAILED",
        "2",
        "InvalidMedia",
        "'=the portrait is 20 px wide",  # a spreadsheet would run it as a formula
        "",
        "",
        "",
    ]
    assert table[3] == ["3", ids[2], "SUCCEEDED", "1", "", "", entries[2]["output_uri"], "0.14", "0.12"]

    (event,) = stack.published()
    assert (event["source"], event["detail-type"]) == ("avatar.pipeline", "Avatar Batch Completed")
    assert event["detail"] == completed.model_dump()


def test_reporting_again_rewrites_the_reports_and_publishes_again(stack: Stack) -> None:
    summary, items = prepared(stack, 3)
    stack.record(items[0]["job_id"], "SUCCEEDED")
    first = stack.report(summary)
    folder = f"batches/big run/{summary.batch.batch_id}/"
    before = stack.output(f"{folder}report.json")
    assert stack.report(summary) == first
    assert stack.output(f"{folder}report.json") == before
    versions = stack.s3.list_object_versions(Bucket=OUTPUT_BUCKET, Prefix=f"{folder}report.json")["Versions"]
    assert len(versions) == 2
    assert [event["detail"]["batch_id"] for event in stack.published()] == [first.batch_id] * 2


def test_a_bad_row_without_a_record_is_missing_with_its_problem(stack: Stack) -> None:
    summary = stack.prepare(stack.drop("batches/mixed.jsonl", b'{"image": "a.png"}\nnot json\n'))
    completed = stack.report(summary)
    assert completed.counts["MISSING"] == 2
    entries = json.loads(stack.output(f"batches/mixed/{summary.batch.batch_id}/report.json"))["entries"]
    assert entries[1]["cause"].startswith("row 2: not valid JSON")


def test_rows_sharing_a_job_id_are_read_once_and_both_reported(stack: Stack) -> None:
    rows = [{"image": "a.png", "job_id": "shared-1"}, {"image": "b.png", "job_id": "shared-1"}]
    summary = stack.prepare(stack.drop("batches/shared.jsonl", jsonl(rows)))
    stack.record("shared-1", "SUCCEEDED")
    sizes = count_batch_gets(stack.dynamodb)
    completed = stack.report(summary)
    assert sizes == [1]
    assert completed.counts["SUCCEEDED"] == 2


class Stingy:
    """A DynamoDB client that leaves half of every BatchGetItem's keys unprocessed, ``rounds`` times at most."""

    def __init__(self, real: Any, rounds: int) -> None:
        self.real, self.rounds, self.calls = real, rounds, 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> Any:
        self.calls += 1
        if self.rounds <= 0:
            return self.real.batch_get_item(RequestItems=RequestItems)
        self.rounds -= 1
        ((table, request),) = RequestItems.items()
        keys, half = request["Keys"], len(request["Keys"]) // 2
        served = {table: {**request, "Keys": keys[:half]}}
        response = self.real.batch_get_item(RequestItems=served) if half else {"Responses": {table: []}}
        response["UnprocessedKeys"] = {table: {**request, "Keys": keys[half:]}}
        return response


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(batch_report.time, "sleep", slept.append)
    return slept


def test_unprocessed_keys_are_asked_again(stack: Stack, sleeps: list[float]) -> None:
    ids = [f"job-{n}" for n in range(150)]
    for job_id in ids:
        stack.record(job_id, "SUCCEEDED")
    stingy = Stingy(stack.dynamodb, rounds=3)
    records = job_records(stingy, TABLE, ids)  # type: ignore[arg-type]
    assert set(records) == set(ids)
    assert stingy.calls == 5  # 100 keys: 50 + 25 + 12 + 13; then the other 50 at once
    assert len(sleeps) == 3
    assert all(0 <= pause <= 2 for pause in sleeps)


def test_keys_left_unprocessed_for_good_are_a_retried_failure(stack: Stack, sleeps: list[float]) -> None:
    stack.record("job-1", "SUCCEEDED")
    with pytest.raises(ProviderUnavailable, match="left keys unprocessed"):
        job_records(Stingy(stack.dynamodb, rounds=100), TABLE, ["job-1"])  # type: ignore[arg-type]


def test_a_missing_table_is_a_retried_failure(stack: Stack) -> None:
    with pytest.raises(ProviderUnavailable, match="reading job records from no-such-table"):
        job_records(stack.dynamodb, "no-such-table", ["job-1"])


def test_report_refuses_items_outside_the_input_bucket(stack: Stack) -> None:
    summary, _ = prepared(stack, 1)
    moved = summary.model_copy(update={"items": summary.items.model_copy(update={"bucket": OUTPUT_BUCKET})})
    with pytest.raises(InvalidRequest, match="must be in the input bucket"):
        stack.report(moved)


# --- the handlers, as Lambda calls them ---------------------------------------------------------


@pytest.fixture(scope="module")
def handlers() -> Iterator[dict[str, ModuleType]]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in COMMON_ENV.items():
            patch.setenv(name, value)
        yield {name: load_handler(name) for name in FUNCTION_ENV}


@pytest.fixture
def invoke(handlers: dict[str, ModuleType], stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in COMMON_ENV.items():
        monkeypatch.setenv(name, value)

    def call(name: str, event: dict[str, Any]) -> Any:
        with monkeypatch.context() as patch:
            for variable, value in FUNCTION_ENV[name].items():
                patch.setenv(variable, value)
            result = handlers[name].lambda_handler(event, FakeLambdaContext(function_name=f"avatar-{name}"))
        json.dumps(result)
        return result

    return call


def test_the_handlers_prepare_and_report_a_batch(stack: Stack, invoke: Any) -> None:
    key = "batches/handler.jsonl"
    put = stack.s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=jsonl([{"image": "a.png"}, {"image": "b.png"}]))
    summary = invoke("prepare_batch", {"event": object_created(key, put), "execution_name": "batch-1"})
    assert summary["accepted"] is True
    assert (summary["rows"], summary["bad_rows"]) == (2, 0)
    items = json.loads(stack.s3.get_object(Bucket=INPUT_BUCKET, Key=summary["items"]["key"])["Body"].read())
    stack.record(items[0]["job_id"], "SUCCEEDED")
    stack.record(items[1]["job_id"], "FAILED", error="InvalidRequest", cause="image: missing")

    result = invoke("report_batch", summary)

    assert result["counts"] == {"SUCCEEDED": 1, "FAILED": 1, "CANCELLED": 0, "RUNNING": 0, "QUEUED": 0, "MISSING": 0}
    assert result["report_uri"] == f"s3://{OUTPUT_BUCKET}/batches/handler/{summary['batch']['batch_id']}/report.json"
    assert [event["detail"]["batch_id"] for event in stack.published()] == [summary["batch"]["batch_id"]]


def test_the_prepare_handler_ignores_other_objects(stack: Stack, invoke: Any) -> None:
    put = stack.s3.put_object(Bucket=INPUT_BUCKET, Key="batches/readme.md", Body=b"#")
    result = invoke("prepare_batch", {"event": object_created("batches/readme.md", put), "execution_name": "x"})
    assert result["accepted"] is False
    assert result["ignored"] == f"s3://{INPUT_BUCKET}/batches/readme.md is not a batch (batches/<name>.csv|.jsonl)"
