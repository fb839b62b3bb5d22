"""Caps on what a request may be: its body's size, enforced while it arrives rather than after
reading it whole, its headers' size, and its body's media type."""

from __future__ import annotations

import json
from collections.abc import Mapping

from fastapi import Request
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON = "application/json"
NDJSON = "application/x-ndjson"


async def require_json(request: Request) -> None:
    """Refuse a body sent as anything but JSON (415); one with no media type is read as JSON."""
    content_type = request.headers.get("content-type")
    if content_type is None:
        return
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type != JSON and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        raise HTTPException(415, detail=f"Send the body as {JSON}.")


async def require_ndjson(request: Request) -> None:
    """Refuse a body sent as anything but NDJSON (415); one with no media type is read as
    NDJSON."""
    content_type = request.headers.get("content-type")
    if content_type is None:
        return
    if content_type.partition(";")[0].strip().lower() != NDJSON:
        raise HTTPException(415, detail=f"Send the body as {NDJSON}, one JSON object a line.")


class BodyTooLargeError(HTTPException):
    """The request body passed the limit while it was being received.

    An HTTP exception, so the app's own error handler renders it even when it surfaces inside
    body parsing.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, detail=f"The request body is over {max_bytes} bytes.")


class BodySizeLimitMiddleware:
    """Answer 413 to a request whose body is, or turns out to be, over ``max_bytes``, and 431
    to one whose header fields (names and values) add up to more than ``max_header_bytes``.

    A declared ``Content-Length`` over the limit is refused before any of the body is read;
    a body without one (chunked) is counted as it streams and refused as soon as it passes.
    ``max_bytes_by_path`` gives some paths a limit of their own instead (the import's).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        max_header_bytes: int = 16_384,
        max_bytes_by_path: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_header_bytes = max_header_bytes
        self.max_bytes_by_path = dict(max_bytes_by_path or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if sum(len(name) + len(value) for name, value in scope["headers"]) > self.max_header_bytes:
            await _answer(
                send,
                431,
                "Request Header Fields Too Large",
                f"The request's header fields are over {self.max_header_bytes} bytes.",
            )
            return
        max_bytes = self.max_bytes_by_path.get(scope["path"], self.max_bytes)
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > max_bytes:
                    await self._refuse(send, max_bytes)
                    return
                break

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLargeError(max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLargeError:
            if started:
                raise
            await self._refuse(send, max_bytes)

    async def _refuse(self, send: Send, max_bytes: int) -> None:
        await _answer(
            send, 413, "Content Too Large", f"The request body is over {max_bytes} bytes."
        )


async def _answer(send: Send, status: int, title: str, detail: str) -> None:
    """A problem answer sent before the app saw the request; the connection is closed."""
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
