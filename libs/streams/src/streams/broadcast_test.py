"""Broadcast: one stream to many subscribers, each bounded, the slow ones dropped."""

from __future__ import annotations

import asyncio

import pytest

from streams import Broadcast, SlowConsumerError, StreamsError, Subscription
from streams.probe_test import (
    Probe,
    cancel,
    consume_in_task,
    endless,
    no_task_left_behind,
    turns,
    until,
)


def buffered(subscription: Subscription[int]) -> int:
    """How many items wait in the subscription's buffer."""
    return subscription.buffered


async def test_every_subscriber_gets_every_item_published_after_it_subscribed() -> None:
    hub = Broadcast[int](buffer_size=10)
    early = hub.subscribe()
    hub.publish(1)
    late = hub.subscribe()
    hub.publish(2)
    hub.close()

    # Read to their end, they close themselves (unsubscribed).
    assert [item async for item in early] == [1, 2]
    assert [item async for item in late] == [2]
    assert hub.subscriber_count == 0


async def test_a_waiting_subscriber_is_woken_by_a_publish() -> None:
    hub = Broadcast[str](buffer_size=1)

    async with hub.subscribe() as subscription:
        waiting = asyncio.create_task(anext(subscription))
        await turns()
        hub.publish("news")

        assert await waiting == "news"


async def test_a_subscriber_that_falls_behind_is_dropped_and_the_others_go_on() -> None:
    hub = Broadcast[int](buffer_size=3)
    slow, quick = hub.subscribe(), hub.subscribe()
    received: list[int] = []

    for item in range(3):
        hub.publish(item)
        received.append(await anext(quick))
        assert buffered(slow) == item + 1
    hub.publish(3)  # the slow subscriber's buffer is full: it is dropped

    assert hub.subscriber_count == 1
    assert buffered(slow) == 0  # what it had not read was discarded at once
    with pytest.raises(SlowConsumerError, match="more than 3 items behind") as dropped:
        await anext(slow)
    assert dropped.value.buffer_size == 3
    assert isinstance(dropped.value, StreamsError)
    with pytest.raises(StopAsyncIteration):  # it ended, as an async generator does
        await anext(slow)
    received.append(await anext(quick))
    assert received == [0, 1, 2, 3]
    await quick.aclose()


async def test_a_subscriber_that_never_reads_holds_at_most_its_buffer() -> None:
    hub = Broadcast[int](buffer_size=5)
    idle = hub.subscribe()

    for item in range(1000):
        hub.publish(item)
        assert buffered(idle) <= 5

    await idle.aclose()


async def test_close_ends_each_subscription_after_what_it_holds() -> None:
    hub = Broadcast[int](buffer_size=5)
    subscription = hub.subscribe()
    hub.publish(1)
    hub.publish(2)

    hub.close()
    hub.publish(3)  # no one is left to receive it

    assert hub.closed
    assert hub.subscriber_count == 0
    assert [item async for item in subscription] == [1, 2]


async def test_close_wakes_a_waiting_subscriber() -> None:
    hub = Broadcast[int](buffer_size=1)

    async with hub.subscribe() as subscription:
        task, received = await consume_in_task(subscription)
        await turns()
        hub.close()
        await task

    assert received == []


async def test_a_subscription_after_close_has_already_ended() -> None:
    hub = Broadcast[int](buffer_size=1)
    hub.close()

    async with hub.subscribe() as subscription:
        assert [item async for item in subscription] == []
        assert hub.subscriber_count == 0


async def test_closing_a_subscription_unsubscribes_it_at_once() -> None:
    hub = Broadcast[int](buffer_size=2)
    subscription = hub.subscribe()
    hub.publish(1)

    async with subscription:
        assert hub.subscriber_count == 1

    assert hub.subscriber_count == 0
    assert [item async for item in subscription] == []
    hub.publish(2)  # reaches no one and fails nothing


async def test_a_buffer_size_under_one_is_refused() -> None:
    with pytest.raises(ValueError, match="buffer_size must be at least 1"):
        Broadcast[int](buffer_size=0)


async def test_breaking_out_of_a_subscription_unsubscribes_it() -> None:
    hub = Broadcast[int](buffer_size=2)
    hub.publish(0)

    async with hub.subscribe() as subscription:
        hub.publish(1)
        async for item in subscription:
            assert item == 1
            break

    assert hub.subscriber_count == 0


async def test_cancelling_a_waiting_subscriber_unsubscribes_it() -> None:
    hub = Broadcast[int](buffer_size=2)

    async def follow() -> None:
        async with hub.subscribe() as subscription:
            async for _ in subscription:
                pass

    async with no_task_left_behind():
        task = asyncio.create_task(follow())
        await until(lambda: hub.subscriber_count == 1)
        await cancel(task)

    assert hub.subscriber_count == 0


