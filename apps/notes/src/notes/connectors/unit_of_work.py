"""One transaction, and the repositories that work inside it."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notes.connectors.event_log import EventLog, SqlEventLog
from notes.connectors.idempotency_repository import (
    IdempotencyKeyRepository,
    SqlIdempotencyKeyRepository,
)
from notes.connectors.notes_repository import NoteRepository, SqlNoteRepository
from notes.connectors.tags_repository import SqlTagRepository, TagRepository


class UnitOfWork(Protocol):
    """A transaction: changes made through its repositories land together on ``commit``.

    Leaving the ``async with`` block without ``commit`` rolls everything back, whether the
    block ended normally or by an exception.
    """

    notes: NoteRepository
    events: EventLog
    tags: TagRepository
    idempotency_keys: IdempotencyKeyRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Make every change of this unit of work durable, or raise and keep none."""


class SqlUnitOfWork(UnitOfWork):
    """A unit of work on one SQLAlchemy session (one connection, one transaction)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory

    async def __aenter__(self) -> Self:
        self._session = self._session_factory()
        self.notes = SqlNoteRepository(self._session)
        self.events = SqlEventLog(self._session)
        self.tags = SqlTagRepository(self._session)
        self.idempotency_keys = SqlIdempotencyKeyRepository(self._session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing the session rolls back whatever was not committed and returns the connection.
        await self._session.close()

    async def commit(self) -> None:
        await self._session.commit()
