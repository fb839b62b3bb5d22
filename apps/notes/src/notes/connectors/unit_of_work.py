"""One transaction, and the repositories that work inside it: the ``UnitOfWork`` adapter."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection

from notes.connectors.accounts_repository import (
    SqlLoginFailureLog,
    SqlTokenRepository,
    SqlUserRepository,
)
from notes.connectors.counts_repository import SqlCountRepository
from notes.connectors.database import SqlTransaction
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
        connection = await self._lease.__aenter__()
        try:
            self._sql = await SqlTransaction.begin(connection)
        except BaseException:
            await self._lease.__aexit__(None, None, None)
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
            await self._sql.end()
        finally:
            await self._lease.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        """Make every change of this unit of work durable, or raise and keep none."""
        await self._sql.commit()
        if self.events.recorded and self._announce is not None:
            self._announce()
