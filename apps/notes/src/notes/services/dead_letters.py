"""Parked events (dead letters): what an operator lists and requeues."""

from __future__ import annotations

from collections.abc import Collection

from notes.entities import ParkedEvent
from notes.services.ports import UnitsOfWork


class DeadLetters:
    """The events a listener gave up on, and putting them back in the queue."""

    def __init__(self, uow: UnitsOfWork) -> None:
        self._uow = uow

    async def list(self, *, limit: int = 100, listener: str | None = None) -> list[ParkedEvent]:
        """Parked (event, listener) pairs, oldest parked first, with their last errors."""
        async with self._uow() as uow:
            return await uow.events.parked(limit=limit, listener=listener)

    async def requeue(
        self, event_ids: Collection[int] | None = None, *, listener: str | None = None
    ) -> int:
        """Make parked events pending again with fresh attempts; how many. ``event_ids`` None:
        every parked event (of ``listener``, if given)."""
        async with self._uow() as uow:
            count = await uow.events.requeue(event_ids, listener=listener)
            await uow.commit()
        return count
