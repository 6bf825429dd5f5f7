"""The operator CLI (contract: The operator CLI) driven as a person runs it, against the local stack: submit, batch,
watch (under a pseudo-terminal), jobs list/show/retry/cancel, costs, ``--json`` parsed, exit codes 0, 1 and 2, and
a deployed stack found through its CloudFormation outputs."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from avatar_local.samples import portrait_png, speech_audio

from tests.e2e.conftest import Stack, wait_until

ROOT = Path(__file__).resolve().parents[2]
PROVIDER = "wavespeed/omnihuman-1.5"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "avatar_local.cli", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False, env=env)


def on(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """A command against the e2e stack, ``--json``."""
    return cli(*args, "--state-dir", str(Path(stack.info["lambda_log"]).parent), "--json")


def document(ran: subprocess.CompletedProcess[str]) -> Any:
    assert "Traceback" not in ran.stderr, ran.stderr
    return json.loads(ran.stdout)


def media(folder: Path, name: str) -> tuple[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.png").write_bytes(portrait_png(256))
    (folder / f"{name}.wav").write_bytes(speech_audio(2.0, fmt="wav"))
    return str(folder / f"{name}.png"), str(folder / f"{name}.wav")


def test_submit_waits_for_the_video_and_the_same_files_again_are_the_same_job(stack: Stack, tmp_path: Path) -> None:
    image, audio = media(tmp_path, f"carol-{uuid.uuid4().hex[:6]}")

    first = on(stack, "submit", "--image", image, "--audio", audio, "--provider", PROVIDER, "--wait")

    assert first.returncode == 0, first.stderr
    done = document(first)
    assert (done["status"], done["attempt"]) == ("SUCCEEDED", 1)
    assert done["job_id"].startswith("carol-")
    assert done["output_uri"].endswith(f"/{done['job_id']}/video.mp4")
    again = on(stack, "submit", "--image", image, "--audio", audio, "--provider", PROVIDER, "--wait")
    assert again.returncode == 0, again.stderr
    assert (document(again)["job_id"], document(again)["attempt"]) == (done["job_id"], 1)
    paid = [s for s in stack.simulator_stats()["submissions"] if Path(image).name in s["image"]]
    assert len(paid) == 1, "the second submit paid nothing"


def test_a_failed_job_is_listed_shown_retried_and_costed(stack: Stack, tmp_path: Path) -> None:
    image, audio = media(tmp_path, "dave")
    job_id = f"dave-{uuid.uuid4().hex[:8]}"
    stack.inject("wavespeed", operation="submit", fault="task_failed")

    failed = on(
        stack, "submit", "--image", image, "--audio", audio, "--provider", PROVIDER, "--job-id", job_id, "--wait"
    )

    assert failed.returncode == 1, failed.stderr
    assert (document(failed)["status"], document(failed)["job_id"]) == ("FAILED", job_id)
    listed = document(on(stack, "jobs", "list", "--status", "FAILED", "--since", "1h"))
    assert job_id in [job["job_id"] for job in listed["jobs"]]
    assert {job["status"] for job in listed["jobs"]} == {"FAILED"}
    by_provider = document(on(stack, "jobs", "list", "--provider", PROVIDER, "--since", "1h"))["jobs"]
    assert job_id in [job["job_id"] for job in by_provider]
    assert {job["provider"] for job in by_provider} == {PROVIDER}

    retried = on(stack, "jobs", "retry", job_id, "--wait")

    assert retried.returncode == 0, retried.stderr
    assert (document(retried)["status"], document(retried)["attempt"]) == ("SUCCEEDED", 2)
    shown = document(on(stack, "jobs", "show", job_id))
    assert [attempt["status"] for attempt in shown["attempts"]] == ["FAILED", "SUCCEEDED"]
    assert shown["estimated_cost_usd_per_output_second"] == pytest.approx(
        shown["estimated_cost_usd"] / shown["duration_seconds"], abs=1e-4
    )
    not_again = on(stack, "jobs", "retry", job_id)
    assert not_again.returncode == 1
    assert document(not_again) == {"job_id": job_id, "status": "SUCCEEDED", "retried": False}
    costs = document(on(stack, "costs", "--since", "1d", "--by", "provider"))
    rows = {row["key"]: row for row in costs["rows"]}
    assert rows[PROVIDER]["jobs"] >= 1
    assert rows[PROVIDER]["estimated_usd"] > 0
    assert costs["total"]["jobs"] == sum(row["jobs"] for row in costs["rows"])
    assert costs["total"]["estimated_usd"] == pytest.approx(sum(row["estimated_usd"] for row in costs["rows"]))
    days = document(on(stack, "costs", "--since", "1d", "--by", "day"))
    assert days["total"]["jobs"] == costs["total"]["jobs"]


def test_a_batch_is_uploaded_with_its_media_and_followed_to_its_report(stack: Stack, tmp_path: Path) -> None:
    media(tmp_path, "erin")
    batch = tmp_path / f"team-{uuid.uuid4().hex[:6]}.csv"
    batch.write_text(f"image,audio,provider\nerin.png,erin.wav,{PROVIDER}\nerin.png,erin.wav,no/such-provider\n")

    ran = on(stack, "batch", str(batch), "--wait")

    assert ran.returncode == 1, ran.stderr  # a row failed
    seen = document(ran)
    assert (seen["rows"], seen["counts"]) == (2, {"SUCCEEDED": 1, "FAILED": 1})
    assert seen["report_uri"].endswith(f"/{seen['batch_id']}/report.json")
    watched = on(stack, "watch", seen["batch_id"])
    assert (watched.returncode, document(watched)["counts"]) == (1, seen["counts"])


def test_watch_renders_live_progress_in_a_terminal_and_exits_when_the_job_ends(stack: Stack, tmp_path: Path) -> None:
    image, audio = media(tmp_path, "frank")
    job_id = f"frank-{uuid.uuid4().hex[:8]}"
    with stack.simulator_settings(task_seconds=12.0):
        started = on(stack, "submit", "--image", image, "--audio", audio, "--provider", PROVIDER, "--job-id", job_id)
        assert started.returncode == 0, started.stderr
        state_dir = str(Path(stack.info["lambda_log"]).parent)
        code, screen = _in_a_terminal("watch", job_id, "--state-dir", state_dir, "--interval", "0.3")

    assert code == 0, screen
    for shown in ("RUNNING", "SUCCEEDED", "status checks", "expected"):
        assert shown in screen, screen
    assert f"/{job_id}/video.mp4" in screen
    assert stack.job_record(job_id)["status"] == "SUCCEEDED"


def test_jobs_cancel_by_the_cli_ends_the_job_cancelled(stack: Stack, tmp_path: Path) -> None:
    image, audio = media(tmp_path, "gina")
    job_id = f"gina-{uuid.uuid4().hex[:8]}"
    with stack.simulator_settings(task_seconds=30.0):
        on(stack, "submit", "--image", image, "--audio", audio, "--provider", PROVIDER, "--job-id", job_id)
        wait_until(lambda: stack.job_record(job_id).get("provider_task_id"), what="a submitted task")
        cancelled = on(stack, "jobs", "cancel", job_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert (document(cancelled)["status"], document(cancelled)["cancelled"]) == ("CANCELLED", True)
    watched = on(stack, "watch", job_id)
    assert (watched.returncode, document(watched)["error"]) == (1, "JobCancelled")


def test_bad_usage_a_missing_stack_or_missing_credentials_exit_2_in_one_line(stack: Stack, tmp_path: Path) -> None:
    state_dir = str(Path(stack.info["lambda_log"]).parent)
    (tmp_path / "broken.json").write_text("{not json")
    no_credentials = {
        **{name: value for name, value in os.environ.items() if not name.startswith("AWS_")},
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    cases = {
        "no stack": (cli("jobs", "list", "--state-dir", str(tmp_path)), "no local stack"),
        "bad window": (cli("jobs", "list", "--since", "3x", "--state-dir", state_dir), "--since expects"),
        "unknown job": (cli("jobs", "show", "no-such-job", "--state-dir", state_dir), "no job no-such-job"),
        "unknown id": (cli("watch", "no-such-thing", "--state-dir", state_dir), "no job or batch no-such-thing"),
        "missing file": (
            cli("submit", "--image", "missing.png", "--audio", "x.wav", "--state-dir", state_dir),
            "no such file missing.png",
        ),
        "bad provider": (
            cli(
                "submit",
                "--image",
                "s3://b/x.png",
                "--audio",
                "s3://b/x.wav",
                "--provider",
                "x",
                "--state-dir",
                state_dir,
            ),
            "--provider expects",
        ),
        "not a batch": (cli("batch", str(tmp_path / "broken.json"), "--state-dir", state_dir), "a .csv or .jsonl"),
        "invalid event": (cli("local", "send", str(tmp_path / "broken.json"), "--state-dir", state_dir), "is not JSON"),
        "missing event": (cli("local", "send", str(tmp_path / "none.json"), "--state-dir", state_dir), "no such event"),
        "no credentials": (
            cli("costs", "--stack-name", "avatar", "--region", "us-east-1", env=no_credentials),
            "Unable to locate credentials",
        ),
        "argparse": (cli("jobs", "list", "--status", "DONE", "--state-dir", state_dir), "invalid choice"),
    }
    for case, (ran, said) in cases.items():
        assert ran.returncode == 2, (case, ran.stdout, ran.stderr)
        assert "Traceback" not in ran.stderr, case
        assert said in ran.stderr, (case, ran.stderr)
    for case in ("no stack", "bad window", "missing file", "invalid event", "no credentials"):
        assert cases[case][0].stderr.count("\n") == 1, (case, cases[case][0].stderr)


def test_a_deployed_stack_is_found_through_its_cloudformation_outputs(stack: Stack) -> None:
    """moto's CloudFormation holds a stack whose outputs name the local stack's resources, as a deployed one's do."""
    info, name = stack.info, f"avatar-{uuid.uuid4().hex[:6]}"
    outputs = {
        "InputBucketName": info["input_bucket"],
        "OutputBucketName": info["output_bucket"],
        "StateMachineArn": info["state_machine_arn"],
        "BatchStateMachineArn": info["batch_state_machine_arn"],
        "JobsTableName": info["jobs_table"],
        "AdmissionTableName": info["admission_table"],
    }
    template = {
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    stack.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": info["endpoint_url"],
        "AWS_ACCESS_KEY_ID": info["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": info["secret_access_key"],
    }
    image, audio = stack.upload_media(f"media/deployed-{name}")
    job_id = f"deployed-{name}"

    ran = cli(
        "submit", "--image", image, "--audio", audio, "--job-id", job_id, "--wait", "--json",
        "--stack-name", name, "--region", info["region"], env=env,
    )  # fmt: skip

    assert ran.returncode == 0, ran.stderr
    assert document(ran)["status"] == "SUCCEEDED"
    shown = cli("jobs", "show", job_id, "--json", "--stack-name", name, "--region", info["region"], env=env)
    assert document(shown)["output_uri"].endswith(f"/{job_id}/video.mp4")
    missing = cli("jobs", "list", "--stack-name", "no-such-stack", "--region", info["region"], env=env)
    assert missing.returncode == 2
    assert "no-such-stack" in missing.stderr


def _in_a_terminal(*args: str, timeout: float = 120) -> tuple[int, str]:
    """Runs ``avatar-pipeline ARGS`` on a 120-column pseudo-terminal; its exit code and the screen text it wrote."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "avatar_local.cli", *args],
        cwd=ROOT,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        close_fds=True,
    )
    os.close(terminal)
    written, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the process has exited
                break
            if not chunk:
                break
            written += chunk
        elif process.poll() is not None:
            break
    os.close(controller)
    code = process.wait(timeout=10)
    return code, ANSI.sub("", written.decode(errors="replace"))
