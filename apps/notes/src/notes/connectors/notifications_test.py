# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""One contract, two implementations: news of committed events, from PostgreSQL and the fake."""

from contextlib import asynccontextmanager

import localpg
import psycopg
import pytest

from notes.connectors.event_log import CHANNEL
from notes.connectors.memory import InMemoryDatabase
from notes.connectors.notifications import listen


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
