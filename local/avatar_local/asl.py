"""Writes ``statemachine/<name>.asl.json``, the definition a state machine runs, from ``statemachine/<name>.asl.yaml``
where there is one: Amazon States Language cannot share a Retry list between states, YAML anchors can. Top-level keys
starting with ``x-`` only hold anchors and are left out. ``--check`` fails if a JSON file is not what its YAML gives
(``make lint``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
STATEMACHINE = ROOT / "statemachine"


def render(source: Path) -> str:
    document: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    definition = {key: value for key, value in document.items() if not key.startswith("x-")}
    return json.dumps(definition, indent=2) + "\n"


def target(source: Path) -> Path:
    return source.with_name(source.name.removesuffix(".yaml") + ".json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m avatar_local.asl", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a JSON definition is stale; write nothing")
    args = parser.parse_args(argv)
    stale = []
    for source in sorted(STATEMACHINE.glob("*.asl.yaml")):
        rendered, json_path = render(source), target(source)
        if json_path.exists() and json_path.read_text(encoding="utf-8") == rendered:
            continue
        if args.check:
            stale.append(json_path)
        else:
            json_path.write_text(rendered, encoding="utf-8")
            print(f"{source.relative_to(ROOT)} -> {json_path.relative_to(ROOT)}", file=sys.stderr)
    for json_path in stale:
        print(f"{json_path.relative_to(ROOT)} is stale: run python -m avatar_local.asl", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
