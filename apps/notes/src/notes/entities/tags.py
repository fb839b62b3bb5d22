"""Hashtags: how they are found in a note's contents, and the table of each note's tags."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from notes.entities.base import Base

TAG_MAX = 100

# A '#' not preceded by a word character or another '#', then word characters (Unicode letters,
# digits, underscore) of which at least one is a letter: "#Python3" -> "python3", while
# "a#b", "##x", "#1" and "#_" are not tags.
_HASHTAG = re.compile(r"(?<![\w#])#(\w*[^\W\d_]\w*)")


def extract_tags(contents: str) -> tuple[str, ...]:
    """The hashtags in ``contents``: names without the ``#``, lower-cased, unique, sorted.

    Tags longer than ``TAG_MAX`` characters are ignored.
    """
    found = {match.lower() for match in _HASHTAG.findall(contents)}
    return tuple(sorted(tag for tag in found if len(tag) <= TAG_MAX))


class NoteTag(Base):
    """A tag of a live note, kept by the tag listener from the note's contents."""

    __tablename__ = "note_tags"

    note_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("notes.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(TAG_MAX), primary_key=True)

    __table_args__ = (Index("ix_note_tags_tag_note_id", "tag", "note_id"),)
