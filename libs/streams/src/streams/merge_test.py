"""merge: every item of every source, as it arrives."""

from __future__ import annotations

from contextlib import aclosing

import pytest

from streams import merge
from streams.probe_test import (
    Probe,
    cancel,
    consume_in_task,
    endless,
    no_task_left_behind,
    turns,
    until,
)


async def test_every_item_of_every_source_comes_out_once_in_its_source_order() -> None:
    letters, numbers = Probe("abc"), Probe([1, 2, 3, 4])

    merged = [item async for item in merge(letters, numbers)]

    assert sorted(map(str, merged)) == ["1", "2", "3", "4", "a", "b", "c"]
    assert [item for item in merged if isinstance(item, str)] == ["a", "b", "c"]
    assert [item for item in merged if isinstance(item, int)] == [1, 2, 3, 4]
    assert letters.closed
    assert numbers.closed


class Countdown:
    """A plain async iterator: it has no ``aclose``."""

    def __init__(self, start: int) -> None:
        self.left = start

    def __aiter__(self) -> Countdown:
        return self

    async def __anext__(self) -> int:
        if self.left == 0:
            raise StopAsyncIteration
        self.left -= 1
        return self.left


async def test_sources_that_cannot_be_closed_are_merged_too() -> None:
    merged = [item async for item in merge(Countdown(3), Probe([9]))]

    assert sorted(merged) == [0, 1, 2, 9]


async def test_no_source_gives_an_empty_stream() -> None:
    no_sources: list[Probe[int]] = []

    assert [item async for item in merge(*no_sources)] == []


async def test_a_silent_source_does_not_hold_back_the_others() -> None:
    silent, busy = Probe(["first"], hang=True), Probe([1, 2, 3])

    async with no_task_left_behind(), aclosing(merge(silent, busy)) as merged:
        received = [await anext(merged) for _ in range(4)]

    assert sorted(map(str, received)) == ["1", "2", "3", "first"]
    assert silent.closed


async def test_breaking_out_closes_every_source_at_once() -> None:
    first, second = endless(), endless()

    async with no_task_left_behind(), aclosing(merge(first, second)) as merged:
        async for _ in merged:
            break

    assert first.closed
    assert second.closed


async def test_cancelling_the_consumer_closes_every_source() -> None:
    first, second = Probe([1], hang=True), Probe([2], hang=True)

    async with no_task_left_behind():
        task, received = await consume_in_task(merge(first, second))
        await until(lambda: len(received) == 2)
        await turns()  # both sources are waiting for ever now
        await cancel(task)

    assert first.cancelled
    assert second.cancelled


async def test_a_slow_consumer_holds_at_most_one_item_per_source() -> None:
    first, second = endless(), endless()

    async with aclosing(merge(first, second)) as merged:
        received = [await anext(merged) for _ in range(6)]
        await turns()  # the consumer is busy; the sources must wait for it

        assert first.produced + second.produced <= len(received) + 2


async def test_an_error_of_a_source_closes_the_others_and_reaches_the_consumer() -> None:
    failing = Probe([1, 2], error=RuntimeError("source failed"))
    silent = Probe[int](hang=True)

    async with no_task_left_behind():
        with pytest.raises(RuntimeError, match="source failed"):
            [item async for item in merge(failing, silent)]

    assert silent.cancelled
