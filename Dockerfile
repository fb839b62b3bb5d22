# The notes service's image. One image, one command per role:
#
#   API (the default)   python -m notes --host 0.0.0.0 --port 8080
#   migrations          alembic -c apps/notes/alembic.ini upgrade head
#   worker              python -m notes.worker
#
# Python is PID 1 (exec-form CMD, no shell and no init): `python -m notes` handles SIGTERM
# itself, lets uvicorn finish the requests in flight and exits 0.
#
# The base images are build arguments: the official ones by default, local stand-ins where no
# registry can be reached (docs/delivery.md). The Python image's minor version matches
# .python-version, the version CI tests run on; scripts/container_check.py fails `make check`
# when the two drift apart. No `# syntax=` line: BuildKit's built-in frontend reads this file,
# so building needs no frontend image from a registry.

ARG PYTHON_IMAGE=python:3.11-slim-trixie
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

# --- build: the locked environment in /app/.venv -------------------------------------------
FROM ${PYTHON_IMAGE} AS build

COPY --from=uv /uv /usr/local/bin/uv

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# 1. The third-party dependencies of the service, from the lock file alone: this layer is
#    rebuilt when a pyproject.toml or uv.lock changes, not when the code does. uv checks the
#    lock against the whole workspace, so every member's pyproject.toml is needed here
#    (scripts/container_check.py fails `make check` when one is missing).
COPY pyproject.toml uv.lock ./
COPY apps/notes/pyproject.toml apps/notes/
COPY libs/eventing/pyproject.toml libs/eventing/
COPY libs/localpg/pyproject.toml libs/localpg/
COPY libs/streams/pyproject.toml libs/streams/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --package notes --no-install-workspace

# 2. The workspace's own code (tests are left out by .dockerignore). Workspace members are
#    installed editable, so the package runs from /app/apps/notes/src and finds its
#    migrations at /app/apps/notes/migrations, the same layout as a checkout.
COPY apps/ apps/
COPY libs/ libs/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --package notes \
    && python -m compileall -q apps libs

# --- coverage: coverage.py for `make container_test`, never part of the image ----------------
# docker-compose.coverage.yml copies /opt/coverage into a volume, mounts it into the containers
# of the image as shipped and puts it on PYTHONPATH: its sitecustomize starts measuring in
# every Python process there. Built on the same Python image, so the C tracer fits. The
# Makefile passes the version of the lock file, the one that combines the data afterwards.
FROM ${PYTHON_IMAGE} AS coverage
COPY --from=uv /uv /usr/local/bin/uv
ARG COVERAGE_VERSION
RUN test -n "${COVERAGE_VERSION}" \
    && uv pip install --no-cache --python /usr/local/bin/python3 --target /opt/coverage \
        "coverage==${COVERAGE_VERSION}" \
    && printf 'import coverage\n\ncoverage.process_startup()\n' > /opt/coverage/sitecustomize.py
CMD ["python", "-c", "import sys; sys.path.insert(0, '/opt/coverage'); import coverage"]

# --- runtime: no uv, no compilers, not root -------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

RUN groupadd --system --gid 10001 notes \
    && useradd --system --uid 10001 --gid notes --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin notes

WORKDIR /app
# Owned by root and read-only to the service's user.
COPY --from=build /app /app

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NOTES_HEALTH_URL=http://127.0.0.1:8080/health/ready

# Fail the build, not the first deployment, when the package cannot find its migrations or
# when either entry point misses a dependency (a workspace library, say).
RUN python -c "from notes.core.config import MIGRATIONS_DIR as d; assert (d / 'env.py').is_file(), d" \
    && python -c "import notes.interface.app, notes.worker"

# Numeric, so that a platform can check it is not root without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM

# Ready means the database answers and its schema is at the migration head (503 otherwise:
# urlopen raises, the check fails). There is no curl in the slim image; Python is here anyway.
# Services that serve no HTTP (worker, migrations) turn it off in docker-compose.yml.
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['NOTES_HEALTH_URL'], timeout=2)"]

CMD ["python", "-m", "notes", "--host", "0.0.0.0", "--port", "8080"]
