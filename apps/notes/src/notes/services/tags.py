"""Reading the tag and category counts that the listeners keep."""

from __future__ import annotations

from collections.abc import Callable

from notes.connectors.unit_of_work import UnitOfWork
from notes.entities import CategoryCount, TagCount


class TagsService:
    """Tags and categories of live notes with their counts, most used first, ties by name."""

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def list_tags(self) -> list[TagCount]:
        """Every tag of a live note, with how many live notes carry it."""
        async with self._uow() as uow:
            return await uow.tags.tag_counts()

    async def list_categories(self) -> list[CategoryCount]:
        """Every non-empty category of a live note, with how many live notes are in it."""
        async with self._uow() as uow:
            return await uow.tags.category_counts()
