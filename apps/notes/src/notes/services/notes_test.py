# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The notes use cases against the in-memory fakes: no database."""

import asyncio
import dataclasses
import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testkit import OWNER

from notes.core.errors import CommitOutcomeUnknownError, DatabaseUnavailableError, StoppingError
from notes.core.ids import uuid7
from notes.entities import (
    NO_FILTER,
    Note,
    NoteCreated,
    NoteDeleted,
    NoteFilter,
    NoteUpdated,
    NoteView,
    Position,
)
from notes.services.cursors import CursorCodec
from notes.services.errors import (
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    InvalidCursorError,
    NoteNotFoundError,
    VersionConflictError,
)
from notes.services.notes import (
    IDEMPOTENCY_KEY_LIFETIME,
    NotesService,
    RecordedResponse,
    request_fingerprint,
)


@pytest.fixture
def uow(memory_uow):
    return memory_uow


@pytest.fixture
def service(uow, clock):
    return NotesService(lambda: uow, clock=clock)


async def test_created_note_can_be_read_back(service):
    created = await service.create(OWNER, contents="buy milk", category="home")
    found = await service.get_or_raise(OWNER, created.id)
    assert (found.id, found.contents, found.category) == (created.id, "buy milk", "home")
    assert found.creation_date.tzinfo is not None


async def test_create_commits_once(service, uow):
    await service.create(OWNER, contents="x")
    assert uow.commits == 1
    assert len(uow.committed) == 1


async def test_creates_that_arrive_together_are_committed_together(memory_db, clock):
    service = NotesService(memory_db.unit_of_work, clock=clock)
    created = await asyncio.gather(*(service.create(OWNER, contents=f"note {i}") for i in range(5)))
    assert memory_db.commits == 1
    async with memory_db.unit_of_work() as uow:
        stored = await uow.notes.get_many([note.id for note in created])
        events = await uow.events.after(0, limit=100)
    assert sorted(note.contents for note in stored) == [f"note {i}" for i in range(5)]
    assert [event.note_id for event in events] == [note.id for note in created]


async def test_when_a_group_fails_for_a_note_each_create_is_tried_alone(memory_db, clock):
    service = NotesService(memory_db.unit_of_work, clock=clock)
    memory_db.commit_error = ValueError  # a fault of the data, not of the database
    memory_db.fail_commits = 2  # the group's commit, then the first note's alone
    first, *others = await asyncio.gather(
        *(service.create(OWNER, contents=f"note {i}") for i in range(3)), return_exceptions=True
    )
    assert isinstance(first, ValueError)
    assert all(isinstance(note, NoteView) for note in others)
    async with memory_db.unit_of_work() as uow:
        stored = await uow.notes.list(OWNER, limit=10)
    assert sorted(n.contents for n in stored) == ["note 1", "note 2"]


@pytest.mark.parametrize("error", [DatabaseUnavailableError, CommitOutcomeUnknownError])
async def test_when_a_group_fails_for_the_database_every_create_fails_untried(
    memory_db, clock, error
):
    service = NotesService(memory_db.unit_of_work, clock=clock)
    memory_db.commit_error = error
    memory_db.fail_commits = 1
    outcomes = await asyncio.gather(
        *(service.create(OWNER, contents=f"note {i}") for i in range(3)), return_exceptions=True
    )
    assert [type(outcome) for outcome in outcomes] == [error] * 3
    assert memory_db.fail_commits == 0  # one commit was tried: the group's, none alone
    async with memory_db.unit_of_work() as uow:
        assert await uow.notes.list(OWNER, limit=10) == []


async def test_creates_are_refused_once_closed_and_close_waits_for_those_accepted(memory_db):
    service = NotesService(memory_db.unit_of_work)
    accepted = [asyncio.create_task(service.create(OWNER, contents=f"note {i}")) for i in range(3)]
    await asyncio.sleep(0)
    await service.close(timeout=10)
    assert all(isinstance(task.result(), NoteView) for task in accepted)
    with pytest.raises(StoppingError):
        await service.create(OWNER, contents="too late")
    async with memory_db.unit_of_work() as uow:
        assert len(await uow.notes.list(OWNER, limit=10)) == 3


async def test_category_defaults_to_empty(service):
    note = await service.create(OWNER, contents="x")
    assert note.category == ""


async def test_unknown_note_is_not_found(service, note_factory):
    missing = note_factory.build().id
    with pytest.raises(NoteNotFoundError) as raised:
        await service.get_or_raise(OWNER, missing)
    assert raised.value.note_id == missing
    assert str(raised.value) == f"note {missing} does not exist"


