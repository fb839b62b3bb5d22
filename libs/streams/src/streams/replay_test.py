"""replay_then_live: the log, then live items, no gap and no duplicate."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass

import pytest

from streams import Broadcast, SlowConsumerError, replay_then_live
from streams.probe_test import (
    Probe,
    cancel,
    collect,
    consume_in_task,
    no_task_left_behind,
    turns,
    until,
)


@dataclass(frozen=True)
class Event:
    id: int


def ids(batches: Sequence[Sequence[Event]]) -> list[int]:
    return [event.id for batch in batches for event in batch]


def events(*numbers: int) -> list[Event]:
    return [Event(number) for number in numbers]


def one_by_one(*numbers: int) -> list[list[Event]]:
    """Batches of one event each."""
    return [[Event(number)] for number in numbers]


def key(event: Event) -> int:
    return event.id


async def test_live_items_the_replay_also_returned_come_out_once() -> None:
    replay, live = Probe([events(1, 2), events(3)]), Probe([events(2, 3, 4), events(5)])

    stream = replay_then_live(replay, live, key=key)

    assert [ids([batch]) async for batch in stream] == [[1, 2], [3], [4], [5]]
    assert replay.closed
    assert live.closed


async def test_items_up_to_after_are_skipped_in_both_sources() -> None:
    replay, live = Probe([events(2, 3, 4)]), Probe(one_by_one(1, 3, 5))

    stream = replay_then_live(replay, live, key=key, after=3)

    assert ids([batch async for batch in stream]) == [4, 5]


async def test_a_batch_of_duplicates_yields_nothing_and_an_empty_one_passes() -> None:
    replay, live = Probe([events(1, 2)]), Probe([events(1, 2), [], events(2, 3)])

    stream = replay_then_live(replay, live, key=key)

    assert [ids([batch]) async for batch in stream] == [[1, 2], [], [3]]


async def test_an_empty_replay_goes_straight_to_live() -> None:
    stream = replay_then_live(Probe[list[Event]](), Probe([events(7, 8)]), key=key)

    assert ids([batch async for batch in stream]) == [7, 8]


async def test_items_published_while_the_replay_runs_are_not_lost() -> None:
    log = events(1, 2, 3)
    hub = Broadcast[Event](buffer_size=10)

    async def replay() -> AsyncIterator[list[Event]]:
        # Reads the log as it was when the query started, while two more items are committed.
        snapshot = list(log)
        for event in snapshot:
            if event.id == 2:
                for new in events(4, 5):
                    log.append(new)
                    hub.publish(new)
            yield [event]

    async with hub.subscribe() as live:  # subscribed before the replay starts
        hub.publish(Event(3))  # committed before the query, published after subscribing
        stream = replay_then_live(replay(), live.batches(), key=key, after=0)
        received = [await anext(stream) for _ in range(4)]
        await stream.aclose()

    assert [ids([batch]) for batch in received] == [[1], [2], [3], [4, 5]]


async def test_the_replay_is_closed_before_the_first_live_item() -> None:
    replay, live = Probe([events(1)]), Probe([events(2)])

    async with aclosing(replay_then_live(replay, live, key=key)) as stream:
        assert ids([await anext(stream)]) == [1]
        assert replay.is_open()
        assert ids([await anext(stream)]) == [2]
        assert replay.closed


async def test_breaking_out_during_the_replay_closes_both_sources() -> None:
    replay, live = Probe(one_by_one(1, 2, 3)), Probe([events(4)])

    async with aclosing(replay_then_live(replay, live, key=key)) as stream:
        async for _ in stream:
            break

    assert replay.closed
    # The live source was never started; closed, it yields nothing any more.
    assert [batch async for batch in live] == []


async def test_cancelling_the_consumer_while_live_closes_both_sources() -> None:
    replay, live = Probe([events(1)]), Probe([events(2)], hang=True)

    async with no_task_left_behind():
        task, received = await consume_in_task(replay_then_live(replay, live, key=key))
        await until(lambda: len(received) == 2)
        await turns()  # the live source is waiting for ever now
        await cancel(task)

    assert replay.closed
    assert live.cancelled


async def test_a_live_source_that_fell_behind_during_the_replay_raises() -> None:
    hub = Broadcast[Event](buffer_size=2)

    async def slow_replay() -> AsyncIterator[list[Event]]:
        for number in range(1, 6):
            hub.publish(Event(100 + number))  # more than the live buffer holds
            yield [Event(number)]

    async with hub.subscribe() as live:
        stream = replay_then_live(slow_replay(), live.batches(), key=key)
        with pytest.raises(SlowConsumerError):
            [batch async for batch in stream]


async def test_an_error_of_the_replay_closes_live_and_reaches_the_consumer() -> None:
    replay = Probe([events(1)], error=ConnectionError("database went away"))
    live = Probe([events(2)], hang=True)
    received: list[list[Event]] = []

    with pytest.raises(ConnectionError, match="database went away"):
        await collect(replay_then_live(replay, live, key=key), into=received)

    assert ids(received) == [1]
    assert [batch async for batch in live] == []  # closed before it was started


async def test_a_slow_consumer_slows_the_replay() -> None:
    replay = Probe([Event(number)] for number in range(1, 1000))

    async with aclosing(replay_then_live(replay, Probe[list[Event]](), key=key)) as stream:
        assert ids([await anext(stream)]) == [1]
        await turns()  # the consumer is busy; the replay must wait for it

        assert replay.produced == 1
