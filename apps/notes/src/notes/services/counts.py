"""Reading the tag and category counts that the listeners keep."""

from __future__ import annotations

from notes.entities import Count
from notes.services.ports import UnitsOfWork


class CountsService:
    """Tags and categories of live notes with their counts, most used first, ties by name."""

    def __init__(self, uow: UnitsOfWork) -> None:
        self._uow = uow

    async def list_tags(self) -> list[Count]:
        """Every tag of a live note, with how many live notes carry it."""
        async with self._uow() as uow:
            return await uow.counts.tag_counts()

    async def list_categories(self) -> list[Count]:
        """Every non-empty category of a live note, with how many live notes are in it."""
        async with self._uow() as uow:
            return await uow.counts.category_counts()
