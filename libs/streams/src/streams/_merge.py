"""Interleave several streams into one, as their items arrive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable
from typing import TypeVar

from streams._pull import END, Puller

T = TypeVar("T")


async def merge(*sources: AsyncIterable[T]) -> AsyncGenerator[T, None]:
    """The items of every source, each as soon as it arrives; ends when all sources have ended.

    The items of one source keep their order; between sources, the order is that of arrival.
    Each source is pulled by a task of its own, one item at a time: a source is pulled again
    only after its last item was handed to the consumer, so a slow consumer slows every source
    and at most one item per source waits in memory.

    The first error of a source ends the merge: the other sources are closed, then the error
    is raised to the consumer. Closing the merge (``aclose``, cancellation) closes every
    source and leaves no task behind.
    """
    pullers = [Puller(source) for source in sources]
    try:
        active = list(pullers)
        while active:
            pending = {puller.pending(): puller for puller in active}
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            # In the order of the sources, so that the output does not depend on set order.
            for task, puller in pending.items():
                if task not in done:
                    continue
                item = puller.take()
                if item is END:
                    active.remove(puller)
                else:
                    yield item
    finally:
        for puller in pullers:
            await puller.aclose()
