"""Run several commands as one: ``python scripts/supervise.py "CMD 1" "CMD 2" ...``.

Each command runs as a child process. When this process gets SIGINT or SIGTERM, or when any
child exits, every child still running gets SIGTERM, then SIGKILL if it has not stopped
within 10 s; nothing is left running. The exit status is that of the first child to exit on
its own (0 when the stop was requested).
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import time
from types import FrameType

GRACE_SECONDS = 10.0

_stop_requested: list[int] = []


def _request_stop(signum: int, frame: FrameType | None) -> None:
    _stop_requested.append(signum)


def _stop_all(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + GRACE_SECONDS
    for child in children:
        try:
            child.wait(max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            print(f"supervise: pid {child.pid} ignored SIGTERM; killing it", file=sys.stderr)
            child.kill()
            child.wait()


def main(commands: list[str]) -> int:
    """Start ``commands``; stop them all as soon as one ends or a stop is requested."""
    if not commands:
        print(__doc__, file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    children = [subprocess.Popen(shlex.split(command)) for command in commands]  # noqa: S603
    status = 0
    try:
        while not _stop_requested:
            exited = [i for i, child in enumerate(children) if child.poll() is not None]
            if exited:
                status = children[exited[0]].returncode
                print(
                    f"supervise: {commands[exited[0]]!r} exited with {status}; stopping the others",
                    file=sys.stderr,
                )
                break
            time.sleep(0.1)
    finally:
        _stop_all(children)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
