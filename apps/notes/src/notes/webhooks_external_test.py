# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Webhook deliveries for real: worker processes, PostgreSQL, and a receiver on 127.0.0.1.

Each test makes an account and subscriptions of its own (deleted at its end) pointing at a
receiver it starts on loopback (``testkit/receiver.py``), runs ``python -m notes.worker`` with
the retry schedule, timeouts and stall detection shrunk to fractions of a second, and checks
what the receiver got and what the deliveries' records say. Nothing is sent anywhere else.
"""

import asyncio
import json
import signal
import time
import uuid
from datetime import UTC, datetime

import pytest
from receiver import Receiver
from standardwebhooks import Webhook, WebhookVerificationError

from notes.entities import DeliveryStatus
from notes.services.notes import NotesService
from notes.services.webhooks import WebhooksService

pytestmark = [pytest.mark.external, pytest.mark.own_process]

HEARTBEAT_TIMEOUT = 2.0
POLL = 0.2
WORKER = {
    "NOTES_WEBHOOK_ALLOW_HTTP": "true",
    "NOTES_WEBHOOK_ALLOW_LOOPBACK": "true",
    "NOTES_WEBHOOK_RETRY_SCHEDULE": json.dumps([0.5] * 30),
    "NOTES_WEBHOOK_TIMEOUT": "5",
    "NOTES_WEBHOOK_CONCURRENCY": "4",
    "NOTES_QUEUE_POLL_INTERVAL": str(POLL),
    "NOTES_QUEUE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
    "NOTES_WORKER_POLL_INTERVAL": str(POLL),
}


async def until(condition, seconds=30.0):
    """Poll ``condition`` (a coroutine function) until it is true; fail after ``seconds``."""
    async with asyncio.timeout(seconds):
        while not await condition():  # noqa: ASYNC110 - a bounded poll of another process's work
            await asyncio.sleep(0.05)


def start_worker(launcher, **env):
    worker = launcher.start_worker(**{**WORKER, **env})
    launcher.wait_for_log(worker, "taking webhook deliveries")
    return worker


@pytest.fixture
async def receiver():
    server = Receiver()
    await server.start()
    yield server
    server.release.set()
    await server.stop()


@pytest.fixture
async def account(sql):
    """An account of this test's own (it cannot log in); its subscriptions go with it."""
    owner = uuid.uuid4()
    await sql.execute(
        "INSERT INTO users (id, email, email_key, password_hash, created_at)"
        " VALUES (:id, :email, :email, NULL, now())",
        id=owner,
        email=f"{owner}@hooks.example.com",
    )
    yield owner
    await sql.execute("DELETE FROM webhook_subscriptions WHERE owner_id = :id", id=owner)


@pytest.fixture
def webhooks(committing_uow, resolver):
    return WebhooksService(committing_uow, resolver=resolver, allow_http=True, allow_loopback=True)


@pytest.fixture
def notes(committing_uow):
    return NotesService(committing_uow)


@pytest.fixture
def hooks(receiver, account, webhooks, notes, sql):
    """What each test works with: the receiver, an account, its services, plain SQL."""
    return receiver, account, webhooks, notes, sql


async def deliveries(sql, subscription_id):
    rows = await sql.fetch(
        "SELECT id, status FROM webhook_deliveries WHERE subscription_id = :id",
        id=subscription_id,
    )
    return {str(delivery_id): status for delivery_id, status in rows}


async def attempts(sql, delivery_id):
    return await sql.fetch(
        "SELECT status_code, error FROM webhook_attempts WHERE delivery_id = :id ORDER BY id",
        id=uuid.UUID(delivery_id),
    )


async def test_a_receiver_that_is_down_gets_every_event_once_it_is_back(launcher, hooks):
    receiver, account, webhooks, notes, sql = hooks
    created = await webhooks.create(account, url=f"{receiver.url}/ok")
    subscription_id = created.subscription.id
    port = receiver.port
    await receiver.stop()
    start_worker(launcher)
    start_worker(launcher)  # two workers share the queue
    for i in range(10):
        await notes.create(account, contents=f"while the receiver is down {i}")

    async def all_tried():
        found = await deliveries(sql, subscription_id)
        if len(found) < 10:
            return False
        return all([await attempts(sql, d) for d in found])

    await until(all_tried)
    await receiver.start(port)

    async def all_delivered():
        found = await deliveries(sql, subscription_id)
        return len(found) == 10 and set(found.values()) == {DeliveryStatus.DELIVERED}

    await until(all_delivered)
    ids = [r.headers["webhook-id"] for r in receiver.on("/ok")]
    assert set(ids) == set(await deliveries(sql, subscription_id))
    assert len(ids) == 10, "a delivery reached the receiver twice without a crash"
    some = next(iter(await deliveries(sql, subscription_id)))
    tried = await attempts(sql, some)
    assert tried[0][0] is None
    assert tried[0][1].startswith("ConnectError")
    assert tried[-1] == (204, None)


