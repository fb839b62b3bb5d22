"""The app factory: ``uvicorn --factory notes.interface.app:create_app``."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType

from fastapi import FastAPI

from notes.bootstrap import bootstrap
from notes.core.config import Settings
from notes.core.logging import configure_logging
from notes.interface.limits import BodySizeLimitMiddleware
from notes.interface.problems import install_problem_handlers
from notes.interface.routers import accounts, counts, events, health, notes, transfer, webhooks

_logger = logging.getLogger(__name__)


class SharedSecretRequiredError(RuntimeError):
    """Several worker processes would each sign list cursors with a key of their own."""


def one_of_several_workers() -> bool:
    """Whether this process is likely one of several serving the app, started by a process
    manager: uvicorn's ``--workers`` (and ``--reload``) start the app in child processes of
    ``multiprocessing``; gunicorn names itself in ``SERVER_SOFTWARE``."""
    return multiprocessing.parent_process() is not None or os.environ.get(
        "SERVER_SOFTWARE", ""
    ).startswith("gunicorn")


def refuse_a_key_per_worker(settings: Settings) -> None:
    """Raise ``SharedSecretRequiredError`` if this process, one of several workers, would sign
    cursors with a key of its own."""
    if settings.cursor_secret is None and one_of_several_workers():
        msg = (
            "NOTES_CURSOR_SECRET is not set, and this process is one of several workers: each "
            "would sign list cursors with a key of its own. Set NOTES_CURSOR_SECRET (the same "
            "value for every process), or start the API with `python -m notes --workers N`, "
            "which draws one key per launch for all its workers."
        )
        raise SharedSecretRequiredError(msg)


@asynccontextmanager
async def ending_streams_on_signals(end_streams: Callable[[], None]) -> AsyncIterator[None]:
    """Call ``end_streams`` as soon as SIGTERM or SIGINT arrives, then the handler that was
    there (the server's, which starts its graceful shutdown).

    uvicorn waits for the responses in flight before it runs the lifespan's shutdown, and a
    live stream never ends by itself: without this, every open stream would hold the process
    until the graceful timeout. Only the main thread may set signal handlers; elsewhere (an
    app run in a thread) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(end_streams)
        handler = previous[signal.Signals(signum)]
        if callable(handler):
            handler(signum, frame)
        else:  # the default action (or none), as if this handler had not been there
            signal.signal(signum, handler)
            signal.raise_signal(signum)

    for sig in previous:
        signal.signal(sig, on_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if signal.getsignal(sig) is on_signal:
                signal.signal(sig, handler)


GC_YOUNG_THRESHOLD = 10_000
"""Allocations between two collections of the youngest generation (Python's default: 700)."""


def settle_garbage_collector() -> None:
    """Once started: collect, freeze what start-up made (modules, the app, the pools), and
    collect the youngest generation every 10,000 allocations instead of 700.

    Frozen objects are left out of every later collection, so the collector's full passes no
    longer walk the hundreds of thousands of objects that live as long as the process. With
    1,000 event streams open, those passes were what made the slowest events late: p99 from
    commit to the last client 0.5 s with Python's defaults, 0.2 s so (docs/benchmarks.md).
    """
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, oldest)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Settings come from the environment unless given; nothing connects yet.

    At start-up (the lifespan, so that uvicorn stops instead of starting the process again) it
    refuses to serve without ``NOTES_CURSOR_SECRET`` in a process that is one of several
    workers (``SharedSecretRequiredError``): each would draw its own key, and a cursor one
    issues would be refused by the others. ``python -m notes`` sets the variable, one key per
    launch, for all the workers it starts.
    """
    settings = settings or Settings()  # read from NOTES_* variables
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        refuse_a_key_per_worker(settings)
        app.state.container = container = await bootstrap(settings)
        hub = container.live_events.hub
        hub.start()
        settle_garbage_collector()
        _logger.info("%s is serving", settings.app_name)
        try:
            async with ending_streams_on_signals(hub.close_streams):
                yield
        finally:
            _logger.info("%s is shutting down", settings.app_name)
            await app.state.container.close()
            _logger.info("%s stopped", settings.app_name)

    app = FastAPI(
        title="Notes",
        summary="Short notes with categories, kept in PostgreSQL.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
        max_bytes_by_path={"/notes/import": settings.import_max_body_bytes},
    )
    # Last: its catch-all must sit outside every other middleware.
    install_problem_handlers(app, settings)
    app.include_router(health.router)
    app.include_router(accounts.router)
    app.include_router(transfer.router)  # before notes: /notes/export is no note's id
    app.include_router(notes.router)
    app.include_router(counts.router)
    app.include_router(webhooks.router)
    app.include_router(events.router)
    return app
