"""Webhook subscriptions, their deliveries and each delivery's attempts; which addresses a
webhook may reach.

A subscription belongs to one account and receives that account's note events. Each event
that matches it becomes one delivery (a row here, and a job on the queue); each try at
sending a delivery is an attempt. The address rules live here because both the service (when
a URL is registered) and the HTTP adapter (when it connects, after its own DNS resolution)
apply them.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from notes.entities.base import Base

URL_MAX = 2000
DESCRIPTION_MAX = 500
SECRET_MAX = 100
REASON_MAX = 200
ERROR_MAX = 500
WEBHOOK_EVENT_TYPE_MAX = 50

# The event types a subscription can ask for, by the name of the domain event they carry.
WEBHOOK_EVENT_TYPES: dict[str, str] = {
    "NoteCreated": "note.created",
    "NoteUpdated": "note.updated",
    "NoteDeleted": "note.deleted",
}


class DeliveryStatus(StrEnum):
    """Where a delivery stands: waiting for an attempt, delivered, or failed for good."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookSubscription(Base):
    """A URL that receives an account's note events, and the secret that signs them.

    ``event_types`` None means every type. ``secret`` signs every delivery; after a rotation
    ``previous_secret`` signs beside it until ``previous_secret_expires_at``. Both are kept in
    clear: the service must sign with them (docs/webhooks.md says why not encrypted).
    ``failing_since`` is the time of the first failed attempt since the last success.
    """

    __tablename__ = "webhook_subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(URL_MAX))
    event_types: Mapped[list[str] | None] = mapped_column(ARRAY(String(WEBHOOK_EVENT_TYPE_MAX)))
    description: Mapped[str] = mapped_column(String(DESCRIPTION_MAX))
    secret: Mapped[str] = mapped_column(String(SECRET_MAX))
    previous_secret: Mapped[str | None] = mapped_column(String(SECRET_MAX))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    enabled: Mapped[bool] = mapped_column(Boolean)
    disabled_reason: Mapped[str | None] = mapped_column(String(REASON_MAX))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:  # never the secrets
        return f"WebhookSubscription(id={self.id!s}, owner_id={self.owner_id!s})"

    def wants(self, event_type: str) -> bool:
        """Whether this subscription receives events of ``event_type`` (``note.created``...)."""
        return self.event_types is None or event_type in self.event_types

    def secrets_at(self, now: datetime) -> tuple[str, ...]:
        """The secrets that sign a delivery sent at ``now``: the current one, then the previous
        one while its overlap lasts."""
        previous = self.previous_secret
        expires = self.previous_secret_expires_at
        if previous is not None and expires is not None and now < expires:
            return (self.secret, previous)
        return (self.secret,)


class WebhookDelivery(Base):
    """One event on its way to one subscription; its id is the ``webhook-id`` header.

    ``attempt_count`` counts the attempts of the current round (a manual retry starts a new
    round); ``payload`` is the exact body sent, the same on every attempt.
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(WEBHOOK_EVENT_TYPE_MAX))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20))
    attempt_count: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # An event becomes at most one delivery per subscription, whatever happens upstream.
        UniqueConstraint("subscription_id", "event_id"),
        # A subscription's deliveries, newest first, whole or by status: what lists read.
        Index("ix_webhook_deliveries_subscription_id_created_at", "subscription_id", "created_at"),
        Index(
            "ix_webhook_deliveries_subscription_id_status_created_at",
            "subscription_id",
            "status",
            "created_at",
        ),
        Index("ix_webhook_deliveries_updated_at", "updated_at"),
    )

    def __repr__(self) -> str:
        return f"WebhookDelivery(id={self.id!s}, status={self.status})"


class WebhookAttempt(Base):
    """One try at sending a delivery: what came back, how long it took, what comes next."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_webhook_attempts_delivery_id_id", "delivery_id", "id"),)


