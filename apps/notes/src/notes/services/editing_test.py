# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Edits and pages against the in-memory fakes: locks, what errors carry, where a page resumes."""

import pytest
from testkit import OWNER

from notes.services.errors import NoteNotFoundError, VersionConflictError
from notes.services.notes import NotesService


@pytest.fixture
def uow(recording_uow):
    return recording_uow


@pytest.fixture
def service(uow, clock):
    return NotesService(lambda: uow, clock=clock)


async def test_update_locks_the_note_it_reads(service, uow):
    # Two edits of one note must not both read the same version: the read takes the row lock.
    note = await service.create(OWNER, contents="draft")
    await service.update(OWNER, note.id, contents="final", if_version={1})
    assert uow.reads == [(note.id, True)]


async def test_update_of_an_unknown_note_names_it(service, note_factory):
    missing = note_factory.build().id
    with pytest.raises(NoteNotFoundError) as raised:
        await service.update(OWNER, missing, contents="x")
    assert raised.value.note_id == missing


async def test_version_conflict_names_the_note_and_the_version_it_is_at(service):
    note = await service.create(OWNER, contents="v1")
    await service.update(OWNER, note.id, contents="v2")
    with pytest.raises(VersionConflictError) as raised:
        await service.update(OWNER, note.id, contents="v3", if_version={1})
    assert (raised.value.note_id, raised.value.current) == (note.id, 2)


async def test_update_applies_when_the_note_is_at_any_of_the_expected_versions(service):
    note = await service.create(OWNER, contents="v1")
    await service.update(OWNER, note.id, contents="v2")
    updated = await service.update(OWNER, note.id, contents="v3", if_version=[1, 2])
    assert (updated.contents, updated.version) == ("v3", 3)


async def test_next_page_starts_right_after_the_last_note_of_the_page_before(service):
    created = [await service.create(OWNER, contents=f"n{i}") for i in range(5)]
    newest_first = [n.id for n in reversed(created)]
    first = await service.list(OWNER, limit=2)
    assert first.next_cursor is not None
    second = await service.list(OWNER, limit=2, cursor=first.next_cursor)
    assert [n.id for n in second.notes] == newest_first[2:4]


async def test_offset_with_a_cursor_skips_from_the_cursor(service):
    created = [await service.create(OWNER, contents=f"n{i}") for i in range(6)]
    newest_first = [n.id for n in reversed(created)]
    first = await service.list(OWNER, limit=2)
    assert first.next_cursor is not None
    later = await service.list(OWNER, limit=2, offset=1, cursor=first.next_cursor)
    assert [n.id for n in later.notes] == newest_first[3:5]
