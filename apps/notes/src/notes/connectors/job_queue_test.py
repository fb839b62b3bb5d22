# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The job queue on PostgreSQL: jobs queued in a unit of work exist exactly when it commits.

``TransactionDriver`` uses pgqueuer's driver port against its documented rule (autocommit
connections only), so these tests hold it to its promise on every run: a pgqueuer release that
changes its enqueue statement, or commits on its own, fails them.
"""

import uuid

import pytest

from notes.connectors.job_queue import ENTRYPOINT
from notes.core.ids import uuid7

pytestmark = pytest.mark.integrated


async def _jobs(sql, delivery_ids):
    rows = await sql.fetch(
        "SELECT payload, status::text, entrypoint FROM pgqueuer WHERE payload = ANY(:ids)",
        ids=[d.bytes for d in delivery_ids],
    )
    return sorted((uuid.UUID(bytes=bytes(p)), s, e) for p, s, e in rows)


async def test_jobs_queued_in_a_committed_unit_of_work_are_there(committing_uow, sql):
    ids = [uuid7(), uuid7()]
    try:
        async with committing_uow() as uow:
            await uow.delivery_queue.defer(ids)
            assert await _jobs(sql, ids) == []  # not visible to others before the commit
            await uow.commit()
        assert await _jobs(sql, ids) == sorted((i, "queued", ENTRYPOINT) for i in ids)
    finally:
        await sql.execute(
            "DELETE FROM pgqueuer WHERE payload = ANY(:ids)", ids=[i.bytes for i in ids]
        )


async def test_jobs_queued_in_a_rolled_back_unit_of_work_are_not(committing_uow, sql):
    ids = [uuid7()]
    async with committing_uow() as uow:
        await uow.delivery_queue.defer(ids)
        # leaving without commit rolls back
    assert await _jobs(sql, ids) == []


async def test_queueing_nothing_sends_nothing(sql_uow):
    async with sql_uow:
        await sql_uow.delivery_queue.defer([])
        await sql_uow.commit()


async def test_the_transaction_driver_cannot_listen(sql_uow):
    from notes.connectors.job_queue import TransactionDriver  # noqa: PLC0415

    async with sql_uow:
        driver = TransactionDriver(sql_uow._sql.driver)
        with pytest.raises(NotImplementedError):
            await driver.add_listener("ch", lambda _: None)
        async with driver as same:
            assert same is driver
        assert not driver.shutdown.is_set()
        assert driver.tm.tasks == set()
        await driver.notify("notes_test_channel", "x")


async def test_the_queues_old_log_is_purged_once_aggregated(sql_uow, sql):
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    async with sql_uow:
        driver = sql_uow._sql.driver
        await driver.execute(
            "INSERT INTO pgqueuer_log (created, job_id, status, priority, entrypoint, aggregated)"
            " VALUES (now() - interval '40 days', -1, 'successful', 0, 'x', true),"
            " (now() - interval '40 days', -2, 'successful', 0, 'x', false),"
            " (now(), -3, 'successful', 0, 'x', true)"
        )
        await driver.execute(
            "INSERT INTO pgqueuer_statistics (created, count, priority, status, entrypoint)"
            " VALUES (now() - interval '40 days', 1, 0, 'successful', 'x')"
        )
        before = datetime.now(UTC) - timedelta(days=30)
        assert await sql_uow.delivery_queue.purge_log(before, limit=100) == 2
        left = await (
            await driver.execute("SELECT job_id FROM pgqueuer_log WHERE job_id < 0 ORDER BY 1")
        ).fetchall()
        assert [row[0] for row in left] == [-3, -2]
