# One entry point: `make run` serves with the embedded default, `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	&& { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

STAGE ?= dev
.PHONY: run run-aws-local test lint bench schema lambda package deploy clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/flightdata serve

run-aws-local: $(VENV)/.installed-dev
	$(BIN)/python scripts/aws_local.py

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(VENV)/.installed-dev
	@command -v wrk >/dev/null || echo "wrk is not installed: the HTTP benchmark will be skipped (apt-get install wrk)"
	$(BIN)/python -m bench

schema: $(VENV)/.installed
	$(BIN)/flightdata schema export

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund

lambda: $(VENV)/.installed
	$(BIN)/python scripts/build_lambda.py

package: $(VENV)/.installed-dev
	.ci/package-check

deploy: node_modules/.package-lock.json lambda
	npx --no-install osls deploy --stage $(STAGE) $(DEPLOY_PARAMS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache build .serverless node_modules