# --- snapshots passed between the layers -------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription as its owner sees it: never its secrets."""

    id: uuid.UUID
    owner_id: uuid.UUID
    url: str
    event_types: tuple[str, ...] | None
    description: str
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, subscription: WebhookSubscription) -> SubscriptionView:
        """The snapshot of ``subscription`` as it is now."""
        types = subscription.event_types
        return cls(
            id=subscription.id,
            owner_id=subscription.owner_id,
            url=subscription.url,
            event_types=None if types is None else tuple(types),
            description=subscription.description,
            enabled=subscription.enabled,
            disabled_reason=subscription.disabled_reason,
            disabled_at=subscription.disabled_at,
            failing_since=subscription.failing_since,
            created_at=subscription.created_at,
            updated_at=subscription.updated_at,
        )


@dataclass(frozen=True)
class AttemptView:
    """One attempt, as the deliveries list shows it."""

    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    next_attempt_at: datetime | None


@dataclass(frozen=True)
class DeliveryView:
    """A delivery and its latest attempts, oldest first."""

    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: int
    event_type: str
    status: str
    created_at: datetime
    next_attempt_at: datetime | None
    attempts: tuple[AttemptView, ...]


@dataclass(frozen=True)
class DeliveryTask:
    """What an attempt needs: the delivery, and its subscription as it is now.

    ``subscription_enabled`` is False when the subscription was disabled; ``secrets`` are
    those that sign now (see ``WebhookSubscription.secrets_at``).
    """

    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    status: str
    attempt_count: int
    payload: bytes
    url: str
    secrets: tuple[str, ...]
    subscription_enabled: bool


@dataclass(frozen=True)
class AttemptRecord:
    """The outcome of one attempt, as the service decided it; written in batches.

    ``status`` is the delivery's status after it; ``gone`` disables the subscription at once
    (the receiver answered 410); a failed attempt starts or continues the subscription's
    failing period, a delivered one ends it.
    """

    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    status: DeliveryStatus
    next_attempt_at: datetime | None
    gone: bool = False


@dataclass(frozen=True)
class SendResult:
    """What one HTTP attempt came back with: a status, or the error that stopped it.

    ``retry_after`` is the response's ``Retry-After`` header, as sent; ``duration`` is in
    seconds.
    """

    status_code: int | None
    error: str | None
    duration: float
    retry_after: str | None = None


# --- which addresses a webhook may reach ------------------------------------------------------


class ForbiddenAddressError(ValueError):
    """The address is not one a webhook may be sent to (loopback, private, ...)."""


_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def check_address(address: str, *, allow_loopback: bool = False) -> None:
    """Raise ForbiddenAddressError unless ``address`` (an IP literal) is a public unicast one.

    Refused: loopback (unless ``allow_loopback``), private, link-local (169.254.0.0/16, where
    cloud metadata services answer, and fe80::/10), shared CGNAT space (100.64.0.0/10),
    multicast, IPv6 unique-local (fc00::/7), unspecified, reserved and documentation ranges,
    and IPv6 addresses that embed a refused IPv4 one (mapped, 6to4, NAT64, Teredo).
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError as error:
        msg = f"{address!r} is not an IP address"
        raise ForbiddenAddressError(msg) from error
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:  # the IPv4 address it carries decides
            check_address(str(embedded), allow_loopback=allow_loopback)
            return
        if ip in _UNIQUE_LOCAL:
            msg_0 = f"{address} is an IPv6 unique-local address"
            raise ForbiddenAddressError(msg_0)
    if ip.is_loopback:
        if allow_loopback:
            return
        msg_0 = f"{address} is a loopback address"
        raise ForbiddenAddressError(msg_0)
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        msg_0 = f"{address} is in the shared (CGNAT) range"
        raise ForbiddenAddressError(msg_0)
    for kind, forbidden in (
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("not a global", not ip.is_global),
    ):
        if forbidden:
            msg_0 = f"{address} is {_article(kind)} {kind} address"
            raise ForbiddenAddressError(msg_0)


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"
