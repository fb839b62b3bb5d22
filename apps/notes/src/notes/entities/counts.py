"""How many live notes carry each tag, and are in each category: kept by the listeners."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from notes.entities.base import Base
from notes.entities.note import CATEGORY_MAX
from notes.entities.tags import TAG_MAX


class TagCount(Base):
    """How many live notes of an owner carry a tag; tags no live note carries have no row."""

    __tablename__ = "tag_counts"

    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(TAG_MAX), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"TagCount({self.name!r}, {self.count})"


class CategoryCount(Base):
    """How many live notes of an owner are in a category; empty categories and ``""`` have
    no row."""

    __tablename__ = "category_counts"

    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(CATEGORY_MAX), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"CategoryCount({self.name!r}, {self.count})"


@dataclass(frozen=True, slots=True)
class Count:
    """A tag or a category and how many live notes have it, as read: a snapshot."""

    name: str
    count: int


# An owner's tags and categories, most used first, ties by name: the order ``/tags/`` and
# ``/categories/`` page through, read straight off these indexes from a cursor's position.
Index("ix_tag_counts_owner_most_used", TagCount.owner_id, TagCount.count.desc(), TagCount.name)
Index(
    "ix_category_counts_owner_most_used",
    CategoryCount.owner_id,
    CategoryCount.count.desc(),
    CategoryCount.name,
)
