"""The composition root: builds the service's parts from settings, once, at start-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from notes.connectors.database import create_engine, create_session_factory, wait_for_database
from notes.connectors.migrations import head_revision
from notes.connectors.unit_of_work import SqlUnitOfWork
from notes.core.config import Settings
from notes.services.cursors import CursorCodec
from notes.services.notes import NotesService

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Container:
    """Everything a running process needs, wired together."""

    settings: Settings
    engine: AsyncEngine
    read_engine: AsyncEngine
    schema_head: str
    notes: NotesService

    async def close(self) -> None:
        """Release the database connections."""
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
    sessions = create_session_factory(engine)
    read_sessions = create_session_factory(read_engine)
    container = Container(
        settings=settings,
        engine=engine,
        read_engine=read_engine,
        schema_head=head_revision(settings.migrations_dir),
        notes=NotesService(
            lambda: SqlUnitOfWork(sessions),
            read_uow=lambda: SqlUnitOfWork(read_sessions),
            cursors=CursorCodec(settings.cursor_secret.get_secret_value().encode()),
        ),
    )
    _logger.info("connected to the database; schema head is %s", container.schema_head)
    return container
