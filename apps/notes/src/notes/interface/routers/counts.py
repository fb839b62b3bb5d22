"""``/tags/`` and ``/categories/``: how many live notes carry each tag, are in each category."""

from __future__ import annotations

from fastapi import APIRouter

from notes.interface.auth import PrincipalDep
from notes.interface.dependencies import CountsServiceDep
from notes.interface.schemas import NamedCount, problem_responses

router = APIRouter(tags=["tags"])


@router.get(
    "/tags/", summary="Tags of live notes, most used first", responses=problem_responses(401)
)
async def list_tags(principal: PrincipalDep, service: CountsServiceDep) -> list[NamedCount]:
    """Each hashtag of the caller's live notes (lower-cased, without `#`) with how many carry
    it; ties by name.

    Counts are kept by the event worker and follow a change within moments.
    """
    return [NamedCount.from_entity(row) for row in await service.list_tags(principal.user_id)]


@router.get(
    "/categories/",
    summary="Categories of live notes, most used first",
    responses=problem_responses(401),
)
async def list_categories(principal: PrincipalDep, service: CountsServiceDep) -> list[NamedCount]:
    """Each non-empty category of the caller's live notes with how many are in it; ties by
    name.

    Counts are kept by the event worker and follow a change within moments.
    """
    return [NamedCount.from_entity(row) for row in await service.list_categories(principal.user_id)]
