# The developer's front door. `make` (or `make help`) lists every target.
# `make run` and `make test` work on a fresh clone: they install uv and the environment first.

.DEFAULT_GOAL := help
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
MAKEFLAGS += --no-print-directory

# Never let uv download an interpreter: the machine's Python 3.11+ is used.
export UV_PYTHON_DOWNLOADS := never

API_HOST ?= 127.0.0.1
API_PORT ?= 8080
MESSAGE ?=

UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --locked --quiet
# Runs a command with NOTES_DATABASE_URL set: the configured server, or the embedded one.
WITH_DB := $(RUN) python scripts/localdb.py run --
ALEMBIC := alembic -c apps/notes/alembic.ini

banner = @printf '\n\033[1m== %s ==\033[0m\n' "$(1)"

.PHONY: help setup run run_reload worker check test test_debug test_reload format static_checks \
	code_fixes db_migration db_migration_create shell shell_db db_stop destroy events_graph \
	bench bench_events

help: ## List the targets
	$(call banner,notes: make targets)
	@grep -E '^[a-z_]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F ':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	$(call banner,installing uv into .tools/)
	python3 -m venv .tools
	.tools/bin/python -m pip install --quiet uv

.venv/.synced: $(UV) pyproject.toml uv.lock apps/*/pyproject.toml libs/*/pyproject.toml
	$(call banner,syncing .venv with uv.lock)
	$(UV) sync --locked
	@touch $@

setup: .venv/.synced ## Install uv (if missing) and the locked environment
	$(call banner,environment ready)

run: .venv/.synced db_migration ## Run the API on 127.0.0.1:8080 (API_PORT=...) and the event worker, on embedded PostgreSQL unless NOTES_DATABASE_URL is set
	$(call banner,notes API on http://$(API_HOST):$(API_PORT) and the event worker)
	$(WITH_DB) python scripts/supervise.py \
		"python -m notes --host $(API_HOST) --port $(API_PORT)" "python -m notes.worker"

worker: .venv/.synced db_migration ## Run the event worker alone (dispatches events to the listeners)
	$(call banner,notes event worker)
	$(WITH_DB) python -m notes.worker

run_reload: .venv/.synced db_migration ## Run the API, restarting on code changes
	$(call banner,notes API with reload on http://$(API_HOST):$(API_PORT))
	$(WITH_DB) python -m notes --host $(API_HOST) --port $(API_PORT) --reload

check: static_checks test ## Static checks, then every test
	$(call banner,check passed)

test: .venv/.synced ## All tests: the parallel set with xdist, then the non_parallel ones serially
	$(call banner,tests: parallel)
	$(RUN) pytest -n auto -m "not non_parallel"
	$(call banner,tests: non_parallel)
	$(RUN) pytest -m non_parallel

test_debug: .venv/.synced ## Tests serially, stopping at the first failure in the debugger
	$(call banner,tests: debug)
	$(RUN) pytest -x -vv --pdb $(ARGS)

test_reload: .venv/.synced ## Unit tests again on every code change
	$(call banner,tests: on every change)
	$(RUN) watchfiles --filter python "pytest -x -q -m 'not integrated and not external'" apps libs

format: .venv/.synced ## Format the code
	$(call banner,format)
	$(RUN) ruff format .

code_fixes: .venv/.synced ## Apply ruff's automatic fixes
	$(call banner,code fixes)
	$(RUN) ruff check --fix .

static_checks: .venv/.synced ## Formatting, lint, types, the layering contract, the lock file
	$(call banner,static checks)
	$(UV) lock --check
	$(RUN) ruff format --check .
	$(RUN) ruff check .
	$(RUN) mypy apps/notes/src libs scripts bench
	$(RUN) lint-imports

db_migration: .venv/.synced ## Apply the migrations to the database
	$(call banner,migrating the database)
	$(WITH_DB) $(ALEMBIC) upgrade head

db_migration_create: .venv/.synced ## Generate a migration from the models: make db_migration_create MESSAGE="..."
	$(call banner,new migration: $(MESSAGE))
	@test -n "$(MESSAGE)" || { echo 'usage: make db_migration_create MESSAGE="what changes"'; exit 2; }
	$(WITH_DB) $(ALEMBIC) upgrade head
	$(WITH_DB) $(ALEMBIC) revision --autogenerate -m "$(MESSAGE)"

shell: .venv/.synced ## A Python shell with the service importable and the database configured
	$(call banner,python shell)
	$(WITH_DB) python

shell_db: .venv/.synced ## psql on the database
	$(call banner,psql)
	$(RUN) python scripts/localdb.py psql

events_graph: .venv/.synced ## Draw the listener graph (Mermaid, from the code) into README.md
	$(call banner,listener graph into README.md)
	$(RUN) python scripts/events_graph.py

bench: bench_events ## Every benchmark

bench_events: .venv/.synced ## Event dispatch: throughput through the worker, commit-to-listener delay
	$(call banner,benchmark: event dispatch)
	$(WITH_DB) python bench/events.py $(ARGS)

db_stop: ## Stop the embedded PostgreSQL server (its data is kept)
	$(call banner,stopping the embedded database)
	@if [ -x .venv/bin/python ]; then .venv/bin/python scripts/localdb.py stop; fi

destroy: ## Stop the embedded PostgreSQL server and delete its data
	$(call banner,destroying the embedded database)
	@if [ -x .venv/bin/python ]; then .venv/bin/python scripts/localdb.py destroy; \
	else rm -rf .data/postgres; fi
