"""Which stack an operator command drives: the local one (``--state-dir``, its ``stack.json``) or a deployed one
(``--stack-name``, read from its CloudFormation outputs), and clients for it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from ..stack_info import StackInfo

# The stack outputs (template.yaml ``Outputs``) an operator command needs, by the field they fill.
OUTPUTS = {
    "input_bucket": "InputBucketName",
    "output_bucket": "OutputBucketName",
    "state_machine_arn": "StateMachineArn",
    "batch_state_machine_arn": "BatchStateMachineArn",
    "jobs_table": "JobsTableName",
    "admission_table": "AdmissionTableName",
}
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30)


class UsageError(Exception):
    """Bad usage, no stack or no credentials: exit code 2, one line, no traceback."""


@dataclass(frozen=True)
class OperatorStack:
    """Where a stack's jobs live, and how to reach its AWS (the local endpoint and keys, or the default chain)."""

    name: str
    jobs_table: str
    admission_table: str
    state_machine_arn: str
    batch_state_machine_arn: str
    input_bucket: str
    output_bucket: str
    session_options: dict[str, str] = field(default_factory=dict)
    endpoint_url: str | None = None

    def client(self, service: str) -> Any:
        session = _session(self.session_options)
        return session.client(service, endpoint_url=self.endpoint_url, config=CLIENT_CONFIG)  # type: ignore[call-overload]


def add_target_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("which stack (contract: the operator CLI)")
    where.add_argument("--state-dir", default=".local", help="the local stack's directory (default .local)")
    where.add_argument("--stack-name", help="a deployed stack, found through its CloudFormation outputs")
    where.add_argument("--region", help="the deployed stack's region (default: the AWS configuration's)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")


def resolve(args: argparse.Namespace) -> OperatorStack:
    if args.stack_name:
        return _deployed(args.stack_name, args.region)
    try:
        info = StackInfo.load(Path(args.state_dir))
    except (FileNotFoundError, TypeError, ValueError) as error:
        raise UsageError(f"no local stack: {error}") from error
    return OperatorStack(
        name=f"local stack in {args.state_dir}",
        input_bucket=info.input_bucket,
        output_bucket=info.output_bucket,
        state_machine_arn=info.state_machine_arn,
        batch_state_machine_arn=info.batch_state_machine_arn,
        jobs_table=info.jobs_table,
        admission_table=info.admission_table,
        session_options={
            "region_name": info.region,
            "aws_access_key_id": info.access_key_id,
            "aws_secret_access_key": info.secret_access_key,
        },
        endpoint_url=info.endpoint_url,
    )


def _deployed(stack_name: str, region: str | None) -> OperatorStack:
    session_options = {"region_name": region} if region else {}
    try:
        cloudformation = _session(session_options).client("cloudformation", config=CLIENT_CONFIG)
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except (NoCredentialsError, NoRegionError) as error:
        raise UsageError(f"cannot reach stack {stack_name}: {error}") from error
    except ClientError as error:
        raise UsageError(f"stack {stack_name}: {error.response['Error'].get('Message', error)}") from error
    except BotoCoreError as error:
        raise UsageError(f"cannot reach stack {stack_name}: {error}") from error
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}
    missing = sorted(output for output in OUTPUTS.values() if output not in outputs)
    if missing:
        raise UsageError(f"stack {stack_name} is not an avatar-pipeline stack: it has no output {', '.join(missing)}")
    return OperatorStack(
        name=f"stack {stack_name}",
        session_options=session_options,
        **{name: outputs[output] for name, output in OUTPUTS.items()},
    )


def _session(options: dict[str, str]) -> boto3.session.Session:
    return boto3.session.Session(
        region_name=options.get("region_name"),
        aws_access_key_id=options.get("aws_access_key_id"),
        aws_secret_access_key=options.get("aws_secret_access_key"),
    )
