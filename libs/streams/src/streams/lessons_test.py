"""How asyncio treats async generators: the behaviour the helpers are written around.

These tests check Python, not the library. They keep the README's lessons true for the
interpreter that runs them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable

import pytest

from streams.probe_test import Probe, endless, until


async def test_1_async_for_does_not_close_its_source_when_the_generator_is_closed() -> None:
    source = endless()

    async def relay(items: AsyncIterable[int]) -> AsyncGenerator[int, None]:
        async for item in items:
            yield item

    relayed = relay(source)
    assert await anext(relayed) == 0
    await relayed.aclose()

    assert source.is_open()
    await aiter(source).aclose()


async def test_2_a_break_without_aclosing_leaves_the_closing_to_another_task() -> None:
    closed_in: list[asyncio.Task[object] | None] = []

    async def numbers() -> AsyncGenerator[int, None]:
        try:
            while True:
                yield 1
        finally:
            closed_in.append(asyncio.current_task())

    async for _ in numbers():
        break

    assert closed_in == []  # not at the break
    await until(lambda: bool(closed_in))
    assert closed_in != [asyncio.current_task()]


async def test_3_a_timed_out_wait_for_finishes_the_generator() -> None:
    source = Probe([1], pause=3600)
    items = aiter(source)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(items), 0.01)

    assert source.cancelled
    with pytest.raises(StopAsyncIteration):
        await anext(items)


async def test_4_a_generator_cannot_be_closed_while_another_task_runs_it() -> None:
    source = Probe([1], pause=3600)
    items = aiter(source)
    pull = asyncio.ensure_future(anext(items))
    await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="already running"):
        await items.aclose()

    pull.cancel()
    await asyncio.wait([pull])
    assert source.cancelled


async def test_5_a_task_group_held_across_a_yield_cancels_the_consumer() -> None:
    async def failing_child() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("child failed")

    async def numbers() -> AsyncGenerator[int, None]:
        async with asyncio.TaskGroup() as group:
            group.create_task(failing_child())
            while True:
                yield 1

    async def consumer() -> str:
        items = numbers()
        await anext(items)
        outcome = "the consumer's own wait ended"
        try:
            await asyncio.Event().wait()  # the consumer's own business, unrelated
        except asyncio.CancelledError:
            outcome = "the consumer's own wait was cancelled"
        with pytest.raises(BaseExceptionGroup):
            await items.aclose()
        return outcome

    assert await asyncio.create_task(consumer()) == "the consumer's own wait was cancelled"
