"""batched: by count, and by count or time."""

from __future__ import annotations

from contextlib import aclosing

import pytest

from streams import batched
from streams.probe_test import (
    Probe,
    cancel,
    collect,
    consume_in_task,
    endless,
    no_task_left_behind,
    turns,
    until,
)

# Long enough never to run out on any machine: the batch fills up first.
FOR_EVER = 3600.0


@pytest.mark.parametrize("max_wait", [None, FOR_EVER])
async def test_batches_hold_size_items_in_order_and_the_last_holds_the_rest(
    max_wait: float | None,
) -> None:
    batches = batched(Probe(range(7)), 3, max_wait=max_wait)

    assert [batch async for batch in batches] == [[0, 1, 2], [3, 4, 5], [6]]


@pytest.mark.parametrize("max_wait", [None, FOR_EVER])
async def test_an_empty_source_gives_no_batch(max_wait: float | None) -> None:
    assert [batch async for batch in batched(Probe[int](), 3, max_wait=max_wait)] == []


@pytest.mark.parametrize(
    ("size", "max_wait", "message"),
    [(0, None, "size must be at least 1"), (1, 0.0, "max_wait must be positive")],
)
def test_bad_arguments_are_refused_at_the_call(
    size: int, max_wait: float | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        batched(Probe([1]), size, max_wait=max_wait)


async def test_max_wait_yields_a_partial_batch_while_the_source_is_silent() -> None:
    source = Probe([1, 2], hang=True)

    async with no_task_left_behind(), aclosing(batched(source, 10, max_wait=0.01)) as batches:
        assert await anext(batches) == [1, 2]
        assert source.is_open()

    # Closing stopped the pull that was waiting for a third item.
    assert source.closed
    assert source.cancelled


async def test_max_wait_counts_from_the_first_item_of_each_batch() -> None:
    source = Probe([1, 2, 3], pause=0.05)

    batches = [batch async for batch in batched(source, 10, max_wait=0.01)]

    # Each item comes after the time-out of the batch before it has run out.
    assert batches == [[1], [2], [3]]


@pytest.mark.parametrize("max_wait", [None, FOR_EVER])
async def test_breaking_out_closes_the_source_at_once(max_wait: float | None) -> None:
    source = endless()

    async with no_task_left_behind(), aclosing(batched(source, 3, max_wait=max_wait)) as batches:
        async for batch in batches:
            assert batch == [0, 1, 2]
            break

    assert source.closed
    # By count, nothing was read ahead; with a time limit, one item at most.
    assert source.produced <= 3 + (max_wait is not None)


@pytest.mark.parametrize("max_wait", [None, 0.01, FOR_EVER])
async def test_cancelling_the_consumer_closes_the_source(max_wait: float | None) -> None:
    source = Probe(range(4), hang=True)

    async with no_task_left_behind():
        task, received = await consume_in_task(batched(source, 3, max_wait=max_wait))
        await until(lambda: source.produced == 4)
        await turns()  # the source is waiting for ever now
        await cancel(task)

    assert source.closed
    assert source.cancelled
    assert received[0] == [0, 1, 2]


@pytest.mark.parametrize("max_wait", [None, FOR_EVER])
async def test_a_slow_consumer_slows_the_source(max_wait: float | None) -> None:
    source = endless()

    async with aclosing(batched(source, 5, max_wait=max_wait)) as batches:
        first = await anext(batches)
        await turns()  # the consumer is busy; the source must wait for it

        assert first == [0, 1, 2, 3, 4]
        assert source.produced <= 5 + (max_wait is not None)
        assert await anext(batches) == [5, 6, 7, 8, 9]


@pytest.mark.parametrize("max_wait", [None, FOR_EVER])
async def test_an_error_of_the_source_reaches_the_consumer_after_the_full_batches(
    max_wait: float | None,
) -> None:
    source = Probe(range(4), error=RuntimeError("source failed"))
    received: list[list[int]] = []

    with pytest.raises(RuntimeError, match="source failed"):
        await collect(batched(source, 3, max_wait=max_wait), into=received)

    assert received == [[0, 1, 2]]
    assert source.closed
