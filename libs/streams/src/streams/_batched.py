"""Group a stream's items into lists, by count or by count and time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable
from typing import TypeVar

from streams._pull import END, Puller, aclose

T = TypeVar("T")


def batched(
    source: AsyncIterable[T], size: int, *, max_wait: float | None = None
) -> AsyncGenerator[list[T], None]:
    """Lists of up to ``size`` consecutive items of ``source``, in order, never empty.

    A batch is yielded once it holds ``size`` items. With ``max_wait`` (seconds) it is also
    yielded when ``max_wait`` has passed since its first item arrived, however few it holds.
    The last batch holds what is left when the source ends.

    Backpressure: the source is pulled only while a batch is being filled (with ``max_wait``,
    one item ahead while the consumer holds a batch), so a slow consumer slows the source.
    Closing the batches (``aclose``, cancellation, an error) closes the source; the items of an
    unfinished batch are dropped.
    """
    if size < 1:
        raise ValueError("size must be at least 1")
    if max_wait is None:
        return _by_count(source, size)
    if max_wait <= 0:
        raise ValueError("max_wait must be positive")
    return _by_count_or_time(source, size, max_wait)


async def _by_count(source: AsyncIterable[T], size: int) -> AsyncGenerator[list[T], None]:
    iterator = aiter(source)
    try:
        batch: list[T] = []
        async for item in iterator:
            batch.append(item)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch
    finally:
        await aclose(iterator)


async def _by_count_or_time(
    source: AsyncIterable[T], size: int, max_wait: float
) -> AsyncGenerator[list[T], None]:
    puller = Puller(source)
    loop = asyncio.get_running_loop()
    ended = False
    try:
        while not ended and (first := await puller.next()) is not END:
            batch = [first]
            deadline = loop.time() + max_wait
            while len(batch) < size and await puller.wait(deadline - loop.time()):
                item = puller.take()
                if item is END:
                    ended = True
                    break
                batch.append(item)
            yield batch
    finally:
        await puller.aclose()
