"""``/events/``: the caller's note events, live, as Server-Sent Events (docs/streams.md)."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.exceptions import RequestValidationError
from fastapi.sse import EventSourceResponse, format_sse_event

from notes.entities import NoteEvent
from notes.entities.events import EventPosition, FeedEvent
from notes.interface.auth import PrincipalDep
from notes.interface.dependencies import LiveEventsDep
from notes.interface.schemas import Category, problem_responses
from notes.services.live_events import FEED_EVENT_TYPES, FeedFilter, Notice, parse_types

router = APIRouter(prefix="/events", tags=["events"])

RECONNECT_MILLISECONDS = 1000
"""The ``retry:`` a notice that ends the stream carries: when the client reconnects."""

SSE_EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "data": {"type": "string", "contentMediaType": "application/json"},
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
}
"""One event of the stream, as OpenAPI 3.2 describes Server-Sent Events."""


async def feed_filter(
    types: Annotated[
        list[str] | None,
        Query(
            description="Only these types (repeat, or separate with commas): "
            + ", ".join(sorted(FEED_EVENT_TYPES.values())),
            max_length=10,
        ),
    ] = None,
    category: Annotated[
        Category | None,
        Query(description="Only events of notes in this category (before or after an edit)"),
    ] = None,
) -> FeedFilter:
    """The client's filters; 422 for an unknown type."""
    try:
        names = parse_types(types or ()) or None  # none named: every type
    except ValueError as error:
        detail = [{"type": "value_error", "loc": ("query", "types"), "msg": str(error)}]
        raise RequestValidationError(detail) from error
    return FeedFilter(types=names, category=category)


async def resume_point(
    principal: PrincipalDep,
    service: LiveEventsDep,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="The id of the last event received: the events after it come first",
        ),
    ] = None,
) -> EventPosition | Notice | None:
    """Where the stream resumes, looked up before it starts (so a database that is down is a
    503 problem, not a broken stream)."""
    return await service.resume_from(principal.user_id, last_event_id)


def encode(item: list[FeedEvent] | Notice) -> bytes:
    """Events as ``id:`` (the event id), ``event:`` (its type) and JSON ``data:``, one after
    the other; a notice as ``event:`` (its kind) and ``data: {"reason": ...}``; ``open`` and
    ``ping`` as comments. ``fastapi.sse.format_sse_event`` writes each."""
    if isinstance(item, Notice):
        if item.kind in {"open", "ping"}:  # comments, which EventSource ignores
            return format_sse_event(comment=item.kind)
        retry = None if item.kind == "resync" else RECONNECT_MILLISECONDS
        data = json.dumps({"reason": item.reason}, ensure_ascii=False)
        return format_sse_event(event=item.kind, data_str=data, retry=retry)
    return b"".join(map(_encoded_event, item))


@functools.lru_cache(maxsize=1024)
def _encoded_event(item: FeedEvent) -> bytes:
    """An event's bytes, encoded once for every stream of this process that sends it (the
    items are shared among the subscribers; with 1,000 streams, encoding each copy was a
    tenth of the app's time)."""
    event = item.event
    assert isinstance(event, NoteEvent)  # noqa: S101 - the service sends only readable events
    data = {
        "event_id": event.id,
        "type": FEED_EVENT_TYPES[event.type],
        "note_id": str(event.note_id),
        "occurred_at": event.occurred_at.isoformat(),
        **event.payload(),
    }
    return format_sse_event(
        id=str(event.id),
        event=FEED_EVENT_TYPES[event.type],
        data_str=json.dumps(data, separators=(",", ":"), ensure_ascii=False),
    )


async def _encoded(stream: AsyncGenerator[list[FeedEvent] | Notice, None]) -> AsyncIterator[bytes]:
    async with aclosing(stream) as items:
        async for item in items:
            yield encode(item)


@router.get(
    "/",
    summary="Follow the caller's note events (Server-Sent Events)",
    response_class=Response,  # documented below; the response is an EventSourceResponse
    responses={
        200: {
            "description": "Server-Sent Events, until the client leaves or the server stops",
            "content": {"text/event-stream": {"itemSchema": SSE_EVENT_SCHEMA}},
        },
        **problem_responses(401, 422, 503),
    },
)
async def stream_events(
    principal: PrincipalDep,
    service: LiveEventsDep,
    where: Annotated[FeedFilter, Depends(feed_filter)],
    resume: Annotated[EventPosition | Notice | None, Depends(resume_point)],
) -> EventSourceResponse:
    """``text/event-stream``: each event of the caller's notes as it is committed, with
    ``id:`` its event id, ``event:`` its type and ``data:`` JSON (the note's id, category and
    tags, never its contents).

    With ``Last-Event-ID`` (sent by ``EventSource`` when it reconnects) the events after that
    one come first, then the live ones, none missed and none twice. An id the event log no
    longer holds (or not an id of the caller's events) gets ``event: resync`` first. A client
    that falls more than ``NOTES_EVENTS_BUFFER_SIZE`` events behind gets ``event: dropped``
    and the stream ends. A comment (``: ping``) after 15 s without an event keeps an idle
    stream open.
    """
    stream = service.stream(principal.user_id, resume=resume, where=where)
    # Returned, not yielded: FastAPI's generator path gives each stream two tasks and a
    # time-out scope per message, which held 250 streams a process where this holds 1,000
    # (docs/streams.md#why-the-stream-is-returned).
    return EventSourceResponse(
        _encoded(stream), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
