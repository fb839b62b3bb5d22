"""Reading the tag and category counts that the listeners keep, a page at a time."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from notes.entities import Count
from notes.services.cursors import CursorCodec
from notes.services.ports import UnitsOfWork


@dataclass(frozen=True)
class CountPage:
    """One page of counts, and the cursor of the next page (None when this is the last)."""

    counts: list[Count]
    next_cursor: str | None


class CountsService:
    """An owner's tags and categories with their counts, most used first, ties by name.

    Pages are keyset pages: a cursor holds the last (count, name) shown, signed for the
    owner and for the list it came from, and the next page starts after it.
    """

    def __init__(self, uow: UnitsOfWork, *, cursors: CursorCodec | None = None) -> None:
        self._uow = uow
        self._cursors = cursors or CursorCodec(secrets.token_bytes(32))

    async def list_tags(
        self, owner_id: uuid.UUID, *, limit: int = 100, cursor: str | None = None
    ) -> CountPage:
        """A page of the tags of the owner's live notes, with how many of them carry each."""
        return await self._page("tags", owner_id, limit, cursor)

    async def list_categories(
        self, owner_id: uuid.UUID, *, limit: int = 100, cursor: str | None = None
    ) -> CountPage:
        """A page of the non-empty categories of the owner's live notes, with how many are
        in each."""
        return await self._page("categories", owner_id, limit, cursor)

    async def _page(
        self, kind: str, owner_id: uuid.UUID, limit: int, cursor: str | None
    ) -> CountPage:
        after = None if cursor is None else self._cursors.decode_count(kind, cursor, owner_id)
        async with self._uow() as uow:
            read = uow.counts.tag_counts if kind == "tags" else uow.counts.category_counts
            found = await read(owner_id, limit=limit + 1, after=after)
        if len(found) <= limit:
            return CountPage(found, None)
        page = found[:limit]
        return CountPage(page, self._cursors.encode_count(kind, page[-1], owner_id))
