"""Apply an async function to a stream's items, several at a time, keeping their order."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable
from typing import TypeVar

from streams._pull import END, Puller, cancel_and_wait

T = TypeVar("T")
R = TypeVar("R")


def map_concurrently(
    fn: Callable[[T], Awaitable[R]], source: AsyncIterable[T], *, limit: int
) -> AsyncGenerator[R, None]:
    """``await fn(item)`` for each item of ``source``, up to ``limit`` at once, in source order.

    Results come out in the order of their items, whatever order the calls finish in. At most
    ``limit`` calls are running or finished and waiting for their turn, so a slow consumer
    holds at most ``limit`` results. The source is pulled, and calls are started, only while
    the consumer waits for a result: while it holds one, the calls already started go on.

    An error, from ``fn`` or from the source, ends the stream: an error of ``fn`` is raised
    when its item's turn comes (the results before it are yielded first), an error of the
    source as soon as it happens. Either way, and on ``aclose`` or cancellation, the calls
    still running are cancelled and awaited and the source is closed.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    return _map(fn, source, limit)


async def _map(
    fn: Callable[[T], Awaitable[R]], source: AsyncIterable[T], limit: int
) -> AsyncGenerator[R, None]:
    async def call(item: T) -> R:
        return await fn(item)

    puller = Puller(source)
    calls: deque[asyncio.Task[R]] = deque()
    exhausted = False
    try:
        while calls or not exhausted:
            # Pull only while fewer than `limit` calls are held; wait for the oldest call.
            pull = puller.pending() if not exhausted and len(calls) < limit else None
            oldest = calls[0] if calls else None
            waiting = [task for task in (pull, oldest) if task is not None]
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if pull in done:
                item = puller.take()
                if item is END:
                    exhausted = True
                else:
                    calls.append(asyncio.create_task(call(item)))
            else:  # the oldest call is done
                yield calls.popleft().result()
    finally:
        await cancel_and_wait(calls)
        await puller.aclose()
