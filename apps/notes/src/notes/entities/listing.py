"""What a list of notes asks for: which notes (a filter) and from where (a position)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from notes.entities.note import Note, NoteView


@dataclass(frozen=True)
class NoteFilter:
    """Which live notes a list holds; ``None`` leaves a criterion out.

    ``created_after`` is inclusive and ``created_before`` exclusive, so consecutive ranges never
    overlap. ``text`` is a web-search style query over ``contents`` (English stemming; every
    word must occur). ``tag`` is a tag as stored (lower case, without ``#``): the notes whose
    contents the tag listener found it in.
    """

    category: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    text: str | None = None
    tag: str | None = None


NO_FILTER = NoteFilter()


@dataclass(frozen=True, order=True)
class Position:
    """A place in the list order: lists continue with the notes that sort after it."""

    creation_date: datetime
    id: uuid.UUID

    @classmethod
    def of(cls, note: Note | NoteView) -> Position:
        """The position of ``note``."""
        return cls(note.creation_date, note.id)
