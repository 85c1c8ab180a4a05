# The README's commands. Each target sets itself up first, so on a fresh clone one command is enough.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
export AWS_EC2_METADATA_DISABLED := true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup run demo e2e test lint format bench clean

setup: $(PY_STAMP) $(NODE_STAMP)

# constraints.txt is the lock: every package, at the version CI tested.
$(PY_STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The API on http://127.0.0.1:3000 and the local AWS on http://127.0.0.1:4566, until Ctrl-C.
run: setup
	$(BIN)/fountain-saga serve

# One saga, start to end, shown step by step.
demo: setup
	$(BIN)/fountain-saga create examples/the-last-keeper.fountain

# The end-to-end suite; against a deployment with FOUNTAIN_API_URL=... (see README), else a local server.
e2e: setup
	$(PY) -m pytest tests/e2e

test: setup lint
	$(PY) -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Regenerate the lock after changing pyproject.toml's ranges.
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet -e '.[dev]'
	.lockenv/bin/pip freeze --exclude-editable | grep -v '^fountain-saga' > constraints.txt
	rm -rf .lockenv

clean:
	rm -rf $(VENV) node_modules cdk.out .mypy_cache .pytest_cache .ruff_cache
