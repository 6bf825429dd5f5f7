"""make policy-check: every AWS call each function, state machine and rule makes, evaluated offline against the
role the template gives it."""

from pathlib import Path

# policy/ at the repository root: the npm tools (package.json, node_modules), the simulator script and calls.json.
POLICY_DIR = Path(__file__).resolve().parents[3] / "policy"
