# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from testkit import FORBIDDEN_HOSTS, OTHER_OWNER, OWNER, RECEIVER_URL

from notes.core.errors import DatabaseUnavailableError
from notes.entities import DeliveryStatus, NoteUpdated
from notes.entities.webhooks import URL_MAX
from notes.services.dispatch import Dispatcher, EventsFailedError
from notes.services.errors import (
    DeliveryNotFailedError,
    InvalidCursorError,
    InvalidWebhookUrlError,
    SubscriptionNotFoundError,
    TooManySubscriptionsError,
)
from notes.services.listeners import build_bus, once
from notes.services.notes import NotesService
from notes.services.webhooks import (
    WebhooksService,
    enqueue_deliveries,
    has_subscriptions,
    new_secret,
    webhook_body,
)


@pytest.fixture
def webhooks(memory_db, resolver):
    return WebhooksService(memory_db.unit_of_work, resolver=resolver, max_subscriptions=3)


@pytest.fixture
def notes(memory_db):
    return NotesService(memory_db.unit_of_work)


@pytest.fixture
def dispatch(memory_db):
    return Dispatcher(memory_db.unit_of_work, build_bus(memory_db.unit_of_work)).dispatch_pending


async def test_a_new_subscription_has_a_standard_webhooks_secret_shown_once(webhooks):
    created = await webhooks.create(OWNER, url=RECEIVER_URL, description="mine")
    assert created.secret.startswith("whsec_")
    assert 24 <= len(base64.b64decode(created.secret.removeprefix("whsec_"))) <= 64
    view = await webhooks.get_or_raise(OWNER, created.subscription.id)
    assert view.url == RECEIVER_URL
    assert view.enabled
    assert created.secret not in repr(view)
    second = await webhooks.create(OWNER, url=RECEIVER_URL)
    assert second.secret != created.secret


async def test_another_accounts_subscription_is_not_found(webhooks):
    created = await webhooks.create(OWNER, url=RECEIVER_URL)
    subscription_id = created.subscription.id
    with pytest.raises(SubscriptionNotFoundError):
        await webhooks.get_or_raise(OTHER_OWNER, subscription_id)
    with pytest.raises(SubscriptionNotFoundError):
        await webhooks.update(OTHER_OWNER, subscription_id, description="x")
    with pytest.raises(SubscriptionNotFoundError):
        await webhooks.rotate_secret(OTHER_OWNER, subscription_id)
    with pytest.raises(SubscriptionNotFoundError):
        await webhooks.deliveries(OTHER_OWNER, subscription_id)
    with pytest.raises(SubscriptionNotFoundError):
        await webhooks.delete(OTHER_OWNER, subscription_id)
    assert await webhooks.list(OTHER_OWNER) == []
    assert [s.id for s in await webhooks.list(OWNER)] == [subscription_id]


@pytest.mark.parametrize("host", sorted(FORBIDDEN_HOSTS))
async def test_a_url_whose_host_resolves_to_a_forbidden_address_is_refused(webhooks, host):
    with pytest.raises(InvalidWebhookUrlError):
        await webhooks.create(OWNER, url=f"https://{host}/hook")


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "ftp://hooks.example.com/x",
        "https://user:pw@hooks.example.com/x",
        "https:///x",
        "https://unknown.invalid/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/x",
        "https://hooks.example.com:99999/x",
        "https://hooks.example.com/" + "x" * 2000,
    ],
)
async def test_a_url_that_is_not_a_public_https_one_is_refused(webhooks, url):
    with pytest.raises(InvalidWebhookUrlError):
        await webhooks.create(OWNER, url=url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "the scheme must be https"),
        ("https://user@hooks.example.com/x", "credentials in the URL are not accepted"),
        ("https://:pw@hooks.example.com/x", "credentials in the URL are not accepted"),
        ("https:///x", "it has no host"),
        ("https://hooks.example.com:0/x", "port 0 cannot be reached"),
        ("https://hooks.example.com:99999/x", "Port out of range 0-65535"),
        ("https://unknown.invalid/x", "unknown.invalid does not resolve"),
        ("https://private.test/x", "private.test: "),
        ("https://hooks.example.com/" + "x" * 1975, "longer than 2000 characters"),
    ],
)
async def test_a_refused_url_says_why(webhooks, url, reason):
    with pytest.raises(InvalidWebhookUrlError) as refused:
        await webhooks.check_url(url)
    assert str(refused.value).startswith(f"the webhook URL is not accepted: {reason}")


async def test_the_scheme_rule_names_both_schemes_where_http_is_allowed(memory_db, resolver):
    relaxed = WebhooksService(memory_db.unit_of_work, resolver=resolver, allow_http=True)
    with pytest.raises(
        InvalidWebhookUrlError,
        match=r"^the webhook URL is not accepted: the scheme must be https or http$",
    ):
        await relaxed.check_url("ftp://hooks.example.com/x")


