# PackFinderz developer commands. `make dev` runs the system, `make test` runs the tests; both install first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null || echo "$(PY) -m uv")
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2

.PHONY: help install dev test fuzz lint fmt check build bench migrate-up migrate-down migrate-status \
        migrate-validate migrate-version migrate-create api worker console-assets

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: $(STAMP) ## create ./.venv with runtime and dev dependencies (no-op when up to date)

$(STAMP): pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || $(PY) -m uv --version >/dev/null 2>&1 || $(PY) -m pip install --quiet uv
	$(UV) sync --frozen --all-extras --group dev
	@touch $(STAMP)

dev: install ## run api + worker (embedded Postgres/Redis when no URLs are configured)
	$(BIN)/packfinderz dev

api: install ## run the api alone
	$(BIN)/packfinderz api

worker: install ## run the worker alone
	$(BIN)/packfinderz worker

test: install ## run the test suite against real Postgres and Redis
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

fuzz: install ## the API contract alone: schemathesis fuzzer + generated-client test (also part of make test)
	$(BIN)/pytest -n 0 -p no:randomly -s tests/contract $(PYTEST_ARGS)

lint: install ## ruff format --check, ruff check, mypy --strict
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

fmt: install ## apply ruff formatting and fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

build: install ## build the wheel, install it in a scratch venv and import every entry point
	rm -rf dist && $(UV) build --wheel --out-dir dist >/dev/null
	rm -rf /tmp/pf-wheel-check && $(UV) venv -q /tmp/pf-wheel-check
	$(UV) pip install -q --python /tmp/pf-wheel-check/bin/python dist/*.whl
	/tmp/pf-wheel-check/bin/python -c "import packfinderz.cli, packfinderz.app, packfinderz.worker.runner; packfinderz.app.create_app"
	/tmp/pf-wheel-check/bin/packfinderz version
	$(BIN)/packfinderz migrate validate

check: lint test build ## everything CI runs

console-assets: ## re-fetch the console's vendored htmx, Chart.js and Pico CSS from npm (versions in the script)
	tools/vendor-console-assets

bench: install ## run the benchmarks in bench/ (prints JSON)
	@for b in bench/*.py; do case $$b in */_*) continue;; esac; $(BIN)/python $$b || exit 1; done

migrate-up: install ## apply pending migrations
	$(BIN)/packfinderz migrate up

migrate-down: install ## roll back the newest migration
	$(BIN)/packfinderz migrate down

migrate-status: install ## list applied and pending migrations
	$(BIN)/packfinderz migrate status

migrate-validate: install ## check migration file names and the revision chain
	$(BIN)/packfinderz migrate validate

migrate-version: install ## go to VERSION=<14-digit revision>
	@test -n "$(VERSION)" || { echo "usage: make migrate-version VERSION=<revision>"; exit 2; }
	$(BIN)/packfinderz migrate version $(VERSION)

migrate-create: install ## create a migration: NAME=<name>
	@test -n "$(NAME)" || { echo "usage: make migrate-create NAME=<name>"; exit 2; }
	$(BIN)/packfinderz migrate create "$(NAME)"
