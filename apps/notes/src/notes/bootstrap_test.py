"""Every adapter fits the port it is plugged in as.

The connectors implement the ports of ``notes.services.ports`` by shape, without importing
them, so nothing but a check ties the two: mypy checks the annotated assignments below (a
missing method or a changed signature fails ``make static_checks``), and the test compares the
parameters of every method of every port with those of its adapters at run time.
"""

from __future__ import annotations

import functools
import inspect
from typing import Protocol

import pytest

from notes.bootstrap import bootstrap
from notes.connectors.accounts_repository import (
    PooledTokenReader,
    SqlLoginFailureLog,
    SqlTokenRepository,
    SqlUserRepository,
)
from notes.connectors.counts_repository import SqlCountRepository
from notes.connectors.database import ConnectionBudgetError, create_engine, create_read_pool
from notes.connectors.event_feed import PooledEventFeed
from notes.connectors.event_log import SqlEventLog
from notes.connectors.idempotency_repository import SqlIdempotencyKeyRepository
from notes.connectors.job_queue import PgQueuerDeliveryQueue
from notes.connectors.memory import (
    FastPasswordHasher,
    InMemoryCountRepository,
    InMemoryDatabase,
    InMemoryDatabaseState,
    InMemoryDeliveryQueue,
    InMemoryDeliveryReader,
    InMemoryDeliveryRepository,
    InMemoryEventFeed,
    InMemoryEventLog,
    InMemoryIdempotencyKeyRepository,
    InMemoryLoginFailureLog,
    InMemoryNoteExporter,
    InMemoryNoteRepository,
    InMemoryNoteTagRepository,
    InMemorySubscriptionRepository,
    InMemoryTokenReader,
    InMemoryTokenRepository,
    InMemoryUnitOfWork,
    InMemoryUserRepository,
    InMemoryWakeups,
    ScriptedWebhookSender,
    StaticResolver,
)
from notes.connectors.migrations import SqlDatabaseState
from notes.connectors.note_tags_repository import SqlNoteTagRepository
from notes.connectors.notes_repository import PooledNoteReader, SqlNoteRepository
from notes.connectors.notifications import PgWakeups, listen
from notes.connectors.passwords import Argon2PasswordHasher
from notes.connectors.transfer import PooledNoteExporter
from notes.connectors.unit_of_work import SqlUnitOfWork
from notes.connectors.webhook_http import AiohttpWebhookSender, SystemResolver
from notes.connectors.webhooks_repository import (
    PooledDeliveryReader,
    SqlDeliveryRepository,
    SqlSubscriptionRepository,
)
from notes.core.config import Settings
from notes.services import ports

# Each port, and the classes that implement it: the PostgreSQL adapter, then the fake.
ADAPTERS: dict[type, list[type]] = {
    ports.NoteReader: [PooledNoteReader, SqlNoteRepository, InMemoryNoteRepository],
    ports.NoteRepository: [SqlNoteRepository, InMemoryNoteRepository],
    ports.EventLog: [SqlEventLog, InMemoryEventLog],
    ports.NoteTagRepository: [SqlNoteTagRepository, InMemoryNoteTagRepository],
    ports.CountRepository: [SqlCountRepository, InMemoryCountRepository],
    ports.IdempotencyKeyRepository: [SqlIdempotencyKeyRepository, InMemoryIdempotencyKeyRepository],
    ports.UnitOfWork: [SqlUnitOfWork, InMemoryUnitOfWork],
    ports.Wakeups: [PgWakeups, InMemoryWakeups],
    ports.DatabaseState: [SqlDatabaseState, InMemoryDatabaseState],
    ports.UserRepository: [SqlUserRepository, InMemoryUserRepository],
    ports.TokenRepository: [SqlTokenRepository, InMemoryTokenRepository],
    ports.LoginFailureLog: [SqlLoginFailureLog, InMemoryLoginFailureLog],
    ports.TokenReader: [PooledTokenReader, InMemoryTokenReader],
    ports.PasswordHasher: [Argon2PasswordHasher, FastPasswordHasher],
    ports.SubscriptionRepository: [SqlSubscriptionRepository, InMemorySubscriptionRepository],
    ports.DeliveryRepository: [SqlDeliveryRepository, InMemoryDeliveryRepository],
    ports.DeliveryQueue: [PgQueuerDeliveryQueue, InMemoryDeliveryQueue],
    ports.DeliveryReader: [PooledDeliveryReader, InMemoryDeliveryReader],
    ports.WebhookSender: [AiohttpWebhookSender, ScriptedWebhookSender],
    ports.HostResolver: [SystemResolver, StaticResolver],
    ports.NoteExporter: [PooledNoteExporter, InMemoryNoteExporter],
    ports.EventFeedReader: [PooledEventFeed, InMemoryEventFeed],
}


