# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The container files' static checks: each rule on small inputs, then on this repository."""

from pathlib import Path

import container_check as cc
import pytest

HERE = Path(__file__).resolve().parent


IGNORE = """
# comment
*
!pyproject.toml
!apps
**/*_test.py
**/__pycache__
**/*.md
!apps/*/README.md
"""


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        ("pyproject.toml", False),
        ("README.md", True),
        ("scripts/localdb.py", True),
        ("apps/notes/src/notes/app.py", False),
        ("apps/notes/src/notes/app_test.py", True),
        ("apps/notes/src/notes/__pycache__/app.cpython-311.pyc", True),
        ("apps/notes/README.md", False),
        ("apps/notes/docs/guide.md", True),
        (".env", True),
    ],
)
def test_dockerignore_rules_apply_in_order_to_paths_and_their_folders(path, excluded):
    assert cc.DockerIgnore(IGNORE).excludes(path) is excluded


def test_single_star_stays_within_one_folder():
    ignore = cc.DockerIgnore("apps/*.py")
    assert ignore.excludes("apps/a.py")
    assert not ignore.excludes("apps/b/a.py")


def test_context_lists_only_files_let_through(tmp_path):
    for name in ["pyproject.toml", "apps/a.py", "apps/a_test.py", "notes.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    assert cc.DockerIgnore(IGNORE).context(tmp_path) == ["apps/a.py", "pyproject.toml"]


def test_context_with_tests_secrets_or_missing_migrations_is_refused():
    files = [*cc.REQUIRED_IN_CONTEXT, "apps/notes/pyproject.toml", "apps/notes/x_test.py"]
    files += ["apps/notes/conftest.py", ".env", ".data/postgres/PG_VERSION"]
    files.remove("apps/notes/migrations/env.py")
    problems = cc.check_context(files, ["apps/notes", "libs/x"])
    assert problems == [
        "build context lacks apps/notes/migrations/env.py",
        "build context lacks libs/x/pyproject.toml",
        "build context includes .data/postgres/PG_VERSION",
        "build context includes .env",
        "build context includes apps/notes/conftest.py",
        "build context includes apps/notes/x_test.py",
    ]


DOCKERFILE = """\
ARG PYTHON_IMAGE=python:3.11-slim-trixie
FROM ${PYTHON_IMAGE} AS build
COPY pyproject.toml uv.lock ./
COPY apps/notes/pyproject.toml apps/notes/
RUN uv sync --locked --no-install-workspace
COPY libs/x/pyproject.toml libs/x/
RUN uv sync --locked
"""


def test_dockerfile_must_copy_every_member_before_the_first_sync():
    problems = cc.check_dockerfile(DOCKERFILE, ["apps/notes", "libs/x"], "3.11")
    assert problems == ["libs/x/pyproject.toml is not copied before the first uv sync"]


def test_dockerfile_python_must_match_python_version():
    problems = cc.check_dockerfile(DOCKERFILE, ["apps/notes"], "3.13")
    assert problems == ["the image's Python is 3.11, .python-version says 3.13"]


def test_dockerfile_without_sync_or_pinned_python_is_refused():
    problems = cc.check_dockerfile("FROM python:3.11\n", [], "3.11")
    assert "the Dockerfile never runs uv sync" in problems
    assert "no ARG PYTHON_IMAGE=python:X.Y... default in the Dockerfile" in problems


def test_merge_follows_compose_rules():
    base = {
        "services": {
            "api": {
                "command": ["serve"],
                "environment": {"A": "1", "B": "2"},
                "ports": ["127.0.0.1:8080:8080"],
                "volumes": ["data:/data", "./x:/x"],
            }
        }
    }
    override = {
        "services": {
            "api": {
                "command": ["serve", "--reload"],
                "environment": {"B": "3"},
                "ports": ["127.0.0.1:9000:9000"],
                "volumes": ["./y:/x"],
            }
        }
    }
    api = cc.merge_files(base, override)["services"]["api"]
    assert api["command"] == ["serve", "--reload"]
    assert api["environment"] == {"A": "1", "B": "3"}
    assert api["ports"] == ["127.0.0.1:8080:8080", "127.0.0.1:9000:9000"]
    assert api["volumes"] == ["data:/data", "./y:/x"]
    assert base["services"]["api"]["command"] == ["serve"]


def test_override_of_an_unknown_service_is_refused():
    base = {"services": {"api": {"image": "x"}}}
    override = {"services": {"apii": {"command": ["x"]}}}
    assert cc.check_compose(base, override) == [
        "the override defines apii, which docker-compose.yml does not"
    ]


def test_base_file_must_not_mount_source_or_publish_on_every_interface():
    base = {
        "services": {
            "api": {
                "image": "x",
                "volumes": ["./apps:/app/apps", "data:/data"],
                "ports": ["8080:8080", "127.0.0.1:${API_PORT:-8080}:8080"],
            }
        },
        "volumes": {"data": {}},
    }
    problems = cc.check_compose(base, {})
    assert problems == [
        "api mounts ./apps:/app/apps in docker-compose.yml: CI would not test the image",
        "api publishes 8080:8080: use 127.0.0.1:${NAME_PORT:-default}:port",
    ]


def test_merged_files_are_validated_against_the_compose_specification():
    base = {"services": {"api": {"image": "x"}}}
    override = {
        "services": {"api": {"depends_on": {"db": {"condition": "sometimes"}}, "imagee": "y"}}
    }
    problems = cc.check_compose(base, override)
    assert len(problems) == 2
    assert all(p.startswith("merged with the override: services.api") for p in problems)


BASE_IMAGES = """\
ARG PYTHON_IMAGE=python:3.11-slim-trixie
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9
FROM ${UV_IMAGE} AS uv
FROM ${PYTHON_IMAGE} AS build
FROM build AS coverage
FROM ${PYTHON_IMAGE} AS runtime
"""


def test_base_images_from_build_arguments_of_trusted_registries_pass():
    assert cc.check_base_images(BASE_IMAGES, ["docker.io", "ghcr.io"]) == []


def test_a_fixed_base_image_or_a_syntax_line_is_refused():
    text = "# syntax=docker/dockerfile:1\n" + BASE_IMAGES.replace(
        "FROM build AS coverage", "FROM python:3.11 AS coverage"
    )
    assert cc.check_base_images(text, ["docker.io", "ghcr.io"]) == [
        "a # syntax= line makes BuildKit pull a frontend image: drop it",
        "FROM python:3.11: take base images from build arguments",
    ]


def test_argument_defaults_must_come_from_trusted_registries():
    problems = cc.check_base_images(BASE_IMAGES, ["docker.io"])
    assert problems == [
        "ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9: ghcr.io is not a trusted registry"
    ]


def test_missing_image_arguments_and_a_last_stage_other_than_runtime_are_refused():
    text = "ARG PYTHON_IMAGE=python:3.11\nFROM ${PYTHON_IMAGE} AS runtime\nFROM runtime AS extra\n"
    assert cc.check_base_images(text, ["docker.io"]) == [
        "no ARG UV_IMAGE=... default in the Dockerfile",
        "the last stage is not runtime: a plain docker build would not build it",
    ]


@pytest.mark.parametrize(
    ("image", "registry"),
    [
        ("python:3.11", "docker.io"),
        ("library/python:3.11", "docker.io"),
        ("ghcr.io/astral-sh/uv:0.13.9", "ghcr.io"),
        ("localhost:5000/x", "localhost:5000"),
        ("local/python:3.11", "docker.io"),
    ],
)
def test_registry_of_an_image_reference(image, registry):
    assert cc.registry_of(image) == registry


def test_secrets_must_stop_compose_when_missing():
    text = """
    A: "${POSTGRES_PASSWORD:?set it}"
    B: "${NOTES_CURSOR_SECRET:-change-me}"
    C: "$API_TOKEN"
    D: "${SIGNING_KEY?set it}"
    E: "${API_PORT:-8080}"
    """
    problems = cc.check_secrets(text, "f.yml")
    assert [p.split(" lets ")[0] for p in problems] == [
        "f.yml: ${NOTES_CURSOR_SECRET:-change-me}",
        "f.yml: ${API_TOKEN}",
        "f.yml: ${SIGNING_KEY?set it}",
    ]
    assert problems[0].endswith("write ${NOTES_CURSOR_SECRET:?message}")


def test_builds_must_pass_the_base_images_through():
    services = {
        "api": {"build": {"context": ".", "args": ["PYTHON_IMAGE", "UV_IMAGE"]}},
        "tool": {"build": {"context": ".", "args": {"PYTHON_IMAGE": None}}},
        "worker": {"image": "x"},
    }
    assert cc.check_build_args(services) == ["tool builds without passing UV_IMAGE through"]


def test_database_image_comes_from_the_environment_and_logs_no_statement():
    good = {"database": {"image": "${POSTGRES_IMAGE:-postgres:18}", "command": ["postgres"]}}
    assert cc.check_database(good) == []
    bad = {"database": {"image": "postgres:18", "command": "postgres -c log_statement=all"}}
    assert cc.check_database(bad) == [
        "the database image is not ${POSTGRES_IMAGE:-postgres:VERSION}",
        "the database logs every statement by default",
    ]


def test_coverage_file_may_add_services_but_only_extend_known_ones():
    base = {"services": {"api": {"image": "x"}}}
    coverage = {
        "services": {
            "coverage": {"image": "c", "build": {"context": ".", "args": ["PYTHON_IMAGE"]}},
            "api": {"environment": {"A": "1"}},
            "wroker": {"environment": {"A": "1"}},
        }
    }
    assert cc.check_compose(base, {}, coverage) == [
        "the coverage file extends wroker, which docker-compose.yml does not define",
        "coverage builds without passing UV_IMAGE through",
    ]


def test_repository_container_files_pass():
    assert cc.run(HERE.parent) == []


def test_workspace_members_are_found_from_the_root_pyproject():
    members = cc.workspace_members(HERE.parent)
    assert "apps/notes" in members
    assert all((HERE.parent / m / "pyproject.toml").is_file() for m in members)
