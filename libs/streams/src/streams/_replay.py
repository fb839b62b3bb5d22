"""Catch up from a log, then follow live items, with no gap and no duplicate."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from streams._pull import aclose

T = TypeVar("T")


class Ordered(Protocol):
    """A key that can be compared: ``int``, ``str``, ``tuple``, ``datetime``, ..."""

    def __lt__(self, other: Any, /) -> bool: ...  # noqa: ANN401 - as typeshed's SupportsDunderLT


K = TypeVar("K", bound=Ordered)


async def replay_then_live(
    replay: AsyncIterable[Sequence[T]],
    live: AsyncIterable[Sequence[T]],
    *,
    key: Callable[[T], K],
    after: K | None = None,
) -> AsyncGenerator[list[T], None]:
    """The items of ``replay``, then those of ``live``, each only if its key is new.

    Both sources deliver items in batches (a page of the log, what a subscription had
    buffered), and so does the stream: a list of the new items of each batch. An item is
    kept only if its ``key`` is greater than ``after`` and than the key of every item before
    it; any other is a duplicate and is skipped. So the items that ``live`` delivered while
    ``replay`` ran, and that ``replay`` also returned, come out once. A batch whose items are
    all duplicates yields nothing; an empty batch passes as an empty list (a heartbeat, such
    as ``Subscription.batches(idle=...)`` sends).

    The caller's duties, for there to be no gap:

    - ``live`` is already collecting items when ``replay`` starts reading (subscribe first,
      e.g. with ``Broadcast.subscribe()``, then start the query), and its buffer is large
      enough for what arrives while ``replay`` runs; when it is not, ``live`` raises (as a
      ``Subscription`` raises ``SlowConsumerError``) and the consumer starts over;
    - keys grow in the order in which both sources deliver items. (A sequence number given
      at insert does not, when transactions commit out of order: use a key given in commit
      order.)

    ``replay`` is closed as soon as it is exhausted, before the first live batch; closing the
    stream closes both. Memory: nothing is held beyond the last key and the batch at hand.
    """
    last = after
    replay_iterator, live_iterator = aiter(replay), aiter(live)
    try:
        for iterator in (replay_iterator, live_iterator):
            async for batch in iterator:
                if not batch:
                    yield []
                    continue
                new: list[T] = []
                for item in batch:
                    item_key = key(item)
                    if last is None or last < item_key:
                        last = item_key
                        new.append(item)
                if new:
                    yield new
            await aclose(iterator)
    finally:
        await aclose(replay_iterator)
        await aclose(live_iterator)
