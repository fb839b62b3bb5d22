"""Outgoing webhook requests with aiohttp, reaching only the addresses a webhook may reach.

Server-side request forgery is what a webhook invites: anyone may register any URL, and the
service then sends requests to it from inside the network. So the host of every new
connection is resolved here, by us, every address it resolves to is checked
(``entities.check_address``: no loopback, private, link-local, CGNAT, multicast or IPv6
unique-local address), and the connection is made to an address that was checked, never to
the name again: a DNS answer that changes between the check and the connection (DNS
rebinding) cannot send it elsewhere. The check sits in the resolver that aiohttp's connector
calls for every new connection to a name (``GuardedResolver``); a URL whose host is an address
is checked before the request, since aiohttp connects to an address without resolving it.
Either way it holds for each connection of the keep-alive pool. TLS still verifies the
certificate against the URL's host name (aiohttp passes it as the server name), and the
``Host`` header is the URL's. Redirects are never followed, proxies from the environment are
ignored, no cookie is kept, the answer is read up to a bound (undecoded, so a compressed body
cannot grow) and the whole attempt is bounded in time.

aiohttp rather than httpx: in a loop of sends to a receiver on loopback that answers at once,
httpx spent 1.6 ms of CPU per request at 5 in flight and 3.4 ms at 50, aiohttp 0.17 and
0.12 ms (docs/webhooks.md, "What it costs").
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
import typing
from collections.abc import Mapping

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

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
    """What the guarded resolver resolves with (``SystemResolver``, or a test's fake)."""

    async def resolve(self, host: str) -> list[str]: ...


class RefusedAddressError(OSError):
    """The host resolves to an address a webhook may not reach: nothing was sent.

    An ``OSError``, so that aiohttp reports it as the connection's failure
    (``ClientConnectorError.os_error``).
    """


def check_addresses(host: str, addresses: typing.Iterable[str], *, allow_loopback: bool) -> None:
    """Raise ``RefusedAddressError`` unless every address of ``host`` may be reached."""
    for address in addresses:
        try:
            check_address(address, allow_loopback=allow_loopback)
        except ForbiddenAddressError as error:
            msg = f"refused {host}: {error}"
            raise RefusedAddressError(msg) from error


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, giving the connector only checked addresses of a host.

    Every address the host resolves to must pass ``check_address``, or the connection fails
    with ``RefusedAddressError`` before any is attempted; the connector then connects to the
    addresses returned, in order, never to the name.
    """

    def __init__(self, resolver: Resolver, *, allow_loopback: bool = False) -> None:
        self._resolver = resolver
        self._allow_loopback = allow_loopback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        del family  # every address of the host is checked and offered, whatever its family
        try:
            addresses = await self._resolver.resolve(host)
        except LookupError as error:
            raise OSError(str(error)) from error
        check_addresses(host, addresses, allow_loopback=self._allow_loopback)
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        """Nothing to release: the resolver it wraps holds nothing."""


class AiohttpWebhookSender:
    """The ``WebhookSender`` port: one POST per attempt, bounded in time and in what it reads.

    ``timeout`` bounds connecting (resolution included) and, separately, the whole attempt;
    at most ``max_response_bytes`` of the answer's body are read, the rest is dropped with the
    connection. Keep-alive connections are reused, each checked when it was opened. The
    client session is made at the first send, inside the event loop that uses it.
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
        self._allow_loopback = allow_loopback
        self._max_connections = max_connections
        self._resolver = GuardedResolver(
            resolver or SystemResolver(), allow_loopback=allow_loopback
        )
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=self._resolver,
                limit=self._max_connections,
                use_dns_cache=False,  # each new connection is resolved, and checked, afresh
                keepalive_timeout=5.0,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self._timeout, connect=self._timeout),
                trust_env=False,
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            )
        return self._session

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                return await self._post(url, body, headers, started)
        except TimeoutError:
            error = f"timed out after {self._timeout:g} s"
        except RefusedAddressError as refused:
            error = f"ConnectError: {refused}"
        except aiohttp.ClientConnectorError as failure:
            error = f"ConnectError: {failure.os_error or failure}"
        except (aiohttp.ClientError, ValueError) as failure:
            error = (
                f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
            )
        return SendResult(None, error[:500], time.perf_counter() - started)

    async def _post(
        self, url: str, body: bytes, headers: Mapping[str, str], started: float
    ) -> SendResult:
        target = URL(url)
        host = target.host or ""
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            pass  # a name: the guarded resolver checks what it resolves to
        else:
            check_addresses(host, [str(literal)], allow_loopback=self._allow_loopback)
        async with self._client().post(
            target, data=body, headers=dict(headers), allow_redirects=False
        ) as answer:
            read = 0
            while read < self._max_response_bytes:
                chunk = await answer.content.read(self._max_response_bytes - read)
                if not chunk:
                    break
                read += len(chunk)
            if not answer.content.at_eof():
                answer.close()  # the rest is never read: the connection goes with it
            return SendResult(
                answer.status,
                None,
                time.perf_counter() - started,
                answer.headers.get("Retry-After"),
            )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None
