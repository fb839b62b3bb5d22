"""The composition root: builds the service's parts from settings, once, at start-up.

The only module that knows both the services and the adapters that serve their ports: it
picks the PostgreSQL adapters (``connectors``) and hands them to the services, and mypy checks
here that each adapter fits the port it is given as.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from notes.connectors.accounts_repository import PooledTokenReader
from notes.connectors.database import (
    ReadPool,
    create_engine,
    create_read_pool,
    libpq_url,
    wait_for_database,
)
from notes.connectors.job_queue import DeliveryWorker
from notes.connectors.migrations import SqlSchemaState, head_revision
from notes.connectors.notes_repository import PooledNoteReader
from notes.connectors.notifications import Announcer, listen, notify_on
from notes.connectors.passwords import Argon2PasswordHasher
from notes.connectors.unit_of_work import SqlUnitOfWork
from notes.connectors.webhook_http import HttpxWebhookSender, SystemResolver
from notes.connectors.webhooks_repository import PooledDeliveryReader
from notes.core.config import Settings
from notes.services.accounts import AccountsService
from notes.services.counts import CountsService
from notes.services.cursors import CursorCodec
from notes.services.deliveries import DeliveryService
from notes.services.dispatch import Dispatcher, EventWorker
from notes.services.health import HealthService
from notes.services.listeners import build_bus
from notes.services.notes import NotesService
from notes.services.ports import (
    DeliveryReader,
    HostResolver,
    UnitOfWork,
    UnitsOfWork,
    WebhookSender,
)
from notes.services.webhooks import WebhooksService

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
    webhooks: WebhooksService

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
    resolver: HostResolver = SystemResolver()
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
        counts=CountsService(uow),
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
        webhooks=WebhooksService(
            uow,
            resolver=resolver,
            cursors=cursors,
            allow_http=settings.webhook_allow_http,
            allow_loopback=settings.webhook_allow_loopback,
            max_subscriptions=settings.webhook_max_subscriptions,
            secret_overlap=timedelta(seconds=settings.webhook_secret_overlap_seconds),
        ),
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
    )
    return EventWorker(
        dispatcher,
        lambda: listen(settings.database_url, application_name=f"{settings.app_name}-worker"),
        poll_interval=settings.worker_poll_interval,
        reconnect_interval=settings.worker_reconnect_interval,
    )


@dataclass(frozen=True)
class Deliveries:
    """The delivery side of the worker: the job queue's consumer and the HTTP client it sends
    with, closed when it stops."""

    worker: DeliveryWorker
    sender: HttpxWebhookSender
    service: DeliveryService
    retention: timedelta
    purge_interval: float

    async def run(self, stop: asyncio.Event) -> None:
        """Take delivery jobs until ``stop`` is set, then finish those in flight; purge old
        deliveries meanwhile."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.worker.run(stop))
                group.create_task(self._purge_until(stop))
        finally:
            await self.sender.aclose()

    async def _purge_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                purged = await self.service.purge(self.retention)
            except Exception as error:  # noqa: BLE001 - a failed purge is tried next time
                _logger.warning("purging old deliveries failed: %s", error)
            else:
                if purged:
                    _logger.info("purged %d deliveries settled before the retention", purged)
            try:
                async with asyncio.timeout(self.purge_interval):
                    await stop.wait()
            except TimeoutError:
                pass


def delivery_worker(container: Container) -> Deliveries:
    """The worker that takes webhook deliveries off the job queue and sends them."""
    settings = container.settings
    sender = HttpxWebhookSender(
        SystemResolver(),
        timeout=settings.webhook_timeout,
        max_response_bytes=settings.webhook_max_response_bytes,
        allow_loopback=settings.webhook_allow_loopback,
        max_connections=settings.webhook_concurrency,
    )
    port: WebhookSender = sender
    reader: DeliveryReader = PooledDeliveryReader(container.read_pool)
    service = DeliveryService(
        container.uow,
        reader,
        port,
        schedule=settings.webhook_retry_schedule,
        failing_for=timedelta(seconds=settings.webhook_disable_after_seconds),
    )
    worker = DeliveryWorker(
        libpq_url(settings.database_url),
        service.attempt,
        concurrency=settings.webhook_concurrency,
        poll_interval=settings.queue_poll_interval,
        heartbeat_timeout=settings.queue_heartbeat_timeout,
        reconnect_interval=settings.worker_reconnect_interval,
        application_name=f"{settings.app_name}-deliveries",
    )
    return Deliveries(
        worker,
        sender,
        service,
        retention=timedelta(days=settings.webhook_retention_days),
        purge_interval=settings.webhook_purge_interval,
    )
