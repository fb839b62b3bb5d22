"""The two moves every helper makes on its sources: pull the next item, and close.

``async for item in source`` inside an async generator does not close ``source`` when the
generator is closed early: the ``GeneratorExit`` leaves the loop and the source is left to the
garbage collector. So every helper closes its sources itself, in a ``finally``, with
:func:`aclose`.

A helper that must wait for the next item *with a time-out*, or for the first of several
sources, cannot wrap ``anext(source)`` in ``asyncio.wait_for``: the time-out cancels the pull,
the ``CancelledError`` lands inside the source generator and finishes it. :class:`Puller` runs
the pull in a task of its own instead, which outlives a time-out and is waited for again.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterable, AsyncIterator, Collection
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class End(enum.Enum):
    """The marker a pull returns when the source is exhausted."""

    END = enum.auto()


END = End.END


async def aclose(iterator: AsyncIterator[object]) -> None:
    """Close ``iterator`` if it can be closed (async generators can; plain iterators may not)."""
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


async def cancel_and_wait(tasks: Collection[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait until all have ended; their results and errors are dropped.

    Retrieving the error of a task that ended before the cancel reached it keeps asyncio from
    logging it as never retrieved.
    """
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled():
            task.exception()


async def _next(iterator: AsyncIterator[T]) -> T | End:
    try:
        return await anext(iterator)
    except StopAsyncIteration:
        return END


class Puller(Generic[T]):
    """At most one pending ``anext`` of a source, in a task of its own.

    The owner must call :meth:`aclose` in a ``finally``: it stops a pull still running (an
    async generator cannot be closed while another task runs it) and closes the source. An
    item pulled but not yet taken is the only one a puller holds.
    """

    def __init__(self, source: AsyncIterable[T]) -> None:
        self._iterator = aiter(source)
        self._task: asyncio.Task[T | End] | None = None

    def pending(self) -> asyncio.Task[T | End]:
        """The task pulling the next item; one is started if none is running."""
        if self._task is None:
            self._task = asyncio.create_task(_next(self._iterator))
        return self._task

    async def wait(self, seconds: float | None = None) -> bool:
        """Wait up to ``seconds`` for the next item (None: for ever); whether it can be taken.

        Running out of time leaves the pull running: the next call waits for the same item.
        """
        done, _ = await asyncio.wait([self.pending()], timeout=seconds)
        return bool(done)

    def take(self) -> T | End:
        """The item the finished pull returned, or ``END``; raises the source's error."""
        task, self._task = self._task, None
        assert task is not None, "take() without a finished pull"  # noqa: S101 - a caller's bug
        return task.result()

    async def next(self) -> T | End:
        """The next item, or ``END``; raises the source's error."""
        await self.wait()
        return self.take()

    async def aclose(self) -> None:
        """Stop a running pull, then close the source."""
        task, self._task = self._task, None
        await cancel_and_wait([task] if task else [])
        await aclose(self._iterator)
