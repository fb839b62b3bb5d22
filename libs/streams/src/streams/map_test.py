"""map_concurrently: bounded concurrency, results in source order."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest

from streams import map_concurrently
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


class Calls:
    """An async function that records how many of its calls run at once."""

    def __init__(self, *, hang_on: int | None = None, fail_on: int | None = None) -> None:
        self.running = 0
        self.peak = 0
        self.started: list[int] = []
        self.cancelled: list[int] = []
        self._hang_on = hang_on
        self._fail_on = fail_on

    async def __call__(self, item: int) -> str:
        self.started.append(item)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            # Later items finish first: the output must still be in source order.
            for _ in range(10 - item % 10):
                await asyncio.sleep(0)
            if item == self._fail_on:
                raise RuntimeError(f"call {item} failed")  # noqa: EM102 - read by the tests
            if item == self._hang_on:
                await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.append(item)
            raise
        finally:
            self.running -= 1
        return f"<{item}>"


@pytest.mark.parametrize("limit", [1, 3, 50])
async def test_results_come_in_source_order_with_at_most_limit_calls_at_once(limit: int) -> None:
    calls = Calls()

    results = [result async for result in map_concurrently(calls, Probe(range(30)), limit=limit)]

    assert results == [f"<{item}>" for item in range(30)]
    assert 1 <= calls.peak <= limit


async def test_calls_run_concurrently_up_to_the_limit() -> None:
    calls = Calls(hang_on=0)  # the first call never ends: the others wait for their turn

    async with aclosing(map_concurrently(calls, endless(), limit=4)) as results:
        waiting = asyncio.create_task(anext(results))
        await until(lambda: len(calls.started) == 4)
        await turns()

        assert calls.started == [0, 1, 2, 3]
        assert calls.peak == 4
        await cancel(waiting)


async def test_an_empty_source_gives_no_result() -> None:
    assert [result async for result in map_concurrently(Calls(), Probe([]), limit=2)] == []


def test_a_limit_under_one_is_refused_at_the_call() -> None:
    with pytest.raises(ValueError, match="limit must be at least 1"):
        map_concurrently(Calls(), Probe([1]), limit=0)


async def test_breaking_out_cancels_the_running_calls_and_closes_the_source() -> None:
    calls, source = Calls(), endless()

    async with (
        no_task_left_behind(),
        aclosing(map_concurrently(calls, source, limit=4)) as results,
    ):
        async for result in results:
            assert result == "<0>"
            break

    assert source.closed
    assert calls.running == 0
    assert calls.cancelled


async def test_cancelling_the_consumer_cancels_the_calls_and_closes_the_source() -> None:
    calls, source = Calls(hang_on=2), Probe(range(3), hang=True)

    async with no_task_left_behind():
        task, received = await consume_in_task(map_concurrently(calls, source, limit=4))
        await until(lambda: received == ["<0>", "<1>"])
        await turns()  # the source and the call of 2 are waiting for ever now
        await cancel(task)

    assert calls.cancelled == [2]
    assert source.cancelled


async def test_a_slow_consumer_holds_at_most_limit_results() -> None:
    calls, source = Calls(), endless()

    async with aclosing(map_concurrently(calls, source, limit=3)) as results:
        first = await anext(results)
        await turns()  # the consumer is busy: the calls started go on, no other starts

        assert first == "<0>"
        assert source.produced == 3
        assert calls.started == [0, 1, 2]
        assert calls.running == 0
        assert [await anext(results) for _ in range(3)] == ["<1>", "<2>", "<3>"]


async def test_an_error_of_a_call_comes_in_its_turn_and_cancels_the_others() -> None:
    calls = Calls(fail_on=3, hang_on=5)
    received: list[str] = []

    async with no_task_left_behind():
        with pytest.raises(RuntimeError, match="call 3 failed"):
            await collect(map_concurrently(calls, Probe(range(10)), limit=4), into=received)

    assert received == ["<0>", "<1>", "<2>"]
    assert calls.running == 0


async def test_an_error_of_the_source_reaches_the_consumer_and_cancels_the_calls() -> None:
    calls = Calls(hang_on=0)
    source = Probe(range(2), error=RuntimeError("source failed"))

    async with no_task_left_behind():
        with pytest.raises(RuntimeError, match="source failed"):
            [result async for result in map_concurrently(calls, source, limit=4)]

    assert calls.cancelled == [0, 1]
    assert source.closed
