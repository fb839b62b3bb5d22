# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
import random
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError
from testkit import OWNER, RECEIVER_URL

from notes.entities import DeliveryStatus, SendResult
from notes.services.deliveries import (
    DeliveryService,
    next_delay,
    retry_after_seconds,
    sign,
    webhook_headers,
)
from notes.services.dispatch import Dispatcher
from notes.services.listeners import build_bus
from notes.services.notes import NotesService
from notes.services.webhooks import WebhooksService

SCHEDULE = (1.0, 10.0, 100.0)
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_signatures_match_the_standard_webhooks_test_vector():
    # The example of the Standard Webhooks specification (and of its reference libraries).
    signature = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_reference_library_accepts_every_secret_in_force_and_refuses_tampering():
    old, new = (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_" + "QUJD" * 8,
    )
    body = b'{"type":"note.created","data":{"event_id":1}}'
    now = int(datetime.now(UTC).timestamp())
    headers = webhook_headers("0194d1a0-0000-7000-8000-000000000001", now, body, (new, old))
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {
            "type": "note.created",
            "data": {"event_id": 1},
        }
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(body.replace(b"1", b"2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "WFla" * 8).verify(body, headers)
    stale = webhook_headers("x", now - 3600, body, (new,))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(new).verify(body, stale)


def test_the_wait_is_a_random_share_of_the_schedules_step_and_ends_with_it():
    rng = random.Random(7)  # noqa: S311 - seeded jitter, no secret
    waits = [next_delay(2, SCHEDULE, rng) for _ in range(200)]
    assert all(timedelta(0) <= w <= timedelta(seconds=10) for w in waits if w is not None)
    assert len(set(waits)) > 150  # jittered, not one value
    assert max(w for w in waits if w is not None) > timedelta(seconds=8)
    assert next_delay(3, SCHEDULE, rng) is not None
    assert next_delay(4, SCHEDULE, rng) is None
    assert next_delay(0, SCHEDULE, rng) is None


def test_retry_after_raises_the_wait_up_to_the_longest_step():
    rng = random.Random(1)  # noqa: S311 - seeded jitter, no secret
    assert next_delay(1, SCHEDULE, rng, retry_after=30) == timedelta(seconds=30)
    assert next_delay(1, SCHEDULE, rng, retry_after=10_000) == timedelta(seconds=100)
    assert retry_after_seconds("120", NOW) == 120
    assert retry_after_seconds("Tue, 01 Dec 2026 12:01:00 GMT", NOW) == 60
    assert retry_after_seconds("soon", NOW) is None
    assert retry_after_seconds(None, NOW) is None


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
async def world(memory_db, resolver, clock):
    """An owner with one subscription and one note, dispatched: one pending delivery."""
    webhooks = WebhooksService(memory_db.unit_of_work, resolver=resolver, clock=clock)
    created = await webhooks.create(OWNER, url=RECEIVER_URL)
    await NotesService(memory_db.unit_of_work).create(OWNER, contents="#hello")
    await Dispatcher(memory_db.unit_of_work, build_bus(memory_db.unit_of_work)).dispatch_pending()
    [delivery_id] = memory_db.take_jobs()
    return created, delivery_id


def deliverer(memory_db, delivery_reader, sender, clock, **options):
    return DeliveryService(
        memory_db.unit_of_work,
        delivery_reader,
        sender,
        schedule=SCHEDULE,
        clock=clock,
        rng=random.Random(3),  # noqa: S311 - seeded jitter, no secret
        **options,
    )


def ok(status=204):
    return SendResult(status, None, 0.01)


async def test_a_2xx_answer_delivers_a_signed_request(
    memory_db, delivery_reader, scripted_sender, clock, world
):
    created, delivery_id = world
    sender = scripted_sender(ok(200))
    service = deliverer(memory_db, delivery_reader, sender, clock)

    assert await service.attempt(delivery_id) is None

    [(url, body, headers)] = sender.sent
    assert url == RECEIVER_URL
    assert headers["webhook-id"] == str(delivery_id)
    assert headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    assert headers["webhook-signature"] == sign(
        created.secret, str(delivery_id), int(NOW.timestamp()), body
    )
    delivery = memory_db.webhook_deliveries[delivery_id]
    assert delivery.status == DeliveryStatus.DELIVERED
    assert await service.attempt(delivery_id) is None  # a job taken again sends nothing
    assert len(sender.sent) == 1


async def test_failures_are_retried_on_the_schedule_with_one_id_then_parked(
    memory_db, delivery_reader, scripted_sender, clock, world
):
    _, delivery_id = world
    sender = scripted_sender(
        SendResult(500, None, 0.01),
        SendResult(None, "ConnectError: refused", 0.01),
        SendResult(None, "timed out after 15 s", 15.0),
        SendResult(302, None, 0.01),
    )
    service = deliverer(memory_db, delivery_reader, sender, clock)

    waits = []
    for _ in range(4):
        waits.append(await service.attempt(delivery_id))
        clock.now += timedelta(seconds=200)

    assert [w is not None for w in waits] == [True, True, True, False]
    assert all(w <= timedelta(seconds=s) for w, s in zip(waits, SCHEDULE, strict=False))
    assert len({h["webhook-id"] for _, _, h in sender.sent}) == 1
    delivery = memory_db.webhook_deliveries[delivery_id]
    assert delivery.status == DeliveryStatus.FAILED
    attempts = [a for d, a in memory_db.webhook_attempts.values() if d == delivery_id]
    assert [a.status_code for a in attempts] == [500, None, None, 302]
    assert [a.error for a in attempts][1:3] == ["ConnectError: refused", "timed out after 15 s"]
    assert attempts[0].next_attempt_at == NOW + waits[0]
    assert attempts[-1].next_attempt_at is None


async def test_retry_after_is_honoured_on_429_and_503(
    memory_db, delivery_reader, scripted_sender, clock, world
):
    _, delivery_id = world
    sender = scripted_sender(SendResult(429, None, 0.01, retry_after="50"))
    service = deliverer(memory_db, delivery_reader, sender, clock)
    assert await service.attempt(delivery_id) == timedelta(seconds=50)


async def test_410_gone_fails_the_delivery_and_disables_the_subscription_at_once(
    memory_db, delivery_reader, scripted_sender, clock, world
):
    created, delivery_id = world
    service = deliverer(memory_db, delivery_reader, scripted_sender(ok(410)), clock)

    assert await service.attempt(delivery_id) is None

    assert memory_db.webhook_deliveries[delivery_id].status == DeliveryStatus.FAILED
    subscription = memory_db.webhook_subscriptions[created.subscription.id]
    assert not subscription.enabled
    assert subscription.disabled_reason == "the receiver answered 410 Gone"


async def test_a_delivery_of_a_disabled_subscription_fails_without_being_sent(
    memory_db, delivery_reader, scripted_sender, clock, world
):
    created, delivery_id = world
    memory_db.webhook_subscriptions[created.subscription.id].enabled = False
    sender = scripted_sender()
    service = deliverer(memory_db, delivery_reader, sender, clock)

    assert await service.attempt(delivery_id) is None

    assert sender.sent == []
    assert memory_db.webhook_deliveries[delivery_id].status == DeliveryStatus.FAILED


async def test_a_subscription_failing_for_long_enough_is_disabled_and_a_success_heals(
    memory_db, delivery_reader, scripted_sender, clock, world
):
    created, delivery_id = world

    def subscription():
        return memory_db.webhook_subscriptions[created.subscription.id]

    failing = deliverer(
        memory_db,
        delivery_reader,
        scripted_sender(SendResult(500, None, 0.01)),
        clock,
        failing_for=timedelta(minutes=5),
    )
    await failing.attempt(delivery_id)
    assert subscription().failing_since == NOW
    assert subscription().enabled
    clock.now += timedelta(minutes=1)
    healing = deliverer(memory_db, delivery_reader, scripted_sender(ok()), clock)
    await healing.attempt(delivery_id)
    assert subscription().failing_since is None

    memory_db.webhook_deliveries[delivery_id].status = "pending"
    await failing.attempt(delivery_id)
    clock.now += timedelta(minutes=6)
    await failing.attempt(delivery_id)

    assert not subscription().enabled
    assert subscription().disabled_reason.startswith("deliveries kept failing for")


async def test_a_deleted_delivery_is_done(
    memory_db, delivery_reader, scripted_sender, clock, world
):
    _, delivery_id = world
    memory_db.webhook_deliveries.clear()
    sender = scripted_sender()
    assert await deliverer(memory_db, delivery_reader, sender, clock).attempt(delivery_id) is None
    assert sender.sent == []


async def test_settled_deliveries_are_purged_after_the_retention(
    memory_db, delivery_reader, scripted_sender, clock, world
):
    _, delivery_id = world
    service = deliverer(memory_db, delivery_reader, scripted_sender(ok()), clock)
    await service.attempt(delivery_id)
    assert await service.purge(timedelta(days=1)) == 0
    clock.now += timedelta(days=2)
    assert await service.purge(timedelta(days=1)) == 1
    assert delivery_id not in memory_db.webhook_deliveries
    assert memory_db.webhook_attempts == {}


def attempts_of(memory_db, delivery_id):
    return [a for d, a in memory_db.webhook_attempts.values() if d == delivery_id]


async def test_an_attempt_records_when_it_ran_what_came_back_and_how_long_it_took(
    memory_db, delivery_reader, scripted_sender, clock, world
):
    _, delivery_id = world
    sender = scripted_sender(SendResult(204, None, 0.25))
    await deliverer(memory_db, delivery_reader, sender, clock).attempt(delivery_id)
    [attempt] = attempts_of(memory_db, delivery_id)
    assert (attempt.attempted_at, attempt.status_code, attempt.error) == (NOW, 204, None)
    assert attempt.duration_ms == pytest.approx(250.0)
    [(_, _, headers)] = sender.sent
    assert headers["Content-Type"] == "application/json"


async def test_a_3xx_answer_is_not_a_delivery(
    memory_db, delivery_reader, scripted_sender, clock, world
):
    _, delivery_id = world
    sender = scripted_sender(SendResult(300, None, 0.01))
    wait = await deliverer(memory_db, delivery_reader, sender, clock).attempt(delivery_id)
    assert wait is not None
    assert memory_db.webhook_deliveries[delivery_id].status == DeliveryStatus.PENDING


async def test_retry_after_is_ignored_on_other_statuses(
    memory_db, delivery_reader, scripted_sender, clock, world
):
    _, delivery_id = world
    sender = scripted_sender(SendResult(500, None, 0.01, retry_after="50"))
    wait = await deliverer(memory_db, delivery_reader, sender, clock).attempt(delivery_id)
    assert wait is not None
    assert wait <= timedelta(seconds=SCHEDULE[0])


async def test_a_disabled_subscriptions_delivery_records_why(
    memory_db, delivery_reader, scripted_sender, clock, world
):
    created, delivery_id = world
    memory_db.webhook_subscriptions[created.subscription.id].enabled = False
    await deliverer(memory_db, delivery_reader, scripted_sender(), clock).attempt(delivery_id)
    [attempt] = attempts_of(memory_db, delivery_id)
    assert (attempt.status_code, attempt.error, attempt.duration_ms) == (
        None,
        "the subscription is disabled",
        0.0,
    )


def test_a_retry_after_date_is_read_in_utc_and_never_negative():
    assert retry_after_seconds("Tue, 01 Dec 2026 12:01:00 -0000", NOW) == 60
    assert retry_after_seconds("Tue, 01 Dec 2026 11:00:00 GMT", NOW) == 0.0


def test_the_jitter_can_wait_less_than_any_fixed_share_of_the_step():
    rng = random.Random(11)  # noqa: S311 - seeded jitter, no secret
    waits = [next_delay(2, SCHEDULE, rng) for _ in range(200)]
    assert min(w for w in waits if w is not None) < timedelta(seconds=0.5)
