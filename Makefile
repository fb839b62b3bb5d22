# The developer's front door. `make` (or `make help`) lists every target.
# `make run` and `make test` work on a fresh clone: they install uv and the environment first.

.DEFAULT_GOAL := help
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
MAKEFLAGS += --no-print-directory

# Never let uv download an interpreter: the machine's Python 3.11+ is used.
export UV_PYTHON_DOWNLOADS := never
# ... and the one `python3` names (3.11 or newer) is used, whatever .python-version pins for images.
export UV_PYTHON ?= python3
# Compile bytecode at install: start-up stays fast even where PYTHONDONTWRITEBYTECODE is set.
export UV_COMPILE_BYTECODE := 1

API_HOST ?= 127.0.0.1
API_PORT ?= 8080
MESSAGE ?=
# CI sets COMPOSE="docker compose -f docker-compose.yml" to leave the development override out.
COMPOSE ?= docker compose
COMPOSE_DOWN_FLAGS ?=
MUTATION_FAIL_UNDER ?= 80
OUTAGE_SECONDS ?= 60

UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --locked --quiet
# Runs a command with NOTES_DATABASE_URL set: the configured server, or the embedded one.
WITH_DB := $(RUN) python scripts/localdb.py run --
ALEMBIC := alembic -c apps/notes/alembic.ini
# Where make container_test leaves the coverage data measured inside the containers.
CONTAINER_COVERAGE := .data/container-coverage/.coverage

banner = @printf '\n\033[1m== %s ==\033[0m\n' "$(1)"

.PHONY: help setup run run_reload worker check test coverage coverage_report mutation test_external \
	test_outage test_debug test_reload format static_checks typecheck lock_check container_checks container_test \
	code_fixes db_migration db_migration_create set_password events_parked events_requeue shell \
	shell_db db_stop destroy compose_env compose_up compose_down compose_logs events_graph bench \
	bench_http bench_revocation bench_depth bench_events bench_checks bench_queue_spike \
	bench_containers fuzz soak \
	bench_webhooks bench_streams

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

setup: .venv/.synced ## Install uv (if missing), the locked environment and the git hooks
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		$(RUN) pre-commit install; \
	else echo "not a git checkout: no pre-commit hooks installed"; fi
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

check: static_checks typecheck test coverage_report ## Static checks, every test, then the coverage threshold
	$(call banner,check passed)

test: .venv/.synced ## All tests but the container ones, measured: the parallel set with xdist, then the non_parallel ones serially
	$(RUN) coverage erase
	$(call banner,tests: parallel)
	$(RUN) coverage run -m pytest -n auto -m "not non_parallel and not container"
	$(call banner,tests: non_parallel)
	$(RUN) coverage run -m pytest -m "non_parallel and not container"
	@$(RUN) coverage combine --quiet

coverage: test ## Every test, then the coverage report (terminal and htmlcov/), with the last container_test's data
	@if [ -f $(CONTAINER_COVERAGE) ]; then \
		echo "adding the data measured in the containers by make container_test at $$(date -r $(CONTAINER_COVERAGE) '+%F %T')"; \
		$(RUN) coverage combine --quiet --append --keep $(CONTAINER_COVERAGE); \
	fi
	@$(MAKE) coverage_report

coverage_report: .venv/.synced ## Report the last test run's coverage; fail under the threshold
	$(call banner,coverage: lines and branches of every process, servers included)
	$(RUN) coverage html --quiet --fail-under=0
	$(RUN) coverage report --fail-under=0
	$(RUN) python scripts/coverage_summary.py
	@echo "HTML report: htmlcov/index.html"

mutation: .venv/.synced ## Mutation testing of notes.services against the unit tests (mutmut); prints the score
	$(call banner,mutation testing: notes.services against the unit tests)
	rm -rf apps/notes/mutants
	cd apps/notes && $(RUN) mutmut run
	@cd apps/notes && $(RUN) mutmut results
	@cd apps/notes && $(RUN) mutmut export-cicd-stats >/dev/null
	$(RUN) python scripts/mutation_score.py apps/notes/mutants/mutmut-cicd-stats.json \
		--fail-under $(MUTATION_FAIL_UNDER)

test_external: .venv/.synced ## External tests alone; with NOTES_EXTERNAL_BASE_URL=URL, against that running server
	$(call banner,external tests$(if $(NOTES_EXTERNAL_BASE_URL), against $(NOTES_EXTERNAL_BASE_URL)))
	$(RUN) pytest -m "$(if $(NOTES_EXTERNAL_BASE_URL),external and not own_process,external)"

test_outage: .venv/.synced ## The database-outage tests with a 60 s outage (make check runs them with 10 s)
	$(call banner,outage tests: PostgreSQL stopped for $(OUTAGE_SECONDS) s under load)
	NOTES_TEST_OUTAGE_SECONDS=$(OUTAGE_SECONDS) $(RUN) pytest -s apps/notes/src/notes/outage_external_test.py

