"""Delivery figures: image size, build time cold and warm, time from ``up`` to healthy.

    make bench_containers        (needs a Docker engine: docs/delivery.md)

Builds the image from docker-compose.yml alone, under a name of this run's own:

- cold: no layer cache (``--no-cache``) and uv's download cache emptied (BuildKit's cache
  mounts pruned), so every dependency is downloaded again; the base images are present;
- warm: the same build again, nothing changed;
- after a code change: one source file edited, in a copy of the checkout; the dependency
  layer is reused, the code layers are rebuilt.

Then starts the stack (docker-compose.yml alone: no override, no coverage) ``--runs`` times,
each a new project with a new database volume, and measures the seconds from ``up`` to the
API and worker healthy (``compose up --wait``) and from ``stop`` to every service stopped,
with the API's and the worker's exit codes. Everything it created is removed at the end; the
base images and the build cache stay.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import compose_stack as cs
from common import machine, table


def timed(action: Callable[[], object]) -> float:
    """Run ``action``; the seconds it took."""
    started = time.monotonic()
    action()
    return time.monotonic() - started


def copy_with_a_change(target: Path) -> Path:
    """The checkout's build inputs copied to ``target``, one source file changed."""
    for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "uv.lock", cs.BASE):
        shutil.copy2(cs.ROOT / name, target / name)
    skip = shutil.ignore_patterns("__pycache__", "*.py[cod]", ".*_cache", "mutants")
    for folder in ("apps", "libs"):
        shutil.copytree(cs.ROOT / folder, target / folder, ignore=skip)
    changed = target / "apps/notes/src/notes/__init__.py"
    changed.write_text(changed.read_text() + f"\n# changed for a build benchmark: {target.name}\n")
    return target


def builds(image: str) -> list[tuple[str, float]]:
    """Seconds of a cold build, a warm one, and one after a code change."""
    stack = cs.Stack.new(image)
    # The engine's own build cache, pruned through its API: with DOCKER_BUILDKIT=0 the docker
    # client does so without the buildx plugin, which some clients lack.
    cs.docker(
        "builder",
        "prune",
        "--force",
        "--filter",
        "type=exec.cachemount",
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    figures = [
        (
            "cold (no layer cache, no download cache)",
            timed(lambda: stack.compose("build", "--no-cache")),
        ),
        ("warm, nothing changed", timed(lambda: stack.compose("build"))),
    ]
    with tempfile.TemporaryDirectory() as folder:
        changed = cs.Stack.new(f"{image}-changed", directory=copy_with_a_change(Path(folder)))
        try:
            figures.append(
                ("warm, one source file changed", timed(lambda: changed.compose("build")))
            )
        finally:
            cs.docker("image", "rm", "--force", changed.image, check=False)
    return figures


def start_and_stop(image: str) -> tuple[float, float, tuple[int, int]]:
    """Seconds from ``up`` to healthy and from ``stop`` to stopped; api's and worker's exits."""
    stack = cs.Stack.new(image)
    try:
        up = timed(lambda: stack.up("--no-build"))
        down = timed(lambda: stack.compose("stop"))
        codes = (stack.state("api")["ExitCode"], stack.state("worker")["ExitCode"])
    finally:
        stack.down()
    return up, down, codes


def main(argv: list[str]) -> int:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="stacks started and stopped")
    options = parser.parse_args(argv)
    if not cs.engine_answers():
        print("no Docker engine (with Compose v2) answers", file=sys.stderr)
        return 2
    image = f"notes-bench:{secrets.token_hex(4)}"
    try:
        build_figures = builds(image)
        size = int(cs.docker("image", "inspect", "--format", "{{.Size}}", image).stdout)
        runs = [start_and_stop(image) for _ in range(options.runs)]
    finally:
        cs.docker("image", "rm", "--force", image, check=False)

    print(f"\nImage and build, {machine()}:\n")
    rows: list[list[object]] = [["image size", f"{size / 1e6:.0f} MB"]]
    rows += [[f"build, {name}", f"{seconds:.1f} s"] for name, seconds in build_figures]
    print(table(["what", "figure"], rows))
    print(f"\nStart and stop, {len(runs)} stacks one after another:\n")
    print(
        table(
            ["run", "up to healthy", "stop to stopped", "exit codes (api, worker)"],
            [
                [i + 1, f"{up:.1f} s", f"{down:.1f} s", f"{codes[0]}, {codes[1]}"]
                for i, (up, down, codes) in enumerate(runs)
            ],
        )
    )
    return 0 if all(codes == (0, 0) for _, _, codes in runs) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