async def test_a_url_of_the_longest_length_allowed_is_accepted(webhooks):
    url = "https://hooks.example.com/" + "x" * 1974
    assert len(url) == URL_MAX
    assert await webhooks.check_url(url) == url


def test_a_secret_is_whsec_and_base64_of_32_random_bytes():
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert new_secret() != secret


def test_a_webhook_body_is_compact_json_in_the_standard_webhooks_shape():
    event = NoteUpdated(
        id=7,
        note_id=uuid.UUID(int=1),
        owner_id=OWNER,
        occurred_at=datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
        category="café",
        tags=("milk",),
        previous_category="home",
        previous_tags=(),
    )
    assert (
        webhook_body(event)
        == (
            '{"type":"note.updated","timestamp":"2026-12-02T10:00:00+00:00","data":'
            '{"event_id":7,"note_id":"00000000-0000-0000-0000-000000000001","category":"café",'
            '"tags":["milk"],"previous_category":"home","previous_tags":[]}}'
        ).encode()
    )


async def test_an_account_has_at_most_20_subscriptions_by_default(memory_db, resolver):
    webhooks = WebhooksService(memory_db.unit_of_work, resolver=resolver)
    for _ in range(20):
        await webhooks.create(OWNER, url=RECEIVER_URL)
    with pytest.raises(TooManySubscriptionsError):
        await webhooks.create(OWNER, url=RECEIVER_URL)


async def test_http_and_loopback_are_accepted_only_where_allowed(memory_db, resolver):
    relaxed = WebhooksService(
        memory_db.unit_of_work, resolver=resolver, allow_http=True, allow_loopback=True
    )
    for url in ("http://127.0.0.1:8000/hook", "http://loopback.test/x", "https://[::1]:9/x"):
        assert await relaxed.check_url(url) == url
    with pytest.raises(InvalidWebhookUrlError):
        await relaxed.check_url("http://private.test/x")


async def test_an_account_has_at_most_the_allowed_number_of_subscriptions(webhooks):
    for _ in range(3):
        await webhooks.create(OWNER, url=RECEIVER_URL)
    with pytest.raises(TooManySubscriptionsError):
        await webhooks.create(OWNER, url=RECEIVER_URL)
    await webhooks.create(OTHER_OWNER, url=RECEIVER_URL)


async def test_a_changed_url_is_checked_again(webhooks):
    created = await webhooks.create(OWNER, url=RECEIVER_URL)
    with pytest.raises(InvalidWebhookUrlError):
        await webhooks.update(OWNER, created.subscription.id, url="https://metadata.test/")
    assert (await webhooks.get_or_raise(OWNER, created.subscription.id)).url == RECEIVER_URL


async def test_disabling_and_enabling_a_subscription_says_why_and_starts_afresh(webhooks):
    created = await webhooks.create(OWNER, url=RECEIVER_URL, event_types=["note.created"])
    subscription_id = created.subscription.id
    off = await webhooks.update(OWNER, subscription_id, enabled=False)
    assert not off.enabled
    assert off.disabled_reason == "disabled by its owner"
    on = await webhooks.update(OWNER, subscription_id, enabled=True, event_types=None)
    assert on.enabled
    assert on.disabled_reason is None
    assert on.event_types is None


async def test_a_rotated_secret_signs_beside_the_new_one_for_the_overlap(memory_db, webhooks):
    created = await webhooks.create(OWNER, url=RECEIVER_URL)
    rotated = await webhooks.rotate_secret(OWNER, created.subscription.id)
    stored = memory_db.webhook_subscriptions[created.subscription.id]
    now = datetime.now(UTC)
    assert rotated.secret != created.secret
    assert stored.secrets_at(now) == (rotated.secret, created.secret)
    assert rotated.previous_expires_at > now + timedelta(hours=23)
    assert stored.secrets_at(rotated.previous_expires_at) == (rotated.secret,)


