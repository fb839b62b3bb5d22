"""Fill a stream's silences with pings."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Callable
from typing import TypeVar

from streams._pull import END, Puller

T = TypeVar("T")
P = TypeVar("P")


def with_keepalive(
    source: AsyncIterable[T], *, interval: float, make_ping: Callable[[], P]
) -> AsyncGenerator[T | P, None]:
    """The items of ``source``, and ``make_ping()`` whenever none came for ``interval`` seconds.

    The silence is counted from the moment the consumer asks for the next item, so a slow
    consumer gets no pile of pings. Waiting for a ping does not disturb the source: the pull
    that timed out goes on, and its item comes next. At most that one item is held.
    Closing the stream (``aclose``, cancellation, an error of the source) closes the source.
    """
    if interval <= 0:
        raise ValueError("interval must be positive")
    return _keepalive(source, interval, make_ping)


async def _keepalive(
    source: AsyncIterable[T], interval: float, make_ping: Callable[[], P]
) -> AsyncGenerator[T | P, None]:
    puller = Puller(source)
    try:
        while True:
            if not await puller.wait(interval):
                yield make_ping()
            elif (item := puller.take()) is END:
                return
            else:
                yield item
    finally:
        await puller.aclose()
