"""The operator CLI's own logic: time windows, spend, what a history tells, retry requests, batch media."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from avatar_local.operator.costs import spend
from avatar_local.operator.executions import _absolute_request, progress_of
from avatar_local.operator.jobs import show_document
from avatar_local.operator.records import plain, since
from avatar_local.operator.submit import _local_media, parse_option
from avatar_local.operator.target import UsageError

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("90m", timedelta(minutes=90)),
        ("24h", timedelta(hours=24)),
        ("30d", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_since_takes_a_window_back_from_now(text: str, back: timedelta) -> None:
    assert since(text, NOW) == NOW - back


def test_since_takes_an_iso_time_as_utc_when_it_names_no_zone() -> None:
    assert since("2026-11-01T08:00:00", NOW) == datetime(2026, 11, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize("text", ["3x", "", "yesterday", "-1d"])
def test_since_refuses_anything_else_as_usage(text: str) -> None:
    with pytest.raises(UsageError, match="--since expects"):
        since(text, NOW)


def test_plain_turns_dynamodb_values_into_json_ones() -> None:
    assert plain({"a": Decimal("2"), "b": Decimal("0.6"), "c": {"x", "a"}, "d": [Decimal("1.5")]}) == {
        "a": 2,
        "b": 0.6,
        "c": ["a", "x"],
        "d": [1.5],
    }
    json.dumps(plain({"n": Decimal("1E+1")}))


def _job(
    provider: str, status: str, day: str, estimated: float | None, actual: float | None = None
) -> dict[str, object]:
    return {
        "provider": provider,
        "status": status,
        "claimed_at": f"{day}T10:00:00+00:00",
        "estimated_cost_usd": estimated,
        "actual_cost_usd": actual,
        "duration_seconds": 4,
    }


def test_spend_sums_by_provider_with_a_total_and_counts_only_billed_jobs() -> None:
    jobs = [
        _job("kling/avatar", "SUCCEEDED", "2026-11-28", 0.28, 0.3),
        _job("kling/avatar", "FAILED", "2026-11-29", 0.28),
        _job("wavespeed/omnihuman", "SUCCEEDED", "2026-11-29", 0.6),
        _job("wavespeed/omnihuman", "QUEUED", "2026-11-29", 0.6),  # never reached the provider
        _job("volcengine/omnihuman-1.5", "SUCCEEDED", "2026-11-29", None),  # no price known
    ]
    rows, total = spend(jobs, "provider")
    assert [row.key for row in rows] == ["kling/avatar", "wavespeed/omnihuman"]
    kling = rows[0].document()
    assert (kling["jobs"], kling["succeeded"], kling["estimated_usd"], kling["actual_usd"]) == (2, 1, 0.56, 0.3)
    assert kling["jobs_with_actual"] == 1
    assert kling["estimated_usd_per_output_second"] == 0.07
    assert (total.jobs, round(total.estimated_usd, 4), total.output_seconds) == (3, 1.16, 12.0)


def test_spend_by_day_uses_the_claims_utc_day() -> None:
    rows, total = spend(
        [_job("kling/avatar", "SUCCEEDED", "2026-11-28", 0.28), _job("kling/avatar", "FAILED", "2026-11-29", 0.28)],
        "day",
    )
    assert [(row.key, row.jobs) for row in rows] == [("2026-11-28", 1), ("2026-11-29", 1)]
    assert total.jobs == 2


def _entered(name: str) -> dict[str, object]:
    return {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name}}


def test_progress_counts_status_checks_and_reads_the_estimate_submit_made() -> None:
    task = {"submitted_at": "2026-11-29T12:00:00Z", "estimated_generation_seconds": 180.0}
    events = [
        _entered("Intake"),
        _entered("Submit"),
        {
            "type": "TaskStateExited",
            "stateExitedEventDetails": {"name": "Submit", "output": json.dumps({"task": task})},
        },
        _entered("WaitForProvider"),
        _entered("CheckStatus"),
        _entered("WaitForProvider"),
        _entered("CheckStatus"),
    ]
    seen = progress_of("RUNNING", events)
    assert (seen.state, seen.status_checks, seen.estimated_generation_seconds) == ("CheckStatus", 2, 180.0)
    assert seen.submitted_at == "2026-11-29T12:00:00Z"


def test_progress_before_submit_knows_no_estimate() -> None:
    seen = progress_of("RUNNING", [_entered("Intake")])
    assert (seen.state, seen.status_checks, seen.estimated_generation_seconds) == ("Intake", 0, None)


def test_a_retry_sends_the_request_intake_resolved_with_absolute_media() -> None:
    job = {
        "provider": "wavespeed/omnihuman-1.5",
        "image": {"s3": {"bucket": "in", "key": "batches/x/alice.png"}, "url": None},
        "audio": {"s3": None, "url": "https://example.test/a.wav"},
        "request": {"image": "alice.png", "audio": "https://example.test/a.wav", "prompt": None, "options": {}},
    }
    assert _absolute_request(job, "alice-1") == {
        "image": "s3://in/batches/x/alice.png",
        "audio": "https://example.test/a.wav",
        "provider": "wavespeed/omnihuman-1.5",
        "job_id": "alice-1",
    }


def test_show_derives_cost_per_output_second_and_elapsed_time() -> None:
    shown = show_document(
        {
            "estimated_cost_usd": 0.6,
            "actual_cost_usd": 0.5,
            "duration_seconds": 4,
            "claimed_at": "2026-11-29T12:00:00+00:00",
            "finished_at": "2026-11-29T12:03:00.5+00:00",
        }
    )
    assert shown["estimated_cost_usd_per_output_second"] == 0.15
    assert shown["actual_cost_usd_per_output_second"] == 0.125
    assert shown["elapsed_seconds"] == 180.5


def test_options_are_json_values_when_they_parse_and_strings_otherwise() -> None:
    assert parse_option("resolution=720p") == ("resolution", "720p")
    assert parse_option("watermark=false") == ("watermark", False)
    assert parse_option("seed=7") == ("seed", 7)
    with pytest.raises(UsageError, match="NAME=VALUE"):
        parse_option("novalue")


def test_a_batch_uploads_only_the_relative_media_beside_it(tmp_path: Path) -> None:
    (tmp_path / "alice.png").write_bytes(b"x")
    (tmp_path / "alice.wav").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bob.png").write_bytes(b"x")
    outside = tmp_path.parent / "secret.png"
    outside.write_bytes(b"x")
    body = (
        f"image,audio\nalice.png,alice.wav\nsub/bob.png,s3://b/k.wav\n../secret.png,missing.wav\n{outside},alice.wav\n"
    ).encode()
    batch = tmp_path / "team.csv"
    assert _local_media(batch, body) == {"alice.png", "alice.wav", "sub/bob.png"}
    jsonl = tmp_path / "team.jsonl"
    lines = b'{"image": "alice.png", "audio": "https://x/y.wav"}\nnot json\n["a list"]\n'
    assert _local_media(jsonl, lines) == {"alice.png"}


def test_the_operator_commands_do_not_load_the_local_stack() -> None:
    """``jobs``, ``watch``, ``costs`` and the rest only read ``stack.json`` (or a deployed stack's outputs): loading
    moto, the simulator and the template machinery made every command take seconds before it did anything."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, avatar_local.cli; print(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    heavy = ("moto", "samtranslator", "avatar_local.stack", "avatar_local.simulator", "avatar_local.cfn", "flask")
    assert [name for name in loaded if name.split(".")[0] in heavy or name in heavy] == []
