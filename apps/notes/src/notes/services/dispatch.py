"""Dispatching recorded events to the bus, durably and in batches: the worker's loop.

The dispatcher claims a batch of pending events and publishes it on the bus as one batch
(``EventBus.publish_batch``): each listener handles the whole batch in one transaction of its
own. Events are marked dispatched in the transaction that claimed them, once every listener
has handled them, or gave up on them. A worker that dies before that commit leaves them
pending, and the next dispatcher to claim them delivers them again: at least once.
Listeners make the second delivery harmless (see ``notes.services.listeners``).

Failures are counted per (event, listener), in the claiming transaction: a failed event is
held back (``retry_at``) for a delay that doubles with each attempt, with jitter, up to a cap,
and after ``max_attempts`` it is parked for that listener (a dead letter, with its last
error) until an operator requeues it. Events waiting for a retry are never claimed with fresh
ones (fresh ones go first), so however many keep failing, the others go through in full
batches.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType

from eventing import EventBus, PartialFailureError

from notes.core.clock import Clock, utc_now
from notes.entities import ANY_LISTENER, ListenerFailure, NoteEvent, UndecodableEvent
from notes.services.ports import Listen, UnitOfWork, UnitsOfWork

_logger = logging.getLogger(__name__)

ERROR_TEXT_MAX = 2000
"""The longest error text kept for an (event, listener) failure."""
LOG_ERROR_MAX = 200
"""The longest error summary in a log line."""
TRACE_FRAMES = 8
"""The frames of a failure's traceback that are kept, the innermost."""


class EventsFailedError(Exception):
    """A batch listener handled its share except these events, each with its own error.

    What it handled is committed; the dispatcher counts a failure for each event named here
    and runs the listeners after it on the others.
    """

    def __init__(self, failures: Mapping[int, BaseException]) -> None:
        super().__init__(f"{len(failures)} event(s) failed: {sorted(failures)[:10]}")
        self.failures = dict(failures)


