# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""News of committed events: sending it (Announcer), and one contract for receiving it."""

import asyncio
import logging
from contextlib import asynccontextmanager

import localpg
import psycopg
import pytest

from notes.connectors.database import create_read_pool
from notes.connectors.event_log import CHANNEL
from notes.connectors.memory import InMemoryDatabase
from notes.connectors.notifications import Announcer, listen, notify_on


class CountingNotify:
    """A NOTIFY that counts, and can fail or run code while it is in flight."""

    def __init__(self, *, fail=0, during=None):
        self.calls = 0
        self.fail = fail
        self.during = during

    async def __call__(self):
        self.calls += 1
        if self.during is not None:
            during, self.during = self.during, None
            during()
        await asyncio.sleep(0)
        if self.fail:
            self.fail -= 1
            msg = "connection refused"
            raise OSError(msg)


async def test_many_commits_at_once_are_announced_by_one_notify():
    notify = CountingNotify()
    announcer = Announcer(notify, interval=0.001)
    for _ in range(100):
        announcer()
    await announcer.close()
    assert (notify.calls, announcer.sent) == (1, 1)


async def test_a_commit_while_a_notify_is_in_flight_gets_a_notify_of_its_own():
    announcer = Announcer(notify := CountingNotify(), interval=0.001)
    notify.during = announcer  # a commit announced while the first NOTIFY is being sent
    announcer()
    await announcer.close()
    assert notify.calls == 2


async def test_announcing_again_after_the_last_notify_sends_again():
    announcer = Announcer(notify := CountingNotify(), interval=0.001)
    announcer()
    await announcer.close()
    announcer()
    await announcer.close()
    assert notify.calls == 2


async def test_a_failed_notify_is_logged_and_dropped(caplog):
    announcer = Announcer(notify := CountingNotify(fail=1), interval=0.001)
    with caplog.at_level(logging.WARNING, logger="notes.connectors.notifications"):
        announcer()
        await announcer.close()
    assert (notify.calls, announcer.sent) == (1, 0)
    assert "could not notify the event worker: connection refused" in caplog.text
    announcer()
    await announcer.close()
    assert announcer.sent == 1


async def test_closing_an_announcer_that_never_sent_returns_at_once():
    await Announcer(CountingNotify()).close()


@pytest.mark.integrated
async def test_an_announcement_reaches_a_listener_through_postgresql(settings, database_url):
    pool = create_read_pool(settings)
    await pool.open()
    announcer = Announcer(notify_on(pool))
    try:
        async with listen(database_url, application_name="announcer-test") as wakeups:
            announcer()
            await announcer.close()
            assert await wakeups.wait(5) is True
    finally:
        await pool.close()


@pytest.fixture(
    params=[
        pytest.param("memory"),
        pytest.param("postgresql", marks=pytest.mark.integrated),
    ]
)
def channel(request):
    """(listen, announce): open a listening session; tell listeners events were committed."""
    if request.param == "memory":
        database = InMemoryDatabase()
        return database.listen, database.announce
    url = request.getfixturevalue("database_url")

    async def announce():
        async with await psycopg.AsyncConnection.connect(
            localpg.libpq_url(url), autocommit=True
        ) as conn:
            await conn.execute(f"NOTIFY {CHANNEL}")

    @asynccontextmanager
    async def listening():
        async with listen(url, application_name="notifications-test") as wakeups:
            yield wakeups

    return listening, announce


async def test_without_news_a_wait_times_out(channel):
    listening, _ = channel
    async with listening() as wakeups:
        assert await wakeups.wait(0.05) is False


async def test_news_that_came_while_nobody_waited_is_kept_for_the_next_wait(channel):
    listening, announce = channel
    async with listening() as wakeups:
        await announce()
        assert await wakeups.wait(5) is True
        assert await wakeups.wait(0.05) is False
