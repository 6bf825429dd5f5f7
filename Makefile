# Avatar video pipeline: one entry point for install, lint, test, demo, build and deploy.
SHELL := /bin/bash
export SAM_CLI_TELEMETRY := 0
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STACK_NAME ?= avatar-pipeline
# make bench-scale: jobs, provider account limit, seconds per generation, share of submits the provider throttles.
N ?= 200
LIMIT ?= 10
GEN ?= 20
THROTTLE ?= 0
ENTRY ?= manifests
# checkov pins its own boto3/packaging, so it lives in a venv of its own; the stamp names the pin, so
# changing CHECKOV_VERSION reinstalls it.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
EXPANDED_TEMPLATE := .aws-sam/expanded/template.json
# What lint holds to no dead code (vulture) and no repeated code (pylint's duplicate-code, at its default of 4
# lines); complexity is ruff's C901 (pyproject.toml).
PRODUCTION_CODE := layers/pipeline/avatar_pipeline layers/credentials/content_signing local/avatar_local functions

.PHONY: install security policy-check policy-inventory lint test unit integration e2e demo build validate deploy bench bench-scale clean

install: $(STAMP)

$(STAMP): pyproject.toml layers/pipeline/requirements.txt layers/imaging/requirements.txt layers/credentials/requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,dev]'
	touch $(STAMP)

$(CHECKOV_STAMP):
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	rm -f $(CHECKOV_VENV)/.installed-*
	touch $(CHECKOV_STAMP)

# IaC security scan: template.yaml as written (SAM functions, buckets, tables, secret, log group) and its
# offline SAM expansion (the roles, the Step Functions state machine, rules and dead-letter queues SAM
# generates). Suppressions live on the resources in template.yaml (Metadata: checkov: skip:), each with
# its reason; any other failed check fails the build.
security: install $(CHECKOV_STAMP)
	$(BIN)/python -m avatar_local.template --output $(EXPANDED_TEMPLATE)
	$(CHECKOV_VENV)/bin/checkov --framework cloudformation --compact --quiet --skip-download \
		--file template.yaml --file $(EXPANDED_TEMPLATE)

# The npm tools of make policy-check (an IAM policy simulator, the Service Authorization Reference data, an ASL
# validator), installed into policy/node_modules from the committed lock file.
POLICY_TOOLS := policy/node_modules/.installed

$(POLICY_TOOLS): policy/package.json policy/package-lock.json
	npm ci --prefix policy --no-audit --no-fund --loglevel=error
	touch $(POLICY_TOOLS)

# Every AWS call the pipeline makes (policy/calls.json, recorded by the end-to-end tests) and every call its
# template implies, evaluated against each caller's own role offline; plus the calls that must be refused.
policy-check: install $(POLICY_TOOLS)
	$(BIN)/python -m avatar_local.policy

lint: install security policy-check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(PRODUCTION_CODE)
	$(BIN)/vulture $(PRODUCTION_CODE) vulture_allowlist.py --min-confidence 60
	$(BIN)/pylint --disable=all --enable=duplicate-code --min-similarity-lines=4 --ignore-imports=y \
		--ignore-signatures=y --ignore-docstrings=y --ignore-comments=y --score=n $(PRODUCTION_CODE)
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --template template.yaml --region us-east-1
	$(MAKE) build
	$(BIN)/python -m avatar_local.schema --check
	$(BIN)/python -m avatar_local.asl --check
	$(BIN)/python -m avatar_local.dashboard --check

# Two workers, each test file on one (--dist loadfile): a file's tests share its stack and fixtures as when run alone;
# the e2e files start a stack per worker. On 2 cores this halves the run (19.5 -> 9.2 min measured).
test: lint
	$(BIN)/python -m pytest tests -n 2 --dist loadfile

unit: install $(POLICY_TOOLS)
	$(BIN)/python -m pytest tests/unit

integration: install $(POLICY_TOOLS)
	$(BIN)/python -m pytest tests/integration

e2e: install $(POLICY_TOOLS)
	$(BIN)/python -m pytest tests/e2e

faults: install $(POLICY_TOOLS)
	$(BIN)/python -m pytest tests/e2e/test_fault_suite.py -q

# The AWS calls the end-to-end tests make (functions, state machines, rules), recorded, normalized and merged into
# policy/calls.json, which the end-to-end tests then hold every call to (see avatar_local/policy/inventory.py).
policy-inventory: install
	mkdir -p .local && rm -f .local/policy-calls.jsonl
	AVATAR_PIPELINE_CALL_LOG=$(CURDIR)/.local/policy-calls.jsonl $(BIN)/python -m pytest tests/e2e -q -p no:cacheprovider
	$(BIN)/python -m avatar_local.policy.inventory --log .local/policy-calls.jsonl --write policy/calls.json --merge

demo: install
	$(BIN)/avatar-pipeline demo

build: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/sam build --template template.yaml --build-dir .aws-sam/build

validate: install
	$(BIN)/sam validate --lint --template template.yaml --region us-east-1

bench: install
	$(BIN)/python tests/bench/bench.py

bench-scale: install
	$(BIN)/python tests/bench/bench_scale.py --jobs $(N) --limit $(LIMIT) --generation-seconds $(GEN) \
		--throttle-ratio $(THROTTLE) --entry $(ENTRY)

deploy: build
	$(BIN)/sam deploy --guided --stack-name $(STACK_NAME)

clean:
	rm -rf .aws-sam .local out .mypy_cache .ruff_cache .pytest_cache
