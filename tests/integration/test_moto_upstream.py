"""What plain moto (5.2.x, as pinned in pyproject.toml) still lacks, for each of the local stack's patches.

Every test here shows the gap in moto without the patch. A test that starts failing after a moto upgrade means the
upstream fixed that gap: drop the patch (or the part of ``cfn`` it names) and this test with it.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from avatar_pipeline import crc32
from moto import mock_aws
from moto.core.request import Request as MotoRequest

from tests import moto_bodies

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/local"
REGION = "us-east-1"


@pytest.fixture
def moto(aws_env: None) -> Iterator[None]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        yield


def _client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]


def _run(definition: dict[str, Any], name: str | None = None, payload: Any = None) -> dict[str, Any]:
    sfn = _client("stepfunctions")
    arn = sfn.create_state_machine(name="probe", definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    kwargs = {"stateMachineArn": arn, "input": json.dumps(payload or {})}
    if name:
        kwargs["name"] = name
    execution = sfn.start_execution(**kwargs)["executionArn"]
    for _ in range(100):
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    return described


PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def test_cfn_moto_cloudformation_cannot_create_a_secret(moto: None) -> None:
    """cfn: moto's create_stack skips AWS::SecretsManager::Secret (and drops what refers to it)."""
    template = {"Resources": {"Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": "{}"}}}}
    with pytest.warns(UserWarning, match="not supported"):
        _client("cloudformation").create_stack(StackName="probe", TemplateBody=json.dumps(template))
    assert _client("secretsmanager").list_secrets()["SecretList"] == []


def test_cfn_moto_cloudformation_ignores_a_buckets_public_access_block(moto: None) -> None:
    """cfn: moto's create_stack creates the bucket without its PublicAccessBlockConfiguration."""
    block = dict.fromkeys(("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True)
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "probe", "PublicAccessBlockConfiguration": block}}
    _client("cloudformation").create_stack(StackName="probe", TemplateBody=json.dumps({"Resources": {"B": bucket}}))
    s3 = _client("s3")
    assert s3.head_bucket(Bucket="probe")
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchPublicAccessBlockConfiguration"):
        s3.get_public_access_block(Bucket="probe")


def test_execution_names_an_unnamed_execution_is_called_none(moto: None) -> None:
    """execution_names: StartExecution without a name gets the name "None" from moto's interpreter backend."""
    sfn = _client("stepfunctions")
    arn = sfn.create_state_machine(name="probe", definition=json.dumps(PASS), roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert execution.endswith(":None")


def test_stop_execution_moto_ignores_the_error_and_cause(moto: None) -> None:
    """stop_execution: moto's StopExecution handler reads only the ARN."""
    from moto.stepfunctions.responses import StepFunctionResponse

    assert "cause" not in inspect.getsource(StepFunctionResponse.stop_execution)


def test_send_task_failure_moto_ignores_the_cause(moto: None) -> None:
    """send_task_failure: moto's SendTaskFailure handler reads the token and the error, not the cause."""
    from moto.stepfunctions.responses import StepFunctionResponse

    assert "cause" not in inspect.getsource(StepFunctionResponse.send_task_failure)


def test_eventbridge_a_rule_does_not_start_a_state_machine(moto: None) -> None:
    """eventbridge: moto's rule delivery has no Step Functions (or Lambda) target."""
    sfn, events = _client("stepfunctions"), _client("events")
    arn = sfn.create_state_machine(name="target", definition=json.dumps(PASS), roleArn=ROLE)["stateMachineArn"]
    events.put_rule(Name="probe", EventPattern=json.dumps({"source": ["probe"]}))
    events.put_targets(Rule="probe", Targets=[{"Id": "sm", "Arn": arn, "RoleArn": ROLE}])
    with pytest.raises(NotImplementedError):
        events.put_events(Entries=[{"Source": "probe", "DetailType": "probe", "Detail": "{}"}])
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_status_events_an_execution_puts_no_status_change_event(moto: None) -> None:
    """status_events: moto's interpreter puts no "Step Functions Execution Status Change" event."""
    sqs, events = _client("sqs"), _client("events")
    queue = sqs.create_queue(QueueName="heard")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="ended", EventPattern=json.dumps({"source": ["aws.states"]}))
    events.put_targets(Rule="ended", Targets=[{"Id": "q", "Arn": queue_arn}])
    assert _run(PASS, name="heard")["status"] == "SUCCEEDED"
    time.sleep(0.2)
    assert "Messages" not in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)


