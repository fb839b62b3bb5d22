"""The composition root: builds the service's parts from settings, once, at start-up."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from notes.connectors.database import (
    ReadPool,
    create_engine,
    create_read_pool,
    wait_for_database,
)
from notes.connectors.migrations import head_revision
from notes.connectors.notes_repository import PooledNoteReader
from notes.connectors.notifications import Announcer, listen, notify_on
from notes.connectors.unit_of_work import SqlUnitOfWork, UnitOfWork
from notes.core.config import Settings
from notes.services.cursors import CursorCodec
from notes.services.dispatch import Dispatcher, EventWorker
from notes.services.listeners import build_bus
from notes.services.notes import NotesService
from notes.services.tags import TagsService

_logger = logging.getLogger(__name__)

# The database has answered by then: a pool that cannot open its first connection is broken.
READ_POOL_OPEN_TIMEOUT = 10.0


@dataclass(frozen=True)
class Container:
    """Everything a running process needs, wired together."""

    settings: Settings
    engine: AsyncEngine
    read_pool: ReadPool
    schema_head: str
    announcer: Announcer
    uow: Callable[[], UnitOfWork]
    notes: NotesService
    tags: TagsService

    async def close(self) -> None:
        """Send the last wake-up of the event worker, then release the database connections."""
        await self.announcer.close()
        await self.engine.dispose()
        await self.read_pool.close()


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
    read_pool = create_read_pool(settings)
    try:
        await read_pool.open(wait=True, timeout=READ_POOL_OPEN_TIMEOUT)
    except BaseException:
        await read_pool.close()
        await engine.dispose()
        raise
    announcer = Announcer(notify_on(read_pool))

    def uow() -> UnitOfWork:
        return SqlUnitOfWork(engine.connect, announce=announcer)

    container = Container(
        settings=settings,
        engine=engine,
        read_pool=read_pool,
        schema_head=head_revision(settings.migrations_dir),
        announcer=announcer,
        uow=uow,
        notes=NotesService(
            uow,
            reader=PooledNoteReader(read_pool),
            cursors=CursorCodec(settings.cursor_secret.get_secret_value().encode()),
        ),
        tags=TagsService(uow),
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
