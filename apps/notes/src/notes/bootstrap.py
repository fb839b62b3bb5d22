"""The composition root: builds the service's parts from settings, once, at start-up.

The only module that knows both the services and the adapters that serve their ports: it
picks the PostgreSQL adapters (``connectors``) and hands them to the services, and mypy checks
here that each adapter fits the port it is given as.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from notes.connectors.accounts_repository import PooledTokenReader
from notes.connectors.database import (
    ReadPool,
    create_engine,
    create_read_pool,
    wait_for_database,
)
from notes.connectors.migrations import SqlSchemaState, head_revision
from notes.connectors.notes_repository import PooledNoteReader
from notes.connectors.notifications import Announcer, listen, notify_on
from notes.connectors.passwords import Argon2PasswordHasher
from notes.connectors.unit_of_work import SqlUnitOfWork
from notes.core.config import Settings
from notes.services.accounts import AccountsService
from notes.services.counts import CountsService
from notes.services.cursors import CursorCodec
from notes.services.dead_letters import DeadLetters
from notes.services.dispatch import Dispatcher, EventPruner, EventWorker, RetryPolicy
from notes.services.health import HealthService
from notes.services.listeners import build_bus
from notes.services.notes import NotesService
from notes.services.ports import UnitOfWork, UnitsOfWork

_logger = logging.getLogger(__name__)

# The database has answered by then: a pool that cannot open its first connection is broken.
READ_POOL_OPEN_TIMEOUT = 10.0


@dataclass(frozen=True)
class Container:
    """Everything a running process needs, wired together."""

    settings: Settings
    engine: AsyncEngine
    read_pool: ReadPool
    announcer: Announcer
    uow: UnitsOfWork
    notes: NotesService
    counts: CountsService
    health: HealthService
    accounts: AccountsService
    dead_letters: DeadLetters

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

    schema_head = head_revision(settings.migrations_dir)
    cursors = CursorCodec(settings.cursor_secret.get_secret_value().encode())
    container = Container(
        settings=settings,
        engine=engine,
        read_pool=read_pool,
        announcer=announcer,
        uow=uow,
        notes=NotesService(
            uow,
            reader=PooledNoteReader(read_pool),
            cursors=cursors,
        ),
        counts=CountsService(uow, cursors=cursors),
        health=HealthService(SqlSchemaState(engine), expected_revision=schema_head),
        accounts=AccountsService(
            uow,
            hasher=Argon2PasswordHasher(concurrency=settings.password_hash_concurrency),
            tokens=PooledTokenReader(read_pool),
            token_lifetime=timedelta(days=settings.token_lifetime_days),
            failure_limit=settings.login_failure_limit,
            failure_window=timedelta(seconds=settings.login_failure_window_seconds),
            cache_seconds=settings.token_cache_seconds,
        ),
        dead_letters=DeadLetters(uow),
    )
    _logger.info("connected to the database; schema head is %s", schema_head)
    return container


def event_worker(container: Container) -> EventWorker:
    """The worker that dispatches committed events to the listeners."""
    settings = container.settings
    dispatcher = Dispatcher(
        container.uow,
        build_bus(container.uow),
        batch_size=settings.worker_batch_size,
        policy=RetryPolicy(
            max_attempts=settings.event_max_attempts,
            base=settings.event_retry_base_seconds,
            cap=settings.event_retry_max_seconds,
        ),
    )
    pruner = EventPruner(
        container.uow,
        retention=timedelta(hours=settings.event_retention_hours),
        parked_retention=timedelta(hours=settings.parked_event_retention_hours),
    )
    return EventWorker(
        dispatcher,
        lambda: listen(settings.database_url, application_name=f"{settings.app_name}-worker"),
        poll_interval=settings.worker_poll_interval,
        reconnect_interval=settings.worker_reconnect_interval,
        pruner=pruner,
        prune_interval=settings.event_prune_interval_seconds,
    )
