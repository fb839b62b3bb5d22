"""Publishing: layer order, concurrency, failure isolation, skipping, cancellation."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable

import pytest

from eventing import DispatchResult, EventBus


class Ping:
    pass


class Pong:
    pass


Handler = Callable[[object], Awaitable[None]]


class BoomError(Exception):
    pass


def recording(log: list[str], name: str, *, delay: float = 0) -> Handler:
    async def handler(event: object) -> None:
        log.append(f"start {name}")
        await asyncio.sleep(delay)
        log.append(f"end {name}")

    return handler


def failing(error: Exception) -> Handler:
    async def handler(event: object) -> None:
        raise error

    return handler


async def test_listeners_run_layer_by_layer() -> None:
    log: list[str] = []
    bus: EventBus[object] = EventBus()
    bus.subscribe("slow", recording(log, "slow", delay=0.02), events=(Ping,))
    bus.subscribe("fast", recording(log, "fast"), events=(Ping,))
    bus.subscribe("after_fast", recording(log, "after_fast"), after=("fast",))

    result = await bus.publish(Ping())

    # A layer starts only once the whole previous layer has finished.
    assert log.index("start after_fast") > log.index("end slow")
    assert log.index("start after_fast") > log.index("end fast")
    assert result == DispatchResult(
        event=result.event, succeeded=("fast", "slow", "after_fast"), failed={}, skipped=()
    )
    assert result.ok


async def test_listeners_of_one_layer_run_concurrently() -> None:
    # Each waits for the other: run one after the other, the first would wait forever.
    left, right = asyncio.Event(), asyncio.Event()

    def handshake(mine: asyncio.Event, theirs: asyncio.Event) -> Handler:
        async def handler(event: object) -> None:
            mine.set()
            async with asyncio.timeout(2):
                await theirs.wait()

        return handler

    bus: EventBus[object] = EventBus()
    bus.subscribe("left", handshake(left, right), events=(Ping,))
    bus.subscribe("right", handshake(right, left), events=(Ping,))

    result = await bus.publish(Ping())

    assert result.ok, result.failed
    assert result.succeeded == ("left", "right")


async def test_a_failure_spares_siblings_skips_descendants_and_is_returned_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []
    error = BoomError("broken")
    bus: EventBus[object] = EventBus()
    bus.subscribe("fails", failing(error), events=(Ping,))
    bus.subscribe("sibling", recording(log, "sibling", delay=0.01), events=(Ping,))
    bus.subscribe("child", recording(log, "child"), after=("fails",))
    bus.subscribe("grandchild", recording(log, "grandchild"), after=("child", "sibling"))
    bus.subscribe("cousin", recording(log, "cousin"), after=("sibling",))
    event = Ping()

    with caplog.at_level(logging.WARNING, logger="eventing"):
        result = await bus.publish(event)

    assert result.event is event
    assert result.succeeded == ("sibling", "cousin")
    assert dict(result.failed) == {"fails": error}
    assert result.skipped == ("child", "grandchild")
    assert not result.ok
    assert log == ["start sibling", "end sibling", "start cousin", "end cousin"]

    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.name for r in failures] == ["eventing"]
    assert failures[0].exc_info is None  # one line; the traceback only at DEBUG
    assert failures[0].getMessage() == "listener 'fails' failed for Ping: BoomError: broken"
    skips = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert skips == [
        "listener 'child' skipped for Ping: it comes after 'fails', which did not succeed",
        "listener 'grandchild' skipped for Ping: it comes after 'child', which did not succeed",
    ]


async def test_a_failure_logs_one_bounded_line_and_its_traceback_only_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus: EventBus[object] = EventBus()
    error = BoomError("x" * 1000 + "\nsecond line")
    bus.subscribe("fails", failing(error), events=(Ping,))

    with caplog.at_level(logging.DEBUG, logger="eventing"):
        await bus.publish(Ping())

    [line, debug] = caplog.records
    assert line.levelno == logging.ERROR
    assert line.exc_info is None
    assert len(line.getMessage()) < 300
    assert "second line" not in line.getMessage()
    assert debug.levelno == logging.DEBUG
    assert debug.exc_info is not None
    assert debug.exc_info[1] is error


async def test_every_failure_is_reported_in_plan_order() -> None:
    bus: EventBus[object] = EventBus()
    first, second = BoomError("1"), BoomError("2")

    async def slow_failure(event: object) -> None:
        await asyncio.sleep(0.01)
        raise first

    bus.subscribe("b", slow_failure, events=(Ping,))
    bus.subscribe("a", failing(second), after=("b",))
    bus.subscribe("c", failing(second), events=(Ping,))
    bus.subscribe("a0", failing(first), events=(Ping,))

    result = await bus.publish(Ping())

    assert list(result.failed) == ["a0", "b", "c"]
    assert result.skipped == ("a",)


async def test_an_event_no_listener_reaches_succeeds_trivially() -> None:
    bus: EventBus[object] = EventBus()
    bus.subscribe("ping", failing(BoomError()), events=(Ping,))

    result = await bus.publish(Pong())

    assert result.ok
    assert (result.succeeded, dict(result.failed), result.skipped) == ((), {}, ())


async def test_the_result_is_immutable() -> None:
    bus: EventBus[object] = EventBus()
    bus.subscribe("fails", failing(BoomError()), events=(Ping,))

    result = await bus.publish(Ping())

    with pytest.raises(dataclasses.FrozenInstanceError):
        result.succeeded = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.failed["other"] = BoomError()  # type: ignore[index]


async def test_cancelling_publish_cancels_running_listeners_and_propagates() -> None:
    started = asyncio.Event()
    seen: list[str] = []

    async def waits_forever(event: object) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async def later(event: object) -> None:
        seen.append("later ran")

    bus: EventBus[object] = EventBus()
    bus.subscribe("waits", waits_forever, events=(Ping,))
    bus.subscribe("later", later, after=("waits",))

    task = asyncio.create_task(bus.publish(Ping()))
    await started.wait()
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]


async def test_a_handler_raising_cancelled_error_is_not_swallowed() -> None:
    seen: list[str] = []

    async def cancelled(event: object) -> None:
        raise asyncio.CancelledError

    async def sibling(event: object) -> None:
        seen.append("sibling")

    async def later(event: object) -> None:
        seen.append("later")

    bus: EventBus[object] = EventBus()
    bus.subscribe("cancelled", cancelled, events=(Ping,))
    bus.subscribe("sibling", sibling, events=(Ping,))
    bus.subscribe("later", later, after=("sibling",))

    with pytest.raises(asyncio.CancelledError):
        await bus.publish(Ping())
    assert seen == ["sibling"]


async def test_a_listener_may_publish_on_the_same_bus() -> None:
    log: list[str] = []
    bus: EventBus[object] = EventBus()

    async def relay(event: object) -> None:
        result = await bus.publish(Pong())
        assert result.ok

    bus.subscribe("relay", relay, events=(Ping,))
    bus.subscribe("pong", recording(log, "pong"), events=(Pong,))

    assert (await bus.publish(Ping())).succeeded == ("relay",)
    assert log == ["start pong", "end pong"]