FUZZ_EXAMPLES ?= 100
fuzz: .venv/.synced ## schemathesis against the app's own OpenAPI, FUZZ_EXAMPLES (100) cases per operation and phase; make check runs 6
	$(call banner,fuzzing the API with schemathesis ($(FUZZ_EXAMPLES) examples per operation))
	NOTES_FUZZ_MAX_EXAMPLES=$(FUZZ_EXAMPLES) $(RUN) pytest -p no:cacheprovider -s -q \
		apps/notes/src/notes/interface/fuzz_external_test.py

test_debug: .venv/.synced ## Tests serially, stopping at the first failure in the debugger
	$(call banner,tests: debug)
	$(RUN) pytest -x -vv --pdb -m "not container" $(ARGS)

test_reload: .venv/.synced ## Unit tests again on every code change
	$(call banner,tests: on every change)
	$(RUN) watchfiles --filter python \
		"pytest -x -q -m 'not integrated and not external and not container'" apps libs

format: .venv/.synced ## Format the code
	$(call banner,format)
	$(RUN) ruff format .

code_fixes: .venv/.synced ## Apply ruff's automatic fixes
	$(call banner,code fixes)
	$(RUN) ruff check --fix .

# mypy reads bench/, where the job-queue spike imports the libraries of the `spike` group.
static_checks: .venv/.synced ## Formatting, lint, types, the layering rules, the lock file, docs links, container files
	$(call banner,static checks)
	@$(MAKE) lock_check
	$(RUN) ruff format --check .
	$(RUN) ruff check .
	@$(MAKE) --no-print-directory typecheck
	$(RUN) lint-imports
	$(RUN) python scripts/docs_check.py
	@$(MAKE) container_checks

typecheck: .venv/.synced ## mypy (strict) over the whole code base, as static_checks and the git hook run it
	$(RUN) --group spike mypy apps/notes/src apps/notes/testkit libs scripts bench

lock_check: $(UV) ## uv.lock matches every pyproject.toml of the workspace
	$(UV) lock --check

container_checks: .venv/.synced ## Dockerfile lint (hadolint), Compose and workflow files against their schemas, build context
	$(call banner,container checks (static: no Docker engine needed))
	$(RUN) hadolint Dockerfile
	$(RUN) check-jsonschema --builtin-schema vendor.compose-spec \
		docker-compose.yml docker-compose.override.yml docker-compose.coverage.yml
	$(RUN) check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(RUN) python scripts/container_check.py

bench_containers: .venv/.synced ## Image size, build time cold and warm, time from up to healthy (needs Docker; not in make bench)
	$(call banner,benchmark: the image and Compose)
	PYTHONPATH=scripts $(RUN) python bench/containers.py $(ARGS)

container_test: .venv/.synced ## Build the image, run it with Compose (no override) and test it from outside, measured inside (needs Docker)
	$(call banner,container tests: the image as shipped, with Compose)
	$(RUN) python scripts/container_run.py

bench: bench_http bench_revocation bench_depth bench_events bench_checks bench_webhooks bench_streams ## Every benchmark, each printing a table for docs/benchmarks.md

bench_http: .venv/.synced ## HTTP load with wrk (100,000 notes, 2 API workers) beside pgbench; authenticated reads against unauthenticated ones
	$(call banner,benchmark: HTTP load)
	@command -v wrk >/dev/null 2>&1 || { echo "installing wrk from the OS packages"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; \
		else sudo apt-get update -qq && sudo apt-get install -y wrk; fi; }
	$(RUN) python bench/api_load.py $(ARGS)

bench_revocation: .venv/.synced ## How long another API worker honours a revoked token (2 workers); ARGS="--trials N --cache-seconds S"
	$(call banner,benchmark: revocation across API workers)
	$(RUN) python bench/revocation.py $(ARGS)

bench_depth: .venv/.synced ## Cost of a deep page by cursor and by offset, over 1,000,000 notes
	$(call banner,benchmark: cost of depth)
	$(WITH_DB) python bench/depth.py

bench_checks: .venv/.synced ## What checking a pooled connection before lending it costs (poll vs round trip)
	$(call banner,benchmark: checking pooled connections)
	$(RUN) python bench/pool_checks.py

bench_events: .venv/.synced ## Event dispatch: throughput through the worker, commit-to-listener delay
	$(call banner,benchmark: event dispatch)
	$(WITH_DB) python bench/events.py $(ARGS)

SOAK_SECONDS ?= 60
SOAK_CONNECTIONS ?= 64
soak: .venv/.synced ## Soak: mixed authenticated load (2 API workers and the event worker), SOAK_SECONDS (60) at SOAK_CONNECTIONS (64)
	$(call banner,soak: $(SOAK_SECONDS) s at $(SOAK_CONNECTIONS) connections)
	$(WITH_DB) python bench/soak.py --seconds $(SOAK_SECONDS) --connections $(SOAK_CONNECTIONS) $(ARGS)

