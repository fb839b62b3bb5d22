# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The notes use cases against the in-memory fakes: no database."""

from datetime import UTC, datetime, timedelta

import pytest

from notes.connectors.memory import InMemoryNoteRepository, InMemoryUnitOfWork
from notes.services.errors import NoteNotFoundError
from notes.services.notes import NotesService


class StepClock:
    """A clock that moves one second on every reading."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class LockRecordingRepository(InMemoryNoteRepository):
    """The in-memory repository, noting which reads asked for a row lock."""

    def __init__(self, rows, reads):
        super().__init__(rows)
        self.reads = reads

    async def get(self, note_id, *, for_update=False):
        self.reads.append((note_id, for_update))
        return await super().get(note_id, for_update=for_update)


class LockRecordingUnitOfWork(InMemoryUnitOfWork):
    """A unit of work whose repository records its reads in ``reads``."""

    def __init__(self):
        super().__init__()
        self.reads = []

    async def __aenter__(self):
        await super().__aenter__()
        self.notes = LockRecordingRepository(self.notes.rows, self.reads)
        return self


@pytest.fixture
def uow():
    return InMemoryUnitOfWork()


@pytest.fixture
def service(uow):
    return NotesService(lambda: uow, clock=StepClock())


async def test_created_note_can_be_read_back(service):
    created = await service.create(contents="buy milk", category="home")
    found = await service.get_or_raise(created.id)
    assert (found.id, found.contents, found.category) == (created.id, "buy milk", "home")
    assert found.creation_date.tzinfo is not None


async def test_create_commits_once(service, uow):
    await service.create(contents="x")
    assert uow.commits == 1
    assert len(uow.committed) == 1


async def test_category_defaults_to_empty(service):
    note = await service.create(contents="x")
    assert note.category == ""


async def test_unknown_note_is_not_found(service, note_factory):
    missing = note_factory.build().id
    with pytest.raises(NoteNotFoundError) as raised:
        await service.get_or_raise(missing)
    assert raised.value.note_id == missing
    assert str(raised.value) == f"note {missing} does not exist"


async def test_list_is_newest_first(service):
    first = await service.create(contents="first")
    second = await service.create(contents="second")
    third = await service.create(contents="third")
    listed = await service.list()
    assert [n.id for n in listed] == [third.id, second.id, first.id]


async def test_list_gives_twenty_notes_unless_asked_for_another_number(service):
    created = [await service.create(contents=f"n{i}") for i in range(21)]
    listed = await service.list()
    assert [n.id for n in listed] == [n.id for n in reversed(created)][:20]


async def test_list_pages_with_offset_and_limit(service):
    created = [await service.create(contents=f"n{i}") for i in range(5)]
    newest_first = [n.id for n in reversed(created)]
    page = await service.list(offset=1, limit=2)
    assert [n.id for n in page] == newest_first[1:3]


async def test_list_filters_by_category(service):
    await service.create(contents="a", category="work")
    home = await service.create(contents="b", category="home")
    assert [n.id for n in await service.list(category="home")] == [home.id]


async def test_deleted_note_is_not_found_and_not_listed(service):
    note = await service.create(contents="gone soon")
    deleted = await service.delete(note.id)
    assert deleted.deleted_at is not None
    with pytest.raises(NoteNotFoundError):
        await service.get_or_raise(note.id)
    assert note.id not in [n.id for n in await service.list()]


async def test_deleting_twice_is_not_found(service):
    note = await service.create(contents="x")
    await service.delete(note.id)
    with pytest.raises(NoteNotFoundError):
        await service.delete(note.id)


async def test_deleting_unknown_note_changes_nothing(service, uow, note_factory):
    await service.create(contents="stays")
    missing = note_factory.build().id
    with pytest.raises(NoteNotFoundError) as raised:
        await service.delete(missing)
    assert raised.value.note_id == missing
    assert uow.commits == 1


async def test_delete_locks_the_note_it_reads():
    # Two deletes of one note must not both see it live: the read takes the row lock.
    uow = LockRecordingUnitOfWork()
    service = NotesService(lambda: uow, clock=StepClock())
    note = await service.create(contents="x")
    await service.delete(note.id)
    assert uow.reads == [(note.id, True)]


async def test_reading_a_note_takes_no_lock():
    uow = LockRecordingUnitOfWork()
    service = NotesService(lambda: uow, clock=StepClock())
    note = await service.create(contents="x")
    await service.get_or_raise(note.id)
    assert uow.reads == [(note.id, False)]
