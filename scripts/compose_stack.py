"""Compose projects of the notes service, for ``make container_test`` and the container tests.

A :class:`Stack` is one Compose project with a name, host ports, secrets and image names of its
own, so that several run side by side on one machine (two checkouts, two CI jobs) and none of
them touches the developer's ``notes`` project or reads the checkout's ``.env``. Its variables
go to ``docker compose`` in the environment, never on a command line.

Every call to Docker has a time limit; :meth:`Stack.down` removes the containers, the
network and the volumes, whatever state the project is in.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import compose_env

ROOT = Path(__file__).resolve().parent.parent
BASE = "docker-compose.yml"
OVERRIDE = "docker-compose.override.yml"
COVERAGE = "docker-compose.coverage.yml"
# What a Docker call may take at most: long enough for a cold build on a slow machine.
DOCKER_TIMEOUT = 1200.0
# What ``up`` may take from start to every service ready (the first start initialises the
# database; the API's health check runs every 5 s).
UP_TIMEOUT = 300
# The variable that hands a running stack to the container tests (see container_run.py).
STACK_VARIABLE = "NOTES_CONTAINER_STACK"


class DockerError(RuntimeError):
    """A Docker command failed; the message holds its command line and output."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def docker(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    check: bool = True,
    capture: bool = True,
    timeout: float = DOCKER_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run ``docker ARGS``; its output captured as text (stderr merged into stdout), or, with
    ``capture=False``, shown as it comes."""
    result = subprocess.run(  # noqa: S603 - a fixed program, arguments of our own
        ["docker", *args],  # noqa: S607 - docker is found on PATH, as a person runs it
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        output = result.stdout or "(output shown above)"
        msg = f"docker {' '.join(args)} exited with {result.returncode}:\n{output}"
        raise DockerError(msg)
    return result


def engine_answers() -> bool:
    """Whether a Docker engine answers, and Compose v2 is there to drive it."""
    try:
        return (
            docker("info", check=False, timeout=30).returncode == 0
            and docker("compose", "version", check=False, timeout=30).returncode == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def generated_secrets() -> dict[str, str]:
    """Fresh values for the secrets docker-compose.yml requires."""
    return {name: make() for name, make in compose_env.GENERATED.items()}


@dataclass(frozen=True)
class Stack:
    """One Compose project of the service: ``docker compose -p NAME -f FILE...`` in a folder."""

    name: str
    directory: Path
    files: tuple[str, ...]
    variables: dict[str, str] = field(default_factory=dict)

    @classmethod
    def new(
        cls,
        image: str,
        *,
        directory: Path = ROOT,
        files: tuple[str, ...] = (BASE,),
        **variables: str,
    ) -> Stack:
        """A stack with a unique name, free host ports and secrets of its own."""
        return cls(
            name=f"notes-test-{secrets.token_hex(4)}",
            directory=directory,
            files=files,
            variables={
                "NOTES_IMAGE": image,
                "API_PORT": str(free_port()),
                "POSTGRES_PORT": str(free_port()),
                **generated_secrets(),
                **variables,
            },
        )

    def to_json(self) -> str:
        """The stack as JSON, for a process that drives it too (secrets included)."""
        return json.dumps(
            {
                "name": self.name,
                "directory": str(self.directory),
                "files": list(self.files),
                "variables": self.variables,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Stack:
        """The stack :meth:`to_json` described."""
        data = json.loads(text)
        return cls(data["name"], Path(data["directory"]), tuple(data["files"]), data["variables"])

    @property
    def image(self) -> str:
        """The service's image this stack runs."""
        return self.variables["NOTES_IMAGE"]

    @property
    def api_url(self) -> str:
        """Where the API answers on this machine."""
        return f"http://127.0.0.1:{self.variables['API_PORT']}"

    def environment(self) -> dict[str, str]:
        """The environment ``docker compose`` runs in: this process's, then the stack's."""
        return {**os.environ, **self.variables}

    def compose(
        self, *args: str, check: bool = True, capture: bool = True, timeout: float = DOCKER_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Run ``docker compose`` on this project. Its ``.env`` is not read: the stack's
        variables are all it gets, besides the environment of this process."""
        files = [arg for file in self.files for arg in ("--file", file)]
        return docker(
            "compose",
            "--project-name",
            self.name,
            "--project-directory",
            str(self.directory),
            "--env-file",
            os.devnull,
            *files,
            *args,
            env=self.environment(),
            cwd=self.directory,
            check=check,
            capture=capture,
            timeout=timeout,
        )

    def up(self, *args: str) -> None:
        """Start the services (or the ones named in ``args``) and wait until they are ready:
        healthy where they have a health check, running or exited 0 where they have not; fail
        after ``UP_TIMEOUT`` seconds (an API that never turns healthy, say)."""
        self.compose("up", "--detach", "--wait", "--wait-timeout", str(UP_TIMEOUT), *args)

    def down(self) -> str:
        """Stop and remove the containers, the network and the volumes; the output."""
        return self.compose(
            "down", "--volumes", "--remove-orphans", "--timeout", "20", check=False
        ).stdout

    def container(self, service: str) -> str:
        """The id of the service's container (running or not)."""
        ids = self.compose("ps", "--all", "--quiet", service).stdout.split()
        if len(ids) != 1:
            msg = f"{self.name}: {len(ids)} containers for {service}, expected one"
            raise DockerError(msg)
        return ids[0]

    def inspect(self, service: str) -> dict[str, Any]:
        """``docker inspect`` of the service's container."""
        data: list[dict[str, Any]] = json.loads(
            docker("container", "inspect", self.container(service)).stdout
        )
        return data[0]

    def state(self, service: str) -> dict[str, Any]:
        """The container's state: Status, ExitCode, StartedAt, Health, ..."""
        state: dict[str, Any] = self.inspect(service)["State"]
        return state

    def health(self, service: str) -> str:
        """``starting``, ``healthy`` or ``unhealthy``; ``none`` without a health check."""
        health = self.state(service).get("Health")
        return str(health["Status"]) if health else "none"

    def wait_health(self, service: str, wanted: str, timeout: float = 180) -> float:
        """Poll the container's health until it is ``wanted``; the seconds it took."""
        started = time.monotonic()
        while (status := self.health(service)) != wanted:
            if time.monotonic() - started > timeout:
                msg = f"{service} stayed {status}, not {wanted}, for {timeout} s:\n"
                raise DockerError(msg + self.logs(service))
            time.sleep(0.5)
        return time.monotonic() - started

    def logs(self, service: str) -> str:
        """The service container's output, stdout and stderr together."""
        return docker("logs", self.container(service), check=False).stdout

    def all_logs(self) -> str:
        """Every service's output, for a failure report."""
        return self.compose("logs", "--no-color", "--timestamps", check=False).stdout
