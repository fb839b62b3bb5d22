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

__all__ = [
    "NO_FILTER",
    "AccessToken",
    "Account",
    "Base",
    "CategoryCount",
    "Count",
    "EventRecord",
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
    "TagCount",
    "TokenInfo",
    "User",
    "email_key",
    "extract_tags",
]
