"""SQLAlchemy models, the snapshots passed between the layers, and the domain events."""

from notes.entities.accounts import (
    AccessToken,
    Account,
    LoginFailure,
    Principal,
    TokenInfo,
    User,
    email_key,
)
from notes.entities.base import Base
from notes.entities.counts import CategoryCount, Count, TagCount
from notes.entities.events import (
    EventRecord,
    NoteCreated,
    NoteDeleted,
    NoteEvent,
    NoteUpdated,
    ProcessedEvent,
)
from notes.entities.idempotency import IdempotencyKey
from notes.entities.listing import NO_FILTER, NoteFilter, Position
from notes.entities.note import Note, NoteView
from notes.entities.tags import NoteTag, extract_tags
from notes.entities.webhooks import (
    WEBHOOK_EVENT_TYPES,
    AttemptRecord,
    AttemptView,
    DeliveryStatus,
    DeliveryTask,
    DeliveryView,
    ForbiddenAddressError,
    SendResult,
    SubscriptionView,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
    check_address,
)

__all__ = [
    "NO_FILTER",
    "WEBHOOK_EVENT_TYPES",
    "AccessToken",
    "Account",
    "AttemptRecord",
    "AttemptView",
    "Base",
    "CategoryCount",
    "Count",
    "DeliveryStatus",
    "DeliveryTask",
    "DeliveryView",
    "EventRecord",
    "ForbiddenAddressError",
    "IdempotencyKey",
    "LoginFailure",
    "Note",
    "NoteCreated",
    "NoteDeleted",
    "NoteEvent",
    "NoteFilter",
    "NoteTag",
    "NoteUpdated",
    "NoteView",
    "Position",
    "Principal",
    "ProcessedEvent",
    "SendResult",
    "SubscriptionView",
    "TagCount",
    "TokenInfo",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
    "check_address",
    "email_key",
    "extract_tags",
]
