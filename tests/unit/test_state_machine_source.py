"""statemachine/avatar_video.asl.json, the definition the state machine runs, is what its YAML source says, and every
retrier is written once there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from avatar_local import asl

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "statemachine").glob("*.asl.yaml"))


def test_there_is_a_source_for_the_job_state_machine() -> None:
    assert ROOT / "statemachine" / "avatar_video.asl.yaml" in SOURCES


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_the_definition_that_runs_is_the_one_its_source_gives(source: Path) -> None:
    assert asl.target(source).read_text(encoding="utf-8") == asl.render(source), "run python -m avatar_local.asl"


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_every_retrier_is_one_of_the_named_ones(source: Path) -> None:
    named = list(yaml.safe_load(source.read_text(encoding="utf-8"))["x-retriers"].values())
    definition = json.loads(asl.render(source))
    assert not any(key.startswith("x-") for key in definition)
    retriers = [retrier for state in definition["States"].values() for retrier in state.get("Retry", [])]
    assert retriers
    assert all(retrier in named for retrier in retriers)
    assert len(named) == len({json.dumps(retrier, sort_keys=True) for retrier in retriers})


def test_check_fails_on_a_stale_definition_and_writing_fixes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(asl, "ROOT", tmp_path)
    monkeypatch.setattr(asl, "STATEMACHINE", tmp_path)
    (tmp_path / "demo.asl.yaml").write_text(
        "x-retriers:\n  once: &once {ErrorEquals: [States.ALL], MaxAttempts: 2}\n"
        "StartAt: A\nStates:\n  A: {Type: Task, Resource: arn, Retry: [*once], End: true}\n",
        encoding="utf-8",
    )
    assert asl.main(["--check"]) == 1
    assert asl.main([]) == 0
    assert asl.main(["--check"]) == 0
    written = json.loads((tmp_path / "demo.asl.json").read_text(encoding="utf-8"))
    assert written == {
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Task",
                "Resource": "arn",
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}],
                "End": True,
            }
        },
    }