async def test_list_is_newest_first(service):
    first = await service.create(OWNER, contents="first")
    second = await service.create(OWNER, contents="second")
    third = await service.create(OWNER, contents="third")
    listed = await service.list(OWNER)
    assert [n.id for n in listed.notes] == [third.id, second.id, first.id]


async def test_list_gives_twenty_notes_unless_asked_for_another_number(service):
    created = [await service.create(OWNER, contents=f"n{i}") for i in range(21)]
    listed = await service.list(OWNER)
    assert [n.id for n in listed.notes] == [n.id for n in reversed(created)][:20]


async def test_list_pages_with_offset_and_limit(service):
    created = [await service.create(OWNER, contents=f"n{i}") for i in range(5)]
    newest_first = [n.id for n in reversed(created)]
    page = await service.list(OWNER, offset=1, limit=2)
    assert [n.id for n in page.notes] == newest_first[1:3]


async def test_list_filters_by_category(service):
    await service.create(OWNER, contents="a", category="work")
    home = await service.create(OWNER, contents="b", category="home")
    listed = await service.list(OWNER, where=NoteFilter(category="home"))
    assert [n.id for n in listed.notes] == [home.id]


async def test_deleted_note_is_not_found_and_not_listed(service):
    note = await service.create(OWNER, contents="gone soon")
    deleted = await service.delete(OWNER, note.id)
    assert deleted.deleted_at is not None
    with pytest.raises(NoteNotFoundError):
        await service.get_or_raise(OWNER, note.id)
    assert note.id not in [n.id for n in (await service.list(OWNER)).notes]


async def test_deleting_twice_is_not_found(service):
    note = await service.create(OWNER, contents="x")
    await service.delete(OWNER, note.id)
    with pytest.raises(NoteNotFoundError):
        await service.delete(OWNER, note.id)


async def test_deleting_unknown_note_changes_nothing(service, uow, note_factory):
    await service.create(OWNER, contents="stays")
    missing = note_factory.build().id
    with pytest.raises(NoteNotFoundError) as raised:
        await service.delete(OWNER, missing)
    assert raised.value.note_id == missing
    assert uow.commits == 1


async def test_delete_locks_the_note_it_reads(recording_uow, clock):
    # Two deletes of one note must not both see it live: the read takes the row lock.
    uow = recording_uow
    service = NotesService(lambda: uow, clock=clock)
    note = await service.create(OWNER, contents="x")
    await service.delete(OWNER, note.id)
    assert uow.reads == [(note.id, True)]


async def test_reading_a_note_takes_no_lock(recording_uow, clock):
    uow = recording_uow
    service = NotesService(lambda: uow, clock=clock)
    note = await service.create(OWNER, contents="x")
    await service.get_or_raise(OWNER, note.id)
    assert uow.reads == [(note.id, False)]


# --- editing ---------------------------------------------------------------------------------


async def test_update_changes_fields_bumps_version_and_update_time(service):
    note = await service.create(OWNER, contents="draft", category="work")
    assert (note.version, note.updated_at) == (1, note.creation_date)
    updated = await service.update(OWNER, note.id, contents="final")
    assert (updated.contents, updated.category, updated.version) == ("final", "work", 2)
    assert updated.updated_at > note.creation_date
    again = await service.update(OWNER, note.id, category="home")
    assert (again.contents, again.category, again.version) == ("final", "home", 3)
    stored = await service.get_or_raise(OWNER, note.id)
    assert (stored.contents, stored.category, stored.version) == ("final", "home", 3)


async def test_update_at_the_expected_version_applies(service):
    note = await service.create(OWNER, contents="v1")
    updated = await service.update(OWNER, note.id, contents="v2", if_version={1})
    assert updated.version == 2


async def test_update_at_a_stale_version_conflicts_and_changes_nothing(service, uow):
    note = await service.create(OWNER, contents="v1")
    await service.update(OWNER, note.id, contents="v2")
    commits = uow.commits
    with pytest.raises(VersionConflictError) as raised:
        await service.update(OWNER, note.id, contents="lost", if_version={1})
    assert raised.value.current == 2
    assert uow.commits == commits
    assert (await service.get_or_raise(OWNER, note.id)).contents == "v2"


async def test_delete_at_the_expected_version_applies(service):
    note = await service.create(OWNER, contents="v1")
    deleted = await service.delete(OWNER, note.id, if_version={1})
    assert deleted.deleted_at is not None
    with pytest.raises(NoteNotFoundError):
        await service.get_or_raise(OWNER, note.id)


