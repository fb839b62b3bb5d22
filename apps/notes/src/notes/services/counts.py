"""Reading the tag and category counts that the listeners keep."""

from __future__ import annotations

import uuid

from notes.entities import Count
from notes.services.ports import UnitsOfWork


class CountsService:
    """An owner's tags and categories with their counts, most used first, ties by name."""

    def __init__(self, uow: UnitsOfWork) -> None:
        self._uow = uow

    async def list_tags(self, owner_id: uuid.UUID) -> list[Count]:
        """Every tag of the owner's live notes, with how many of them carry it."""
        async with self._uow() as uow:
            return await uow.counts.tag_counts(owner_id)

    async def list_categories(self, owner_id: uuid.UUID) -> list[Count]:
        """Every non-empty category of the owner's live notes, with how many are in it."""
        async with self._uow() as uow:
            return await uow.counts.category_counts(owner_id)