async def test_a_receiver_that_never_answers_holds_up_one_slot_and_times_out(launcher, hooks):
    receiver, account, webhooks, notes, sql = hooks
    slow = await webhooks.create(account, url=f"{receiver.url}/slow", event_types=["note.created"])
    quick = await webhooks.create(account, url=f"{receiver.url}/ok")
    start_worker(launcher, NOTES_WEBHOOK_TIMEOUT="8")
    note = await notes.create(account, contents="first")

    async def slow_in_flight():
        return receiver.slow_waiting == 1

    await until(slow_in_flight)
    for i in range(6):  # edits: for the quick subscription only
        await notes.update(account, note.id, contents=f"edit {i}")

    async def quick_ones_delivered():
        found = await deliveries(sql, quick.subscription.id)
        return len(found) == 7 and set(found.values()) == {DeliveryStatus.DELIVERED}

    await until(quick_ones_delivered)
    slow_ids = await deliveries(sql, slow.subscription.id)
    first_slow = min(slow_ids)
    # All seven quick deliveries went through while the slow one was still waiting.
    assert receiver.on("/slow")[0].headers["webhook-id"] == first_slow
    assert [r.slow_waiting for r in receiver.on("/ok")][1:] == [1] * 6

    async def timed_out():
        return bool(await attempts(sql, first_slow))

    await until(timed_out)
    assert (await attempts(sql, first_slow))[0] == (None, "timed out after 8 s")


async def test_a_worker_killed_mid_delivery_leaves_it_to_another_with_the_same_id(launcher, hooks):
    receiver, account, webhooks, notes, sql = hooks
    created = await webhooks.create(account, url=f"{receiver.url}/hold")
    killed = start_worker(launcher)
    await notes.create(account, contents="in flight when the worker dies")

    async def held():
        return receiver.holding == 1

    await until(held)
    killed.process.send_signal(signal.SIGKILL)
    assert killed.process.wait(timeout=10) == -signal.SIGKILL
    killed_at = time.monotonic()
    start_worker(launcher)

    async def asked_again():
        return len(receiver.on("/hold")) == 2

    await until(asked_again, seconds=HEARTBEAT_TIMEOUT + POLL + 20)
    again_after = time.monotonic() - killed_at
    receiver.release.set()

    async def delivered():
        found = await deliveries(sql, created.subscription.id)
        return list(found.values()) == [DeliveryStatus.DELIVERED]

    await until(delivered)
    first, second = receiver.on("/hold")
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    # The documented bound (docs/webhooks.md): heartbeat timeout + poll interval, plus the
    # second worker's start-up, which this figure includes. Printed, not asserted.
    print(f"SIGKILL -> asked again after {again_after:.1f} s")  # noqa: T201


async def test_sigterm_finishes_the_delivery_in_flight_and_exits_zero(launcher, hooks):
    receiver, account, webhooks, notes, sql = hooks
    created = await webhooks.create(account, url=f"{receiver.url}/hold")
    worker = start_worker(launcher)
    await notes.create(account, contents="in flight at SIGTERM")

    async def held():
        return receiver.holding == 1

    await until(held)
    worker.process.send_signal(signal.SIGTERM)
    await asyncio.to_thread(launcher.wait_for_log, worker, "finishing the deliveries in flight")
    assert worker.process.poll() is None  # still waiting for its delivery
    receiver.release.set()
    assert await asyncio.to_thread(worker.process.wait, 20) == 0
    found = await deliveries(sql, created.subscription.id)
    assert list(found.values()) == [DeliveryStatus.DELIVERED]
    assert "worker stopped" in worker.log()


async def test_a_standard_webhooks_receiver_accepts_every_delivery_and_refuses_tampering(
    launcher, hooks
):
    receiver, account, webhooks, notes, sql = hooks
    created = await webhooks.create(account, url=f"{receiver.url}/verify")
    receiver.secret = created.secret
    start_worker(launcher)
    note = await notes.create(account, contents="#signed")
    await notes.update(account, note.id, contents="#signed #twice")
    await notes.delete(account, note.id)

    async def three_delivered():
        found = await deliveries(sql, created.subscription.id)
        return len(found) == 3 and set(found.values()) == {DeliveryStatus.DELIVERED}

    await until(three_delivered)
    verified = receiver.on("/verify")
    assert [r.answered for r in verified] == [204, 204, 204]
    types = sorted(json.loads(r.body)["type"] for r in verified)
    assert types == ["note.created", "note.deleted", "note.updated"]
    request = verified[0]
    hook = Webhook(created.secret)
    with pytest.raises(WebhookVerificationError):
        hook.verify(request.body + b" ", request.headers)
    old = {**request.headers, "webhook-timestamp": str(int(datetime.now(UTC).timestamp()) - 600)}
    with pytest.raises(WebhookVerificationError, match="too old"):
        hook.verify(request.body, old)