async def test_run_publishes_every_item_of_the_source_then_closes() -> None:
    hub = Broadcast[int](buffer_size=10)
    subscription = hub.subscribe()

    await hub.run(Probe(range(5)))

    assert hub.closed
    assert [item async for item in subscription] == [0, 1, 2, 3, 4]


async def test_cancelling_run_closes_the_source_and_the_broadcast() -> None:
    hub = Broadcast[int](buffer_size=10)
    source = Probe([1], hang=True)

    async with no_task_left_behind(), hub.subscribe() as subscription:
        running = asyncio.create_task(hub.run(source))
        assert await anext(subscription) == 1
        await turns()  # the source is waiting for ever now
        await cancel(running)

        assert [item async for item in subscription] == []

    assert source.cancelled
    assert hub.closed


async def test_an_error_of_the_source_closes_the_broadcast_and_reaches_run() -> None:
    hub = Broadcast[int](buffer_size=10)
    subscription = hub.subscribe()

    with pytest.raises(RuntimeError, match="listen connection lost"):
        await hub.run(Probe([1], error=RuntimeError("listen connection lost")))

    assert [item async for item in subscription] == [1]


async def test_a_fast_source_drops_slow_subscribers_and_never_waits_for_them() -> None:
    hub = Broadcast[int](buffer_size=4)
    source = endless()
    subscribers = [hub.subscribe() for _ in range(3)]
    running = asyncio.create_task(hub.run(source))

    async def read_slowly(subscription: Subscription[int]) -> None:
        async for _ in subscription:
            await turns(10)  # far slower than the source

    for subscriber in subscribers:
        with pytest.raises(SlowConsumerError):
            await read_slowly(subscriber)
    await until(lambda: source.produced > 100)

    assert hub.subscriber_count == 0
    await cancel(running)
    for subscriber in subscribers:
        await subscriber.aclose()


async def test_batches_take_everything_buffered_at_once() -> None:
    hub = Broadcast[int](buffer_size=10)
    subscription = hub.subscribe()
    batches = subscription.batches()
    for item in range(3):
        hub.publish(item)

    assert await anext(batches) == [0, 1, 2]
    waiting = asyncio.create_task(anext(batches))
    await turns()
    hub.publish(3)
    hub.publish(4)  # published before the woken consumer runs: it comes in the same batch
    assert await waiting == [3, 4]
    hub.close()
    assert [batch async for batch in batches] == []
    assert hub.subscriber_count == 0


async def test_batches_send_an_empty_list_after_idle_seconds_without_an_item() -> None:
    hub = Broadcast[int](buffer_size=10)

    async with hub.subscribe() as subscription:
        batches = subscription.batches(idle=0.01)
        assert await anext(batches) == []  # nothing for 10 ms: a heartbeat
        hub.publish(1)
        assert await anext(batches) == [1]  # the wait that timed out lost nothing
        waiting = asyncio.create_task(anext(batches))
        await turns()
        hub.publish(2)
        assert await waiting == [2]
        await batches.aclose()

    assert hub.subscriber_count == 0


async def test_batches_of_a_dropped_subscriber_raise_after_what_it_read() -> None:
    hub = Broadcast[int](buffer_size=2)
    subscription = hub.subscribe()
    batches = subscription.batches()
    hub.publish(1)
    assert await anext(batches) == [1]
    for item in range(2, 5):  # one more than the buffer holds
        hub.publish(item)

    with pytest.raises(SlowConsumerError):
        await anext(batches)
    assert hub.subscriber_count == 0


async def test_cancelling_a_consumer_waiting_for_a_batch_unsubscribes_it() -> None:
    hub = Broadcast[int](buffer_size=2)

    async with no_task_left_behind():
        task, received = await consume_in_task(hub.subscribe().batches(idle=60))
        await turns()  # the consumer waits for the first item
        assert hub.subscriber_count == 1
        await cancel(task)

    assert received == []
    assert hub.subscriber_count == 0


async def test_an_idle_under_zero_is_refused_at_the_call() -> None:
    hub = Broadcast[int](buffer_size=2)

    async with hub.subscribe() as subscription:
        with pytest.raises(ValueError, match="idle must be positive"):
            subscription.batches(idle=0)


async def test_an_item_published_as_its_reader_is_cancelled_is_not_lost() -> None:
    hub = Broadcast[int](buffer_size=2)

    async with hub.subscribe() as subscription:
        waiting = asyncio.create_task(anext(subscription))
        await turns()  # the reader waits
        hub.publish(1)  # wakes it...
        waiting.cancel()  # ...and it is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await waiting

        assert await anext(subscription) == 1