async def test_delete_at_a_stale_version_conflicts_and_deletes_nothing(service, uow):
    note = await service.create(OWNER, contents="v1")
    await service.update(OWNER, note.id, contents="v2")
    commits = uow.commits
    with pytest.raises(VersionConflictError) as raised:
        await service.delete(OWNER, note.id, if_version={1})
    assert raised.value.current == 2
    assert uow.commits == commits
    assert (await service.get_or_raise(OWNER, note.id)).contents == "v2"


async def test_update_that_changes_nothing_keeps_the_version(service, uow):
    note = await service.create(OWNER, contents="same", category="c")
    commits = uow.commits
    unchanged = await service.update(OWNER, note.id, contents="same", category="c")
    assert unchanged.version == 1
    assert uow.commits == commits


async def test_update_of_unknown_or_deleted_note_is_not_found(service, note_factory):
    with pytest.raises(NoteNotFoundError):
        await service.update(OWNER, note_factory.build().id, contents="x")
    note = await service.create(OWNER, contents="x")
    await service.delete(OWNER, note.id)
    with pytest.raises(NoteNotFoundError):
        await service.update(OWNER, note.id, contents="y", if_version={1})


# --- pages and cursors -----------------------------------------------------------------------


async def _walk(service, *, limit, where=NO_FILTER):
    """Every page from the first by next cursors: the ids of each page."""
    pages = []
    page = await service.list(OWNER, limit=limit, where=where)
    pages.append([n.id for n in page.notes])
    while page.next_cursor is not None:
        page = await service.list(OWNER, limit=limit, cursor=page.next_cursor, where=where)
        pages.append([n.id for n in page.notes])
    return pages


async def test_last_page_has_no_next_cursor(service):
    for i in range(4):
        await service.create(OWNER, contents=f"n{i}")
    assert (await service.list(OWNER, limit=4)).next_cursor is None
    assert (await service.list(OWNER, limit=3)).next_cursor is not None


