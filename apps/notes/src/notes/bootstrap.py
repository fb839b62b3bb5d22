"""The composition root: builds the service's parts from settings, once, at start-up."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from notes.connectors.database import create_engine, wait_for_database
from notes.connectors.migrations import head_revision
from notes.connectors.notifications import Announcer, listen, notify_on
from notes.connectors.unit_of_work import SqlUnitOfWork, UnitOfWork
from notes.core.config import Settings
from notes.services.cursors import CursorCodec
from notes.services.dispatch import Dispatcher, EventWorker
from notes.services.listeners import build_bus
from notes.services.notes import NotesService
from notes.services.tags import TagsService

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Container:
    """Everything a running process needs, wired together."""

    settings: Settings
    engine: AsyncEngine
    read_engine: AsyncEngine
    schema_head: str
    announcer: Announcer
    uow: Callable[[], UnitOfWork]
    notes: NotesService
    tags: TagsService

    async def close(self) -> None:
        """Send the last wake-up of the event worker, then release the database connections."""
        await self.announcer.close()
        await self.engine.dispose()
        await self.read_engine.dispose()


async def bootstrap(settings: Settings) -> Container:
    """Wire the service and wait until its database answers (bounded; raises if it never does)."""
    engine = create_engine(settings)
    try:
        await wait_for_database(
            engine,
            attempts=settings.db_connect_attempts,
            interval=settings.db_connect_interval,
        )
    except BaseException:
        await engine.dispose()
        raise
    read_engine = create_engine(settings, autocommit=True)
    announcer = Announcer(notify_on(read_engine))

    def uow() -> UnitOfWork:
        return SqlUnitOfWork(engine.connect, announce=announcer)

    def read_uow() -> UnitOfWork:
        return SqlUnitOfWork(read_engine.connect)

    container = Container(
        settings=settings,
        engine=engine,
        read_engine=read_engine,
        schema_head=head_revision(settings.migrations_dir),
        announcer=announcer,
        uow=uow,
        notes=NotesService(
            uow,
            read_uow=read_uow,
            cursors=CursorCodec(settings.cursor_secret.get_secret_value().encode()),
        ),
        # Reading the counts is one statement each: no transaction of its own.
        tags=TagsService(read_uow),
    )
    _logger.info("connected to the database; schema head is %s", container.schema_head)
    return container


def event_worker(container: Container) -> EventWorker:
    """The worker that dispatches committed events to the listeners."""
    settings = container.settings
    dispatcher = Dispatcher(
        container.uow,
        build_bus(container.uow),
        batch_size=settings.worker_batch_size,
    )
    return EventWorker(
        dispatcher,
        lambda: listen(settings.database_url, application_name=f"{settings.app_name}-worker"),
        poll_interval=settings.worker_poll_interval,
        reconnect_interval=settings.worker_reconnect_interval,
    )
