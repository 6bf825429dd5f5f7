"""make policy-check: every AWS call the pipeline makes, evaluated offline against the roles the template grants."""

from pathlib import Path

# policy/ at the repository root: the npm tools (package.json, node_modules), the simulator script and calls.json.
POLICY_DIR = Path(__file__).resolve().parents[3] / "policy"
