"""``avatar-pipeline``: the embedded local stack (``local up``, ``local send``, ``demo``), the operator commands
(``submit``, ``batch``, ``watch``, ``jobs``, ``costs``) and ``inspect``."""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
from pathlib import Path
from types import FrameType

from avatar_pipeline.errors import PipelineError
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from .cfn_parameters import TemplateError
from .operator.commands import register
from .operator.target import UsageError
from .stack_info import LOOPBACK

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _overrides(pairs: list[str]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--parameter-overrides expects Key=Value, got {pair!r}")
        parsed[name] = value
    return parsed


def _busy_port(args: argparse.Namespace) -> str | None:
    """The first of ``--port`` / ``--simulator-port`` something already listens on (0 picks a free one)."""
    for option, port in (("--port", args.port), ("--simulator-port", args.simulator_port)):
        if not port:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # As the servers do: a port a stopped stack left in TIME_WAIT is free, one being listened on is not.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((LOOPBACK, port))
            except OSError:
                return f"{option} {port}: {LOOPBACK}:{port} is already in use (stop what holds it, or pass 0)"
    return None


def _local_up(args: argparse.Namespace) -> int:
    from .simulator import SimulatorSettings
    from .stack import LocalStack

    try:
        simulator_settings = SimulatorSettings.from_assignments(args.simulator_setting)
    except ValueError as error:
        print(f"avatar-pipeline: --simulator-setting: {error}", file=sys.stderr)
        return 2
    busy = _busy_port(args)
    if busy is not None:
        print(f"avatar-pipeline: {busy}", file=sys.stderr)
        return 1
    stack = LocalStack(
        PROJECT_ROOT,
        state_dir=Path(args.state_dir),
        port=args.port,
        simulator_port=args.simulator_port,
        parameter_overrides=_overrides(args.parameter_overrides),
        region=args.region,
        simulator_settings=simulator_settings,
    )
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        info = stack.start()
    except TemplateError as error:
        stack.stop()
        print(f"avatar-pipeline: --parameter-overrides: {error}", file=sys.stderr)
        return 2
    try:
        print(
            f"local stack ready: AWS at {info.endpoint_url}, provider simulator at {info.simulator_url}",
            flush=True,
        )
        print(f"  input bucket   {info.input_bucket}\n  output bucket  {info.output_bucket}", flush=True)
        print(
            f"  state machine  {info.state_machine_arn}\n  stack file     {Path(args.state_dir) / 'stack.json'}",
            flush=True,
        )
        print("press Ctrl-C to stop", flush=True)
        stopping.wait()
    finally:
        stack.stop()
        print("local stack stopped", flush=True)
    return 0


def _send(args: argparse.Namespace) -> int:
    from .send import send

    return send(Path(args.event_file), state_dir=Path(args.state_dir))


def _inspect(args: argparse.Namespace) -> int:
    from .inspect_cli import inspect

    trust_anchor = Path(args.trust_anchor) if args.trust_anchor else None
    return inspect(args.target, state_dir=Path(args.state_dir), trust_anchor=trust_anchor, as_json=args.json)


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    busy = _busy_port(args)
    if busy is not None:
        print(f"avatar-pipeline: {busy}", file=sys.stderr)
        return 1
    return run_demo(
        PROJECT_ROOT,
        out_dir=Path(args.out),
        state_dir=Path(args.state_dir),
        port=args.port,
        simulator_port=args.simulator_port,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="avatar-pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="the embedded local stack").add_subparsers(dest="action", required=True)
    up = local.add_parser("up", help="start the local stack in the foreground (Ctrl-C or SIGTERM stops it)")
    up.add_argument("--port", type=int, default=4566, help="local AWS port (0 picks a free one)")
    up.add_argument("--simulator-port", type=int, default=9100, help="provider simulator port (0 picks a free one)")
    up.add_argument("--region", default="us-east-1")
    up.add_argument("--state-dir", default=".local", help="where stack.json and logs are written")
    up.add_argument("--parameter-overrides", nargs="*", default=[], metavar="Key=Value")
    up.add_argument(
        "--simulator-setting",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="a provider simulator setting (see /_simulator/settings), per provider as KEY.PROVIDER=VALUE: "
        "concurrency.wavespeed=5 task_seconds_by_provider.kling=30 submit_throttle_ratio.kling=0.1 "
        "submit_throttle_seed=7 task_seconds=12 (repeatable)",
    )
    up.set_defaults(run=_local_up)
    send = local.add_parser("send", help="feed a sample from events/ to the running local stack and follow it")
    send.add_argument("event_file", help="an S3 event, a PutEvents entries list, or a job request")
    send.add_argument("--state-dir", default=".local")
    send.set_defaults(run=_send)
    register(commands)
    inspect = commands.add_parser("inspect", help="an output MP4's AIGC label and C2PA manifest")
    inspect.add_argument("target", metavar="FILE.mp4|s3://bucket/key")
    inspect.add_argument("--trust-anchor", metavar="PEM", help="validate the signature against this root certificate")
    inspect.add_argument("--state-dir", default=".local", help="the local stack an s3:// object is read from, if up")
    inspect.add_argument("--json", action="store_true", help="print one JSON document")
    inspect.set_defaults(run=_inspect)
    demo = commands.add_parser("demo", help="run one job end to end on the local stack")
    demo.add_argument("--out", default="out", help="where the MP4 is downloaded")
    demo.add_argument("--state-dir", default=".local")
    demo.add_argument("--port", type=int, default=0, help="local AWS port (default 0: a free one)")
    demo.add_argument("--simulator-port", type=int, default=0, help="provider simulator port (default 0: a free one)")
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args))
    except UsageError as error:
        return _refuse(str(error))
    except NoCredentialsError:
        return _refuse("no AWS credentials: configure a profile or environment credentials for --stack-name")
    except EndpointConnectionError as error:
        return _refuse(f"no stack answers at {error.kwargs.get('endpoint_url', 'its endpoint')}: is it running?")
    except PipelineError as error:  # a failed AWS call, as the layer's own helpers name it
        return _refuse(str(error))
    except ClientError as error:
        failure = error.response.get("Error", {})
        return _refuse(f"{error.operation_name}: {failure.get('Code')}: {failure.get('Message')}")
    except KeyboardInterrupt:
        print("avatar-pipeline: interrupted", file=sys.stderr)
        return 130


def _refuse(message: str) -> int:
    """Exit code 2 (contract): bad usage, no stack or no credentials, told in one line."""
    print(f"avatar-pipeline: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
