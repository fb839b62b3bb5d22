# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""What leaves the connectors when the database fails or a limit strikes: the service's errors.

The unit tests name the driver's errors one by one; the integrated ones make the failures
happen on a real server: a lock held elsewhere, a backend terminated under a unit of work,
pooled connections whose server side is gone.
"""

import asyncio

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg_pool import PoolClosed, PoolTimeout, TooManyRequests
from sqlalchemy import exc as sa_exc
from testkit import OWNER

from notes.connectors.database import (
    create_engine,
    create_read_pool,
    read_connection,
    service_error,
)
from notes.connectors.unit_of_work import SqlUnitOfWork
from notes.core.config import Settings
from notes.core.errors import (
    CommitOutcomeUnknownError,
    DatabaseTimeoutError,
    DatabaseUnavailableError,
    OverloadedError,
)


def _wrapped(orig):
    return sa_exc.OperationalError("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (pg_errors.QueryCanceled("canceling statement due to statement timeout"), "timeout"),
        (pg_errors.LockNotAvailable("canceling statement due to lock timeout"), "timeout"),
        (pg_errors.IdleInTransactionSessionTimeout("terminating connection"), "timeout"),
        (pg_errors.AdminShutdown("terminating connection due to administrator"), "down"),
        (pg_errors.CannotConnectNow("the database system is starting up"), "down"),
        (pg_errors.TooManyConnections("too many clients already"), "down"),
        (psycopg.OperationalError("server closed the connection unexpectedly"), "down"),
        (pg_errors.ConnectionTimeout("connection timeout expired"), "down"),
        (PoolTimeout("couldn't get a connection after 1.00 sec"), "down"),
        (PoolClosed("the pool 'notes-reads' is already closed"), "down"),
        (TooManyRequests("the pool has already 1000 requests waiting"), "overloaded"),
        (_wrapped(pg_errors.AdminShutdown("terminating connection")), "down"),
        (_wrapped(pg_errors.QueryCanceled("canceling statement")), "timeout"),
        (sa_exc.TimeoutError("QueuePool limit of size 10 overflow 5 reached"), "down"),
        # Faults of the request or of the code are no outage.
        (pg_errors.UniqueViolation("duplicate key value"), None),
        (pg_errors.CheckViolation("new row violates check constraint"), None),
        (pg_errors.UndefinedTable("relation does not exist"), None),
        (sa_exc.IntegrityError("INSERT", {}, pg_errors.UniqueViolation("duplicate")), None),
        (ValueError("a bug"), None),
    ],
)
def test_the_drivers_failures_are_named_in_the_services_terms(error, expected):
    kinds = {
        "timeout": DatabaseTimeoutError,
        "down": DatabaseUnavailableError,
        "overloaded": OverloadedError,
    }
    translated = service_error(error)
    if expected is None:
        assert translated is None
    else:
        assert type(translated) is kinds[expected]


def test_a_service_error_is_its_own_translation():
    error = CommitOutcomeUnknownError("lost")
    assert service_error(error) is error


def _settings(settings, **changes):
    return Settings(database_url=settings.database_url, **changes)


async def _insert_note(sql, note):
    await sql.execute(
        "INSERT INTO notes (id, owner_id, contents, category, creation_date, updated_at, version)"
        " VALUES (:id, :owner, 'locked', '', now(), now(), 1)",
        id=note.id,
        owner=OWNER,
    )


@pytest.fixture
async def service_engine(settings):
    """Makes engines as the service does (its pool, checkout check and connection options)."""
    engines = []

    def make(**changes):
        engine = create_engine(_settings(settings, **changes))
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.dispose()


@pytest.fixture
async def service_read_pool(settings):
    """Makes read pools as the service does, opened."""
    pools = []

    async def make(**changes):
        pool = create_read_pool(_settings(settings, **changes))
        await pool.open(wait=True, timeout=10)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        await pool.close()


@pytest.mark.integrated
async def test_every_connection_carries_the_configured_limits(service_engine, service_read_pool):
    limits = {
        "db_statement_timeout": 1.5,
        "db_lock_timeout": 0.25,
        "db_idle_in_transaction_timeout": 20,
    }
    expected = ("1500ms", "250ms", "20s")
    query = (
        "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'),"
        " current_setting('idle_in_transaction_session_timeout')"
    )
    engine = service_engine(**limits)
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert await (await raw.execute(query)).fetchone() == expected
    pool = await service_read_pool(**limits)
    async with read_connection(pool) as conn:
        assert await (await conn.execute(query)).fetchone() == expected


@pytest.mark.integrated
@pytest.mark.parametrize(
    "limits",
    [
        {"db_lock_timeout": 0.1},
        {"db_lock_timeout": 0, "db_statement_timeout": 0.2},
    ],
    ids=["lock timeout", "statement timeout"],
)
async def test_a_unit_of_work_past_a_limit_raises_a_timeout_error(
    service_engine, engine, sql, note_factory, limits
):
    note = note_factory.build()
    await _insert_note(sql, note)
    units = service_engine(**limits)
    async with engine.connect() as holder:
        await holder.exec_driver_sql(
            "SELECT 1 FROM notes WHERE id = %(id)s FOR UPDATE", {"id": note.id}
        )
        with pytest.raises(DatabaseTimeoutError, match="canceling statement"):
            async with SqlUnitOfWork(units.connect) as uow:
                await uow.notes.get_for_update(OWNER, note.id)
        await holder.rollback()
    async with SqlUnitOfWork(units.connect) as uow:  # the connection was not spoilt
        found = await uow.notes.get_for_update(OWNER, note.id)
        assert found is not None
        assert found.contents == "locked"
    await sql.execute("DELETE FROM notes WHERE id = :id", id=note.id)


@pytest.mark.integrated
async def test_a_read_past_the_statement_timeout_raises_a_timeout_error(service_read_pool):
    pool = await service_read_pool(db_statement_timeout=0.1)
    with pytest.raises(DatabaseTimeoutError, match="statement timeout"):
        async with read_connection(pool) as conn:
            await conn.execute("SELECT pg_sleep(5)")


@pytest.mark.integrated
async def test_a_read_that_finds_no_connection_in_time_raises_unavailable(service_read_pool):
    pool = await service_read_pool(db_pool_size=1, db_pool_timeout=0.1)
    async with read_connection(pool):
        with pytest.raises(DatabaseUnavailableError, match="no database connection in time"):
            async with read_connection(pool):
                pass


async def _terminate(sql, connection):
    await sql.execute("SELECT pg_terminate_backend(:pid)", pid=connection.info.backend_pid)


@pytest.mark.integrated
async def test_a_connection_lost_inside_a_unit_of_work_raises_unavailable(
    service_engine, sql, note_factory
):
    units = service_engine()
    note = note_factory.build(category="lost-inside")

    async def add_on_a_lost_connection():
        async with SqlUnitOfWork(units.connect) as uow:
            await _terminate(sql, uow._sql.driver)
            await uow.notes.add(note)

    with pytest.raises(DatabaseUnavailableError) as raised:
        await add_on_a_lost_connection()
    assert not isinstance(raised.value, CommitOutcomeUnknownError)
    async with SqlUnitOfWork(units.connect) as uow:  # a new connection, and it works
        assert await uow.notes.get(OWNER, note.id) is None


@pytest.mark.integrated
async def test_a_connection_lost_at_the_commit_leaves_its_outcome_unknown(
    service_engine, sql, note_factory
):
    units = service_engine()
    note = note_factory.build(category="lost-at-commit")

    async def commit_on_a_lost_connection():
        async with SqlUnitOfWork(units.connect) as uow:
            await uow.notes.add(note)
            await _terminate(sql, uow._sql.driver)
            await uow.commit()

    with pytest.raises(CommitOutcomeUnknownError):
        await commit_on_a_lost_connection()
    async with SqlUnitOfWork(units.connect) as uow:
        assert await uow.notes.get(OWNER, note.id) is None  # here, it was not committed


@pytest.mark.integrated
async def test_pooled_connections_whose_server_side_is_gone_are_replaced_unseen(
    service_engine, service_read_pool, sql
):
    units = service_engine(db_pool_size=2)
    pool = await service_read_pool(db_pool_size=2)
    # Two connections in each pool, then their backends are terminated while they rest.
    async with SqlUnitOfWork(units.connect) as one, SqlUnitOfWork(units.connect) as two:
        engine_pids = {one._sql.driver.info.backend_pid, two._sql.driver.info.backend_pid}
    async with read_connection(pool) as one, read_connection(pool) as two:
        read_pids = {one.info.backend_pid, two.info.backend_pid}
    for pid in engine_pids | read_pids:
        await sql.execute("SELECT pg_terminate_backend(:pid)", pid=pid)
    await asyncio.sleep(0.2)  # the backends exit

    async with SqlUnitOfWork(units.connect) as uow:
        assert await uow.notes.list(OWNER, limit=1) is not None
        assert uow._sql.driver.info.backend_pid not in engine_pids
    for _ in range(3):
        async with read_connection(pool) as conn:
            assert await (await conn.execute("SELECT 1")).fetchone() == (1,)
            assert conn.info.backend_pid not in read_pids
