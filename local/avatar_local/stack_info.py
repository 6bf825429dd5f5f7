"""What a running local stack tells the commands that drive it (``.local/stack.json``): kept apart from the stack
itself, so a command that only reads it does not load moto, the simulator and the template machinery."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class StackInfo:
    """Contract: the fields of ``.local/stack.json``."""

    endpoint_url: str
    region: str
    input_bucket: str
    output_bucket: str
    state_machine_arn: str
    batch_state_machine_arn: str
    jobs_table: str
    secret_arn: str
    simulator_url: str
    webhook_url: str
    access_key_id: str
    secret_access_key: str
    lambda_log: str
    c2pa_trust_anchor: str = ""  # the root CA of this run's C2PA test chain (PEM file)
    admission_table: str = ""  # provider slots and queue (read by ``avatar-pipeline watch``)

    @classmethod
    def load(cls, state_dir: Path) -> StackInfo:
        stack_file = state_dir / "stack.json"
        if not stack_file.exists():
            raise FileNotFoundError(f"{stack_file} not found: start the stack with `avatar-pipeline local up` first")
        return cls(**json.loads(stack_file.read_text(encoding="utf-8")))
