"""The instrumented source every helper's tests read from, and the checks they share."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import pytest

T = TypeVar("T")


class Probe(Generic[T]):
    """An async generator over ``items`` that records how far it was read and how it ended.

    Before each item it sleeps ``pause`` seconds (0: one turn of the event loop). After the
    items it raises ``error`` if one is given, else waits for ever if ``hang``, else ends.
    """

    def __init__(
        self,
        items: Iterable[T] = (),
        *,
        pause: float = 0,
        error: Exception | None = None,
        hang: bool = False,
    ) -> None:
        self.produced = 0  # items handed out
        # How it ended: "exhausted", "failed", "cancelled", or "closed" (by `aclose`).
        self.ending: str | None = None
        self._generator = self._run(items, pause, error=error, hang=hang)

    def is_open(self) -> bool:
        """Whether it has not ended yet. (A method: mypy would narrow an attribute for good.)"""
        return self.ending is None

    @property
    def closed(self) -> bool:
        """Whether its ``finally`` ran, however it ended."""
        return self.ending is not None

    @property
    def cancelled(self) -> bool:
        """Whether a ``CancelledError`` reached it."""
        return self.ending == "cancelled"

    def __aiter__(self) -> AsyncGenerator[T, None]:
        return self._generator

    async def _run(
        self, items: Iterable[T], pause: float, *, error: Exception | None, hang: bool
    ) -> AsyncGenerator[T, None]:
        try:
            for item in items:
                await asyncio.sleep(pause)
                self.produced += 1
                yield item
            if error is not None:
                self.ending = "failed"
                raise error
            if hang:
                await asyncio.Event().wait()
            self.ending = "exhausted"
        except asyncio.CancelledError:
            self.ending = "cancelled"
            raise
        finally:
            self.ending = self.ending or "closed"


def endless(*, pause: float = 0) -> Probe[int]:
    """A probe that counts from 0 for ever."""
    return Probe(itertools.count(), pause=pause)


async def until(condition: Callable[[], bool], *, turns: int = 10_000) -> None:
    """Let the event loop turn until ``condition`` holds; fail after ``turns`` turns."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    pytest.fail("the condition never held")


async def turns(count: int = 100) -> None:
    """Let the event loop turn ``count`` times: time for any task that can run to run."""
    for _ in range(count):
        await asyncio.sleep(0)


@asynccontextmanager
async def no_task_left_behind() -> AsyncIterator[None]:
    """Fail if a task started inside the block is still running after it."""
    before = asyncio.all_tasks()
    yield
    await asyncio.sleep(0)
    left = {task for task in asyncio.all_tasks() - before if not task.done()}
    assert not left, f"tasks left running: {left}"


async def consume_in_task(stream: AsyncIterator[T]) -> tuple[asyncio.Task[None], list[T]]:
    """Read ``stream`` in a task of its own into the returned list (the consumer to cancel)."""
    received: list[T] = []

    async def consume() -> None:
        async for item in stream:
            received.append(item)

    return asyncio.create_task(consume()), received


async def collect(stream: AsyncIterable[T], into: list[T]) -> None:
    """Append the items of ``stream`` to ``into`` until it ends or fails."""
    async for item in stream:
        into.append(item)


async def cancel(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and check that it ended cancelled."""
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_probe_records_what_it_produced_and_how_it_ended() -> None:
    finished = Probe([1, 2])
    assert [item async for item in finished] == [1, 2]
    assert (finished.produced, finished.ending, finished.closed) == (2, "exhausted", True)

    failing = Probe([1], error=RuntimeError("boom"))
    with pytest.raises(RuntimeError, match="boom"):
        [item async for item in failing]
    assert (failing.ending, failing.closed) == ("failed", True)

    closed = Probe([1, 2])
    assert await anext(aiter(closed)) == 1
    await aiter(closed).aclose()
    assert (closed.ending, closed.closed, closed.cancelled) == ("closed", True, False)

    hanging = Probe([1], hang=True)
    async with no_task_left_behind():
        task, received = await consume_in_task(aiter(hanging))
        await until(lambda: received == [1])
        await turns()
        assert hanging.is_open()
        await cancel(task)
    assert (hanging.ending, hanging.closed, hanging.cancelled) == ("cancelled", True, True)


async def test_no_task_left_behind_fails_on_a_task_still_running() -> None:
    never = asyncio.Event()
    with pytest.raises(AssertionError, match="tasks left running"):
        async with no_task_left_behind():
            task = asyncio.create_task(never.wait())
    await cancel(task)


async def test_until_fails_when_the_condition_never_holds() -> None:
    with pytest.raises(pytest.fail.Exception, match="never held"):
        await until(lambda: False, turns=3)
