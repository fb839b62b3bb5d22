"""The background worker: ``python -m notes.worker``.

Two loops side by side: the event dispatcher (committed events to the listeners) and the
webhook delivery consumer (jobs off the job queue, sent to the receivers). Runs until SIGTERM
or SIGINT; then the dispatcher finishes the batch it is publishing, the consumer takes no more
jobs and finishes (or times out) the deliveries in flight, and the process exits 0. Several
workers may run at once, on one machine or many.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

import uvloop

from notes.bootstrap import bootstrap, delivery_worker, event_worker
from notes.core.config import Settings
from notes.core.logging import configure_logging

_logger = logging.getLogger("notes.worker")


async def run(settings: Settings) -> None:
    """Wire the worker, then dispatch until a stop signal arrives."""
    container = await bootstrap(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def request_stop(signum: signal.Signals) -> None:
        if not stop.is_set():
            _logger.info("%s received: finishing the current batch, then stopping", signum.name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, request_stop, signum)
    try:
        _logger.info("worker started")
        async with asyncio.TaskGroup() as group:
            group.create_task(event_worker(container).run(stop))
            group.create_task(delivery_worker(container).run(stop))
    finally:
        await container.close()
    _logger.info("worker stopped")


def main(argv: list[str] | None = None) -> None:
    """Parse the command line (settings come from ``NOTES_*`` variables) and run."""
    parser = argparse.ArgumentParser(prog="python -m notes.worker", description=__doc__)
    parser.parse_args(argv)
    settings = Settings()  # from NOTES_* variables
    configure_logging(settings.log_level)
    uvloop.run(run(settings))  # the loop the API runs on too (through uvicorn)


if __name__ == "__main__":
    main()