def test_s3_policy_a_tls_only_statement_denies_every_request(moto: None) -> None:
    """s3_policy: moto evaluates a Deny statement whose Bool condition does not hold as a denial."""
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import s3_backends

    s3 = _client("s3")
    s3.create_bucket(Bucket="probe")
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::probe", "arn:aws:s3:::probe/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    allow = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::probe/*"}
    s3.put_bucket_policy(Bucket="probe", Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny, allow]}))
    bucket = s3_backends["123456789012"]["aws"].buckets["probe"]
    assert bucket.get_permission("s3:GetObject", "arn:aws:s3:::probe/key") == PermissionResult.DENIED


def test_sfn_integration_start_execution_parameters_are_not_translated(moto: None) -> None:
    """sfn_integration: moto hands the ASL's PascalCase StartExecution parameters to boto3 unchanged."""
    sfn = _client("stepfunctions")
    child = sfn.create_state_machine(name="child", definition=json.dumps(PASS), roleArn=ROLE)["stateMachineArn"]
    parent = {
        "StartAt": "Start",
        "States": {
            "Start": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution",
                "Parameters": {"StateMachineArn": child, "Input": {}},
                "End": True,
            }
        },
    }
    assert _run(parent)["status"] == "FAILED"


def test_sfn_integration_a_refused_lambda_invoke_is_called_exception() -> None:
    """sfn_integration: moto names every failed Lambda invoke ``Exception``, not ``Lambda.<its error code>``."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda

    source = inspect.getsource(StateTaskLambda._from_error)
    assert 'error = "Exception"' in source
    assert "Lambda." not in source


def test_dynamodb_atomicity_requests_are_handled_without_a_lock() -> None:
    """dynamodb_atomicity: moto's DynamoDB handler and transactions take no lock."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    assert "lock" not in inspect.getsource(DynamoHandler.call_action).lower()
    assert "deepcopy" in inspect.getsource(DynamoDBBackend.transact_write_items)


def test_dynamodb_costs_a_key_query_reads_every_partition() -> None:
    """dynamodb_costs: a Query on a table's own key sorts every item of the table; a transaction copies tables."""
    from moto.dynamodb.models.table import Table

    assert "self.all_items()" in inspect.getsource(Table.query)


def test_interpreter_caches_each_execution_parses_again_and_each_call_builds_a_client() -> None:
    """interpreter_caches: every execution parses its definition again; every call builds a boto3 client."""
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    assert "AmazonStateLanguageParser.parse" in inspect.getsource(ExecutionWorker._get_evaluation_entrypoint)
    assert boto_client_for(region=REGION, service="sqs") is not boto_client_for(region=REGION, service="sqs")


def test_lambda_runtime_moto_without_docker_echoes_the_payload(moto: None) -> None:
    """lambda_runtime: without Docker, moto's Lambda answers every invocation with its own payload."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    answer = LambdaSimpleBackend.invoke(LambdaSimpleBackend(REGION, "123456789012"), "f", None, '{"x": 1}', {}, {})
    assert answer == b'{"x": 1}'


def test_variables_and_jsonata_cannot_be_evaluated(moto: None) -> None:
    """Why the ASL threads job and media through the states: moto parses Assign, but reading a variable goes
    through its JSONata evaluator, which is a stub (``_eval_jsonata = None``)."""
    definition = {
        "StartAt": "Keep",
        "States": {
            "Keep": {"Type": "Pass", "Assign": {"job.$": "$.job"}, "Next": "Read"},
            "Read": {"Type": "Pass", "Parameters": {"job.$": "$job"}, "End": True},
        },
    }
    described = _run(definition, payload={"job": {"job_id": "x"}})
    assert described["status"] == "FAILED"
    assert "NoneType" in described.get("cause", "")


def test_in_process_moto_refuses_a_bytearray_body(moto: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """``tests.moto_bodies``: S3 stores a bytearray body; moto's in-process mock fails on it inside werkzeug."""
    monkeypatch.setattr(MotoRequest, "from_primitives", classmethod(moto_bodies.PLAIN_FROM_PRIMITIVES))
    s3 = _client("s3")
    s3.create_bucket(Bucket="upstream")
    upload = s3.create_multipart_upload(Bucket="upstream", Key="k")["UploadId"]
    body = bytearray(b"part")
    with pytest.raises(AttributeError, match="bytearray"):
        # With its CRC given, as a copy sends a part: botocore then sends the body as it is, not wrapped in a stream.
        s3.upload_part(
            Bucket="upstream",
            Key="k",
            UploadId=upload,
            PartNumber=1,
            Body=body,
            ChecksumCRC32=crc32.encoded(crc32.of(body)),
        )
