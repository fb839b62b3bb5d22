"""SQLAlchemy models, used as the entities passed between the layers, and the domain events."""

from notes.entities.base import Base
from notes.entities.events import (
    EventRecord,
    NoteCreated,
    NoteDeleted,
    NoteEvent,
    NoteUpdated,
    ProcessedEvent,
)
from notes.entities.idempotency import IdempotencyKey
from notes.entities.note import Note, NoteView
from notes.entities.tags import CategoryCount, NoteTag, TagCount, extract_tags

__all__ = [
    "Base",
    "CategoryCount",
    "EventRecord",
    "IdempotencyKey",
    "Note",
    "NoteCreated",
    "NoteDeleted",
    "NoteEvent",
    "NoteTag",
    "NoteUpdated",
    "NoteView",
    "ProcessedEvent",
    "TagCount",
    "extract_tags",
]
