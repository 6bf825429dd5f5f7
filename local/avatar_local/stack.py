"""The embedded local stack: moto server on loopback, the template's resources, the real handlers, the
EventBridge → Step Functions bridge and the provider simulator, all in one process."""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import boto3
import httpx
from moto.server import ThreadedMotoServer

from .call_recorder import StackRecorder
from .cfn import ACCOUNT_ID, Provisioned, Provisioner
from .dynamodb_atomicity import install_serialized_dynamodb
from .dynamodb_costs import install_dynamodb_shortcuts
from .eventbridge import install_state_machine_targets
from .execution_names import install_generated_execution_names
from .function_urls import FunctionUrlServer
from .interpreter_caches import install_interpreter_caches
from .lambda_runtime import LocalFunction, LocalLambdaRuntime, runtime_environment
from .s3_policy import install_loopback_transport_context
from .schedules import RuleScheduler, scale_from_environment
from .sfn_integration import install_sfn_service_integration
from .simulator import ProviderSimulator, SimulatorSettings
from .stack_info import LOOPBACK, StackInfo
from .status_events import install_status_change_events
from .stop_execution import install_stop_execution_details
from .template import expand, load_template
from .test_chain import local_signing_chain

log = logging.getLogger(__name__)
# Set: moto's interpreter and DynamoDB run without the local stack's shortcuts (the scale benchmark's baseline).
PLAIN_MOTO = "AVATAR_LOCAL_PLAIN_MOTO"

STACK_NAME = "avatar-pipeline"
PROVIDER_URL_PARAMETERS = ("WaveSpeedBaseUrl", "VolcengineBaseUrl", "KlingBaseUrl")
SIMULATED_KLING_USD_PER_UNIT = "1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def local_provider_credentials() -> dict[str, dict[str, str]]:
    """Fresh credentials for this run only, shared by the secret and the simulator."""
    return {
        "wavespeed": {"api_key": f"local-{secrets.token_hex(16)}"},
        "volcengine": {
            "access_key_id": f"AKLOCAL{secrets.token_hex(8)}",
            "secret_access_key": secrets.token_hex(20),
        },
        "kling": {"api_key": f"local-{secrets.token_hex(16)}"},
    }


