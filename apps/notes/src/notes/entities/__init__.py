"""SQLAlchemy models, used as the entities passed between the layers."""

from notes.entities.base import Base
from notes.entities.idempotency import IdempotencyKey
from notes.entities.note import Note

__all__ = ["Base", "IdempotencyKey", "Note"]
