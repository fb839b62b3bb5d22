# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The image and Compose files, run for real: how the containers behave.

Marked ``container`` and run by ``make container_test`` (scripts/container_run.py), which
builds the image, starts a stack and hands it over (``NOTES_CONTAINER_STACK``); run alone
(``pytest -m container``), the ``stack`` fixture builds and starts one of its own. Tests that
stop services or edit code do so in stacks of their own (own project name, free ports, a copy
of the checkout), always removed at the end. Every wait has a bound; none asserts a duration.
They need nothing of the API beyond ``/`` and ``/health/ready``, and a body for ``POST
/users/`` (signing up needs no token) to hold a request in flight.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import compose_stack as cs
import container_run
import httpx
import pytest

pytestmark = pytest.mark.container

# What the image's /app holds, and nothing else.
APP_CONTENTS = {".venv", "apps", "libs", "pyproject.toml", "uv.lock"}
# Folders and files no image of ours may hold, wherever they are.
NEVER_IN_THE_IMAGE = {
    ".git",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    ".import_linter_cache",
    ".tools",
    ".data",
    "htmlcov",
    "mutants",
    ".coverage",
    ".env",
}
# Variables a stack of a test shares with the stack of the run: the images and the coverage.
SHARED = ("COVERAGE_IMAGE", "COVERAGE_DATA_DIR", "COVERAGE_VERSION")


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[cs.Stack]:
    """The running stack of ``make container_test``, or one built and started here."""
    described = os.environ.get(cs.STACK_VARIABLE)
    if described:
        yield cs.Stack.from_json(described)
        return
    if not cs.engine_answers():
        pytest.fail("the container tests need a Docker engine: see docs/delivery.md")
    data_dir = tmp_path_factory.mktemp("coverage")
    data_dir.chmod(0o777)
    own = container_run.measured_stack(os.urandom(4).hex(), data_dir)
    try:
        own.compose("build")
        own.up()
        yield own
    finally:
        container_run.remove(own)


def copy_checkout(target: Path) -> Path:
    """The files a checkout needs to build and run the stack, copied to ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "uv.lock"):
        shutil.copy2(cs.ROOT / name, target / name)
    for name in (cs.BASE, cs.OVERRIDE, cs.COVERAGE):
        shutil.copy2(cs.ROOT / name, target / name)
    skip = shutil.ignore_patterns("__pycache__", "*.py[cod]", ".*_cache", ".hypothesis", "mutants")
    for folder in ("apps", "libs"):
        shutil.copytree(cs.ROOT / folder, target / folder, ignore=skip)
    return target


@pytest.fixture(scope="module")
def second_stack(stack, tmp_path_factory) -> Iterator[cs.Stack]:
    """The same stack from a second checkout, on ports of its own, beside the first."""
    checkout = copy_checkout(tmp_path_factory.mktemp("second-checkout"))
    shared = {name: stack.variables[name] for name in SHARED if name in stack.variables}
    second = cs.Stack.new(stack.image, directory=checkout, files=stack.files, **shared)
    try:
        second.up("--no-build")
        yield second
    finally:
        second.down()


def image_files(image: str) -> set[str]:
    """Every path in the image's file system (from ``docker export`` of a new container)."""
    container = cs.docker("container", "create", image).stdout.strip()
    try:
        with subprocess.Popen(
            ["docker", "export", container],  # noqa: S607 - docker from PATH, as a person runs it
            stdout=subprocess.PIPE,
        ) as export:
            assert export.stdout is not None
            with tarfile.open(fileobj=export.stdout, mode="r|") as tar:
                names = {member.name.removeprefix("./").rstrip("/") for member in tar}
        assert export.returncode == 0
    finally:
        cs.docker("container", "rm", "--force", container, check=False)
    return names


def wait_for_log(stack: cs.Stack, service: str, text: str, timeout: float = 60) -> None:
    """Poll the service's log until ``text`` shows up."""
    deadline = time.monotonic() + timeout
    while text not in stack.logs(service):
        if time.monotonic() > deadline:
            pytest.fail(
                f"{text!r} not in {service}'s log within {timeout} s:\n{stack.logs(service)}"
            )
        time.sleep(0.2)


# --- the image ---------------------------------------------------------------------------------


def test_the_service_runs_as_a_non_root_user(stack):
    config = json.loads(cs.docker("image", "inspect", stack.image).stdout)[0]["Config"]
    assert config["User"] == "10001:10001"
    for service in ("api", "worker"):
        assert stack.compose("exec", "-T", service, "id", "-u").stdout.strip() == "10001"


def test_python_is_pid_1_so_it_gets_the_stop_signal_itself(stack):
    for service, module in (("api", "notes"), ("worker", "notes.worker")):
        cmdline = stack.compose("exec", "-T", service, "cat", "/proc/1/cmdline").stdout
        assert cmdline.split("\0")[:3] == ["python", "-m", module]


def test_the_image_holds_the_service_and_no_tests_caches_or_git(stack):
    files = image_files(stack.image)
    assert {
        "app/apps/notes/src/notes/__main__.py",
        "app/apps/notes/migrations/env.py",
        "app/apps/notes/alembic.ini",
        "app/.venv/bin/python",
    } <= files
    assert {path.split("/")[1] for path in files if path.startswith("app/")} == APP_CONTENTS
    ours = [path for path in files if path.startswith(("app/apps/", "app/libs/"))]
    assert [p for p in ours if p.endswith(("_test.py", "/conftest.py"))] == []
    assert [p for p in files if NEVER_IN_THE_IMAGE & set(p.split("/"))] == []
    assert [p for p in files if p.startswith("root/.cache")] == []
    assert "usr/local/bin/uv" not in files


