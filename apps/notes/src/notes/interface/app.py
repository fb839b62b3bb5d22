"""The app factory: ``uvicorn --factory notes.interface.app:create_app``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from notes.bootstrap import bootstrap
from notes.core.config import Settings
from notes.core.logging import configure_logging
from notes.interface.limits import BodySizeLimitMiddleware
from notes.interface.problems import install_problem_handlers
from notes.interface.routers import accounts, counts, health, notes, webhooks

_logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Settings come from the environment unless given; nothing connects yet."""
    settings = settings or Settings()  # read from NOTES_* variables
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.container = await bootstrap(settings)
        _logger.info("%s is serving", settings.app_name)
        try:
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
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.include_router(health.router)
    app.include_router(accounts.router)
    app.include_router(notes.router)
    app.include_router(counts.router)
    app.include_router(webhooks.router)
    return app
