"""Scale benchmark: N jobs dropped at once on the local stack, against a provider account that runs LIMIT tasks at a
time for GEN seconds each (optionally answering a share of submits with its throttling code). Prints outcomes,
duplicate paid submissions, peak provider concurrency, utilisation, makespan against the ideal, state transitions
and local-stack cost per job. Asserts nothing.

    make bench-scale [N=200] [LIMIT=10] [GEN=20] [THROTTLE=0.2] [ENTRY=manifests|batch] [BASELINE=1]

BASELINE=1 runs the same jobs first on a stack without the local stack's moto shortcuts (``interpreter_caches``,
``dynamodb_costs``), then with them, and prints both, with the ratio of the local stack's CPU per job.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
from avatar_local.samples import portrait_png, speech_audio
from avatar_local.stack import PLAIN_MOTO
from boto3.dynamodb.types import TypeDeserializer

ROOT = Path(__file__).resolve().parents[2]
ENDED = {"SUCCEEDED", "FAILED", "CANCELLED"}
JOB_FOLDER = re.compile(r"scale-[0-9a-f]{6}/(\d{4})/")


def start_stack(
    state_dir: Path, args: argparse.Namespace, plain_moto: bool
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    overrides = [
        "PollMinSeconds=1",
        "PollMaxSeconds=1",
        "PollFirstWaitMaxSeconds=1",
        "MaxPolls=10000",
        f"ProviderConcurrency=wavespeed={args.limit}",
        "QueueTimeoutSeconds=72000",
    ]
    settings = [
        f"concurrency.wavespeed={args.limit}",
        f"task_seconds={args.generation_seconds}",
        f"submit_throttle_ratio.wavespeed={args.throttle_ratio}",
        "submit_throttle_seed=1",
    ]
    command = [sys.executable, "-m", "avatar_local.cli", "local", "up", "--port", "0", "--simulator-port", "0"]
    command += ["--state-dir", str(state_dir), "--parameter-overrides", *overrides, "--simulator-setting", *settings]
    log = (state_dir / "stack.out").open("wb")
    environment = {**os.environ, **({PLAIN_MOTO: "1"} if plain_moto else {})}
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=environment)
    stack_file = state_dir / "stack.json"
    deadline = time.monotonic() + 180
    while not stack_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the local stack did not start:\n{(state_dir / 'stack.out').read_text()}")
        time.sleep(0.2)
    return process, json.loads(stack_file.read_text())


def client(info: dict[str, Any], service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=info["endpoint_url"],
        region_name=info["region"],
        aws_access_key_id=info["access_key_id"],
        aws_secret_access_key=info["secret_access_key"],
    )


def drop(info: dict[str, Any], run: str, count: int, entry: str) -> tuple[list[str], float]:
    """Uploads each job's media (the same bytes under its own keys, so the simulator renders once), then drops every
    job as fast as the client can; the job ids and when the drop began."""
    s3, bucket = client(info, "s3"), info["input_bucket"]
    image, audio = portrait_png(320), speech_audio(2.0)
    folder = f"jobs/scale-{run}" if entry == "manifests" else f"batches/scale-{run}"
    job_ids = [f"scale-{run}-{n:04d}" for n in range(count)]

    def media(n: int) -> None:
        s3.put_object(Bucket=bucket, Key=f"{folder}/{n:04d}/face.png", Body=image)
        s3.put_object(Bucket=bucket, Key=f"{folder}/{n:04d}/voice.wav", Body=audio)

    def manifest(n: int) -> None:
        body = {"image": "face.png", "audio": "voice.wav", "job_id": job_ids[n]}
        s3.put_object(Bucket=bucket, Key=f"{folder}/{n:04d}/job.json", Body=json.dumps(body).encode())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(media, range(count)))
        began = time.time()
        if entry == "manifests":
            list(pool.map(manifest, range(count)))
        else:
            rows = (
                json.dumps({"image": f"{n:04d}/face.png", "audio": f"{n:04d}/voice.wav", "job_id": job_ids[n]})
                for n in range(count)
            )
            s3.put_object(Bucket=bucket, Key=f"{folder}/scale.jsonl", Body="\n".join(rows).encode())
    return job_ids, began


def records(info: dict[str, Any], job_ids: list[str], *, status_only: bool = False) -> dict[str, dict[str, Any]]:
    """The jobs' records; ``status_only`` while following, so watching costs the stack little."""
    dynamodb, found = client(info, "dynamodb"), {}
    deserializer = TypeDeserializer()
    projection = {"ProjectionExpression": "job_id, #s", "ExpressionAttributeNames": {"#s": "status"}}
    for first in range(0, len(job_ids), 100):
        keys = [{"job_id": {"S": job_id}} for job_id in job_ids[first : first + 100]]
        request = {info["jobs_table"]: {"Keys": keys, "ConsistentRead": True, **(projection if status_only else {})}}
        while request:
            answer = dynamodb.batch_get_item(RequestItems=request)
            for item in answer["Responses"].get(info["jobs_table"], []):
                record = {name: deserializer.deserialize(value) for name, value in item.items()}
                found[record["job_id"]] = record
            request = answer.get("UnprocessedKeys") or None
    return found