# --- Compose: start-up, migrations, health -----------------------------------------------------


def test_the_api_turns_healthy_after_the_migrations_exit_zero(stack):
    assert stack.health("api") == "healthy"
    migrations = stack.state("migrations")
    assert (migrations["Status"], migrations["ExitCode"]) == ("exited", 0)
    assert "Running upgrade" in stack.logs("migrations")
    assert httpx.get(stack.api_url + "/health/ready", timeout=10).json()["status"] == "ready"


def test_a_second_up_runs_the_migrations_again_and_they_apply_nothing(stack):
    before = stack.state("migrations")
    log = stack.logs("migrations")
    runs, applied = log.count("Context impl PostgresqlImpl"), log.count("Running upgrade")
    api = stack.container("api")

    stack.up("--no-build")

    after = stack.state("migrations")
    assert after["StartedAt"] != before["StartedAt"]
    assert (after["Status"], after["ExitCode"]) == ("exited", 0)
    log = stack.logs("migrations")
    assert log.count("Context impl PostgresqlImpl") == runs + 1
    assert log.count("Running upgrade") == applied
    assert stack.container("api") == api
    assert stack.health("api") == "healthy"


def test_two_checkouts_run_side_by_side_on_ports_of_their_own(stack, second_stack):
    assert stack.directory != second_stack.directory
    for name in ("API_PORT", "POSTGRES_PORT"):
        assert stack.variables[name] != second_stack.variables[name]
    volumes = [
        {m["Name"] for m in s.inspect("database")["Mounts"] if m["Type"] == "volume"}
        for s in (stack, second_stack)
    ]
    assert volumes[0]
    assert volumes[1]
    assert not volumes[0] & volumes[1]
    for running in (stack, second_stack):
        assert running.health("api") == "healthy"
        assert httpx.get(running.api_url + "/health/ready", timeout=10).status_code == 200


def test_health_turns_unhealthy_without_the_database_and_healthy_again(second_stack):
    second_stack.up("--no-build")
    ready = second_stack.api_url + "/health/ready"
    second_stack.compose("stop", "database")
    try:
        second_stack.wait_health("api", "unhealthy", timeout=120)
        answer = httpx.get(ready, timeout=10)
        assert (answer.status_code, answer.json()["status"]) == (503, "database unreachable")
    finally:
        second_stack.compose("start", "database")
    second_stack.wait_health("api", "healthy", timeout=120)
    assert httpx.get(ready, timeout=10).status_code == 200


def test_docker_stop_lets_the_request_in_flight_finish_and_exits_zero(second_stack):
    second_stack.up("--no-build")
    url = urlsplit(second_stack.api_url)
    email = f"stop-{uuid.uuid4().hex[:12]}@example.com"
    body = json.dumps({"email": email, "password": "a password sent after the stop"}).encode()
    # With Expect: 100-continue, uvicorn answers 100 once the app asks for the body: from then
    # on the request is in flight, and a stop must wait for it.
    head = (
        f"POST /users/ HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()
    stopped: list[subprocess.CompletedProcess[str]] = []
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head)
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            byte = sock.recv(1)
            assert byte, f"the connection closed after {interim!r}"
            interim += byte
        assert interim.startswith(b"HTTP/1.1 100 "), interim
        stopper = threading.Thread(
            target=lambda: stopped.append(second_stack.compose("stop", "api"))
        )
        stopper.start()
        try:
            wait_for_log(second_stack, "api", "Waiting for connections to close")
            sock.sendall(body)
            response = http.client.HTTPResponse(sock)
            response.begin()
            payload = response.read()
        finally:
            stopper.join(timeout=60)
    assert response.status == 201, payload
    assert len(payload) == int(response.headers["content-length"])
    assert len(stopped) == 1
    assert stopped[0].returncode == 0
    api = second_stack.state("api")
    assert (api["Status"], api["ExitCode"]) == ("exited", 0)
    assert "notes stopped" in second_stack.logs("api")

    second_stack.compose("stop", "worker")
    worker = second_stack.state("worker")
    assert (worker["Status"], worker["ExitCode"]) == ("exited", 0)
    assert "worker stopped" in second_stack.logs("worker")


# --- development mode --------------------------------------------------------------------------


def test_dev_mode_serves_an_edited_source_file_without_a_rebuild(stack, tmp_path):
    checkout = copy_checkout(tmp_path / "checkout")
    dev = cs.Stack.new(stack.image, directory=checkout, files=(cs.BASE, cs.OVERRIDE))
    source = checkout / "apps/notes/src/notes/interface/routers/health.py"
    text = source.read_text()
    assert text.count('status="up"') == 1
    try:
        dev.up("--no-build")
        assert httpx.get(dev.api_url + "/", timeout=10).json()["status"] == "up"
        container = dev.inspect("api")

        source.write_text(text.replace('status="up"', 'status="edited"'))

        deadline = time.monotonic() + 120
        status = None
        while status != "edited" and time.monotonic() < deadline:
            try:
                status = httpx.get(dev.api_url + "/", timeout=5).json()["status"]
            except (httpx.TransportError, ValueError):
                status = None  # restarting
            time.sleep(0.5)
        assert status == "edited", dev.logs("api")
        after = dev.inspect("api")
        assert (after["Id"], after["Image"]) == (container["Id"], container["Image"])
    finally:
        dev.down()
