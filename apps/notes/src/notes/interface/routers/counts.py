"""``/tags/`` and ``/categories/``: how many live notes carry each tag, are in each category."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from notes.interface.auth import PrincipalDep
from notes.interface.dependencies import CountsServiceDep
from notes.interface.schemas import CountListQuery, NamedCount, problem_responses
from notes.services.counts import CountPage

router = APIRouter(tags=["tags"])

_LIST_RESPONSES = {
    **problem_responses(400, 401, 422),
    200: {"headers": {"Link": {"description": 'The next page: rel="next"'}}},
}


def _answer(
    request: Request, response: Response, query: CountListQuery, page: CountPage
) -> list[NamedCount]:
    if page.next_cursor is not None:
        params = urlencode({"limit": query.limit, "cursor": page.next_cursor})
        response.headers["Link"] = f'<{request.url.path}?{params}>; rel="next"'
    return [NamedCount.from_entity(row) for row in page.counts]


@router.get("/tags/", summary="Tags of live notes, most used first", responses=_LIST_RESPONSES)
async def list_tags(
    request: Request,
    response: Response,
    principal: PrincipalDep,
    service: CountsServiceDep,
    query: Annotated[CountListQuery, Query()],
) -> list[NamedCount]:
    """Each hashtag of the caller's live notes (lower-cased, without `#`) with how many carry
    it; ties by name. ``Link: <...>; rel="next"`` when more follow.

    Counts are kept by the event worker and follow a change within moments.
    """
    page = await service.list_tags(principal.user_id, limit=query.limit, cursor=query.cursor)
    return _answer(request, response, query, page)


@router.get(
    "/categories/",
    summary="Categories of live notes, most used first",
    responses=_LIST_RESPONSES,
)
async def list_categories(
    request: Request,
    response: Response,
    principal: PrincipalDep,
    service: CountsServiceDep,
    query: Annotated[CountListQuery, Query()],
) -> list[NamedCount]:
    """Each non-empty category of the caller's live notes with how many are in it; ties by
    name. ``Link: <...>; rel="next"`` when more follow.

    Counts are kept by the event worker and follow a change within moments.
    """
    page = await service.list_categories(principal.user_id, limit=query.limit, cursor=query.cursor)
    return _answer(request, response, query, page)
