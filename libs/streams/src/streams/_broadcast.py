"""One stream to many subscribers, each with a bounded buffer of its own."""

from __future__ import annotations

import asyncio
import collections
import functools
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from types import TracebackType
from typing import Generic, TypeVar

from streams._errors import SlowConsumerError
from streams._pull import aclose

T = TypeVar("T")


class _Buffer(Generic[T]):
    """A subscriber's buffer: at most ``size`` items, and the one task that waits on it.

    Written by hand rather than taken from anyio's memory object streams: their ``receive``
    looks the waiting task up in a ``WeakKeyDictionary`` every time it waits, which was a
    third of an app process's CPU with 1,000 subscribers (libs/streams/README.md). Here a
    wait is one future. An item is never handed to the waiter directly: it stays in the
    buffer until taken, so a waiter that is cancelled loses nothing.
    """

    __slots__ = ("closed", "dropped", "items", "size", "waiter")

    def __init__(self, size: int) -> None:
        self.items: collections.deque[T] = collections.deque()
        self.size = size
        self.closed = False
        self.dropped = False
        self.waiter: asyncio.Future[None] | None = None

    def put(self, item: T) -> bool:
        """Add ``item``; False (and nothing added) when the buffer is full."""
        if len(self.items) >= self.size:
            return False
        self.items.append(item)
        self._wake()
        return True

    def close(self) -> None:
        """No more items: the reader ends after those it holds."""
        self.closed = True
        self._wake()

    def drop(self) -> None:
        """End the subscription for falling behind; what it had not read is discarded now."""
        self.dropped = True
        self.items.clear()
        self.close()

    async def wait(self) -> bool:
        """Wait until there is an item; False when there will be none (closed and empty)."""
        while not self.items:
            if self.closed:
                return False
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return True

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class Broadcast(Generic[T]):
    """Hands every published item to every subscriber, never waiting for any of them.

    Each subscriber has a buffer of ``buffer_size`` items. :meth:`publish` puts the item in
    every buffer at once; a subscriber whose buffer is full has fallen behind: it is dropped,
    its buffer discarded, and it reads :class:`SlowConsumerError` next. The others do not
    notice. Memory is therefore bounded by ``buffer_size`` items per subscriber (the items
    are shared, not copied), whatever the subscribers do.

    Subscribers come and go at any time. :meth:`close` ends every subscription: each reads
    what its buffer still holds, then its iteration ends. Subscribing after that gives a
    subscription that has already ended.
    """

    def __init__(self, *, buffer_size: int) -> None:
        if buffer_size < 1:
            raise ValueError("buffer_size must be at least 1")
        self._buffer_size = buffer_size
        self._buffers: dict[_Buffer[T], None] = {}  # an ordered set
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are open."""
        return len(self._buffers)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def subscribe(self) -> Subscription[T]:
        """A new subscription: it receives every item published from now on.

        Close it (``async with``, or ``aclose()``) when done; an unclosed subscription stays
        subscribed until it falls behind.
        """
        buffer = _Buffer[T](self._buffer_size)
        if self._closed:
            buffer.close()
        else:
            self._buffers[buffer] = None
        return Subscription(buffer, functools.partial(self._remove, buffer))

    def publish(self, item: T) -> None:
        """Put ``item`` in every subscriber's buffer; drop those whose buffer is full.

        Never waits. After :meth:`close` there is no subscriber left, and the item goes nowhere.
        """
        full = [buffer for buffer in self._buffers if not buffer.put(item)]
        for buffer in full:
            self._remove(buffer)
            buffer.drop()

    def close(self) -> None:
        """End every subscription after what its buffer holds; later ones start ended."""
        self._closed = True
        for buffer in self._buffers:
            buffer.close()
        self._buffers.clear()

    async def run(self, source: AsyncIterable[T]) -> None:
        """Publish every item of ``source``; when it ends, fails or is cancelled, close.

        Run it in a task of its own and cancel that task to stop: the source is closed too.
        """
        iterator = aiter(source)
        try:
            async for item in iterator:
                self.publish(item)
        finally:
            self.close()
            await aclose(iterator)

    def _remove(self, buffer: _Buffer[T]) -> None:
        self._buffers.pop(buffer, None)


class Subscription(AsyncIterator[T]):
    """The items a :class:`Broadcast` publishes, from the moment of subscribing.

    Iterate it, or take its items in lists with :meth:`batches`; the iteration ends when the
    broadcast closes (after the buffered items), or raises :class:`SlowConsumerError` if this
    subscriber fell behind; either way the subscription is closed then, as an async generator
    is. Made by :meth:`Broadcast.subscribe`, not directly. Closing it unsubscribes at once.
    """

    def __init__(self, buffer: _Buffer[T], unsubscribe: Callable[[], None]) -> None:
        self._buffer = buffer
        self._unsubscribe = unsubscribe

    @property
    def buffered(self) -> int:
        """How many items wait in the buffer."""
        return len(self._buffer.items)

    async def __anext__(self) -> T:
        if not await self._wait():
            raise StopAsyncIteration
        return self._buffer.items.popleft()

    def batches(self, *, idle: float | None = None) -> AsyncGenerator[list[T], None]:
        """The items in lists: each list holds every item buffered when it is taken.

        It waits for one item, then takes those already in the buffer without waiting, so a
        consumer that fell a few items behind catches up in one step instead of one per item.
        With ``idle`` (seconds), an empty list comes whenever no item came for that long: a
        heartbeat for a consumer that must show it is still there. It ends, raises
        :class:`SlowConsumerError` and closes the subscription as iterating it does.
        """
        if idle is not None and idle <= 0:
            raise ValueError("idle must be positive")
        return self._batches(idle)

    async def _batches(self, idle: float | None) -> AsyncGenerator[list[T], None]:
        items = self._buffer.items
        try:
            while True:
                try:
                    async with asyncio.timeout(idle):
                        ready = await self._wait()
                except TimeoutError:
                    yield []
                    continue
                if not ready:
                    return
                batch = list(items)
                items.clear()
                yield batch
        finally:
            self._close()

    async def _wait(self) -> bool:
        """Wait for an item; at the end, close, and raise if it was dropped."""
        if await self._buffer.wait():
            return True
        # Like an async generator, an ended subscription closes itself.
        dropped = self._buffer.dropped
        self._buffer.dropped = False  # raised once; the next read just ends
        self._close()
        if dropped:
            raise SlowConsumerError(self._buffer.size)
        return False

    async def aclose(self) -> None:
        """Unsubscribe and free the buffer; iterating afterwards yields nothing."""
        self._close()

    def _close(self) -> None:
        self._unsubscribe()
        self._buffer.items.clear()
        self._buffer.close()

    async def __aenter__(self) -> Subscription[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
