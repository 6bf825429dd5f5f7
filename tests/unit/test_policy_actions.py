"""Which IAM actions an API call needs (avatar_local.policy.iam_actions), checked against the Service
Authorization Reference data make policy-check installs."""

from __future__ import annotations

import pytest
from avatar_local.policy.iam_actions import Call, Need, UnknownAction, needs

REGION, ACCOUNT = "us-east-1", "123456789012"


def _needs(service: str, operation: str, resource: dict[str, object], status: str = "ok") -> list[Need]:
    return needs(Call(service, operation, resource, status), REGION, ACCOUNT)


@pytest.mark.parametrize("operation", ["CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "PutObject"])
def test_multipart_uploads_are_authorized_as_put_object(operation: str) -> None:
    found = _needs("s3", operation, {"Bucket": "out", "Key": "j/video.mp4"})
    assert [(n.action, n.resource) for n in found] == [("s3:PutObject", "arn:aws:s3:::out/j/video.mp4")]
    assert found[0].context == {"aws:SecureTransport": "true"}


def test_a_head_object_that_found_nothing_also_needs_list_bucket() -> None:
    found = _needs("s3", "HeadObject", {"Bucket": "in", "Key": "jobs/x/job.json"}, "not_found")
    assert [(n.action, n.resource) for n in found] == [
        ("s3:GetObject", "arn:aws:s3:::in/jobs/x/job.json"),
        ("s3:ListBucket", "arn:aws:s3:::in"),
    ]
    assert [n.action for n in _needs("s3", "HeadObject", {"Bucket": "in", "Key": "k"})] == ["s3:GetObject"]


def test_a_copy_reads_its_source_and_writes_its_destination() -> None:
    found = _needs("s3", "UploadPartCopy", {"Bucket": "out", "Key": "a", "CopySource": {"Bucket": "in", "Key": "b"}})
    assert [(n.action, n.resource) for n in found] == [
        ("s3:PutObject", "arn:aws:s3:::out/a"),
        ("s3:GetObject", "arn:aws:s3:::in/b"),
    ]


def test_listing_carries_its_prefix_as_context() -> None:
    (found,) = _needs("s3", "ListObjectsV2", {"Bucket": "in", "Prefix": "drop/"})
    assert (found.action, found.resource, found.context["s3:prefix"]) == ("s3:ListBucket", "arn:aws:s3:::in", "drop/")


def test_transactions_are_authorized_item_by_item() -> None:
    items = [{"op": "Put", "TableName": "jobs"}, {"op": "ConditionCheck", "TableName": "admission"}]
    found = _needs("dynamodb", "TransactWriteItems", {"TransactItems": items})
    assert [(n.action, n.resource) for n in found] == [
        ("dynamodb:PutItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/jobs"),
        ("dynamodb:ConditionCheckItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/admission"),
    ]


def test_a_query_on_an_index_names_the_index() -> None:
    (found,) = _needs("dynamodb", "Query", {"TableName": "jobs", "IndexName": "by-status"})
    assert found.resource.endswith("table/jobs/index/by-status")


def test_task_token_actions_can_only_be_granted_on_every_resource() -> None:
    (found,) = _needs("stepfunctions", "SendTaskSuccess", {})
    assert (found.action, found.resource) == ("states:SendTaskSuccess", "*")


def test_lambda_invoke_is_invoke_function_whether_named_or_by_arn() -> None:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:dispatch"
    assert _needs("lambda", "Invoke", {"FunctionName": "dispatch"}) == [Need("lambda:InvokeFunction", arn)]
    assert _needs("lambda", "Invoke", {"FunctionName": arn}) == [Need("lambda:InvokeFunction", arn)]


def test_events_default_to_the_default_bus() -> None:
    (found,) = _needs("events", "PutEvents", {"Entries": []})
    assert found.resource == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"


def test_an_operation_with_no_action_of_that_name_is_refused_not_guessed() -> None:
    with pytest.raises(UnknownAction, match="s3:SelectEverything"):
        _needs("s3", "SelectEverything", {"Bucket": "b", "Key": "k"})
    with pytest.raises(UnknownAction, match="no Service Authorization Reference data"):
        _needs("notaservice", "DoIt", {})


def test_reading_a_given_version_is_get_object_version() -> None:
    (found,) = _needs("s3", "GetObject", {"Bucket": "in", "Key": "jobs/x/job.json", "VersionId": "{version}"})
    assert found.action == "s3:GetObjectVersion"
