"""with_keepalive: pings in the silences, the source undisturbed."""

from __future__ import annotations

from contextlib import aclosing

import pytest

from streams import with_keepalive
from streams.probe_test import (
    Probe,
    cancel,
    consume_in_task,
    endless,
    no_task_left_behind,
    turns,
    until,
)

PING = "ping"


def ping() -> str:
    return PING


async def test_a_silent_source_gets_pings() -> None:
    source = Probe([1], hang=True)

    async with aclosing(with_keepalive(source, interval=0.01, make_ping=ping)) as stream:
        received = [await anext(stream) for _ in range(4)]

    assert received == [1, PING, PING, PING]
    assert source.cancelled


async def test_an_item_late_enough_for_a_ping_still_comes_after_it() -> None:
    source = Probe([1, 2], pause=0.05)

    received = [item async for item in with_keepalive(source, interval=0.01, make_ping=ping)]

    # The silences are filled; the waits that ran out did not disturb the source.
    assert [item for item in received if item != PING] == [1, 2]
    assert received[0] == PING
    assert source.closed
    assert not source.cancelled


async def test_a_busy_source_gets_no_ping() -> None:
    source = Probe(range(100))

    received = [item async for item in with_keepalive(source, interval=3600, make_ping=ping)]

    assert received == list(range(100))


def test_an_interval_that_is_not_positive_is_refused_at_the_call() -> None:
    with pytest.raises(ValueError, match="interval must be positive"):
        with_keepalive(Probe([1]), interval=0, make_ping=ping)


async def test_breaking_out_closes_the_source_at_once() -> None:
    source = endless()

    async with no_task_left_behind():
        async with aclosing(with_keepalive(source, interval=3600, make_ping=ping)) as stream:
            async for _ in stream:
                break

        assert source.closed


async def test_cancelling_the_consumer_closes_the_source() -> None:
    source = Probe([1], hang=True)

    async with no_task_left_behind():
        task, received = await consume_in_task(
            with_keepalive(source, interval=3600, make_ping=ping)
        )
        await until(lambda: received == [1])
        await turns()  # the source is waiting for ever now
        await cancel(task)

    assert source.cancelled


async def test_a_slow_consumer_holds_one_item_at_most() -> None:
    source = endless()

    async with aclosing(with_keepalive(source, interval=3600, make_ping=ping)) as stream:
        assert await anext(stream) == 0
        await turns()  # the consumer is busy; the source must wait for it

        assert source.produced == 1


async def test_an_error_of_the_source_reaches_the_consumer() -> None:
    source = Probe([1], error=RuntimeError("source failed"))

    with pytest.raises(RuntimeError, match="source failed"):
        [item async for item in with_keepalive(source, interval=3600, make_ping=ping)]

    assert source.closed