class LocalStack:
    def __init__(
        self,
        project_root: Path,
        *,
        state_dir: Path,
        port: int = 0,
        simulator_port: int = 0,
        parameter_overrides: dict[str, str] | None = None,
        region: str = "us-east-1",
        simulator_settings: SimulatorSettings | None = None,
        schedule_scale: float | None = None,
    ) -> None:
        self.root = project_root
        self.state_dir = state_dir
        self.port = port or free_port()
        self.simulator_port = simulator_port
        self.overrides = dict(parameter_overrides or {})
        self.region = region
        self.simulator_settings = simulator_settings
        self.access_key = f"LOCAL{secrets.token_hex(8).upper()}"
        self.secret_key = secrets.token_hex(20)
        self._server: ThreadedMotoServer | None = None
        self._simulator: ProviderSimulator | None = None
        self._runtime: LocalLambdaRuntime | None = None
        self._function_urls: list[FunctionUrlServer] = []
        self._scheduler = RuleScheduler(ACCOUNT_ID, region, scale=schedule_scale or scale_from_environment())
        self._uninstall_patches: list[Callable[[], None]] = []
        self._recorder: StackRecorder | None = None
        self.info: StackInfo | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> StackInfo:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        stack_file = self.state_dir / "stack.json"
        stack_file.unlink(missing_ok=True)
        # moto's state machine interpreter calls back into the server on this port.
        os.environ["MOTO_PORT"] = str(self.port)
        # The template attaches AWS managed policies (basic execution, X-Ray); moto loads them only on request.
        os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
        self._recorder = StackRecorder.from_environment()
        self._uninstall_patches.append(install_loopback_transport_context())
        self._uninstall_patches.append(install_generated_execution_names())
        self._uninstall_patches.append(install_stop_execution_details())
        self._uninstall_patches.append(install_sfn_service_integration())
        if not os.environ.get(PLAIN_MOTO):
            self._uninstall_patches.append(install_interpreter_caches())
        self._uninstall_patches.append(install_serialized_dynamodb())
        if not os.environ.get(PLAIN_MOTO):
            self._uninstall_patches.append(install_dynamodb_shortcuts())
        self._server = ThreadedMotoServer(ip_address=LOOPBACK, port=self.port, verbose=False)
        self._server.start()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        httpx.post(
            f"{self.endpoint_url}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}},
        ).raise_for_status()

        credentials = local_provider_credentials()
        self._simulator = ProviderSimulator(
            credentials, host=LOOPBACK, port=self.simulator_port, settings=self.simulator_settings
        )
        self._simulator.start()

        parameters = dict.fromkeys(PROVIDER_URL_PARAMETERS, self._simulator.url)
        parameters["AllowLoopbackEndpoints"] = "true"
        if "KlingUsdPerUnit" in load_template(self.root / "template.yaml").get("Parameters", {}):
            # The simulator charges a Kling task 0.1 unit per second (std), so a unit at $1 matches the default
            # KlingPriceUsdPerSecond: a Kling job gets its actual_cost_usd, as on an account whose unit price is set.
            parameters["KlingUsdPerUnit"] = SIMULATED_KLING_USD_PER_UNIT
        parameters.update(self.overrides)
        session = boto3.Session(
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key, region_name=self.region
        )
        template = expand(self.root / "template.yaml", parameters, self.region)
        provisioner = Provisioner(
            template,
            session=session,
            endpoint_url=self.endpoint_url,
            stack_name=STACK_NAME,
            parameter_values=parameters,
        )
        provisioned = provisioner.provision()
        if self._recorder is not None:
            self._recorder.provisioned(provisioned.resources, ACCOUNT_ID, self.region)
        self._function_urls = list(provisioner.target.function_urls.values())
        secret_arn = provisioned.resources["ProviderSecret"].physical_id
        signing, trust_anchor = local_signing_chain(self.state_dir)
        session.client("secretsmanager", endpoint_url=self.endpoint_url).put_secret_value(
            SecretId=secret_arn, SecretString=json.dumps({**credentials, "c2pa": signing})
        )

        lambda_log = self.state_dir / "lambda.log"
        self._runtime = LocalLambdaRuntime(
            self._functions(provisioned),
            runtime_environment(self.endpoint_url, self.region, self.access_key, self.secret_key),
            lambda_log,
        )
        self._runtime.install()
        self._runtime.warm()
        for server in self._function_urls:
            server.start(session.client("lambda", endpoint_url=self.endpoint_url))
        self._uninstall_patches.append(
            install_state_machine_targets(self._recorder.delivered if self._recorder is not None else None)
        )
        # Last in, so it is the first out: the events still queued at stop reach targets through the bridge.
        self._uninstall_patches.append(install_status_change_events())
        self._scheduler.start()

        # Both absent from trimmed test templates.
        webhook, admission = (provisioned.resources.get(name) for name in ("WebhookFunctionUrl", "AdmissionTable"))
        self.info = StackInfo(
            endpoint_url=self.endpoint_url,
            region=self.region,
            input_bucket=provisioned.resources["InputBucket"].physical_id,
            output_bucket=provisioned.resources["OutputBucket"].physical_id,
            state_machine_arn=provisioned.resources["AvatarVideoStateMachine"].physical_id,
            batch_state_machine_arn=provisioned.resources["BatchStateMachine"].physical_id,
            jobs_table=provisioned.resources["JobsTable"].physical_id,
            secret_arn=secret_arn,
            simulator_url=self._simulator.url,
            webhook_url=webhook.physical_id if webhook else "",
            access_key_id=self.access_key,
            secret_access_key=self.secret_key,
            lambda_log=str(lambda_log),
            c2pa_trust_anchor=str(trust_anchor),
            admission_table=admission.physical_id if admission else "",
        )
        tmp = stack_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self.info), indent=2) + "\n", encoding="utf-8")
        tmp.replace(stack_file)
        return self.info

    def _functions(self, provisioned: Provisioned) -> list[LocalFunction]:
        layer_paths = {
            provisioned.resources[logical].physical_id: Path(provisioned.resources[logical].attributes["LocalPath"])
            for logical in provisioned.of_type("AWS::Lambda::LayerVersion")
        }
        functions = []
        for logical in provisioned.of_type("AWS::Lambda::Function"):
            props = provisioned.properties[logical]
            created = provisioned.resources[logical]
            functions.append(
                LocalFunction(
                    name=created.physical_id,
                    code_dir=Path(created.attributes["LocalPath"]),
                    handler=props["Handler"],
                    environment={k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()},
                    memory_mb=int(props.get("MemorySize", 128)),
                    layer_dirs=tuple(layer_paths[arn] for arn in props.get("Layers", [])),
                    logical_id=logical,
                )
            )
        return functions

    def stop(self) -> None:
        self._scheduler.stop()
        for uninstall in reversed(self._uninstall_patches):
            uninstall()
        self._uninstall_patches.clear()
        for server in self._function_urls:
            server.stop()
        if self._runtime is not None:
            self._runtime.shutdown()
        if self._simulator is not None:
            self._simulator.stop()
        if self._server is not None:
            self._server.stop()
        if self._recorder is not None:
            self._recorder.close()
        (self.state_dir / "stack.json").unlink(missing_ok=True)