def _members(port: type) -> dict[str, object]:
    """The methods and properties a port declares, its bases' included."""
    names = {
        name
        for cls in port.__mro__
        if cls not in (object, Protocol) and not cls.__name__.startswith("_")
        for name in vars(cls)
        if not name.startswith("_") or name in {"__aenter__", "__aexit__"}
    }
    return {name: getattr(port, name) for name in names if name not in {"_is_protocol"}}


def test_every_adapter_has_every_method_of_its_port_with_the_same_parameters() -> None:
    checked = 0
    for port, adapters in ADAPTERS.items():
        for name, member in _members(port).items():
            if not callable(member):
                continue
            expected = list(inspect.signature(member).parameters)
            for adapter in adapters:
                assert hasattr(adapter, name), f"{adapter.__name__} lacks {port.__name__}.{name}"
                found = list(inspect.signature(getattr(adapter, name)).parameters)
                assert found == expected, f"{adapter.__name__}.{name}{found} != {expected}"
                checked += 1
    assert checked > 40


async def test_adapters_are_accepted_as_their_ports_by_the_type_checker() -> None:
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none")
    engine = create_engine(settings)
    database = InMemoryDatabase()
    try:
        units: list[ports.UnitOfWork] = [SqlUnitOfWork(engine.connect), database.unit_of_work()]
        read_pool = create_read_pool(settings)
        readers: list[ports.NoteReader] = [PooledNoteReader(read_pool)]
        schema: ports.DatabaseState = SqlDatabaseState(engine, read_pool)
        listens: list[ports.Listen] = [
            database.listen,
            functools.partial(listen, settings.database_url, application_name="check"),
        ]
        wakeups: ports.Wakeups = InMemoryWakeups()
        pool = create_read_pool(settings)
        token_readers: list[ports.TokenReader] = [
            PooledTokenReader(pool),
            InMemoryTokenReader(database),
        ]
        hashers: list[ports.PasswordHasher] = [Argon2PasswordHasher(), FastPasswordHasher()]
        schemas: list[ports.DatabaseState] = [InMemoryDatabaseState("x")]
        resolvers: list[ports.HostResolver] = [SystemResolver(), StaticResolver()]
        senders: list[ports.WebhookSender] = [AiohttpWebhookSender(), ScriptedWebhookSender()]
        delivery_readers: list[ports.DeliveryReader] = [
            PooledDeliveryReader(pool),
            InMemoryDeliveryReader(database),
        ]
        exporters: list[ports.NoteExporter] = [
            PooledNoteExporter(pool),
            InMemoryNoteExporter(database),
        ]
        feeds: list[ports.EventFeedReader] = [PooledEventFeed(pool), InMemoryEventFeed(database)]
    finally:
        await engine.dispose()
    assert len(units) + len(readers) + len(listens) + len(token_readers) + len(hashers) == 9
    assert len(resolvers) + len(senders) + len(delivery_readers) == 6
    assert len(exporters) + len(feeds) == 4
    await senders[0].aclose()  # type: ignore[attr-defined]
    assert [s.describe() for s in schemas] == ["memory"]
    assert schema.describe() == "127.0.0.1:1/none"
    assert not await wakeups.wait(0)


@pytest.mark.integrated
async def test_bootstrap_refuses_settings_that_exceed_the_servers_connections(
    settings: Settings,
) -> None:
    too_many = Settings(database_url=settings.database_url, api_processes=1000)
    with pytest.raises(ConnectionBudgetError) as refused:
        await bootstrap(too_many)
    message = str(refused.value)
    assert "open up to 26028 connections" in message
    assert "(NOTES_API_PROCESSES 1000 + NOTES_WORKER_PROCESSES 1) x 25" in message
    assert "max_connections" in message


@pytest.mark.integrated
async def test_bootstrap_accepts_the_default_deployment_and_closes_cleanly(
    settings: Settings,
) -> None:
    container = await bootstrap(settings)
    try:
        assert (await container.health.readiness()).ready
    finally:
        await container.close()