bench_webhooks: .venv/.synced ## Webhook deliveries/s (2 workers, local receiver) and commit-to-delivery delay, beside the bare queue; ARGS=--help
	$(call banner,benchmark: webhook deliveries)
	$(WITH_DB) python bench/webhooks.py $(ARGS)

bench_streams: .venv/.synced ## Streams: export and import of 1,000,000 notes beside psql's \copy (TRANSFER_ARGS=--help), then SSE fan-out to 1,000 clients of one process (SSE_ARGS=--help)
	$(call banner,benchmark: streams)
	$(WITH_DB) python bench/transfer.py $(TRANSFER_ARGS)
	$(WITH_DB) python bench/sse.py $(SSE_ARGS)

bench_queue_spike: .venv/.synced ## Job-queue spike: procrastinate and pgqueuer side by side (docs/job-queue.md); ARGS=--help
	$(call banner,benchmark: job-queue spike)
	$(RUN) --group spike python scripts/localdb.py run -- python bench/queue_spike.py $(ARGS)

db_migration: .venv/.synced ## Apply the migrations to the database
	$(call banner,migrating the database)
	$(WITH_DB) $(ALEMBIC) upgrade head

db_migration_create: .venv/.synced ## Generate a migration from the models: make db_migration_create MESSAGE="..."
	$(call banner,new migration: $(MESSAGE))
	@test -n "$(MESSAGE)" || { echo 'usage: make db_migration_create MESSAGE="what changes"'; exit 2; }
	$(WITH_DB) $(ALEMBIC) upgrade head
	$(WITH_DB) $(ALEMBIC) revision --autogenerate -m "$(MESSAGE)"

set_password: .venv/.synced ## Give an account a new password (asked for): make set_password EMAIL=...
	$(call banner,new password for $(EMAIL))
	@test -n "$(EMAIL)" || { echo 'usage: make set_password EMAIL=someone@example.com'; exit 2; }
	$(WITH_DB) python -m notes.admin set-password "$(EMAIL)"

events_parked: .venv/.synced ## List the parked events (dead letters) and their last errors; LISTENER=... LIMIT=...
	$(call banner,parked events)
	$(WITH_DB) python -m notes.admin parked-events $(if $(LISTENER),--listener "$(LISTENER)") \
		$(if $(LIMIT),--limit $(LIMIT))

events_requeue: .venv/.synced ## Make parked events pending again: make events_requeue IDS="1 2" | ALL=1 [LISTENER=...]
	$(call banner,requeueing parked events)
	@test -n "$(IDS)$(ALL)" || { echo 'usage: make events_requeue IDS="12 34" or ALL=1 [LISTENER=name]'; exit 2; }
	$(WITH_DB) python -m notes.admin requeue-events $(IDS) $(if $(ALL),--all) \
		$(if $(LISTENER),--listener "$(LISTENER)")

shell: .venv/.synced ## A Python shell with the service importable and the database configured
	$(call banner,python shell)
	$(WITH_DB) python

shell_db: .venv/.synced ## psql on the database
	$(call banner,psql)
	$(RUN) python scripts/localdb.py psql

events_graph: .venv/.synced ## Draw the listener graph (Mermaid, from the code) into docs/events.md
	$(call banner,listener graph into docs/events.md)
	$(RUN) python scripts/events_graph.py

# Compose reads the host ports from the environment: API_PORT=... applies to it too.
compose_up compose_logs compose_down: export API_PORT := $(API_PORT)

compose_env: ## Write the secrets Compose requires into .env (git-ignored), keeping the values already there
	@python3 scripts/compose_env.py .env

compose_up: compose_env ## Build the image, start database, migrations and API (waits until ready), then the worker
	$(call banner,$(COMPOSE) up: API on http://127.0.0.1:$(API_PORT))
	$(COMPOSE) up --detach --build --wait api
	$(COMPOSE) up --detach

compose_logs: compose_env ## The Compose services' logs
	$(COMPOSE) logs --no-color --timestamps

compose_down: compose_env ## Stop the Compose services (the database volume is kept; COMPOSE_DOWN_FLAGS=--volumes drops it)
	$(call banner,$(COMPOSE) down)
	$(COMPOSE) down --remove-orphans $(COMPOSE_DOWN_FLAGS)

db_stop: ## Stop the embedded PostgreSQL server (its data is kept)
	$(call banner,stopping the embedded database)
	@if [ -x .venv/bin/python ]; then .venv/bin/python scripts/localdb.py stop; fi

destroy: ## Stop the embedded PostgreSQL server and delete its data
	$(call banner,destroying the embedded database)
	@if [ -x .venv/bin/python ]; then .venv/bin/python scripts/localdb.py destroy; \
	else rm -rf "$${NOTES_LOCAL_DB_DIR:-.data/postgres}"; fi
