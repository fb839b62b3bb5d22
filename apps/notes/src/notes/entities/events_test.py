# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
import json
from datetime import UTC, datetime

import pytest

from notes.entities import NoteCreated, NoteDeleted, NoteEvent, NoteUpdated

AT = datetime(2026, 5, 1, tzinfo=UTC)


def test_created_event_describes_the_note_category_and_tags(note_factory):
    note = note_factory.build(contents="#Work on #ideas", category="home")
    event = NoteCreated.of(note, at=AT)
    assert (event.id, event.note_id, event.occurred_at) == (None, note.id, AT)
    assert event.type == "NoteCreated"
    assert event.payload() == {"category": "home", "tags": ["ideas", "work"]}
    assert event.affected_tags() == {"ideas", "work"}
    assert event.affected_categories() == {"home"}


def test_updated_event_touches_the_tags_and_categories_before_and_after(note_factory):
    note = note_factory.build(contents="now #b #c", category="new")
    event = NoteUpdated.of(note, at=AT, before=("was #a #b", "old"))
    assert event.payload() == {
        "category": "new",
        "tags": ["b", "c"],
        "previous_category": "old",
        "previous_tags": ["a", "b"],
    }
    assert event.affected_tags() == {"a", "b", "c"}
    assert event.affected_categories() == {"new", "old"}


def test_updated_event_needs_the_state_before(note_factory):
    with pytest.raises(TypeError, match="before"):
        NoteUpdated.of(note_factory.build(), at=AT)


@pytest.mark.parametrize("cls", [NoteCreated, NoteUpdated, NoteDeleted])
def test_an_event_is_restored_from_its_stored_row(cls, note_factory):
    note = note_factory.build(contents="#x #y", category="c")
    event = (
        NoteUpdated.of(note, at=AT, before=("#z", "d"))
        if cls is NoteUpdated
        else cls.of(note, at=AT)
    )
    stored = json.loads(json.dumps(event.payload()))  # as it comes back from JSONB
    restored = NoteEvent.restore(
        id=7,
        type=event.type,
        note_id=note.id,
        owner_id=note.owner_id,
        occurred_at=AT,
        payload=stored,
    )
    assert type(restored) is cls
    assert (restored.id, restored.owner_id) == (7, note.owner_id)
    assert restored.payload() == event.payload()
