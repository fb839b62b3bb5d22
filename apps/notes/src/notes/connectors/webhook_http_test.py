# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The HTTP adapter against a real receiver on 127.0.0.1, and refusals through a fake resolver.

Nothing here leaves the machine: names resolve through ``StaticResolver`` only, the refused
addresses are refused before any connection is made (the guarded resolver raises before the
connector gets an address; a refused address given literally is refused before the request),
and the only server reached is the test's own receiver on 127.0.0.1.
"""

import asyncio

import pytest
from receiver import Receiver
from testkit import FORBIDDEN_HOSTS

from notes.connectors.memory import StaticResolver
from notes.connectors.webhook_http import (
    AiohttpWebhookSender,
    GuardedResolver,
    RefusedAddressError,
)
from notes.entities import ForbiddenAddressError, check_address


@pytest.fixture
async def receiver():
    server = Receiver()
    await server.start()
    yield server
    server.release.set()
    await server.stop()


def sender_for(receiver, **options):
    names = {"receiver.test": ["127.0.0.1"], **FORBIDDEN_HOSTS}
    options.setdefault("allow_loopback", True)
    return AiohttpWebhookSender(StaticResolver(names), **options)


@pytest.mark.parametrize("host", sorted(FORBIDDEN_HOSTS))
async def test_every_forbidden_address_is_refused_before_connecting(host):
    resolver = GuardedResolver(StaticResolver(FORBIDDEN_HOSTS))
    with pytest.raises(RefusedAddressError, match="refused"):
        await resolver.resolve(host, 443)


async def test_a_name_resolving_to_a_public_and_a_private_address_is_refused():
    resolver = GuardedResolver(StaticResolver({"rebind.test": ["93.184.215.14", "10.0.0.1"]}))
    with pytest.raises(RefusedAddressError, match=r"10\.0\.0\.1"):
        await resolver.resolve("rebind.test", 443)


async def test_the_connector_is_given_the_checked_addresses_for_the_name():
    resolver = GuardedResolver(StaticResolver({"public.test": ["93.184.215.14", "2606:4700::1"]}))
    found = await resolver.resolve("public.test", 443)
    assert [(r["host"], r["hostname"], r["port"]) for r in found] == [
        ("93.184.215.14", "public.test", 443),
        ("2606:4700::1", "public.test", 443),
    ]


async def test_a_name_that_does_not_resolve_is_a_connection_error(receiver):
    sender = sender_for(receiver)
    try:
        result = await sender.send("http://nowhere.test/ok", b"{}", {})
    finally:
        await sender.aclose()
    assert result.status_code is None
    assert result.error.startswith("ConnectError")
    assert "nowhere.test" in result.error


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.215.14", "2606:4700::1", "2a00:1450:4001:80b::200e"],
)
def test_public_unicast_addresses_pass(address):
    check_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "::1",
        "10.0.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.254",
        "224.0.0.251",
        "239.255.255.250",
        "255.255.255.255",
        "0.0.0.0",  # noqa: S104 - refused, never bound
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "192.0.2.1",  # documentation
        "not an address",
    ],
)
def test_non_public_addresses_are_refused(address):
    with pytest.raises(ForbiddenAddressError):
        check_address(address)


def test_loopback_alone_can_be_allowed():
    check_address("127.0.0.1", allow_loopback=True)
    check_address("::1", allow_loopback=True)
    check_address("::ffff:127.0.0.1", allow_loopback=True)
    with pytest.raises(ForbiddenAddressError):
        check_address("10.0.0.1", allow_loopback=True)


async def test_a_delivery_connects_to_the_checked_address_with_the_urls_host(receiver):
    sender = sender_for(receiver)
    try:
        result = await sender.send(
            f"http://receiver.test:{receiver.port}/ok", b'{"a":1}', {"webhook-id": "m1"}
        )
    finally:
        await sender.aclose()
    assert result.status_code == 204
    [request] = receiver.on("/ok")
    assert request.headers["host"] == f"receiver.test:{receiver.port}"
    assert request.headers["webhook-id"] == "m1"
    assert request.body == b'{"a":1}'


async def test_loopback_is_refused_at_delivery_unless_allowed(receiver):
    sender = sender_for(receiver, allow_loopback=False)
    try:
        result = await sender.send(f"http://127.0.0.1:{receiver.port}/ok", b"{}", {})
        named = await sender.send(f"http://loopback.test:{receiver.port}/ok", b"{}", {})
    finally:
        await sender.aclose()
    assert result.status_code is None
    assert "loopback" in result.error
    assert named.status_code is None
    assert receiver.received == []


async def test_a_redirect_is_not_followed(receiver):
    sender = sender_for(receiver)
    try:
        result = await sender.send(f"{receiver.url}/redirect", b"{}", {})
    finally:
        await sender.aclose()
    assert result.status_code == 302
    assert receiver.on("/redirected") == []


async def test_a_huge_answer_is_read_only_up_to_the_bound(receiver):
    sender = sender_for(receiver, max_response_bytes=64 * 1024, timeout=10)
    try:
        result = await sender.send(f"{receiver.url}/huge", b"{}", {})
    finally:
        await sender.aclose()
    assert result.status_code == 200
    await asyncio.sleep(0.2)  # let the receiver notice the hang-up
    # What the socket buffers held when the client hung up, far below the 10 GB announced.
    assert receiver.huge_bytes_written < 32 * 1024 * 1024


async def test_a_receiver_that_never_answers_times_out(receiver):
    sender = sender_for(receiver, timeout=0.5)
    try:
        result = await sender.send(f"{receiver.url}/slow", b"{}", {})
    finally:
        await sender.aclose()
    assert result.status_code is None
    assert result.error == "timed out after 0.5 s"


async def test_a_receiver_that_is_down_is_a_connection_error(receiver):
    port = receiver.port
    await receiver.stop()
    sender = sender_for(receiver, timeout=2)
    try:
        result = await sender.send(f"http://127.0.0.1:{port}/ok", b"{}", {})
    finally:
        await sender.aclose()
    assert result.status_code is None
    assert result.error.startswith("ConnectError")
