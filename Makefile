# One entry point: `make run` serves with the embedded default, `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

STAGE ?= dev
REGION ?= $(or $(AWS_REGION),eu-west-1)
.PHONY: run run-aws-local test lint fmt lock bench schema dashboard need-npm need-chromium lambda \
	package deploy bootstrap clean

# The dashboard (dashboard/): Node.js 20.19+ and npm build it into dashboard/dist, which the
# app serves at / (api/dashboard.py). Its browser tests drive Debian's Chromium.
CHROMIUM_PATH ?= /usr/bin/chromium
NODE_RECENT := node -e 'const [a, b] = process.versions.node.split(".").map(Number); \
	process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'
DASHBOARD_INPUTS := $(shell find dashboard/src dashboard/public -type f 2>/dev/null) \
	dashboard/index.html dashboard/vite.config.ts dashboard/tsconfig.json

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Dependencies come from the locks (make lock), with their hashes; the project on top.
$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml requirements-dev.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e '.[dev]'
	@touch $@ $(VENV)/.installed

# The locks, from pyproject.toml: the runtime (make run), the runtime and dev tools (make
# test, CI), and the Lambda zip's (CPython 3.11, manylinux2014 x86_64 wheels only). Pins
# already in a lock stay unless LOCK_ARGS=--upgrade (or --upgrade-package NAME).
UV_COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--custom-compile-command 'make lock' $(LOCK_ARGS)
lock: $(VENV)/.installed-dev
	$(UV_COMPILE) --universal --fork-strategy fewest pyproject.toml -o requirements.lock
	$(UV_COMPILE) --universal --fork-strategy fewest --extra dev pyproject.toml \
		-o requirements-dev.lock
	$(BIN)/python scripts/build_lambda.py --print-requirements | $(UV_COMPILE) \
		--python-platform x86_64-manylinux_2_17 --only-binary :all: - -o requirements-lambda.lock

# Builds the dashboard first where Node.js and npm can; elsewhere serves the API alone, and /
# says how to get the dashboard.
run: $(VENV)/.installed
	@if command -v npm >/dev/null && $(NODE_RECENT) 2>/dev/null; then $(MAKE) --no-print-directory dashboard; \
	else echo "make run: no Node.js 20.19+ with npm here: the dashboard is skipped, the API is served (/ says how to build it)"; fi
	$(BIN)/flightdata serve

# It needs npm in any case (the AppSync simulator), so the dashboard is built as well.
run-aws-local: $(VENV)/.installed-dev node_modules/.package-lock.json dashboard
	$(BIN)/python -m scripts.aws_local  # from the checkout: devtools/ is not installed

# The dashboard's tests are part of the suite: without npm or Chromium it fails, saying why.
# The root node_modules hold the AppSync simulator the AppSync tests run. pytest runs two
# processes (pytest-xdist), each test module whole on one, each process with engines of
# its own (Redis, DynamoDB Local, the moto server).
test: $(VENV)/.installed-dev need-npm need-chromium dashboard node_modules/.package-lock.json
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 --dist loadfile
	cd dashboard && npm test
	cd dashboard && CHROMIUM_PATH=$(CHROMIUM_PATH) npm run e2e

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Formats the code and applies ruff's safe fixes (import order and the like).
fmt: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.installed-dev
	@command -v wrk >/dev/null || echo "wrk is not installed: the HTTP benchmark will be skipped (apt-get install wrk)"
	$(BIN)/python -m bench

schema: $(VENV)/.installed
	$(BIN)/flightdata schema export

need-npm:
	@command -v npm >/dev/null || { echo "npm not found: the dashboard needs Node.js 20.19+ and npm (Debian: apt-get install nodejs npm, if its nodejs is 20.19 or newer)" >&2; exit 1; }
	@$(NODE_RECENT) || { echo "Node.js $$(node --version) is too old: the dashboard needs 20.19 or newer" >&2; exit 1; }

need-chromium:
	@test -x $(CHROMIUM_PATH) || { echo "$(CHROMIUM_PATH) not found: the dashboard's browser tests need Chromium (apt-get install chromium)" >&2; exit 1; }

dashboard/node_modules/.package-lock.json: dashboard/package.json dashboard/package-lock.json | need-npm
	cd dashboard && npm ci --no-audit --no-fund

dashboard/dist/index.html: dashboard/node_modules/.package-lock.json $(DASHBOARD_INPUTS)
	cd dashboard && npm run build

dashboard: dashboard/dist/index.html

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund

lambda: $(VENV)/.installed
	$(BIN)/python scripts/build_lambda.py

package: $(VENV)/.installed-dev
	.ci/package-check

# The stack, then the dashboard into its bucket behind CloudFront (scripts/deploy_dashboard.py).
deploy: node_modules/.package-lock.json lambda dashboard
	npx --no-install osls deploy --stage $(STAGE) --region $(REGION) $(DEPLOY_PARAMS)
	$(BIN)/python scripts/deploy_dashboard.py --stage $(STAGE) --region $(REGION)

# Day one of a deployed stack: the airports into its airports table and the first admin key,
# printed once (scripts/bootstrap.py; again: nothing new unless BOOTSTRAP_ARGS=--new-key).
bootstrap: $(VENV)/.installed
	$(BIN)/python -m scripts.bootstrap --stage $(STAGE) --region $(REGION) $(BOOTSTRAP_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache build .serverless node_modules \
		dashboard/node_modules dashboard/dist