async def test_following_cursors_visits_every_note_once_in_order(service):
    created = [await service.create(OWNER, contents=f"n{i}") for i in range(7)]
    pages = await _walk(service, limit=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == [n.id for n in reversed(created)]


async def test_cursor_walk_is_unaffected_by_inserts_and_deletes_behind_and_ahead(service):
    created = [await service.create(OWNER, contents=f"n{i}") for i in range(9)]
    newest_first = [n.id for n in reversed(created)]
    first = await service.list(OWNER, limit=3)
    await service.create(OWNER, contents="newer than the walk")
    await service.delete(OWNER, newest_first[0])  # already seen
    await service.delete(OWNER, newest_first[5])  # not seen yet
    seen = [n.id for n in first.notes]
    cursor = first.next_cursor
    while cursor is not None:
        page = await service.list(OWNER, limit=3, cursor=cursor)
        seen += [n.id for n in page.notes]
        cursor = page.next_cursor
    assert seen == [i for i in newest_first if i != newest_first[5]]


async def test_cursor_keeps_the_filters_given_with_it(service):
    for i in range(6):
        await service.create(OWNER, contents=f"n{i}", category="a" if i % 2 else "b")
    pages = await _walk(service, limit=2, where=NoteFilter(category="a"))
    assert len([i for p in pages for i in p]) == 3


async def test_foreign_or_garbled_cursor_is_invalid(service, new_memory_db):
    foreign_uow = new_memory_db().unit_of_work()
    foreign = NotesService(lambda: foreign_uow, cursors=CursorCodec(b"x" * 32))
    for i in range(3):
        await foreign.create(OWNER, contents=f"n{i}")
    cursor = (await foreign.list(OWNER, limit=1)).next_cursor
    assert cursor is not None
    with pytest.raises(InvalidCursorError):
        await service.list(OWNER, cursor=cursor)
    with pytest.raises(InvalidCursorError):
        await service.list(OWNER, cursor="garbage")


async def test_list_filters_by_text_and_time(service):
    await service.create(OWNER, contents="plant tomatoes")
    wanted = await service.create(OWNER, contents="water the tomatoes")
    await service.create(OWNER, contents="water the roses")
    listed = await service.list(
        OWNER, where=NoteFilter(text="water tomatoes", created_after=wanted.creation_date)
    )
    assert [n.id for n in listed.notes] == [wanted.id]


# --- idempotent creates ----------------------------------------------------------------------


def _respond(note):
    return RecordedResponse(201, {"id": str(note.id), "contents": note.contents})


async def test_repeated_key_replays_the_first_response_and_creates_once(service, uow):
    first, replayed = await service.create_idempotent(
        OWNER, key="k1", contents="once", respond=_respond
    )
    assert not replayed
    again, replayed_again = await service.create_idempotent(
        OWNER, key="k1", contents="once", respond=_respond
    )
    assert replayed_again
    assert again == first
    assert len(uow.committed) == 1


async def test_replay_survives_changes_to_the_note(service):
    first, _ = await service.create_idempotent(
        OWNER, key="k", contents="original", respond=_respond
    )
    await service.update(OWNER, uuid.UUID(first.body["id"]), contents="edited")
    again, replayed = await service.create_idempotent(
        OWNER, key="k", contents="original", respond=_respond
    )
    assert replayed
    assert again.body["contents"] == "original"


async def test_same_key_with_another_body_is_refused(service, uow):
    await service.create_idempotent(OWNER, key="k", contents="one", respond=_respond)
    with pytest.raises(IdempotencyKeyReusedError):
        await service.create_idempotent(OWNER, key="k", contents="two", respond=_respond)
    with pytest.raises(IdempotencyKeyReusedError):
        await service.create_idempotent(
            OWNER, key="k", contents="one", category="c", respond=_respond
        )
    assert len(uow.committed) == 1


async def test_key_held_by_a_running_request_is_in_use(memory_db):
    database = memory_db
    service = NotesService(database.unit_of_work)
    async with database.unit_of_work() as running:
        assert await running.idempotency_keys.try_lock(OWNER, "k")
        with pytest.raises(IdempotencyKeyInUseError):
            await service.create_idempotent(OWNER, key="k", contents="x", respond=_respond)
    _, replayed = await service.create_idempotent(OWNER, key="k", contents="x", respond=_respond)
    assert not replayed
    assert len(database.notes) == 1


async def test_expired_key_counts_as_new_and_old_ones_are_purged(uow, clock):
    service = NotesService(lambda: uow, clock=clock)
    first, _ = await service.create_idempotent(OWNER, key="k", contents="x", respond=_respond)
    await service.create_idempotent(OWNER, key="other", contents="x", respond=_respond)
    clock.now += IDEMPOTENCY_KEY_LIFETIME
    second, replayed = await service.create_idempotent(
        OWNER, key="k", contents="x", respond=_respond
    )
    assert not replayed
    assert second.body["id"] != first.body["id"]
    assert set(uow.database.idempotency_keys) == {(OWNER, "k")}


async def test_fingerprint_is_canonical():
    a = request_fingerprint("create_note", contents="x", category="")
    b = request_fingerprint("create_note", category="", contents="x")
    assert a == b
    assert len(a) == 64
    assert a != request_fingerprint("create_note", contents="x", category="y")


# --- property: a walk by cursors visits each note exactly once ------------------------------


@settings(
    max_examples=60,
    deadline=None,
    # new_memory_db is a factory: nothing of it is shared between examples.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    moments=st.lists(st.integers(min_value=0, max_value=20), max_size=40),
    sizes=st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=10),
)
async def test_paging_with_random_sizes_visits_each_note_once_in_order(
    new_memory_db, moments, sizes
):
    uow = new_memory_db().unit_of_work()
    service = NotesService(lambda: uow)
    notes = [
        Note(
            id=uuid7(),
            owner_id=OWNER,
            contents="x",
            category="",
            creation_date=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=m),
            updated_at=datetime(2026, 1, 1, tzinfo=UTC),
            version=1,
            deleted_at=None,
        )
        for m in moments  # repeated moments make ties, broken by id
    ]
    async with uow:
        for note in notes:
            await uow.notes.add(note)
        await uow.commit()
    seen = []
    cursor = None
    for step in itertools.count():
        page = await service.list(OWNER, limit=sizes[step % len(sizes)], cursor=cursor)
        seen += [n.id for n in page.notes]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [n.id for n in sorted(notes, key=Position.of, reverse=True)]


# --- events ----------------------------------------------------------------------------------


async def _events(uow):
    async with uow:
        return await uow.events.after(0, limit=100)


async def test_create_records_note_created_with_its_category_and_tags(service, uow):
    note = await service.create(OWNER, contents="plan #Trip and #budget", category="home")
    [event] = await _events(uow)
    assert type(event) is NoteCreated
    assert (event.note_id, event.occurred_at) == (note.id, note.creation_date)
    assert (event.category, event.tags) == ("home", ("budget", "trip"))
    assert event.id is not None


