"""One transaction, and the repositories that work inside it: the ``UnitOfWork`` adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection

from notes.connectors.accounts_repository import (
    SqlLoginFailureLog,
    SqlTokenRepository,
    SqlUserRepository,
)
from notes.connectors.counts_repository import SqlCountRepository
from notes.connectors.database import SqlTransaction, raise_service_error, service_error
from notes.connectors.event_log import SqlEventLog
from notes.connectors.idempotency_repository import SqlIdempotencyKeyRepository
from notes.connectors.job_queue import PgQueuerDeliveryQueue
from notes.connectors.note_tags_repository import SqlNoteTagRepository
from notes.connectors.notes_repository import SqlNoteRepository
from notes.connectors.webhooks_repository import SqlDeliveryRepository, SqlSubscriptionRepository

Connect = Callable[[], AbstractAsyncContextManager[AsyncConnection]]
"""Lends a connection for the length of a unit of work: ``engine.connect`` in the service."""


class SqlUnitOfWork:
    """A unit of work on one pooled connection and one transaction.

    Leaving the ``async with`` block without ``commit`` rolls everything back. If the lent
    connection is already in a transaction (a test's, rolled back afterwards), the unit of work
    runs in a SAVEPOINT inside it instead. ``announce`` is called after each commit that
    recorded events: the service wakes the event worker there, outside the transaction (see
    ``notifications.Announcer``).

    A lost connection or a time limit, whether it strikes on entering, inside the block or on
    leaving, comes out of the unit of work as the service's error (``database.service_error``),
    never as the driver's; a commit whose fate the lost connection hid, as
    ``CommitOutcomeUnknownError``.
    """

    notes: SqlNoteRepository
    events: SqlEventLog
    note_tags: SqlNoteTagRepository
    counts: SqlCountRepository
    idempotency_keys: SqlIdempotencyKeyRepository
    users: SqlUserRepository
    tokens: SqlTokenRepository
    login_failures: SqlLoginFailureLog
    webhooks: SqlSubscriptionRepository
    deliveries: SqlDeliveryRepository
    delivery_queue: PgQueuerDeliveryQueue

    def __init__(self, connect: Connect, *, announce: Callable[[], None] | None = None) -> None:
        self._connect = connect
        self._announce = announce

    async def __aenter__(self) -> Self:
        self._lease = self._connect()
        try:
            connection = await self._lease.__aenter__()
        except Exception as error:  # noqa: BLE001 - translated, or raised as it was
            raise_service_error(error)
        try:
            self._sql = await SqlTransaction.begin(connection)
        except BaseException as error:
            await self._lease.__aexit__(None, None, None)
            if isinstance(error, Exception):
                raise_service_error(error)
            raise
        self.notes = SqlNoteRepository(self._sql)
        self.events = SqlEventLog(self._sql)
        self.note_tags = SqlNoteTagRepository(self._sql)
        self.counts = SqlCountRepository(self._sql)
        self.idempotency_keys = SqlIdempotencyKeyRepository(self._sql)
        self.users = SqlUserRepository(self._sql)
        self.tokens = SqlTokenRepository(self._sql)
        self.login_failures = SqlLoginFailureLog(self._sql)
        self.webhooks = SqlSubscriptionRepository(self._sql)
        self.deliveries = SqlDeliveryRepository(self._sql)
        self.delivery_queue = PgQueuerDeliveryQueue(self._sql)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            try:
                await self._sql.end()
            finally:
                await self._lease.__aexit__(exc_type, exc, tb)
        except Exception as error:  # noqa: BLE001 - translated, or raised as it was
            raise_service_error(error)
        if isinstance(exc, Exception):
            translated = service_error(exc)
            if translated is not None and translated is not exc:
                raise translated from exc

    async def commit(self) -> None:
        """Make every change of this unit of work durable, or raise and keep none; but if the
        connection fails during the commit itself, CommitOutcomeUnknownError: kept or not."""
        await self._sql.commit()
        if self.events.recorded and self._announce is not None:
            self._announce()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A SAVEPOINT through the ORM session: an exception in the block rolls back to it."""
        async with self._sql.session.begin_nested():
            yield
