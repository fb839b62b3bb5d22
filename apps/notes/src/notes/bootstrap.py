"""The composition root: builds the service's parts from settings, once, at start-up.

The only module that knows both the services and the adapters that serve their ports: it
picks the PostgreSQL adapters (``connectors``) and hands them to the services, and mypy checks
here that each adapter fits the port it is given as.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from eventing import EventBus
from sqlalchemy.ext.asyncio import AsyncEngine

from notes.connectors.accounts_repository import PooledTokenReader
from notes.connectors.database import (
    ReadPool,
    check_connection_budget,
    create_engine,
    create_read_pool,
    libpq_url,
    wait_for_database,
)
from notes.connectors.event_feed import PooledEventFeed
from notes.connectors.job_queue import DeliveryWorker
from notes.connectors.migrations import SqlDatabaseState, head_revision
from notes.connectors.notes_repository import PooledNoteReader
from notes.connectors.notifications import Announcer, listen, notify_on
from notes.connectors.passwords import Argon2PasswordHasher
from notes.connectors.transfer import PooledNoteExporter
from notes.connectors.unit_of_work import SqlUnitOfWork
from notes.connectors.webhook_http import AiohttpWebhookSender, SystemResolver
from notes.connectors.webhooks_repository import PooledDeliveryReader
from notes.core.config import Settings
from notes.entities import NoteEvent
from notes.services.accounts import AccountsService
from notes.services.counts import CountsService
from notes.services.cursors import CursorCodec
from notes.services.dead_letters import DeadLetters
from notes.services.deliveries import DeliveryService
from notes.services.dispatch import Dispatcher, EventPruner, EventWorker, RetryPolicy
from notes.services.health import HealthService
from notes.services.listeners import build_bus
from notes.services.live_events import EventHub, LiveEvents
from notes.services.notes import NotesService
from notes.services.ports import (
    DeliveryReader,
    EventFeedReader,
    HostResolver,
    NoteExporter,
    UnitOfWork,
    UnitsOfWork,
    WebhookSender,
)
from notes.services.transfer import TransferService
from notes.services.webhooks import WebhooksService

_logger = logging.getLogger(__name__)

# The database has answered by then: a pool that cannot open its first connection is broken.
READ_POOL_OPEN_TIMEOUT = 10.0
# At shutdown, after the server has let the requests in flight finish (uvicorn's graceful
# timeout), how long the creates still waiting for their group commit get before they are
# given up: the process must exit within the grace period it is given.
CREATES_DRAIN_TIMEOUT = 1.0


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
    webhooks: WebhooksService
    transfer: TransferService
    live_events: LiveEvents

    async def close(self) -> None:
        """End the live event streams, finish (or give up on) the creates already accepted,
        send the last wake-up of the event worker, then release the database connections: in
        that order, so no create finds its connections gone."""
        try:
            await self.live_events.hub.close()
            await self.notes.close(timeout=CREATES_DRAIN_TIMEOUT)
        finally:
            await self.announcer.close()
            await self.engine.dispose()
            await self.read_pool.close()


async def bootstrap(settings: Settings) -> Container:
    """Wire the service and wait until its database answers (bounded; raises if it never does).

    Raises ``ConnectionBudgetError`` when the settings let the deployment open more connections
    than the server accepts.
    """
    engine = create_engine(settings)
    try:
        await wait_for_database(
            engine,
            attempts=settings.db_connect_attempts,
            interval=settings.db_connect_interval,
        )
        await check_connection_budget(engine, settings)
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
    secret = settings.cursor_secret
    # Unset, this process draws a key of its own (see notes.interface.app for when that is
    # refused); notes and counts share it.
    cursors = CursorCodec(
        secrets.token_bytes(32) if secret is None else secret.get_secret_value().encode()
    )
    resolver: HostResolver = SystemResolver()
    exporter: NoteExporter = PooledNoteExporter(read_pool)
    feed: EventFeedReader = PooledEventFeed(read_pool)
    hub = EventHub(
        feed,
        lambda: listen(settings.database_url, application_name=f"{settings.app_name}-events"),
        buffer_size=settings.events_buffer_size,
        poll_interval=settings.events_poll_interval,
        reconnect_interval=settings.worker_reconnect_interval,
    )
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
            max_waiting_creates=settings.db_max_waiting,
        ),
        counts=CountsService(uow, cursors=cursors),
        health=HealthService(SqlDatabaseState(engine, read_pool), expected_revision=schema_head),
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
        webhooks=WebhooksService(
            uow,
            resolver=resolver,
            cursors=cursors,
            allow_http=settings.webhook_allow_http,
            allow_loopback=settings.webhook_allow_loopback,
            max_subscriptions=settings.webhook_max_subscriptions,
            secret_overlap=timedelta(seconds=settings.webhook_secret_overlap_seconds),
        ),
        transfer=TransferService(uow, exporter, max_line_bytes=settings.max_body_bytes),
        live_events=LiveEvents(hub, feed),
    )
    _logger.info("connected to the database; schema head is %s", schema_head)
    return container


def event_worker(container: Container, bus: EventBus[NoteEvent] | None = None) -> EventWorker:
    """The worker that dispatches committed events to the listeners (``build_bus``'s, unless
    another ``bus`` is given)."""
    settings = container.settings
    dispatcher = Dispatcher(
        container.uow,
        bus if bus is not None else build_bus(container.uow),
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


@dataclass(frozen=True)
class Deliveries:
    """The delivery side of the worker: the job queue's consumer and the HTTP client it sends
    with, closed when it stops."""

    worker: DeliveryWorker
    sender: AiohttpWebhookSender
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
    sender = AiohttpWebhookSender(
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
