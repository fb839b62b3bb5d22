"""Serve the API: ``python -m notes [--host H] [--port P] [--workers N] [--reload]``."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
from pathlib import Path
from types import FrameType

import uvicorn

APP = "notes.interface.app:create_app"


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    # uvicorn handles SIGTERM itself (a graceful shutdown), then re-raises the signal with the
    # handler that was installed before it started: this one, so a requested stop exits 0.
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run uvicorn until it is told to stop."""
    parser = argparse.ArgumentParser(prog="python -m notes", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--reload", action="store_true", help="restart on code changes")
    parser.add_argument("--no-access-log", dest="access_log", action="store_false")
    parser.add_argument(
        "--graceful-timeout",
        type=int,
        default=8,
        metavar="SECONDS",
        help="after SIGTERM, how long requests in flight may take before they are cancelled",
    )
    options = parser.parse_args(argv)

    # Every worker of this launch signs list cursors with the same secret, so a cursor from one
    # is good at the others. Separate launches (replicas) must set NOTES_CURSOR_SECRET alike.
    os.environ.setdefault("NOTES_CURSOR_SECRET", secrets.token_urlsafe(32))
    # The connection budget counts this launch's workers, unless told the whole deployment's.
    os.environ.setdefault("NOTES_API_PROCESSES", str(options.workers))
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        APP,
        factory=True,
        host=options.host,
        port=options.port,
        workers=options.workers,
        reload=options.reload,
        reload_dirs=[str(Path(__file__).parent)] if options.reload else None,
        access_log=options.access_log,
        timeout_graceful_shutdown=options.graceful_timeout,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
