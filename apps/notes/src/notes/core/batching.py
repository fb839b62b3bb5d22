"""Group commit: items submitted concurrently are written together, in batches."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")


class Batcher(Generic[Item]):
    """Writes submitted items in batches: while one batch is written, the next one gathers.

    Nothing waits for a batch to fill: an item submitted when no batch is being written is
    written at once, alone; items submitted meanwhile go together in the next batch (at most
    ``max_size``). Under load, batches grow by themselves, and so does what one transaction,
    one commit and one round trip per statement carry.

    ``write(items)`` writes a batch or raises. When a batch of several fails, each of its
    items is written again alone, so one bad item fails only its own submitter. ``submit``
    returns once its item is written, or raises what writing it raised. A submitter that is
    cancelled while it waits does not take its item out: the item may still be written.
    """

    def __init__(
        self, write: Callable[[Sequence[Item]], Awaitable[None]], *, max_size: int = 100
    ) -> None:
        self._write = write
        self._max_size = max_size
        self._waiting: list[tuple[Item, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self.batches = 0

    async def submit(self, item: Item) -> None:
        """Write ``item`` with whatever else is submitted meanwhile."""
        loop = asyncio.get_running_loop()
        written = loop.create_future()
        self._waiting.append((item, written))
        if self._task is None:
            self._task = loop.create_task(self._drain())
        await asyncio.shield(written)

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max_size]
                del self._waiting[: self._max_size]
                await self._write_batch(batch)
        finally:
            self._task = None  # no await since the loop's last check: nothing is left behind

    async def _write_batch(self, batch: list[tuple[Item, asyncio.Future[None]]]) -> None:
        self.batches += 1
        try:
            await self._write([item for item, _ in batch])
        except Exception as error:  # noqa: BLE001 - handed to the submitters, never lost
            if len(batch) == 1:
                _settle(batch[0][1], error)
                return
            for item, written in batch:
                try:
                    await self._write([item])
                except Exception as alone:  # noqa: BLE001 - as above
                    _settle(written, alone)
                else:
                    _settle(written, None)
            return
        except BaseException as error:
            # Cancelled (the process is stopping): tell the submitters, then stop.
            for _, written in batch:
                _settle(written, error)
            raise
        for _, written in batch:
            _settle(written, None)


def _settle(written: asyncio.Future[None], error: BaseException | None) -> None:
    if written.done():
        return
    if error is None:
        written.set_result(None)
    elif isinstance(error, asyncio.CancelledError):
        written.cancel()
    else:
        written.set_exception(error)
