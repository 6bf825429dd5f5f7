# Avatar video pipeline: one entry point for install, lint, test, demo, build and deploy.
SHELL := /bin/bash
export SAM_CLI_TELEMETRY := 0
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STACK_NAME ?= avatar-pipeline

.PHONY: install lint test unit integration e2e demo build validate deploy bench clean

install: $(STAMP)

$(STAMP): pyproject.toml layers/pipeline/requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,dev]'
	touch $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/pipeline/avatar_pipeline local/avatar_local functions
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --template template.yaml --region us-east-1
	$(MAKE) build
	$(BIN)/python -m avatar_local.schema --check

test: lint
	$(BIN)/python -m pytest tests

unit: install
	$(BIN)/python -m pytest tests/unit

integration: install
	$(BIN)/python -m pytest tests/integration

e2e: install
	$(BIN)/python -m pytest tests/e2e

demo: install
	$(BIN)/avatar-pipeline demo

build: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/sam build --template template.yaml --build-dir .aws-sam/build

validate: install
	$(BIN)/sam validate --lint --template template.yaml --region us-east-1

bench: install
	$(BIN)/python tests/bench/bench_transfer.py

deploy: build
	$(BIN)/sam deploy --guided --stack-name $(STACK_NAME)

clean:
	rm -rf .aws-sam .local out .mypy_cache .ruff_cache .pytest_cache
