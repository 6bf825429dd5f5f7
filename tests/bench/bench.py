"""``make bench``: every benchmark of the pipeline in one run, one table: each figure next to its baseline measured in
the same run, and the target it is held to (issue 11). Asserts nothing; a row that misses its target says NO.

    .venv/bin/python tests/bench/bench.py [--copy-mib 1024] [--callback-jobs 20]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_callbacks
import bench_coldstart
import bench_copy
import bench_label
import poll_model
from table import Row, render


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copy-mib", type=int, default=1024)
    parser.add_argument("--callback-jobs", type=int, default=20)
    args = parser.parse_args()
    rows: list[Row] = []
    for name, measure in (
        ("callbacks on the local stack", lambda: bench_callbacks.rows(args.callback_jobs)),
        ("the polling model", poll_model.rows),
        ("the result copy and probe reads", lambda: bench_copy.rows(args.copy_mib)),
        ("the AIGC label written into a staged video", lambda: bench_label.rows(args.copy_mib)),
        ("cold starts as built by sam build", bench_coldstart.rows),
    ):
        print(f"measuring {name} ...", flush=True)
        rows += measure()
    print()
    print(render(rows))


if __name__ == "__main__":
    main()
