"""Writes (or, with ``--check``, verifies) the job request's JSON Schema, generated from the code's model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from avatar_pipeline.models import JobRequest

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "job-request.schema.json"


def job_request_schema() -> str:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **JobRequest.model_json_schema()}
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed schema is out of date")
    args = parser.parse_args(argv)
    expected = job_request_schema()
    if args.check:
        if not SCHEMA_PATH.exists() or SCHEMA_PATH.read_text(encoding="utf-8") != expected:
            print(f"{SCHEMA_PATH} is out of date: run python -m avatar_local.schema", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.write_text(expected, encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
