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
    ANY_LISTENER,
    EventFailure,
    EventRecord,
    FailureCount,
    ListenerFailure,
    NoteCreated,
    NoteDeleted,
    NoteEvent,
    NoteUpdated,
    ParkedEvent,
    ProcessedEvent,
    UndecodableEvent,
)
from notes.entities.idempotency import IdempotencyKey
from notes.entities.listing import NO_FILTER, NoteFilter, Position
from notes.entities.note import Note, NoteView
from notes.entities.tags import (
    TAGS_PER_NOTE_MAX,
    NoteTag,
    extract_tags,
    has_too_many_tags,
    normalize_tag,
)

__all__ = [
    "ANY_LISTENER",
    "NO_FILTER",
    "TAGS_PER_NOTE_MAX",
    "AccessToken",
    "Account",
    "Base",
    "CategoryCount",
    "Count",
    "EventFailure",
    "EventRecord",
    "FailureCount",
    "IdempotencyKey",
    "ListenerFailure",
    "LoginFailure",
    "Note",
    "NoteCreated",
    "NoteDeleted",
    "NoteEvent",
    "NoteFilter",
    "NoteTag",
    "NoteUpdated",
    "NoteView",
    "ParkedEvent",
    "Position",
    "Principal",
    "ProcessedEvent",
    "TagCount",
    "TokenInfo",
    "UndecodableEvent",
    "User",
    "email_key",
    "extract_tags",
    "has_too_many_tags",
    "normalize_tag",
]
