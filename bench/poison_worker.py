"""The event worker of ``bench/events.py``'s poison run: ``python -m notes.worker``'s event loop,
with one more listener that raises for every event of a note tagged ``#poison``.

Run as ``python bench/poison_worker.py`` with the worker's ``NOTES_*`` settings; stops on
SIGTERM as the real worker does. Only the event dispatcher runs: no webhook consumer.
"""

from __future__ import annotations

import asyncio
import signal

import uvloop
from notes.bootstrap import bootstrap, event_worker
from notes.core.config import Settings
from notes.core.logging import configure_logging
from notes.entities import NoteEvent
from notes.services.listeners import NOTE_EVENTS, build_bus

POISON_TAG = "poison"


class PoisonedError(Exception):
    """What the poisoned listener raises."""


async def refuse_poison(event: NoteEvent) -> None:
    """A plain listener that fails on a poisoned note's events and does nothing for others."""
    if POISON_TAG in event.tags:
        msg = f"poisoned note {event.note_id} (a benchmark listener)"
        raise PoisonedError(msg)


async def run(settings: Settings) -> None:
    container = await bootstrap(settings)
    bus = build_bus(container.uow)
    bus.subscribe("refuse_poison", refuse_poison, events=NOTE_EVENTS)
    bus.check()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await event_worker(container, bus).run(stop)
    finally:
        await container.close()


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    uvloop.run(run(settings))


if __name__ == "__main__":
    main()
