# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The notes use cases against the in-memory fakes: no database."""

from datetime import UTC, datetime, timedelta

import pytest

from notes.connectors.memory import InMemoryUnitOfWork
from notes.entities import NoteCreated, NoteDeleted
from notes.services.errors import NoteNotFoundError
from notes.services.notes import NotesService


class StepClock:
    """A clock that moves one second on every reading."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


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
    with pytest.raises(NoteNotFoundError) as raised:
        await service.get_or_raise(note_factory.build().id)
    assert "does not exist" in str(raised.value)


async def test_list_is_newest_first(service):
    first = await service.create(contents="first")
    second = await service.create(contents="second")
    third = await service.create(contents="third")
    listed = await service.list()
    assert [n.id for n in listed] == [third.id, second.id, first.id]


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
    with pytest.raises(NoteNotFoundError):
        await service.delete(note_factory.build().id)
    assert uow.commits == 1


async def _events(uow):
    async with uow:
        return await uow.events.after(0, limit=100)


async def test_create_records_note_created_with_its_category_and_tags(service, uow):
    note = await service.create(contents="plan #Trip and #budget", category="home")
    [event] = await _events(uow)
    assert type(event) is NoteCreated
    assert (event.note_id, event.occurred_at) == (note.id, note.creation_date)
    assert (event.category, event.tags) == ("home", ("budget", "trip"))
    assert event.id is not None


async def test_delete_records_note_deleted_with_what_the_note_had(service, uow):
    note = await service.create(contents="#old news", category="news")
    deleted = await service.delete(note.id)
    created, gone = await _events(uow)
    assert type(gone) is NoteDeleted
    assert gone.id > created.id
    assert (gone.note_id, gone.occurred_at) == (note.id, deleted.deleted_at)
    assert (gone.category, gone.tags) == ("news", ("old",))


async def test_a_failed_change_records_no_event(service, uow, note_factory):
    await service.create(contents="x")
    with pytest.raises(NoteNotFoundError):
        await service.delete(note_factory.build().id)
    assert [type(e) for e in await _events(uow)] == [NoteCreated]


async def test_a_change_whose_commit_fails_leaves_neither_note_nor_event(service, uow):
    uow.database.fail_commits = 1
    with pytest.raises(ConnectionError):
        await service.create(contents="#lost")
    assert uow.committed == {}
    assert await _events(uow) == []


async def test_list_by_tag_ignores_the_hash_and_case(uow):
    service = NotesService(lambda: uow)
    note = await service.create(contents="#Tagged")
    await service.create(contents="untagged")
    async with uow:
        await uow.tags.set_note_tags(note.id, {"tagged"})
        await uow.commit()
    for tag in ("tagged", "#TAGGED", "Tagged"):
        assert [n.id for n in await service.list(tag=tag)] == [note.id]
    assert await service.list(tag="other") == []
