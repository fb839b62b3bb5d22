"""Webhook subscriptions: register, read, change, delete, rotate secrets; list and retry
deliveries; and the listener that turns note events into deliveries.

A subscription belongs to the account that made it and receives that account's note events
only. Its URL must be https (http only when ``allow_http``, for development) and its host must
resolve only to addresses a webhook may reach (``entities.check_address``), checked here when
the URL is registered or changed, and again by the HTTP adapter at every connection.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from urllib.parse import urlsplit

from notes.core.clock import Clock, utc_now
from notes.core.ids import uuid7
from notes.entities import (
    WEBHOOK_EVENT_TYPES,
    DeliveryStatus,
    DeliveryView,
    ForbiddenAddressError,
    NoteEvent,
    Position,
    SubscriptionView,
    WebhookDelivery,
    WebhookSubscription,
    check_address,
)
from notes.entities.webhooks import URL_MAX
from notes.services.cursors import CursorCodec
from notes.services.errors import (
    DeliveryNotFailedError,
    DeliveryNotFoundError,
    InvalidWebhookUrlError,
    SubscriptionNotFoundError,
    TooManySubscriptionsError,
)
from notes.services.ports import HostResolver, UnitOfWork, UnitsOfWork

SECRET_PREFIX = "whsec_"  # noqa: S105 - the form's prefix, not a secret
SECRET_BYTES = 32  # Standard Webhooks allows 24 to 64


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: ``whsec_`` and base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def webhook_body(event: NoteEvent) -> bytes:
    """The JSON body a delivery of ``event`` carries, the same on every attempt.

    Standard Webhooks' shape: ``type``, ``timestamp`` (when the change happened) and ``data``
    (the event: its id, the note's id, its category and tags; for an edit also the previous
    ones). The note's contents are not sent: a receiver reads them through the API.
    """
    data = {"event_id": event.id, "note_id": str(event.note_id), **event.payload()}
    body = {
        "type": WEBHOOK_EVENT_TYPES[event.type],
        "timestamp": event.occurred_at.isoformat(),
        "data": data,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class _Keep(Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP
"""Leave this field of a subscription as it is (``update``)."""


@dataclass(frozen=True)
class CreatedSubscription:
    """A new subscription and its signing secret, shown once."""

    subscription: SubscriptionView
    secret: str


@dataclass(frozen=True)
class RotatedSecret:
    """A new signing secret, and until when the previous one keeps signing beside it."""

    secret: str
    previous_expires_at: datetime


@dataclass(frozen=True)
class DeliveryPage:
    """One page of deliveries, and the cursor of the next (None on the last)."""

    deliveries: list[DeliveryView]
    next_cursor: str | None


class WebhooksService:
    """The webhook use cases of one account's subscriptions. Another account's subscription
    is never found: it raises SubscriptionNotFoundError, as one that does not exist."""

    def __init__(  # noqa: PLR0913 - each is a setting of its own
        self,
        uow: UnitsOfWork,
        *,
        resolver: HostResolver,
        cursors: CursorCodec | None = None,
        allow_http: bool = False,
        allow_loopback: bool = False,
        max_subscriptions: int = 20,
        secret_overlap: timedelta = timedelta(days=1),
        clock: Clock = utc_now,
        new_id: Callable[[], uuid.UUID] = uuid7,
    ) -> None:
        self._uow = uow
        self._resolver = resolver
        self._cursors = cursors or CursorCodec(secrets.token_bytes(32))
        self._allow_http = allow_http
        self._allow_loopback = allow_loopback
        self._max_subscriptions = max_subscriptions
        self._secret_overlap = secret_overlap
        self._clock = clock
        self._new_id = new_id

    async def check_url(self, url: str) -> str:
        """``url`` if the service may send webhooks to it; InvalidWebhookUrlError otherwise."""
        if len(url) > URL_MAX:
            msg = f"longer than {URL_MAX} characters"
            raise InvalidWebhookUrlError(msg)
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as error:
            raise InvalidWebhookUrlError(str(error)) from error
        allowed = ("https", "http") if self._allow_http else ("https",)
        if parts.scheme not in allowed:
            msg = f"the scheme must be {' or '.join(allowed)}"
            raise InvalidWebhookUrlError(msg)
        if parts.username is not None or parts.password is not None:
            raise InvalidWebhookUrlError("credentials in the URL are not accepted")
        if not parts.hostname:
            raise InvalidWebhookUrlError("it has no host")
        if port == 0:
            raise InvalidWebhookUrlError("port 0 cannot be reached")
        try:
            addresses = await self._resolver.resolve(parts.hostname)
        except LookupError as error:
            msg = f"{parts.hostname} does not resolve"
            raise InvalidWebhookUrlError(msg) from error
        for address in addresses:
            try:
                check_address(address, allow_loopback=self._allow_loopback)
            except ForbiddenAddressError as error:
                msg = f"{parts.hostname}: {error}"
                raise InvalidWebhookUrlError(msg) from error
        return url

    async def create(
        self,
        owner_id: uuid.UUID,
        *,
        url: str,
        event_types: Sequence[str] | None = None,
        description: str = "",
    ) -> CreatedSubscription:
        """Register ``url`` for the owner's events of ``event_types`` (None: every type)."""
        url = await self.check_url(url)
        now = self._clock()
        secret = new_secret()
        subscription = WebhookSubscription(
            id=self._new_id(),
            owner_id=owner_id,
            url=url,
            event_types=_types(event_types),
            description=description,
            secret=secret,
            previous_secret=None,
            previous_secret_expires_at=None,
            enabled=True,
            disabled_reason=None,
            disabled_at=None,
            failing_since=None,
            created_at=now,
            updated_at=now,
        )
        async with self._uow() as uow:
            if await uow.webhooks.count(owner_id) >= self._max_subscriptions:
                raise TooManySubscriptionsError(self._max_subscriptions)
            await uow.webhooks.add(subscription)
            await uow.commit()
        return CreatedSubscription(SubscriptionView.of(subscription), secret)

    async def list(self, owner_id: uuid.UUID) -> list[SubscriptionView]:
        """The owner's subscriptions, oldest first."""
        async with self._uow() as uow:
            return await uow.webhooks.list(owner_id)

    async def get_or_raise(
        self, owner_id: uuid.UUID, subscription_id: uuid.UUID
    ) -> SubscriptionView:
        """The owner's subscription; SubscriptionNotFoundError if there is none."""
        async with self._uow() as uow:
            found = await uow.webhooks.get(owner_id, subscription_id)
        if found is None:
            raise SubscriptionNotFoundError(subscription_id)
        return found

    async def update(  # noqa: PLR0913 - one argument per field that can change
        self,
        owner_id: uuid.UUID,
        subscription_id: uuid.UUID,
        *,
        url: str | _Keep = KEEP,
        event_types: Sequence[str] | _Keep | None = KEEP,
        description: str | _Keep = KEEP,
        enabled: bool | _Keep = KEEP,
    ) -> SubscriptionView:
        """Change the fields given. Enabling a disabled subscription starts it afresh (no
        failing period); disabling one keeps its deliveries from being sent."""
        if not isinstance(url, _Keep):
            url = await self.check_url(url)
        async with self._uow() as uow:
            subscription = await self._locked(uow, owner_id, subscription_id)
            now = self._clock()
            if not isinstance(url, _Keep):
                subscription.url = url
            if not isinstance(event_types, _Keep):
                subscription.event_types = _types(event_types)
            if not isinstance(description, _Keep):
                subscription.description = description
            if not isinstance(enabled, _Keep) and enabled != subscription.enabled:
                subscription.enabled = enabled
                subscription.disabled_at = None if enabled else now
                subscription.disabled_reason = None if enabled else "disabled by its owner"
                subscription.failing_since = None
            subscription.updated_at = now
            view = SubscriptionView.of(subscription)
            await uow.commit()
        return view

    async def delete(self, owner_id: uuid.UUID, subscription_id: uuid.UUID) -> None:
        """Delete the subscription and its deliveries; those queued are never sent."""
        async with self._uow() as uow:
            if not await uow.webhooks.remove(owner_id, subscription_id):
                raise SubscriptionNotFoundError(subscription_id)
            await uow.commit()

    async def rotate_secret(self, owner_id: uuid.UUID, subscription_id: uuid.UUID) -> RotatedSecret:
        """A new signing secret; the current one keeps signing beside it for the overlap.

        Deliveries carry a signature by each secret in force (Standard Webhooks allows several),
        so a receiver can switch to the new secret at any time within the overlap. A second
        rotation within the overlap ends the oldest secret's overlap at once.
        """
        async with self._uow() as uow:
            subscription = await self._locked(uow, owner_id, subscription_id)
            now = self._clock()
            secret = new_secret()
            expires = now + self._secret_overlap
            subscription.previous_secret = subscription.secret
            subscription.previous_secret_expires_at = expires
            subscription.secret = secret
            subscription.updated_at = now
            await uow.commit()
        return RotatedSecret(secret, expires)

    async def deliveries(
        self,
        owner_id: uuid.UUID,
        subscription_id: uuid.UUID,
        *,
        status: DeliveryStatus | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> DeliveryPage:
        """The subscription's deliveries, newest first, with their latest attempts; paged by
        signed cursors as notes are."""
        after = None if cursor is None else self._cursors.decode(cursor, owner_id)
        async with self._uow() as uow:
            if await uow.webhooks.get(owner_id, subscription_id) is None:
                raise SubscriptionNotFoundError(subscription_id)
            found = await uow.deliveries.list(
                subscription_id,
                status=None if status is None else str(status),
                limit=limit + 1,
                after=after,
            )
        page = found[:limit]
        next_cursor = None
        if len(found) > limit:
            last = page[-1]
            next_cursor = self._cursors.encode(Position(last.created_at, last.id), owner_id)
        return DeliveryPage(page, next_cursor)

    async def retry(
        self, owner_id: uuid.UUID, subscription_id: uuid.UUID, delivery_id: uuid.UUID
    ) -> DeliveryView:
        """Queue a failed delivery again, with a fresh retry schedule; its history stays."""
        async with self._uow() as uow:
            if await uow.webhooks.get(owner_id, subscription_id) is None:
                raise SubscriptionNotFoundError(subscription_id)
            delivery = await uow.deliveries.get_for_update(subscription_id, delivery_id)
            if delivery is None:
                raise DeliveryNotFoundError(delivery_id)
            if delivery.status != DeliveryStatus.FAILED:
                raise DeliveryNotFailedError(delivery_id, delivery.status)
            now = self._clock()
            delivery.status = str(DeliveryStatus.PENDING)
            delivery.attempt_count = 0
            delivery.next_attempt_at = now
            delivery.updated_at = now
            await uow.delivery_queue.defer([delivery.id])
            await uow.commit()
        async with self._uow() as uow:
            view = await uow.deliveries.get(subscription_id, delivery_id)
        if view is None:  # deleted meanwhile
            raise DeliveryNotFoundError(delivery_id)
        return view

    async def _locked(
        self, uow: UnitOfWork, owner_id: uuid.UUID, subscription_id: uuid.UUID
    ) -> WebhookSubscription:
        subscription = await uow.webhooks.get_for_update(owner_id, subscription_id)
        if subscription is None:
            raise SubscriptionNotFoundError(subscription_id)
        return subscription


def _types(event_types: Sequence[str] | None) -> list[str] | None:
    if event_types is None:
        return None
    unknown = set(event_types) - set(WEBHOOK_EVENT_TYPES.values())
    if unknown:
        msg = f"unknown event types: {sorted(unknown)}"
        raise ValueError(msg)
    return sorted(set(event_types))


async def has_subscriptions(uow: UnitOfWork, events: Sequence[NoteEvent]) -> bool:
    """Whether an owner of these events has an enabled subscription (else there is nothing to
    deliver, and nothing to record)."""
    return bool(await uow.webhooks.enabled_of({event.owner_id for event in events}))


async def enqueue_deliveries(uow: UnitOfWork, events: Sequence[NoteEvent]) -> None:
    """The listener effect: one delivery, and one job, per event and matching subscription.

    A subscription matches an event of its own owner whose type it asked for, while it is
    enabled. The deliveries and their jobs are written in the listener's unit of work, the one
    that records the events as handled (``listeners.once``): an event becomes deliveries
    exactly once, even when the worker dies before or after that commit.
    """
    subscriptions = await uow.webhooks.enabled_of({event.owner_id for event in events})
    if not subscriptions:
        return
    now = utc_now()
    deliveries: list[WebhookDelivery] = []
    for event in events:
        if event.id is None:  # pragma: no cover - the listener's wrapper refuses these
            continue
        event_type = WEBHOOK_EVENT_TYPES[event.type]
        body: bytes | None = None
        for subscription in subscriptions:
            if subscription.owner_id != event.owner_id or not subscription.wants(event_type):
                continue
            body = body or webhook_body(event)
            deliveries.append(
                WebhookDelivery(
                    id=uuid7(),
                    subscription_id=subscription.id,
                    event_id=event.id,
                    event_type=event_type,
                    payload=body,
                    status=str(DeliveryStatus.PENDING),
                    attempt_count=0,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
    if deliveries:
        await uow.deliveries.add_all(deliveries)
        await uow.delivery_queue.defer([delivery.id for delivery in deliveries])