async def test_an_event_becomes_one_delivery_and_one_job_per_matching_subscription(
    memory_db, webhooks, notes, dispatch
):
    everything = await webhooks.create(OWNER, url=RECEIVER_URL)
    created_only = await webhooks.create(OWNER, url=RECEIVER_URL, event_types=["note.created"])
    disabled = await webhooks.create(OWNER, url=RECEIVER_URL)
    await webhooks.update(OWNER, disabled.subscription.id, enabled=False)
    others = await webhooks.create(OTHER_OWNER, url=RECEIVER_URL)
    note = await notes.create(OWNER, contents="#garden plans", category="home")
    await notes.update(OWNER, note.id, contents="#garden #seeds")

    await dispatch()

    deliveries = list(memory_db.webhook_deliveries.values())
    by_subscription: dict[object, list[str]] = {}
    for delivery in deliveries:
        by_subscription.setdefault(delivery.subscription_id, []).append(delivery.event_type)
    assert sorted(by_subscription[everything.subscription.id]) == ["note.created", "note.updated"]
    assert by_subscription[created_only.subscription.id] == ["note.created"]
    assert disabled.subscription.id not in by_subscription
    assert others.subscription.id not in by_subscription
    assert sorted(memory_db.take_jobs()) == sorted(d.id for d in deliveries)
    assert all(d.status == DeliveryStatus.PENDING for d in deliveries)
    updated = next(d for d in deliveries if d.event_type == "note.updated")
    body = json.loads(updated.payload)
    assert body["type"] == "note.updated"
    assert body["data"]["note_id"] == str(note.id)
    assert body["data"]["tags"] == ["garden", "seeds"]
    assert body["data"]["previous_tags"] == ["garden"]
    assert "contents" not in body["data"]


async def test_a_redelivered_event_makes_no_second_delivery(memory_db, webhooks, notes, dispatch):
    await webhooks.create(OWNER, url=RECEIVER_URL)
    await notes.create(OWNER, contents="once")
    await dispatch()
    [event] = list(memory_db.events.values())
    bus = build_bus(memory_db.unit_of_work)

    assert (await bus.publish(event)).ok

    assert len(memory_db.webhook_deliveries) == 1
    assert len(memory_db.take_jobs()) == 1


async def test_a_failed_commit_leaves_neither_delivery_nor_job_nor_record(
    memory_db, webhooks, notes
):
    await webhooks.create(OWNER, url=RECEIVER_URL)
    await notes.create(OWNER, contents="x")
    events = list(memory_db.events.values())
    handle = once(
        "enqueue_deliveries", enqueue_deliveries, memory_db.unit_of_work, needed=has_subscriptions
    )
    memory_db.fail_commits = 1

    # The listener's one event fails with the commit's error, for the dispatcher to count.
    with pytest.raises(EventsFailedError) as failed:
        await handle(events)
    [(event_id, error)] = failed.value.failures.items()
    assert (event_id, type(error)) == (events[0].id, DatabaseUnavailableError)

    assert memory_db.webhook_deliveries == {}
    assert memory_db.jobs == {}
    assert memory_db.processed == {}
    await handle(events)
    await handle(events)
    assert len(memory_db.webhook_deliveries) == 1
    assert len(memory_db.take_jobs()) == 1


async def test_deliveries_are_listed_newest_first_by_status_and_in_pages(
    memory_db, webhooks, notes, dispatch
):
    created = await webhooks.create(OWNER, url=RECEIVER_URL)
    for i in range(5):
        await notes.create(OWNER, contents=f"note {i}")
        await dispatch()
    subscription_id = created.subscription.id
    first = await webhooks.deliveries(OWNER, subscription_id, limit=2)
    second = await webhooks.deliveries(OWNER, subscription_id, limit=2, cursor=first.next_cursor)
    third = await webhooks.deliveries(OWNER, subscription_id, limit=2, cursor=second.next_cursor)
    seen = [d.event_id for page in (first, second, third) for d in page.deliveries]
    assert seen == [5, 4, 3, 2, 1]
    assert third.next_cursor is None
    failed = await webhooks.deliveries(OWNER, subscription_id, status=DeliveryStatus.FAILED)
    assert failed.deliveries == []
    with pytest.raises(InvalidCursorError):
        await webhooks.deliveries(OTHER_OWNER, subscription_id, cursor=first.next_cursor)


async def test_only_a_failed_delivery_is_retried_and_it_is_queued_again(
    memory_db, webhooks, notes, dispatch
):
    created = await webhooks.create(OWNER, url=RECEIVER_URL)
    await notes.create(OWNER, contents="x")
    await dispatch()
    memory_db.take_jobs()
    [delivery] = memory_db.webhook_deliveries.values()
    with pytest.raises(DeliveryNotFailedError):
        await webhooks.retry(OWNER, created.subscription.id, delivery.id)
    delivery.status = "failed"
    delivery.attempt_count = 8

    view = await webhooks.retry(OWNER, created.subscription.id, delivery.id)

    assert view.status == "pending"
    assert memory_db.webhook_deliveries[delivery.id].attempt_count == 0
    assert memory_db.take_jobs() == [delivery.id]


async def test_deleting_a_subscription_deletes_its_deliveries(memory_db, webhooks, notes, dispatch):
    created = await webhooks.create(OWNER, url=RECEIVER_URL)
    await notes.create(OWNER, contents="x")
    await dispatch()
    await webhooks.delete(OWNER, created.subscription.id)
    assert memory_db.webhook_deliveries == {}
    with pytest.raises(SubscriptionNotFoundError):
        await webhooks.get_or_raise(OWNER, created.subscription.id)