def summary(error: BaseException, limit: int = LOG_ERROR_MAX) -> str:
    """``Type: first line of the message``, at most ``limit`` characters."""
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(error: BaseException) -> str:
    """What is kept of a failure: its summary, then the end of its traceback; bounded."""
    # The last frames of this exception alone: its causes and contexts are in its message
    # (a driver's error is in SQLAlchemy's), and a whole chain costs milliseconds to render.
    # The traceback is cut to those frames before it is rendered: rendering looks up every
    # frame's source positions, and a failure found by halving a batch is dozens deep.
    trace = "".join(
        traceback.format_exception(type(error), error, _innermost(error.__traceback__), chain=False)
    )
    text = f"{summary(error, ERROR_TEXT_MAX // 4)}\n{trace}"
    return (
        text
        if len(text) <= ERROR_TEXT_MAX
        else text[: ERROR_TEXT_MAX // 4]
        + "\n..."
        + (trace[-(ERROR_TEXT_MAX - ERROR_TEXT_MAX // 4 - 5) :])
    )


def _innermost(tb: TracebackType | None, frames: int = TRACE_FRAMES) -> TracebackType | None:
    """The last ``frames`` entries of the traceback ``tb`` (its tail, from that entry on)."""
    entries: collections.deque[TracebackType] = collections.deque(maxlen=frames)
    while tb is not None:
        entries.append(tb)
        tb = tb.tb_next
    return entries[0] if entries else None


@dataclass(frozen=True)
class RetryPolicy:
    """How often an (event, listener) is tried, and how long to wait between tries.

    The n-th retry waits ``base * 2**(n-1)`` seconds, at most ``cap``, less up to half of it
    at random (jitter), so events that failed together are not all retried together.
    """

    max_attempts: int = 10
    base: float = 1.0
    cap: float = 300.0
    random: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, attempts: int) -> timedelta:
        """How long to wait after the ``attempts``-th failure before trying again."""
        full = min(self.cap, self.base * 2 ** min(attempts - 1, 62))
        return timedelta(seconds=full * (1 - self.random() / 2))


@dataclass(frozen=True)
class BatchReport:
    """What one batch did: events claimed, those every listener handled, those that failed
    (and are to be retried), and those parked."""

    claimed: int
    dispatched: int
    failed: int = 0
    parked: int = 0


@dataclass
class _Outcome:
    done: list[int] = field(default_factory=list)
    failures: dict[int, dict[str, BaseException]] = field(default_factory=dict)
    publishes: int = 0

    def fail(self, event_id: int, listener: str, error: BaseException) -> None:
        self.failures.setdefault(event_id, {})[listener] = error


class Dispatcher:
    """Claims pending events in batches and publishes each batch on the bus at once.

    Claimed events are locked (``FOR UPDATE SKIP LOCKED``) by the batch's unit of work, so
    several dispatchers, in one process or many, never handle one event at the same time.

    A listener that fails on part of a batch says which events (``EventsFailedError``; the
    listeners of ``notes.services.listeners`` find them inside one transaction; the bus
    names them itself for a plain, one-event listener). When no listener was skipped for
    it, the rest of the batch is then done; when some were (they come after the failed
    one), the batch is published again without the failed events, so those listeners
    handle the rest, and the listeners that had handled it find their records and skip it.
    A listener that fails without saying which events is narrowed down by halving the batch
    until single events fail. Every failure is counted for its (event, listener) and the
    event retried later, or parked after ``policy.max_attempts``. An event row this release
    cannot read is parked at once.
    """

    def __init__(
        self,
        uow: UnitsOfWork,
        bus: EventBus[NoteEvent],
        *,
        batch_size: int = 100,
        policy: RetryPolicy | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._uow = uow
        self._bus = bus
        self._batch_size = batch_size
        self._policy = policy or RetryPolicy()
        self._clock = clock

    async def dispatch_batch(self, stop: asyncio.Event | None = None) -> BatchReport:
        """Claim and publish one batch; once ``stop`` is set, no further event is started."""
        async with self._uow() as uow:
            now = self._clock()
            claimed = await uow.events.claim_pending(self._batch_size, now=now)
            if not claimed:
                return BatchReport(claimed=0, dispatched=0)
            events = [e for e in claimed if isinstance(e, NoteEvent) and e.id is not None]
            unreadable = [e for e in claimed if isinstance(e, UndecodableEvent)]
            outcome = await self._settle(events, stop)
            failures = [
                ListenerFailure(event_id, listener, describe(error))
                for event_id, by_listener in outcome.failures.items()
                for listener, error in sorted(by_listener.items())
            ]
            parked = await self._count_failures(uow, events, outcome, failures)
            for event in unreadable:
                _logger.warning("event %s parked at once: %s", event.id, event.reason)
            await uow.events.record_failures(
                [ListenerFailure(e.id, ANY_LISTENER, e.reason) for e in unreadable],
                now=now,
                max_attempts=1,
            )
            parked += [event.id for event in unreadable]
            await uow.events.mark_dispatched(outcome.done + parked)
            await uow.commit()
        return BatchReport(
            claimed=len(claimed),
            dispatched=len(outcome.done),
            failed=len(outcome.failures) + len(unreadable) - len(parked),
            parked=len(parked),
        )

    async def _count_failures(
        self,
        uow: UnitOfWork,
        events: Sequence[NoteEvent],
        outcome: _Outcome,
        failures: list[ListenerFailure],
    ) -> list[int]:
        """Record the failures; hold back the events to retry; the ids of those now parked."""
        if not failures:
            return []
        now = self._clock()
        counts = await uow.events.record_failures(
            failures, now=now, max_attempts=self._policy.max_attempts
        )
        unparked: dict[int, int] = {}
        for count in counts:
            if not count.parked:
                unparked[count.event_id] = max(unparked.get(count.event_id, 0), count.attempts)
        types = {event.id: event.type for event in events}
        for count in counts:
            error = outcome.failures[count.event_id][count.listener]
            if count.parked:
                _logger.warning(
                    "event %s (%s) parked for %s after %d attempts: %s",
                    count.event_id,
                    types.get(count.event_id),
                    count.listener,
                    count.attempts,
                    summary(error),
                )
            else:
                _logger.warning(
                    "event %s (%s) failed in %s (attempt %d of %d), retried later: %s",
                    count.event_id,
                    types.get(count.event_id),
                    count.listener,
                    count.attempts,
                    self._policy.max_attempts,
                    summary(error),
                )
        await uow.events.retry_later(
            {event_id: now + self._policy.delay(n) for event_id, n in unparked.items()}
        )
        return sorted(outcome.failures.keys() - unparked.keys())

    async def _settle(self, events: Sequence[NoteEvent], stop: asyncio.Event | None) -> _Outcome:
        outcome = _Outcome()
        await self._publish(list(events), outcome, stop)
        return outcome

    async def _publish(
        self, events: list[NoteEvent], outcome: _Outcome, stop: asyncio.Event | None
    ) -> None:
        """Publish ``events`` until each one is done or has failed for some listener.

        Each round publishes the events not yet failed. A listener that names the events it
        failed on (``EventsFailedError``, or the bus's ``PartialFailureError`` for a plain
        listener) removes them; if a listener was skipped because it comes after a failed
        one, the next round runs it on the rest, else the rest are done.
        A failure that names no events splits the batch in two. Every round removes at least
        one event or ends, so this ends.
        """
        while events:
            if stop is not None and stop.is_set():
                return  # left pending, no failure counted: the next claim takes them again
            result = await self._bus.publish_batch(events)
            outcome.publishes += 1
            if result.ok:
                outcome.done.extend(e.id for e in events if e.id is not None)
                return
            named, blind = _attribute(result.failed, {e.id for e in events}, outcome)
            events = [e for e in events if e.id not in outcome.failures]
            if not blind:
                if not named:  # pragma: no cover - the bus reports a failure for a not-ok result
                    return
                if not result.skipped:
                    # Every listener ran, and those that failed named their events and
                    # handled the others: the others are done, with no second round.
                    outcome.done.extend(e.id for e in events if e.id is not None)
                    return
                continue
            if len(events) == 1 and events[0].id is not None:
                for listener, error in blind:
                    outcome.fail(events[0].id, listener, error)
                return
            if not named:
                half = len(events) // 2
                await self._publish(events[:half], outcome, stop)
                await self._publish(events[half:], outcome, stop)
                return

    async def dispatch_pending(self, stop: asyncio.Event | None = None) -> int:
        """Dispatch batches until nothing is left to claim (fresh events, then due retries);
        the count dispatched.

        Once ``stop`` is set, the batch being published is finished and no other is started.
        A batch of retries that fail again is held back anew, so this ends.
        """
        total = 0
        while stop is None or not stop.is_set():
            report = await self.dispatch_batch(stop)
            total += report.dispatched
            if report.claimed == 0:
                break
        return total


def _attribute(
    failed: Mapping[str, Exception], ids: set[int | None], outcome: _Outcome
) -> tuple[bool, list[tuple[str, Exception]]]:
    """Count the failures listeners named events for; whether there were any, and the
    failures that named none of ``ids``."""
    named = False
    blind: list[tuple[str, Exception]] = []
    for listener, error in failed.items():
        failures = _named(error)
        if failures.keys() & ids:
            for event_id, cause in failures.items():
                if event_id in ids:
                    outcome.fail(event_id, listener, cause)
                    named = True
        else:
            blind.append((listener, error))
    return named, blind


def _named(error: Exception) -> Mapping[int, BaseException]:
    """The events a listener's failure names, by id, each with its own error (or none)."""
    if isinstance(error, EventsFailedError):
        return error.failures
    if isinstance(error, PartialFailureError):
        return {
            event.id: cause
            for event, cause in error.failures
            if isinstance(event, NoteEvent) and event.id is not None
        }
    return {}


class EventPruner:
    """Deletes what only grows: dispatched events past their retention, with their listener
    records and failure counts, a bounded number per transaction and per call.

    An event parked for a listener is kept while the parking is younger than
    ``parked_retention``, however old the event, so an operator has that long to requeue it.
    """

    def __init__(  # noqa: PLR0913 - the settings, each by keyword
        self,
        uow: UnitsOfWork,
        *,
        retention: timedelta,
        parked_retention: timedelta,
        batch_size: int = 1000,
        max_batches: int = 10,
        clock: Clock = utc_now,
    ) -> None:
        self._uow = uow
        self._retention = retention
        self._parked_retention = parked_retention
        self._batch_size = batch_size
        self._max_batches = max_batches
        self._clock = clock

    async def prune(self) -> int:
        """Prune up to ``max_batches`` batches; how many events were deleted."""
        total = 0
        for _ in range(self._max_batches):
            now = self._clock()
            async with self._uow() as uow:
                deleted = await uow.events.prune(
                    dispatched_before=now - self._retention,
                    parked_before=now - self._parked_retention,
                    limit=self._batch_size,
                )
                await uow.commit()
            total += deleted
            if deleted < self._batch_size:
                break
        if total:
            _logger.info("pruned %d dispatched events older than %s", total, self._retention)
        return total


class EventWorker:
    """Dispatches events as they are committed, until told to stop.

    It listens for notifications and dispatches when one arrives, and at least every
    ``poll_interval`` seconds in case one was lost (which also picks up retries as they fall
    due). With a ``pruner``, it prunes old events every ``prune_interval`` seconds, in a task
    of its own: a prune that fails is logged and tried again later, and never holds up
    dispatch nor makes the worker reconnect. After
    every (re)connection it first catches up with whatever is pending, since notifications
    sent while nobody listened are gone. A lost connection is retried every
    ``reconnect_interval`` seconds, forever.
    """

    def __init__(  # noqa: PLR0913 - the settings, each by keyword
        self,
        dispatcher: Dispatcher,
        listen: Listen,
        *,
        poll_interval: float = 2.0,
        reconnect_interval: float = 1.0,
        stop_check_interval: float = 0.25,
        pruner: EventPruner | None = None,
        prune_interval: float = 60.0,
    ) -> None:
        self._dispatcher = dispatcher
        self._listen = listen
        self._poll_interval = poll_interval
        self._reconnect_interval = reconnect_interval
        self._stop_check_interval = stop_check_interval
        self._pruner = pruner
        self._prune_interval = prune_interval

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set; the batch being published then is finished first."""
        pruning = None
        if self._pruner is not None:
            pruning = asyncio.create_task(self._prune_now_and_then(self._pruner, stop))
        try:
            await self._dispatch_until(stop)
        finally:
            if pruning is not None:
                pruning.cancel()  # a prune under way is rolled back; the next one redoes it
                with suppress(asyncio.CancelledError):
                    await pruning

    async def _prune_now_and_then(self, pruner: EventPruner, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await pruner.prune()
            except Exception as error:  # noqa: BLE001 - logged; old events wait for the next try
                _logger.warning(
                    "pruning old events failed (%s: %s); trying again in %s s",
                    type(error).__name__,
                    str(error).strip().splitlines()[0] if str(error).strip() else "",
                    self._prune_interval,
                )
            with suppress(TimeoutError):
                async with asyncio.timeout(self._prune_interval):
                    await stop.wait()

    async def _dispatch_until(self, stop: asyncio.Event) -> None:
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