def follow(info: dict[str, Any], job_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    deadline, shown = time.monotonic() + timeout, 0.0
    while True:
        found = records(info, job_ids, status_only=True)
        statuses = Counter(record["status"] for record in found.values())
        if sum(statuses[status] for status in ENDED) == len(job_ids) or time.monotonic() > deadline:
            return records(info, job_ids)
        if time.monotonic() - shown > 30:
            account = httpx.get(f"{info['simulator_url']}/_simulator/stats").json()["providers"]["wavespeed"]
            print(f"  {time.strftime('%H:%M:%S')} {dict(statuses)} in flight {account['in_flight']}", flush=True)
            shown = time.monotonic()
        time.sleep(5)


PHASES = {
    "admission": {"Admit", "IsAdmitted", "WaitForSlot", "Requeue", "BackOff", "QueueTimedOut"},
    "polling": {"WaitForProvider", "CheckStatus", "IsGenerationDone"},
}


def transitions(info: dict[str, Any], found: dict[str, dict[str, Any]]) -> list[Counter[str]]:
    """Per job, the states its execution entered, counted by phase (admission, polling, the rest)."""
    sfn, counts = client(info, "stepfunctions"), []
    for record in found.values():
        phases: Counter[str] = Counter()
        token = None
        while True:
            page = sfn.get_execution_history(
                executionArn=record["execution_arn"], maxResults=1000, **({"nextToken": token} if token else {})
            )
            for event in page["events"]:
                if event["type"].endswith("StateEntered"):
                    name = event["stateEnteredEventDetails"]["name"]
                    phases[next((phase for phase, states in PHASES.items() if name in states), "other")] += 1
            token = page.get("nextToken")
            if not token:
                break
        counts.append(phases)
    return counts


def provider_timeline(submissions: list[dict[str, Any]], began: float, limit: int) -> dict[str, float]:
    starts = sorted(datetime.fromisoformat(s["received_at"]).timestamp() for s in submissions)
    ends = sorted(datetime.fromisoformat(s["finished_at"]).timestamp() for s in submissions if s.get("finished_at"))
    busy = sum(
        datetime.fromisoformat(s["finished_at"]).timestamp() - datetime.fromisoformat(s["received_at"]).timestamp()
        for s in submissions
        if s.get("finished_at")
    )
    handovers = max(1, len(starts) - limit)
    return {
        "first_task": starts[0] - began if starts else math.nan,
        "last_task_end": ends[-1] - began if ends else math.nan,
        "idle_per_handover": (limit * (ends[-1] - starts[0]) - busy) / handovers if ends else math.nan,
    }


def report(args: argparse.Namespace, label: str, found: dict[str, dict[str, Any]], figures: dict[str, Any]) -> None:
    outcomes = Counter(
        record["status"] if record["status"] == "SUCCEEDED" else record.get("error", record["status"])
        for record in found.values()
    )
    paid = Counter(match.group(1) for s in figures["submissions"] if (match := JOB_FOLDER.search(s["image"])))
    duplicates = sum(count - 1 for count in paid.values())
    account, makespan = figures["account"], figures["makespan"]
    ideal = math.ceil(args.jobs / args.limit) * args.generation_seconds
    steps = [sum(phases.values()) for phases in figures["transitions"]]
    by_phase = Counter[str]()
    for phases in figures["transitions"]:
        by_phase.update(phases)
    split = ", ".join(f"{phase} {count / max(1, len(steps)):.1f}" for phase, count in sorted(by_phase.items()))
    timeline = figures["timeline"]
    print()
    print(
        f"{label}: jobs {args.jobs}, limit {args.limit}, generation {args.generation_seconds:g} s, "
        f"throttle ratio {args.throttle_ratio:g}, entry {args.entry}"
    )
    rows = [
        ("jobs ended", f"{len(found)} of {args.jobs}"),
        ("outcomes", ", ".join(f"{name} {count}" for name, count in sorted(outcomes.items()))),
        ("duplicate paid submissions", str(duplicates)),
        ("paid submissions", str(sum(paid.values()))),
        ("submits refused by the provider", f"limit {account['refused_limit']}, ratio {account['refused_ratio']}"),
        ("peak provider tasks in flight", f"{account['peak_in_flight']} (limit {args.limit})"),
        ("provider utilisation", f"{account['busy_seconds'] / (args.limit * makespan):.1%}"),
        ("makespan", f"{makespan:.1f} s; ideal {ideal:.0f} s; ratio {makespan / ideal:.3f}"),
        ("first provider task after the drop", f"{timeline['first_task']:.1f} s"),
        ("last job ended after its task", f"{makespan - timeline['last_task_end']:.1f} s"),
        ("slot idle per hand-over", f"{timeline['idle_per_handover']:.2f} s (task end to the next task on the slot)"),
        ("state transitions per job", f"mean {sum(steps) / len(steps):.1f}, max {max(steps)}" if steps else "n/a"),
        ("  by phase (mean)", split),
        ("wall time per job (makespan / N)", f"{makespan / args.jobs:.3f} s"),
        ("local stack CPU per job", f"{figures['cpu'] / args.jobs:.3f} s ({figures['cpu']:.0f} s in all)"),
    ]
    for name, value in rows:
        print(f"  {name:<34} {value}")


def run_once(args: argparse.Namespace, plain_moto: bool) -> tuple[str, dict[str, dict[str, Any]], dict[str, Any]]:
    run = uuid.uuid4().hex[:6]
    cpu_before = _children_cpu()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as state:
        process, info = start_stack(Path(state), args, plain_moto)
        try:
            job_ids, began = drop(info, run, args.jobs, args.entry)
            ideal = math.ceil(args.jobs / args.limit) * args.generation_seconds
            found = follow(info, job_ids, timeout=ideal * 4 + 600)
            ends = [
                datetime.fromisoformat(r["finished_at"]).timestamp() for r in found.values() if r.get("finished_at")
            ]
            stats = httpx.get(f"{info['simulator_url']}/_simulator/stats").json()
            ours = [s for s in stats["submissions"] if f"scale-{run}/" in s["image"]]
            figures = {
                "makespan": (max(ends) if ends else time.time()) - began,
                "account": stats["providers"]["wavespeed"],
                "submissions": ours,
                "transitions": transitions(info, found),
                "timeline": provider_timeline(ours, began, args.limit),
            }
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    figures["cpu"] = _children_cpu() - cpu_before
    return run, found, figures


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the stack, its Lambda workers and the simulator
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--generation-seconds", type=float, default=20.0)
    parser.add_argument("--throttle-ratio", type=float, default=0.0)
    parser.add_argument("--entry", choices=("manifests", "batch"), default="manifests")
    parser.add_argument("--baseline", action="store_true", help="run on plain moto first, for the ratios")
    args = parser.parse_args()
    if args.baseline:
        _, found, baseline = run_once(args, plain_moto=True)
        report(args, "baseline: plain moto", found, baseline)
    _, found, figures = run_once(args, plain_moto=False)
    report(args, "the local stack as shipped", found, figures)
    if args.baseline:
        print()
        print(f"  ratio of CPU per job, shipped / plain moto   {figures['cpu'] / baseline['cpu']:.2f}")
        print(f"  ratio of makespan, shipped / plain moto      {figures['makespan'] / baseline['makespan']:.2f}")


if __name__ == "__main__":
    main()
