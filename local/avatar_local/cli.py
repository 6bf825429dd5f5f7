"""``avatar-pipeline``: the embedded local stack (``local up``), the demo (``demo``), jobs and ``inspect``."""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
from pathlib import Path
from types import FrameType

from .simulator import SimulatorSettings
from .stack import LOOPBACK, LocalStack

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


def _jobs_cancel(args: argparse.Namespace) -> int:
    from .jobs_cli import cancel

    return cancel(args.job_id, state_dir=Path(args.state_dir), wait_seconds=args.wait_seconds, as_json=args.json)


def _inspect(args: argparse.Namespace) -> int:
    from .inspect_cli import inspect

    trust_anchor = Path(args.trust_anchor) if args.trust_anchor else None
    return inspect(args.target, state_dir=Path(args.state_dir), trust_anchor=trust_anchor, as_json=args.json)


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(PROJECT_ROOT, out_dir=Path(args.out), state_dir=Path(args.state_dir))


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
    jobs = commands.add_parser("jobs", help="look after jobs").add_subparsers(dest="action", required=True)
    cancel = jobs.add_parser("cancel", help="stop a job; it ends CANCELLED with JobCancelled")
    cancel.add_argument("job_id")
    cancel.add_argument("--state-dir", default=".local")
    cancel.add_argument("--wait-seconds", type=float, default=60, help="how long to wait for the CANCELLED record")
    cancel.add_argument("--json", action="store_true", help="print one JSON document")
    cancel.set_defaults(run=_jobs_cancel)
    inspect = commands.add_parser("inspect", help="an output MP4's AIGC label and C2PA manifest")
    inspect.add_argument("target", metavar="FILE.mp4|s3://bucket/key")
    inspect.add_argument("--trust-anchor", metavar="PEM", help="validate the signature against this root certificate")
    inspect.add_argument("--state-dir", default=".local", help="the local stack an s3:// object is read from, if up")
    inspect.add_argument("--json", action="store_true", help="print one JSON document")
    inspect.set_defaults(run=_inspect)
    demo = commands.add_parser("demo", help="run one job end to end on the local stack")
    demo.add_argument("--out", default="out", help="where the MP4 is downloaded")
    demo.add_argument("--state-dir", default=".local")
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from .jobs_cli import UsageError

    try:
        return int(args.run(args))
    except UsageError as error:
        print(f"avatar-pipeline: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
