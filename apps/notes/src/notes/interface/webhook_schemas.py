"""HTTP schemas of ``/webhooks/``: the API's own classes, converted explicitly from entities."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from notes.entities import AttemptView, DeliveryView, SubscriptionView
from notes.entities.webhooks import DESCRIPTION_MAX, URL_MAX
from notes.interface.schemas import Text
from notes.services.cursors import MAX_CURSOR_LENGTH

EventType = Literal["note.created", "note.updated", "note.deleted"]
EventTypes = Annotated[
    list[EventType],
    Field(min_length=1, max_length=3, description="The event types to receive; null for all"),
]
Url = Annotated[
    Text,
    Field(
        min_length=1,
        max_length=URL_MAX,
        description="https:// (http:// only where the service allows it), on a public address",
    ),
]
Description = Annotated[Text, Field(max_length=DESCRIPTION_MAX)]


class WebhookCreate(BaseModel):
    """The body of ``POST /webhooks/``."""

    model_config = ConfigDict(extra="forbid")

    url: Url
    event_types: EventTypes | None = None
    description: Description = ""


class WebhookUpdate(BaseModel):
    """The body of ``PATCH /webhooks/{id}/``: the fields to change, at least one.

    ``event_types`` may be null (every type); the others may not.
    """

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> WebhookUpdate:
        if not self.model_fields_set:
            msg = "give at least one of url, event_types, description, enabled"
            raise ValueError(msg)
        for name in self.model_fields_set - {"event_types"}:
            if getattr(self, name) is None:
                msg = f"{name} cannot be null"
                raise ValueError(msg)
        return self


class WebhookRead(BaseModel):
    """A subscription as the API shows it: never its secret (shown once, when made)."""

    id: uuid.UUID
    url: str
    event_types: list[str] | None
    description: str
    enabled: bool
    disabled_reason: str | None = Field(description="Why it was disabled, while it is")
    disabled_at: AwareDatetime | None
    failing_since: AwareDatetime | None = Field(
        description="The first failed attempt since the last success, while deliveries fail"
    )
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @classmethod
    def from_entity(cls, subscription: SubscriptionView) -> WebhookRead:
        """The API view of ``subscription``."""
        types = subscription.event_types
        return cls(
            id=subscription.id,
            url=subscription.url,
            event_types=None if types is None else list(types),
            description=subscription.description,
            enabled=subscription.enabled,
            disabled_reason=subscription.disabled_reason,
            disabled_at=subscription.disabled_at,
            failing_since=subscription.failing_since,
            created_at=subscription.created_at,
            updated_at=subscription.updated_at,
        )


class WebhookCreated(WebhookRead):
    """A new subscription, with the secret that signs its deliveries: shown this once."""

    secret: str = Field(description="whsec_ and base64 of 32 random bytes (Standard Webhooks)")

    @classmethod
    def of(cls, subscription: SubscriptionView, secret: str) -> WebhookCreated:
        """The API view of a new subscription and its secret."""
        return cls(**WebhookRead.from_entity(subscription).model_dump(), secret=secret)


class SecretRotated(BaseModel):
    """A new signing secret, shown this once; the previous one signs too until the time given."""

    secret: str
    previous_secret_expires_at: AwareDatetime


class AttemptRead(BaseModel):
    """One attempt at a delivery."""

    attempted_at: AwareDatetime
    status_code: int | None = Field(description="The receiver's status; null when none came")
    error: str | None = Field(description="Why no status came (timeout, refused, ...)")
    duration_ms: float
    next_attempt_at: AwareDatetime | None = Field(description="When the next attempt is due")

    @classmethod
    def from_entity(cls, attempt: AttemptView) -> AttemptRead:
        """The API view of an attempt."""
        return cls(
            attempted_at=attempt.attempted_at,
            status_code=attempt.status_code,
            error=attempt.error,
            duration_ms=round(attempt.duration_ms, 3),
            next_attempt_at=attempt.next_attempt_at,
        )


class DeliveryRead(BaseModel):
    """A delivery: one event on its way to one subscription; ``id`` is its ``webhook-id``."""

    id: uuid.UUID
    event_id: int
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    created_at: AwareDatetime
    next_attempt_at: AwareDatetime | None
    attempts: list[AttemptRead] = Field(description="The latest 20 attempts, oldest first")

    @classmethod
    def from_entity(cls, delivery: DeliveryView) -> DeliveryRead:
        """The API view of a delivery."""
        return cls(
            id=delivery.id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            status=delivery.status,
            created_at=delivery.created_at,
            next_attempt_at=delivery.next_attempt_at,
            attempts=[AttemptRead.from_entity(a) for a in delivery.attempts],
        )


class DeliveryListQuery(BaseModel):
    """The query parameters of ``GET /webhooks/{id}/deliveries/``."""

    status: Literal["pending", "delivered", "failed"] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[
        str | None,
        Field(min_length=1, max_length=MAX_CURSOR_LENGTH, description="From a next link"),
    ] = None

    def next_page(self, cursor: str) -> dict[str, str]:
        """The query of the page after this one: the same status and limit, and ``cursor``."""
        params = self.model_dump(mode="json", exclude_none=True, exclude={"cursor"})
        return {**{k: str(v) for k, v in params.items()}, "cursor": cursor}
