"""Dispatching recorded events to the bus, durably and in batches: the worker's loop.

The dispatcher claims a batch of pending events and publishes it on the bus as one batch
(``EventBus.publish_batch``): each listener handles the whole batch in one transaction of its
own. Events are marked dispatched in the transaction that claimed them, and only once every
listener has handled them. A worker that dies before that commit leaves them pending, and
the next dispatcher to claim them delivers them again: at least once. Listeners make the
second delivery harmless (see ``notes.services.listeners``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from eventing import EventBus

from notes.entities import NoteEvent
from notes.services.ports import Listen, UnitsOfWork

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchReport:
    """What one batch did: events claimed, and those every listener handled."""

    claimed: int
    dispatched: int


class Dispatcher:
    """Claims pending events in batches and publishes each batch on the bus at once.

    Claimed events are locked (``FOR UPDATE SKIP LOCKED``) by the batch's unit of work, so
    several dispatchers, in one process or many, never handle one event at the same time.
    Failures are per batch: a listener that fails on a batch skips the listeners after it
    for the whole batch (the bus's rule), and none of the batch is marked dispatched. The
    batch is then published again one event at a time, so the events that succeed alone are
    dispatched and an event that keeps failing holds back only itself: it stays pending and
    is tried again by a later batch. The listeners that had handled the batch find their
    records and skip it.
    """

    def __init__(
        self,
        uow: UnitsOfWork,
        bus: EventBus[NoteEvent],
        *,
        batch_size: int = 100,
    ) -> None:
        self._uow = uow
        self._bus = bus
        self._batch_size = batch_size

    async def dispatch_batch(self, stop: asyncio.Event | None = None) -> BatchReport:
        """Claim and publish one batch; once ``stop`` is set, no further event is started."""
        async with self._uow() as uow:
            events = await uow.events.claim_pending(self._batch_size)
            if not events:
                return BatchReport(claimed=0, dispatched=0)
            result = await self._bus.publish_batch(events)
            if result.ok:
                done = [event.id for event in events if event.id is not None]
            else:
                _logger.warning(
                    "a batch of %d events failed (%s failed, %s skipped): "
                    "publishing its events one at a time",
                    len(events),
                    ", ".join(result.failed),
                    ", ".join(result.skipped) or "none",
                )
                done = await self._one_at_a_time(events, stop)
            await uow.events.mark_dispatched(done)
            await uow.commit()
        return BatchReport(claimed=len(events), dispatched=len(done))

    async def _one_at_a_time(
        self, events: Sequence[NoteEvent], stop: asyncio.Event | None
    ) -> list[int]:
        done: list[int] = []
        for event in events:
            if stop is not None and stop.is_set():
                break
            result = await self._bus.publish_batch([event])
            if result.ok and event.id is not None:
                done.append(event.id)
            else:
                _logger.warning(
                    "event %s (%s) stays pending: %s failed, %s skipped",
                    event.id,
                    event.type,
                    ", ".join(result.failed) or "none",
                    ", ".join(result.skipped) or "none",
                )
        return done

    async def dispatch_pending(self, stop: asyncio.Event | None = None) -> int:
        """Dispatch batches until none is full or one had failures; the count dispatched.

        Once ``stop`` is set, the batch being published is finished and no other is started.
        """
        total = 0
        while stop is None or not stop.is_set():
            report = await self.dispatch_batch(stop)
            total += report.dispatched
            if report.claimed < self._batch_size or report.dispatched < report.claimed:
                break
        return total


class EventWorker:
    """Dispatches events as they are committed, until told to stop.

    It listens for notifications and dispatches when one arrives, and at least every
    ``poll_interval`` seconds in case one was lost. After every (re)connection it first
    catches up with whatever is pending, since notifications sent while nobody listened are
    gone. A lost connection is retried every ``reconnect_interval`` seconds, forever.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        listen: Listen,
        *,
        poll_interval: float = 2.0,
        reconnect_interval: float = 1.0,
        stop_check_interval: float = 0.25,
    ) -> None:
        self._dispatcher = dispatcher
        self._listen = listen
        self._poll_interval = poll_interval
        self._reconnect_interval = reconnect_interval
        self._stop_check_interval = stop_check_interval

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set; the batch being published then is finished first."""
        while not stop.is_set():
            try:
                await self._listen_and_dispatch(stop)
            except Exception as error:  # noqa: BLE001 - any database failure: reconnect, never die
                _logger.warning(
                    "event worker lost the database (%s: %s); reconnecting in %s s",
                    type(error).__name__,
                    str(error).strip().splitlines()[0] if str(error).strip() else "",
                    self._reconnect_interval,
                )
                try:
                    async with asyncio.timeout(self._reconnect_interval):
                        await stop.wait()
                except TimeoutError:
                    pass

    async def _listen_and_dispatch(self, stop: asyncio.Event) -> None:
        async with self._listen() as wakeups:
            caught_up = await self._dispatcher.dispatch_pending(stop)
            _logger.info("listening for events; %d pending dispatched on connecting", caught_up)
            next_poll = time.monotonic() + self._poll_interval
            while not stop.is_set():
                wait = min(self._stop_check_interval, next_poll - time.monotonic())
                woken = await wakeups.wait(max(wait, 0.0))
                if woken or time.monotonic() >= next_poll:
                    await self._dispatcher.dispatch_pending(stop)
                    next_poll = time.monotonic() + self._poll_interval
