"""``make container_test``: the image as shipped, started with Compose and tested from outside.

    python scripts/container_run.py

1. Checks that a Docker engine and Compose v2 answer (exit 2 with a message if not).
2. Builds the image from docker-compose.yml alone (no development override), and the
   coverage tool's image (docker-compose.coverage.yml), under names of this run's own.
3. Starts database, migrations, API and worker as a project of its own, on free loopback
   ports, with secrets generated for this run, and waits until the API is healthy.
4. Runs the external tests (``-m "external and not own_process"``) against the API in the
   container, then the container tests (``-m container``), which are handed the running stack.
5. Stops the stack: the API and the worker must exit 0. Then ``down --volumes`` and the
   removal of this run's images, whatever happened before (the build cache stays).
6. Combines the coverage data the containers wrote, with their /app/... paths mapped onto this
   checkout, prints its figures, and appends it to the checkout's ``.coverage``.

Fails (exit 1) when any step fails. Prints the figures it measured: build time, time from
``up`` to healthy, image size, time to stop.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import coverage
from compose_stack import BASE, COVERAGE, ROOT, STACK_VARIABLE, DockerError, Stack, docker
from compose_stack import engine_answers as docker_engine_answers

COVERAGE_DIR = ROOT / ".data" / "container-coverage"
TEST_TIMEOUT = 1800.0


def banner(text: str) -> None:
    """A heading in the output, like the Makefile's."""
    print(f"\n\033[1m== {text} ==\033[0m", flush=True)


def timed(action: Callable[[], object]) -> float:
    """Run ``action``; the seconds it took."""
    started = time.monotonic()
    action()
    return time.monotonic() - started


def pytest(marker: str, *options: str, **env: str) -> int:
    """Run the tests ``marker`` selects (a -m expression) with ``env`` added; the exit code."""
    command = [sys.executable, "-m", "pytest", "-m", marker, "-p", "no:cacheprovider", *options]
    return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        command, cwd=ROOT, env={**os.environ, **env}, timeout=TEST_TIMEOUT, check=False
    ).returncode


def measured_stack(run_id: str, data_dir: Path) -> Stack:
    """The stack of this run: the shipped image's files plus coverage measurement."""
    return Stack.new(
        f"notes-test:{run_id}",
        files=(BASE, COVERAGE),
        COVERAGE_IMAGE=f"notes-test-coverage:{run_id}",
        COVERAGE_DATA_DIR=str(data_dir),
        COVERAGE_VERSION=coverage.__version__,
    )


def stop(stack: Stack) -> list[str]:
    """Stop every service as ``docker stop`` does; why the API or worker did not exit 0."""
    seconds = timed(lambda: stack.compose("stop"))
    print(f"stopped in {seconds:.1f} s")
    problems = []
    for service in ("api", "worker"):
        state = stack.state(service)
        print(f"{service}: exit code {state['ExitCode']}")
        if state["ExitCode"] != 0:
            problems.append(f"{service} exited with {state['ExitCode']} on docker stop")
    return problems


def remove(stack: Stack) -> None:
    """Remove the stack's containers, network and volumes, and this run's images."""
    banner(f"removing {stack.name} and its images")
    print(stack.down(), end="")
    images = [stack.image, stack.variables["COVERAGE_IMAGE"]]
    docker("image", "rm", "--force", *images, check=False)


def combine_coverage(data_dir: Path) -> list[str]:
    """Combine the containers' data into one file, print its figures and add it to .coverage."""
    banner("coverage measured inside the containers")
    if not any(data_dir.glob(".coverage.*")):
        return [f"the containers wrote no coverage data into {data_dir}"]
    combined = COVERAGE_DIR / ".coverage"
    run_coverage = [sys.executable, "-m", "coverage"]
    steps = [
        [*run_coverage, "combine", "--quiet", f"--data-file={combined}", str(data_dir)],
        [sys.executable, "scripts/coverage_summary.py", str(combined), "--no-gate"],
        [*run_coverage, "combine", "--quiet", "--append", "--keep", str(combined)],
    ]
    for command in steps:
        if subprocess.run(command, cwd=ROOT, check=False).returncode != 0:  # noqa: S603
            return [f"{' '.join(command[2:])} failed"]
    print(f"added to {ROOT / '.coverage'}: `make coverage_report` shows both")
    return []


def run(stack: Stack) -> list[str]:
    """Build, start, test and stop ``stack``; the problems found (none: it passed)."""
    banner(f"building {stack.image} (docker-compose.yml, no override)")
    build = timed(lambda: stack.compose("build", capture=False))
    size = int(docker("image", "inspect", "--format", "{{.Size}}", stack.image).stdout)
    banner(f"starting {stack.name}: API on {stack.api_url}")
    up = timed(stack.up)
    print(f"build {build:.1f} s, up to healthy {up:.1f} s, image {size / 1e6:.0f} MB")

    problems = []
    banner(f"external tests against the API in the container, {stack.api_url}")
    if pytest("external and not own_process", NOTES_EXTERNAL_BASE_URL=stack.api_url) != 0:
        problems.append("external tests failed")
    banner("container tests")
    if pytest("container", "--durations=0", **{STACK_VARIABLE: stack.to_json()}) != 0:
        problems.append("container tests failed")
    banner(f"stopping {stack.name}")
    problems += stop(stack)
    return problems


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # CI cancels with SIGTERM: end like Ctrl-C does, so that the stack is removed all the same.
    raise KeyboardInterrupt


def main() -> int:
    """Run every step; 0 when all passed."""
    if not docker_engine_answers():
        print(
            "container_test: no Docker engine (with Compose v2) answers: nothing was run. "
            "Start one; docs/delivery.md says how.",
            file=sys.stderr,
        )
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    run_id = os.urandom(4).hex()
    data_dir = COVERAGE_DIR / "data"
    shutil.rmtree(COVERAGE_DIR, ignore_errors=True)
    data_dir.mkdir(parents=True)
    # The services run as uid 10001, which must be able to write its data files here.
    data_dir.chmod(0o777)
    stack = measured_stack(run_id, data_dir)
    problems: list[str] = []
    try:
        problems = run(stack)
    except (DockerError, subprocess.TimeoutExpired) as error:
        problems = [str(error)]
    finally:
        if problems:
            banner(f"{stack.name}: logs")
            print(stack.all_logs())
        remove(stack)
    if not problems:
        problems = combine_coverage(data_dir)
    for problem in problems:
        print(f"container_test: {problem}", file=sys.stderr)
    if not problems:
        banner("container tests passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
