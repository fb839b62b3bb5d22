"""``/tags/`` and ``/categories/``: how many live notes carry each tag, are in each category."""

from __future__ import annotations

from fastapi import APIRouter

from notes.interface.dependencies import CountsServiceDep
from notes.interface.schemas import NamedCount

router = APIRouter(tags=["tags"])


@router.get("/tags/", summary="Tags of live notes, most used first")
async def list_tags(service: CountsServiceDep) -> list[NamedCount]:
    """Each hashtag (lower-cased, without `#`) with its count of live notes; ties by name.

    Counts are kept by the event worker and follow a change within moments.
    """
    return [NamedCount.from_entity(row) for row in await service.list_tags()]


@router.get("/categories/", summary="Categories of live notes, most used first")
async def list_categories(service: CountsServiceDep) -> list[NamedCount]:
    """Each non-empty category with its count of live notes; ties by name.

    Counts are kept by the event worker and follow a change within moments.
    """
    return [NamedCount.from_entity(row) for row in await service.list_categories()]
