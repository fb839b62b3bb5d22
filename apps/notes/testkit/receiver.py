"""A webhook receiver for the tests, on loopback: it records what it receives and misbehaves
on request, by path.

A plain asyncio HTTP/1.1 server (keep-alive, ``Content-Length`` bodies), so the tests depend
on nothing but the standard library for the other side of the wire. Paths:

- ``/ok`` answers ``204``; ``/status/<code>`` answers ``<code>`` (``Retry-After: 1`` with it);
- ``/slow`` never answers (until the client gives up); ``/hold`` answers ``204`` once
  ``release`` is set, and counts the requests waiting meanwhile;
- ``/huge`` answers ``200`` announcing 10 GB and streams zeros until the client hangs up,
  counting what it wrote;
- ``/redirect`` answers ``302`` to ``/redirected`` (which records a request, if any comes);
- ``/verify`` checks the Standard Webhooks signature with ``secret`` (the ``standardwebhooks``
  package): ``204`` when valid, ``400`` otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from standardwebhooks import Webhook, WebhookVerificationError

HUGE = 10 * 1024**3


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    answered: int | None = None
    slow_waiting: int = 0  # requests to /slow open when this one arrived


@dataclass
class Receiver:
    """The server's state: what came, and how to answer."""

    secret: str | None = None
    received: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    holding: int = 0
    slow_waiting: int = 0
    huge_bytes_written: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        """The receiver's base URL (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def on(self, path: str) -> list[Received]:
        """The requests received on ``path``."""
        return [r for r in self.received if r.path == path]

    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1 (on ``port``, or on a free one the first time)."""
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", port or self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every open connection."""
        if self._server is not None:
            self._server.close()
            for task in list(self._handlers):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        _, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        request = Received(path, headers, body, slow_waiting=self.slow_waiting)
        self.received.append(request)
        status = await self._answer(request, writer)
        request.answered = status
        return status is not None

    async def _answer(  # noqa: PLR0911 - one answer per path
        self, request: Received, writer: asyncio.StreamWriter
    ) -> int | None:
        path = request.path
        if path == "/slow":
            self.slow_waiting += 1
            try:
                await asyncio.Event().wait()  # until the client hangs up and we are stopped
            finally:
                self.slow_waiting -= 1
        if path == "/hold":
            self.holding += 1
            try:
                await self.release.wait()
            finally:
                self.holding -= 1
            return await _respond(writer, 204)
        if path == "/huge":
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {HUGE}\r\n\r\n".encode())
            chunk = b"\0" * 65536
            while self.huge_bytes_written < HUGE:
                writer.write(chunk)
                await writer.drain()
                self.huge_bytes_written += len(chunk)
            return None
        if path == "/redirect":
            return await _respond(writer, 302, {"Location": "/redirected"})
        if path.startswith("/status/"):
            return await _respond(writer, int(path.rsplit("/", 1)[1]), {"Retry-After": "1"})
        if path == "/verify":
            try:
                Webhook(self.secret or "").verify(request.body, request.headers)
            except WebhookVerificationError:
                return await _respond(writer, 400)
            return await _respond(writer, 204)
        return await _respond(writer, 204)


async def _respond(
    writer: asyncio.StreamWriter, status: int, headers: dict[str, str] | None = None
) -> int:
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n{extra}\r\n".encode())
    await writer.drain()
    return status
