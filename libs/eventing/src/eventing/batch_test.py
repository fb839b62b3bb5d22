"""Publishing batches: one run per listener on its share, batch handlers, per-batch failures."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence

import pytest

from eventing import BatchResult, EventBus, PartialFailureError


@dataclasses.dataclass(frozen=True)
class Ping:
    n: int


@dataclasses.dataclass(frozen=True)
class Pong:
    n: int


class BoomError(Exception):
    pass


BatchHandler = Callable[[Sequence[object]], Awaitable[None]]


def batch_recorder(calls: list[tuple[str, tuple[object, ...]]], name: str) -> BatchHandler:
    async def handler(events: Sequence[object]) -> None:
        calls.append((name, tuple(events)))

    return handler


def plain_recorder(
    calls: list[tuple[str, object]], name: str
) -> Callable[[object], Awaitable[None]]:
    async def handler(event: object) -> None:
        calls.append((name, event))

    return handler


async def test_a_batch_listener_runs_once_on_the_events_that_reach_it_in_order() -> None:
    calls: list[tuple[str, tuple[object, ...]]] = []
    bus: EventBus[object] = EventBus()
    bus.subscribe_batch("pings", batch_recorder(calls, "pings"), events=(Ping,))
    bus.subscribe_batch("pongs", batch_recorder(calls, "pongs"), events=(Pong,))
    bus.subscribe_batch("all", batch_recorder(calls, "all"), after=("pings", "pongs"))
    events = [Ping(1), Pong(2), Ping(3)]

    result = await bus.publish_batch(events)

    assert result == BatchResult(
        events=tuple(events), succeeded=("pings", "pongs", "all"), failed={}, skipped=()
    )
    assert result.ok
    assert sorted(calls[:2], key=lambda call: call[0]) == [
        ("pings", (Ping(1), Ping(3))),
        ("pongs", (Pong(2),)),
    ]
    assert calls[2] == ("all", (Ping(1), Pong(2), Ping(3)))


async def test_a_plain_listener_gets_its_share_one_event_at_a_time() -> None:
    calls: list[tuple[str, object]] = []
    bus: EventBus[object] = EventBus()
    bus.subscribe("pings", plain_recorder(calls, "pings"), events=(Ping,))

    result = await bus.publish_batch([Ping(1), Pong(2), Ping(3)])

    assert result.succeeded == ("pings",)
    assert calls == [("pings", Ping(1)), ("pings", Ping(3))]


async def test_publish_gives_a_batch_listener_a_batch_of_one() -> None:
    calls: list[tuple[str, tuple[object, ...]]] = []
    bus: EventBus[object] = EventBus()
    bus.subscribe_batch("pings", batch_recorder(calls, "pings"), events=(Ping,))

    result = await bus.publish(Ping(1))

    assert result.ok
    assert calls == [("pings", (Ping(1),))]


async def test_a_failure_skips_its_dependants_for_the_whole_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[tuple[str, tuple[object, ...]]] = []
    error = BoomError("broken")

    async def fails(events: Sequence[object]) -> None:
        raise error

    bus: EventBus[object] = EventBus()
    bus.subscribe_batch("fails", fails, events=(Ping,))
    bus.subscribe_batch("sibling", batch_recorder(calls, "sibling"), events=(Ping, Pong))
    # Reached by Pong directly, yet skipped too: it comes after a listener that failed.
    bus.subscribe_batch("child", batch_recorder(calls, "child"), events=(Pong,), after=("fails",))

    with caplog.at_level(logging.WARNING, logger="eventing"):
        result = await bus.publish_batch([Ping(1), Pong(2)])

    assert not result.ok
    assert dict(result.failed) == {"fails": error}
    assert result.skipped == ("child",)
    assert result.succeeded == ("sibling",)
    assert calls == [("sibling", (Ping(1), Pong(2)))]
    messages = [r.getMessage() for r in caplog.records]
    assert "listener 'fails' failed for Ping: BoomError: broken" in messages
    assert (
        "listener 'child' skipped for a batch of 2 events: it comes after 'fails', "
        "which did not succeed" in messages
    )


async def test_a_plain_listener_handles_its_whole_share_and_names_the_events_it_failed_on() -> None:
    seen: list[object] = []
    errors = {2: BoomError("two"), 4: BoomError("four")}

    async def fails_on_two_and_four(event: object) -> None:
        seen.append(event)
        if isinstance(event, Ping) and event.n in errors:
            raise errors[event.n]

    bus: EventBus[object] = EventBus()
    bus.subscribe("picky", fails_on_two_and_four, events=(Ping,))
    bus.subscribe_batch("after_picky", batch_recorder([], "after_picky"), after=("picky",))

    result = await bus.publish_batch([Ping(1), Ping(2), Ping(3), Ping(4)])

    assert seen == [Ping(1), Ping(2), Ping(3), Ping(4)]
    failure = result.failed["picky"]
    assert isinstance(failure, PartialFailureError)
    assert failure.failures == ((Ping(2), errors[2]), (Ping(4), errors[4]))
    assert "failed on 2 event(s) of the batch; the first: BoomError: two" in str(failure)
    assert result.skipped == ("after_picky",)


async def test_a_plain_listener_failing_on_a_batch_of_one_fails_with_its_own_error() -> None:
    async def fails(event: object) -> None:
        raise BoomError(str(event))

    bus: EventBus[object] = EventBus()
    bus.subscribe("picky", fails, events=(Ping,))

    result = await bus.publish_batch([Ping(1)])

    assert isinstance(result.failed["picky"], BoomError)


async def test_cancellation_in_a_plain_listener_stops_its_share_and_propagates() -> None:
    seen: list[object] = []

    async def cancelled_on_two(event: object) -> None:
        seen.append(event)
        if event == Ping(2):
            raise asyncio.CancelledError

    bus: EventBus[object] = EventBus()
    bus.subscribe("picky", cancelled_on_two, events=(Ping,))

    with pytest.raises(asyncio.CancelledError):
        await bus.publish_batch([Ping(1), Ping(2), Ping(3)])
    assert seen == [Ping(1), Ping(2)]


async def test_an_empty_batch_reaches_nothing() -> None:
    calls: list[tuple[str, tuple[object, ...]]] = []
    bus: EventBus[object] = EventBus()
    bus.subscribe_batch("pings", batch_recorder(calls, "pings"), events=(Ping,))

    result = await bus.publish_batch([])

    assert result.ok
    assert (result.events, result.succeeded, result.skipped) == ((), (), ())
    assert calls == []


async def test_the_plan_of_a_batch_covers_every_listener_any_event_reaches() -> None:
    order: list[str] = []

    def note(name: str) -> BatchHandler:
        async def handler(events: Sequence[object]) -> None:
            order.append(name)

        return handler

    bus: EventBus[object] = EventBus()
    bus.subscribe_batch("first", note("first"), events=(Ping,))
    bus.subscribe_batch("second", note("second"), events=(Pong,), after=("first",))

    assert bus.layers(Pong) == (("second",),)
    result = await bus.publish_batch([Pong(1), Ping(2)])

    assert result.succeeded == ("first", "second")
    assert order == ["first", "second"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.events = ()  # type: ignore[misc]
