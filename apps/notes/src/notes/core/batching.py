"""Group commit: items submitted concurrently are written together, in batches."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from notes.core.errors import (
    DatabaseUnavailableError,
    OverloadedError,
    StoppingError,
    UnavailableError,
)

Item = TypeVar("Item")

_logger = logging.getLogger(__name__)


class _Pending(Generic[Item]):
    """A submitted item and the future its submitter waits on."""

    __slots__ = ("abandoned", "item", "written")

    def __init__(self, item: Item, written: asyncio.Future[None]) -> None:
        self.item = item
        self.written = written
        self.abandoned = False


class Batcher(Generic[Item]):
    """Writes submitted items in batches: while one batch is written, the next one gathers.

    Nothing waits for a batch to fill: an item submitted when no batch is being written is
    written at once, alone; items submitted meanwhile go together in the next batch (at most
    ``max_size``). Under load, batches grow by themselves, and so does what one transaction,
    one commit and one round trip per statement carry.

    ``write(items)`` writes a batch or raises. ``submit`` returns once its item is written, or
    raises what writing it raised:

    - A batch that fails for a reason of the infrastructure (an ``UnavailableError``: the
      connection lost, a time limit, a commit whose outcome is unknown) fails all its
      submitters at once; so do the items waiting behind it when the database is unavailable.
      Nothing is written again blindly.
    - A batch of several that fails for any other reason is written again one item at a
      time, so one bad item fails only its own submitter.
    - At most ``max_waiting`` items wait for their batch; beyond, ``submit`` raises
      ``OverloadedError`` at once.
    - A submitter cancelled while its item waits takes it out: it will not be written. One
      cancelled while its item is being written leaves it there; when every submitter of the
      batch being written is gone, the write is cancelled (its transaction rolls back).
    - ``close`` refuses new items (``StoppingError``) and waits a bounded time for the rest.
    """

    def __init__(
        self,
        write: Callable[[Sequence[Item]], Awaitable[None]],
        *,
        max_size: int = 100,
        max_waiting: int = 10_000,
    ) -> None:
        self._write = write
        self._max_size = max_size
        self._max_waiting = max_waiting
        self._waiting: deque[_Pending[Item]] = deque()
        self._writing: list[_Pending[Item]] = []
        self._write_task: asyncio.Task[None] | None = None
        self._drain_task: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0

    async def submit(self, item: Item) -> None:
        """Write ``item`` with whatever else is submitted meanwhile."""
        if self._closed:
            msg = "the service is stopping and takes no new writes"
            raise StoppingError(msg)
        if len(self._waiting) >= self._max_waiting:
            msg = f"{len(self._waiting)} writes are already waiting for the database"
            raise OverloadedError(msg)
        loop = asyncio.get_running_loop()
        pending = _Pending(item, loop.create_future())
        self._waiting.append(pending)
        if self._drain_task is None:
            self._drain_task = loop.create_task(self._drain())
        try:
            await asyncio.shield(pending.written)
        except asyncio.CancelledError:
            self._abandon(pending)
            raise

    def _abandon(self, pending: _Pending[Item]) -> None:
        pending.abandoned = True
        # Nobody will read the outcome: keep asyncio from reporting it as never retrieved.
        pending.written.add_done_callback(_retrieve)
        if pending in self._waiting:
            self._waiting.remove(pending)
            pending.written.cancel()
        elif (
            self._write_task is not None
            and pending in self._writing
            and all(other.abandoned for other in self._writing)
        ):
            self._write_task.cancel()

    # The bound is the contract, not a wait a caller could cancel: past it, the rest is given up.
    async def close(self, timeout: float) -> None:  # noqa: ASYNC109
        """Take no new items; wait up to ``timeout`` seconds for those submitted to be written.

        Then give up on the rest: the items still waiting fail with ``StoppingError`` and the
        batch being written is cancelled, its transaction rolled back (unless its commit was
        already on its way: then nobody can tell). Returns once nothing is being written any
        more, or ``timeout`` seconds after giving up, whichever comes first.
        """
        self._closed = True
        drain = self._drain_task
        if drain is None or await _ended_within(drain, timeout):
            return
        _logger.warning(
            "giving up on %d waiting writes and a batch of %d being written",
            len(self._waiting),
            len(self._writing),
        )
        while self._waiting:
            _settle(self._waiting.popleft().written, StoppingError("the service stopped"))
        if self._write_task is not None:
            self._write_task.cancel()
        if not await _ended_within(drain, timeout):
            _logger.error("a cancelled batch of writes did not end: its outcome is unknown")

    async def _drain(self) -> None:
        try:
            while self._waiting:
                size = min(self._max_size, len(self._waiting))
                batch = [self._waiting.popleft() for _ in range(size)]
                await self._write_batch(batch)
        finally:
            self._drain_task = None  # no await since the loop's last check: nothing left behind

    async def _write_batch(self, batch: list[_Pending[Item]]) -> None:
        self.batches += 1
        error = await self._attempt(batch)
        if error is None or isinstance(error, UnavailableError) or len(batch) == 1:
            self._fail_all(batch, error)
            return
        for number, pending in enumerate(batch):
            if pending.abandoned:  # its submitter is gone: nobody would hear of it
                _settle(pending.written, asyncio.CancelledError())
                continue
            alone = await self._attempt([pending])
            _settle(pending.written, alone)
            if isinstance(alone, UnavailableError) and not pending.abandoned:
                self._fail_all(batch[number + 1 :], alone)
                return

    def _fail_all(self, batch: list[_Pending[Item]], error: Exception | None) -> None:
        """Settle ``batch``; when the database is unavailable, the items waiting fail too."""
        for pending in batch:
            _settle(pending.written, error)
        if isinstance(error, DatabaseUnavailableError):
            while self._waiting:
                unwritten = DatabaseUnavailableError(f"not written: {error}")
                _settle(self._waiting.popleft().written, unwritten)

    async def _attempt(self, batch: list[_Pending[Item]]) -> Exception | None:
        """Write ``batch`` in a task of its own (so it can be cancelled alone); what it raised.

        A write cancelled by ``close`` or by its submitters' leaving is a ``StoppingError``.
        """
        self._writing = batch
        self._write_task = asyncio.get_running_loop().create_task(
            _call(self._write, [pending.item for pending in batch])
        )
        try:
            await self._write_task
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the drain itself is cancelled (the event loop is closing)
            return StoppingError("the write was cancelled before it finished")
        except Exception as error:  # noqa: BLE001 - handed to the submitters, never lost
            return error
        finally:
            self._writing = []
            self._write_task = None
        return None


async def _ended_within(task: asyncio.Task[None], seconds: float) -> bool:
    """Wait up to ``seconds`` for ``task`` to end, without cancelling it; whether it did."""
    done, _ = await asyncio.wait({task}, timeout=seconds)
    return bool(done)


async def _call(write: Callable[[Sequence[Item]], Awaitable[None]], items: list[Item]) -> None:
    await write(items)


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def _settle(
    written: asyncio.Future[None], error: Exception | asyncio.CancelledError | None
) -> None:
    if written.done():
        return
    if error is None:
        written.set_result(None)
    elif isinstance(error, asyncio.CancelledError):
        written.cancel()
    else:
        written.set_exception(error)
