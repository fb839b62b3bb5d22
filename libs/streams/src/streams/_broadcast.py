"""One stream to many subscribers, each with a bounded buffer of its own."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from streams._errors import SlowConsumerError
from streams._pull import aclose

T = TypeVar("T")


@dataclass(eq=False)
class _Channel(Generic[T]):
    """A subscriber's buffer: anyio's bounded memory object stream, both of its ends."""

    send: MemoryObjectSendStream[T]
    receive: MemoryObjectReceiveStream[T]
    dropped: bool = False

    def drop(self) -> None:
        """End the subscription for falling behind; what it had not read is discarded now."""
        self.dropped = True
        self.send.close()
        while True:
            try:
                self.receive.receive_nowait()
            except anyio.EndOfStream:
                return


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
        self._channels: dict[_Channel[T], None] = {}  # an ordered set
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are open."""
        return len(self._channels)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def subscribe(self) -> Subscription[T]:
        """A new subscription: it receives every item published from now on.

        Close it (``async with``, or ``aclose()``) when done; an unclosed subscription stays
        subscribed until it falls behind.
        """
        send, receive = anyio.create_memory_object_stream[T](self._buffer_size)
        channel = _Channel(send, receive)
        if self._closed:
            send.close()
        else:
            self._channels[channel] = None
        return Subscription(channel, self._buffer_size, functools.partial(self._remove, channel))

    def publish(self, item: T) -> None:
        """Put ``item`` in every subscriber's buffer; drop those whose buffer is full.

        Never waits. After :meth:`close` there is no subscriber left, and the item goes nowhere.
        """
        for channel in list(self._channels):
            try:
                channel.send.send_nowait(item)
            except anyio.WouldBlock:
                self._remove(channel)
                channel.drop()

    def close(self) -> None:
        """End every subscription after what its buffer holds; later ones start ended."""
        self._closed = True
        for channel in self._channels:
            channel.send.close()
        self._channels.clear()

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

    def _remove(self, channel: _Channel[T]) -> None:
        self._channels.pop(channel, None)


class Subscription(AsyncIterator[T]):
    """The items a :class:`Broadcast` publishes, from the moment of subscribing.

    Iterate it; the iteration ends when the broadcast closes (after the buffered items), or
    raises :class:`SlowConsumerError` if this subscriber fell behind; either way the
    subscription is closed then, as an async generator is. Made by :meth:`Broadcast.subscribe`,
    not directly. Closing it unsubscribes at once.
    """

    def __init__(
        self, channel: _Channel[T], buffer_size: int, unsubscribe: Callable[[], None]
    ) -> None:
        self._channel = channel
        self._buffer_size = buffer_size
        self._unsubscribe = unsubscribe

    async def __anext__(self) -> T:
        try:
            return await self._channel.receive.receive()
        except anyio.EndOfStream:
            # Like an async generator, an ended subscription closes itself.
            self._close()
            if self._channel.dropped:
                raise SlowConsumerError(self._buffer_size) from None
            raise StopAsyncIteration from None
        except anyio.ClosedResourceError:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        """Unsubscribe and free the buffer; iterating afterwards yields nothing."""
        self._close()

    def _close(self) -> None:
        self._unsubscribe()
        self._channel.send.close()
        self._channel.receive.close()

    async def __aenter__(self) -> Subscription[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
