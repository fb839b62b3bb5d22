"""The service's errors: one root, precise leaves, no HTTP in them."""

from __future__ import annotations

import uuid


class NotesError(Exception):
    """Root of every error the notes service raises on purpose."""


class NoteNotFoundError(NotesError):
    """No live note has this id (it never existed, or it was deleted)."""

    def __init__(self, note_id: uuid.UUID) -> None:
        super().__init__(f"note {note_id} does not exist")
        self.note_id = note_id
