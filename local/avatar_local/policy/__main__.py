"""``make policy-check``: ``python -m avatar_local.policy [--template T] [--calls C]``.

Deploys the template offline (``deployment``), evaluates every recorded call (``policy/calls.json``), every
request the template implies and every request that must be refused with the IAM policy simulator, refuses
wildcard actions, validates the state machines and policy documents (``static``), and prints one report row per
principal. Exits 1, naming principal, action and resource, on the first kind of failure it finds."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from . import POLICY_DIR
from .check import CheckResult, run_check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m avatar_local.policy", description=__doc__)
    parser.add_argument("--template", type=Path, default=POLICY_DIR.parent / "template.yaml")
    parser.add_argument("--calls", type=Path, default=POLICY_DIR / "calls.json")
    args = parser.parse_args(argv)
    result = run_check(args.template, args.calls)
    _report(result)
    for grant in result.unexercised:
        print(f"note: never needed: {grant}")
    for problem in result.problems:
        print(f"FAIL {problem}", file=sys.stderr)
    verdict = "FAILED" if result.problems else "passed"
    counts = f"{len(result.problems)} problems, {len(result.unexercised)} grants never needed"
    print(f"policy-check: {verdict}, {len(result.outcomes)} requests evaluated, {counts}")
    return 1 if result.problems else 0


def _report(result: CheckResult) -> None:
    deployment = result.deployment
    counts: Counter[tuple[str, str]] = Counter()
    failed: Counter[str] = Counter()
    for outcome, kind in zip(result.outcomes, result.kinds, strict=True):
        counts[(outcome.request.principal, kind)] += 1
        failed[outcome.request.principal] += not outcome.passed
    names = sorted({principal for principal, _ in counts})
    width = max(len(name) for name in names)
    print(f"{'principal':<{width}}  {'kind':<27} {'calls':>6} {'implied':>8} {'denies':>7} {'failed':>7}")
    for name in names:
        kind = deployment.types.get(name, "resource policy").removeprefix("AWS::")
        row = [counts[(name, k)] for k in ("recorded", "template", "deny")]
        print(f"{name:<{width}}  {kind:<27} {row[0]:>6} {row[1]:>8} {row[2]:>7} {failed[name]:>7}")
    totals = [sum(n for (_, k), n in counts.items() if k == kind) for kind in ("recorded", "template", "deny")]
    print(f"{'total':<{width}}  {'':<27} {totals[0]:>6} {totals[1]:>8} {totals[2]:>7} {sum(failed.values()):>7}")


if __name__ == "__main__":
    sys.exit(main())
