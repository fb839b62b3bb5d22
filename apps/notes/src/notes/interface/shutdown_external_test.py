# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""SIGTERM while creates wait in the group commit: each is committed and answered, or not
committed at all, and the process exits 0 within its grace period.

The creates are held back for real: the test locks the notes table (``SHARE`` mode, which
inserts wait for), so the first batch waits inside PostgreSQL and the others queue behind it.
"""

import asyncio
import signal
import subprocess
import time

import httpx
import pytest
from testkit import bearer, sign_up

pytestmark = [pytest.mark.external, pytest.mark.own_process]

CREATES = 12


async def _until(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)
    pytest.fail("the condition never held")


async def _post_all(base_url, category):
    limits = httpx.Limits(max_connections=CREATES)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        client.headers.update(bearer(await sign_up(client)))

        async def post(number):
            try:
                response = await client.post(
                    "/notes/", json={"contents": f"queued {number}", "category": category}
                )
            except httpx.HTTPError as error:
                return error
            return response.status_code

        return await asyncio.gather(*(post(n) for n in range(CREATES)))


async def _queue_creates_behind_a_lock(engine, sql, app, category):
    """Lock the notes table, send the creates, and return once the first batch waits for it."""
    holder = await engine.connect()
    await holder.exec_driver_sql("LOCK TABLE notes IN SHARE MODE")
    posting = asyncio.create_task(_post_all(app.base_url, category))

    async def first_batch_waits():
        waiting = await sql.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO notes%'"
        )
        return waiting > 0

    try:
        await _until(first_batch_waits)
    except BaseException:
        # Never leave the table locked for the other tests of this database.
        await holder.rollback()
        await holder.close()
        posting.cancel()
        raise
    await asyncio.sleep(0.5)  # the other requests reach the queue behind it
    return holder, posting


async def test_sigterm_with_creates_queued_commits_and_answers_every_one(
    launcher, engine, sql, make_unique
):
    app = launcher.start(NOTES_DB_LOCK_TIMEOUT="60")
    category = make_unique("drain")
    holder, posting = await _queue_creates_behind_a_lock(engine, sql, app, category)
    try:
        app.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(1)
        assert app.process.poll() is None  # still draining: it waits for the creates
    finally:
        await holder.rollback()
        await holder.close()
    assert await posting == [201] * CREATES
    assert await asyncio.to_thread(app.process.wait, 15) == 0
    stored = await sql.scalar("SELECT count(*) FROM notes WHERE category = :c", c=category)
    assert stored == CREATES
    log = app.log()
    assert "notes is shutting down" in log
    assert "notes stopped" in log
    assert "Traceback" not in log


async def test_sigterm_past_the_grace_period_commits_none_of_the_creates_left(
    launcher, engine, sql, make_unique
):
    app = launcher.start(args=("--graceful-timeout", "1"), NOTES_DB_LOCK_TIMEOUT="60")
    category = make_unique("abandoned")
    holder, posting = await _queue_creates_behind_a_lock(engine, sql, app, category)
    try:
        started = time.monotonic()
        app.process.send_signal(signal.SIGTERM)
        returncode = await asyncio.to_thread(app.process.wait, 15)
        stopped_after = time.monotonic() - started
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running 15 s after SIGTERM:\n{app.log()}")
    finally:
        # Only now may the inserts go on: none must be left to do so.
        await holder.rollback()
        await holder.close()
    answers = await posting
    assert returncode == 0, app.log()
    print(f"\nstopped {stopped_after:.1f} s after SIGTERM (graceful timeout 1 s)")  # noqa: T201
    assert answers == [503] * CREATES  # each was told the service stopped ...
    await asyncio.sleep(0.5)
    stored = await sql.scalar("SELECT count(*) FROM notes WHERE category = :c", c=category)
    assert stored == 0  # ... and none was committed
    log = app.log()
    assert "timeout graceful shutdown exceeded" in log
    assert "notes stopped" in log
