"""The operator commands' arguments, and what each runs (contract: The operator CLI).

Every command takes ``--state-dir`` (the local stack) or ``--stack-name``/``--region`` (a deployed one), and
``--json``. Exit codes: 0 done, 1 the job or batch failed, 2 bad usage or no stack.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .costs import costs
from .jobs import jobs_cancel, jobs_list, jobs_retry, jobs_show
from .records import STATUSES
from .render import Output
from .submit import job_request, submit, upload_batch
from .target import add_target_options, resolve
from .watch import watch, watch_started, watch_uploaded_batch

WATCH_INTERVAL_SECONDS = 1.0


def _output(args: argparse.Namespace) -> Output:
    return Output(as_json=args.json)


def _follow(args: argparse.Namespace, target_id: str) -> int:
    return watch(resolve(args), target_id, interval=args.interval, timeout=args.timeout, out=_output(args))


def _follow_started(args: argparse.Namespace, job_id: str, execution_arn: str) -> int:
    return watch_started(
        resolve(args), job_id, execution_arn, interval=args.interval, timeout=args.timeout, out=_output(args)
    )


def _submit(args: argparse.Namespace) -> int:
    stack, out = resolve(args), _output(args)
    request = job_request(
        stack,
        image=args.image,
        audio=args.audio,
        provider=args.provider,
        prompt=args.prompt,
        options=args.option,
        job_id=args.job_id,
    )
    execution_arn = submit(stack, request, out)
    if args.wait:
        return _follow_started(args, request["job_id"], execution_arn)
    if out.as_json:
        out.document({"job_id": request["job_id"], "execution_arn": execution_arn, "request": request})
    else:
        out.line(f"follow it with: avatar-pipeline watch {request['job_id']}")
    return 0


def _batch(args: argparse.Namespace) -> int:
    stack, out = resolve(args), _output(args)
    batch_id = upload_batch(stack, Path(args.file), out)
    if args.wait:
        return watch_uploaded_batch(stack, batch_id, interval=args.interval, timeout=args.timeout, out=out)
    if out.as_json:
        out.document({"batch_id": batch_id})
    else:
        out.line(f"follow it with: avatar-pipeline watch {batch_id}")
    return 0


def _watch(args: argparse.Namespace) -> int:
    return _follow(args, args.id)


def _jobs_list(args: argparse.Namespace) -> int:
    return jobs_list(resolve(args), status=args.status, provider=args.provider, window=args.since, out=_output(args))


def _jobs_show(args: argparse.Namespace) -> int:
    return jobs_show(resolve(args), args.job_id, out=_output(args))


def _jobs_retry(args: argparse.Namespace) -> int:
    code, execution_arn = jobs_retry(resolve(args), args.job_id, out=_output(args))
    if code == 0 and args.wait and execution_arn:
        return _follow_started(args, args.job_id, execution_arn)
    if code == 0 and args.json:
        _output(args).document({"job_id": args.job_id, "retried": True, "execution_arn": execution_arn})
    return code


def _jobs_cancel(args: argparse.Namespace) -> int:
    return jobs_cancel(resolve(args), args.job_id, wait_seconds=args.wait_seconds, out=_output(args))


def _costs(args: argparse.Namespace) -> int:
    return costs(resolve(args), window=args.since, by=args.by, out=_output(args))


def _command(commands: Any, name: str, help_text: str, run: Any, *, follows: bool = False) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text, description=help_text)
    add_target_options(parser)
    if follows:
        parser.add_argument("--interval", type=float, default=WATCH_INTERVAL_SECONDS, help="seconds between looks")
        parser.add_argument("--timeout", type=float, help="stop watching after this many seconds (exit 1)")
    parser.set_defaults(run=run)
    return parser


def register(commands: Any) -> None:
    submit_parser = _command(
        commands, "submit", "upload local media (or take URIs) and start a job", _submit, follows=True
    )
    submit_parser.add_argument("--image", required=True, metavar="PATH|URI")
    submit_parser.add_argument("--audio", required=True, metavar="PATH|URI")
    submit_parser.add_argument("--provider", help="a provider id (default: the stack's DefaultProvider)")
    submit_parser.add_argument("--prompt")
    submit_parser.add_argument("--option", action="append", default=[], metavar="K=V", help="a provider option")
    submit_parser.add_argument("--job-id", help="default: the image's name plus a hash of the request")
    submit_parser.add_argument("--wait", action="store_true", help="follow the job to its end")
    batch_parser = _command(
        commands, "batch", "upload a CSV or JSONL batch (and the media it names)", _batch, follows=True
    )
    batch_parser.add_argument("file", metavar="FILE")
    batch_parser.add_argument("--wait", action="store_true", help="follow the batch to its end")
    watch_parser = _command(commands, "watch", "live progress of a job or a batch until it ends", _watch, follows=True)
    watch_parser.add_argument("id", metavar="JOB_ID|BATCH_ID")
    jobs = commands.add_parser("jobs", help="list, show, retry and cancel jobs").add_subparsers(
        dest="action", required=True
    )
    listing = _command(jobs, "list", "jobs by status or provider, read from the jobs table's indexes", _jobs_list)
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--provider")
    listing.add_argument("--since", default="24h", help="90m, 24h, 30d, 2w or an ISO time (default 24h)")
    _command(jobs, "show", "one job: attempts, timings, costs", _jobs_show).add_argument("job_id")
    retry = _command(jobs, "retry", "run a FAILED or CANCELLED job again (a new attempt)", _jobs_retry, follows=True)
    retry.add_argument("job_id")
    retry.add_argument("--wait", action="store_true", help="follow the new attempt to its end")
    cancel = _command(jobs, "cancel", "stop a job; it ends CANCELLED with JobCancelled", _jobs_cancel)
    cancel.add_argument("job_id")
    cancel.add_argument("--wait-seconds", type=float, default=60, help="how long to wait for the CANCELLED record")
    spend = _command(commands, "costs", "estimated and actual spend, from the jobs table", _costs)
    spend.add_argument("--since", default="30d", help="90m, 24h, 30d, 2w or an ISO time (default 30d)")
    spend.add_argument("--by", choices=("provider", "day"), default="provider")
