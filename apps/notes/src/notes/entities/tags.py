"""Hashtags: how they are found in a note's contents, and the table of each note's tags."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterator

import regex
from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from notes.entities.base import Base

TAG_MAX = 100
"""The longest tag name, in characters; longer ones are not tags."""
TAGS_PER_NOTE_MAX = 50
"""The most distinct hashtags a note may carry: the API refuses more (422), and the tag
listener never takes more than the first this many of a note stored before the rule."""

# A '#' not preceded by a word character or another '#', then word characters of which at
# least one is a letter: "#Python3" -> "python3", while "a#b", "##x", "#1" and "#_" are not
# tags. Word characters are Unicode's (the ``regex`` module's \w: letters, combining marks,
# digits, connector punctuation, joiners), so "#नमस्ते" keeps its vowel signs and a
# decomposed "#café" its accent; the standard ``re`` stops at the first combining mark.
_HASHTAG = regex.compile(r"(?<![\w#])#(\w*\p{L}\w*)")


def _tags_in_order(contents: str) -> Iterator[str]:
    """Each distinct tag name of ``contents``, in order of first appearance: NFC, lower-cased."""
    seen: set[str] = set()
    for match in _HASHTAG.finditer(unicodedata.normalize("NFC", contents)):
        name = match.group(1).lower()
        if len(name) <= TAG_MAX and name not in seen:
            seen.add(name)
            yield name


def extract_tags(contents: str) -> tuple[str, ...]:
    """The hashtags in ``contents``: names without the ``#``, in Unicode's composed form
    (NFC), lower-cased, unique, sorted.

    Tags longer than ``TAG_MAX`` characters are ignored; of more than ``TAGS_PER_NOTE_MAX``
    distinct ones, only the first ``TAGS_PER_NOTE_MAX`` (in order of appearance) count.
    """
    found = []
    for name in _tags_in_order(contents):
        found.append(name)
        if len(found) == TAGS_PER_NOTE_MAX:
            break
    return tuple(sorted(found))


def has_too_many_tags(contents: str) -> bool:
    """Whether ``contents`` carries more than ``TAGS_PER_NOTE_MAX`` distinct hashtags; stops
    reading at the first one past the limit."""
    for count, _ in enumerate(_tags_in_order(contents), start=1):
        if count > TAGS_PER_NOTE_MAX:
            return True
    return False


def normalize_tag(name: str) -> str:
    """A tag as a query names it (with or without ``#``, any case, any normal form) as stored."""
    return unicodedata.normalize("NFC", name.removeprefix("#")).lower()


class NoteTag(Base):
    """A tag of a live note, kept by the tag listener from the note's contents."""

    __tablename__ = "note_tags"

    note_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("notes.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(TAG_MAX), primary_key=True)

    __table_args__ = (Index("ix_note_tags_tag_note_id", "tag", "note_id"),)
