"""Outgoing webhook requests with httpx, reaching only the addresses a webhook may reach.

Server-side request forgery is what a webhook invites: anyone may register any URL, and the
service then sends requests to it from inside the network. So the host of every new
connection is resolved here, by us, every address it resolves to is checked
(``entities.check_address``: no loopback, private, link-local, CGNAT, multicast or IPv6
unique-local address), and the connection is made to an address that was checked, never to
the name again: a DNS answer that changes between the check and the connection (DNS
rebinding) cannot send it elsewhere. The check sits in httpcore's network backend, the one
place every connection is opened, so it holds for each connection of a keep-alive pool; TLS
still verifies the certificate against the URL's host name (httpcore passes it as the server
name), and the ``Host`` header is the URL's. Redirects are never followed, proxies from the
environment are ignored, the answer is read up to a bound (undecoded, so a compressed body
cannot grow) and the whole attempt is bounded in time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
import typing
from collections.abc import Mapping

import httpcore
import httpx

from notes.entities import ForbiddenAddressError, SendResult, check_address

USER_AGENT = "notes-webhooks/1"


class SystemResolver:
    """The ``HostResolver`` port on the system's resolver (``getaddrinfo``, off the loop)."""

    async def resolve(self, host: str) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError) as error:
            msg = f"{host} does not resolve: {error}"
            raise LookupError(msg) from error
        found = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not found:
            msg = f"{host} resolves to no address"
            raise LookupError(msg)
        return found


class Resolver(typing.Protocol):
    """What the guarded backend resolves with (``SystemResolver``, or a test's fake)."""

    async def resolve(self, host: str) -> list[str]: ...


class RefusedAddressError(httpcore.ConnectError):
    """The host resolves to an address a webhook may not reach: nothing was sent."""


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to checked addresses of a host.

    Every address the host resolves to must pass ``check_address``; then the connection is
    made to those addresses, in order, never to the name.
    """

    def __init__(
        self,
        resolver: Resolver,
        *,
        allow_loopback: bool = False,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._resolver = resolver
        self._allow_loopback = allow_loopback
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._resolver.resolve(host)
        except TimeoutError as error:
            msg = f"resolving {host} timed out"
            raise httpcore.ConnectTimeout(msg) from error
        except LookupError as error:
            raise httpcore.ConnectError(str(error)) from error
        for address in addresses:
            try:
                check_address(address, allow_loopback=self._allow_loopback)
            except ForbiddenAddressError as error:
                msg = f"refused {host}: {error}"
                raise RefusedAddressError(msg) from error
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        assert last_error is not None  # noqa: S101 - resolve never returns an empty list
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        msg = "webhooks are never sent over a unix socket"
        raise httpcore.ConnectError(msg)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose every connection is guarded."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        allow_loopback: bool = False,
        max_connections: int = 100,
    ) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=GuardedNetworkBackend(resolver, allow_loopback=allow_loopback),
            # httpcore writes a request's head and body separately: without TCP_NODELAY the
            # body waits for the receiver's delayed ACK of the head (measured: 52 requests/s
            # one after another to a receiver that answers at once, 1,000+ with it).
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )


class HttpxWebhookSender:
    """The ``WebhookSender`` port: one POST per attempt, bounded in time and in what it reads.

    ``timeout`` bounds connecting (resolution included) and, separately, the whole attempt;
    at most ``max_response_bytes`` of the answer's body are read, the rest is dropped with the
    connection. Keep-alive connections are reused, each checked when it was opened.
    """

    def __init__(
        self,
        resolver: Resolver | None = None,
        *,
        timeout: float = 15.0,
        max_response_bytes: int = 64 * 1024,
        allow_loopback: bool = False,
        max_connections: int = 100,
    ) -> None:
        self._timeout = timeout
        self._max_response_bytes = max_response_bytes
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(
                resolver or SystemResolver(),
                allow_loopback=allow_loopback,
                max_connections=max_connections,
            ),
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        )

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                return await self._post(url, body, headers, started)
        except TimeoutError:
            error = f"timed out after {self._timeout:g} s"
        except httpx.HTTPError as failure:  # a refused address is a ConnectError: "refused ..."
            error = (
                f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
            )
        return SendResult(None, error[:500], time.perf_counter() - started)

    async def _post(
        self, url: str, body: bytes, headers: Mapping[str, str], started: float
    ) -> SendResult:
        async with self._client.stream("POST", url, content=body, headers=dict(headers)) as answer:
            read = 0
            async for chunk in answer.aiter_raw():
                read += len(chunk)
                if read >= self._max_response_bytes:
                    break  # leaving the block closes the connection: the rest is never read
            return SendResult(
                answer.status_code,
                None,
                time.perf_counter() - started,
                answer.headers.get("Retry-After"),
            )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()