async def test_delete_records_note_deleted_with_what_the_note_had(service, uow):
    note = await service.create(OWNER, contents="#old news", category="news")
    deleted = await service.delete(OWNER, note.id)
    created, gone = await _events(uow)
    assert type(gone) is NoteDeleted
    assert gone.id > created.id
    assert (gone.note_id, gone.occurred_at) == (note.id, deleted.deleted_at)
    assert (gone.category, gone.tags) == ("news", ("old",))


async def test_a_failed_change_records_no_event(service, uow, note_factory):
    await service.create(OWNER, contents="x")
    with pytest.raises(NoteNotFoundError):
        await service.delete(OWNER, note_factory.build().id)
    assert [type(e) for e in await _events(uow)] == [NoteCreated]


async def test_a_change_whose_commit_fails_leaves_neither_note_nor_event(service, uow):
    uow.database.fail_commits = 1
    with pytest.raises(ConnectionError):
        await service.create(OWNER, contents="#lost")
    assert uow.committed == {}
    assert await _events(uow) == []


async def test_update_records_note_updated_with_before_and_after(service, uow):
    note = await service.create(OWNER, contents="#draft plan", category="work")
    updated = await service.update(OWNER, note.id, contents="#final plan", category="home")
    created, edited = await _events(uow)
    assert type(edited) is NoteUpdated
    assert edited.id > created.id
    assert (edited.note_id, edited.occurred_at) == (note.id, updated.updated_at)
    assert (edited.category, edited.tags) == ("home", ("final",))
    assert (edited.previous_category, edited.previous_tags) == ("work", ("draft",))


async def test_update_that_changes_nothing_records_no_event(service, uow):
    note = await service.create(OWNER, contents="#same", category="c")
    await service.update(OWNER, note.id, contents="#same", category="c")
    with pytest.raises(VersionConflictError):
        await service.update(OWNER, note.id, contents="other", if_version={7})
    assert [type(e) for e in await _events(uow)] == [NoteCreated]


async def test_idempotent_create_records_note_created_once(service, uow):
    recorded, _ = await service.create_idempotent(
        OWNER, key="k", contents="#once", category="c", respond=_respond
    )
    await service.create_idempotent(
        OWNER, key="k", contents="#once", category="c", respond=_respond
    )
    [event] = await _events(uow)
    assert type(event) is NoteCreated
    assert (str(event.note_id), event.category, event.tags) == (recorded.body["id"], "c", ("once",))
    async with uow:
        note = await uow.notes.get(OWNER, event.note_id)
    assert event.occurred_at == note.creation_date


async def test_list_by_tag_ignores_the_hash_and_case_and_pages_by_cursor(uow):
    service = NotesService(lambda: uow)
    tagged = [await service.create(OWNER, contents=f"#Tagged {i}") for i in range(3)]
    await service.create(OWNER, contents="untagged")
    async with uow:
        for note in tagged:
            await uow.note_tags.set_note_tags({note.id: {"tagged"}})
        await uow.commit()
    newest_first = [n.id for n in reversed(tagged)]
    for tag in ("tagged", "#TAGGED", "Tagged"):
        page = await service.list(OWNER, where=NoteFilter(tag=tag))
        assert [n.id for n in page.notes] == newest_first
    assert await _walk(service, limit=2, where=NoteFilter(tag="#tagged")) == [
        newest_first[:2],
        newest_first[2:],
    ]
    only = await service.list(OWNER, where=NoteFilter(tag="tagged", text="2"))
    assert [n.id for n in only.notes] == [tagged[2].id]
    assert (await service.list(OWNER, where=NoteFilter(tag="other"))).notes == []


async def test_changes_return_frozen_snapshots_not_entities(service):
    created = await service.create(OWNER, contents="one")
    updated = await service.update(OWNER, created.id, contents="two")
    unchanged = await service.update(OWNER, created.id, contents="two")
    deleted = await service.delete(OWNER, created.id)
    for view in (created, updated, unchanged, deleted):
        assert type(view) is NoteView
        with pytest.raises(dataclasses.FrozenInstanceError):
            view.contents = "changed"  # type: ignore[misc]
    assert (created.version, updated.version, unchanged.version) == (1, 2, 2)
    assert (created.deleted_at, deleted.deleted_at is not None) == (None, True)


async def test_an_idempotent_create_shapes_its_answer_from_a_snapshot(service):
    shown = []

    def respond(note):
        shown.append(note)
        return RecordedResponse(201, {"id": str(note.id)})

    await service.create_idempotent(OWNER, key="k", contents="x", respond=respond)
    assert [type(note) for note in shown] == [NoteView]
