# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The notes use cases on PostgreSQL: concurrency, search with real stemming, paging by index.

The concurrency tests commit for real on separate connections (each on data of its own); the
others run inside the test's rolled-back transaction.
"""

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testkit import OWNER

from notes.entities import NoteFilter, NoteView, Position
from notes.services.errors import IdempotencyKeyInUseError, VersionConflictError
from notes.services.notes import NotesService, RecordedResponse

pytestmark = pytest.mark.integrated

# Bounds a wait that should end at once, so a regression fails instead of hanging.
GUARD_SECONDS = 30


@pytest.fixture
def committing(committing_uow):
    """Units of work that really commit, each on a connection of its own."""
    return committing_uow


@pytest.fixture
def live_service(committing):
    return NotesService(committing)


async def test_concurrent_creates_are_stored_with_their_events(live_service, committing):
    created = await asyncio.gather(
        *(live_service.create(OWNER, contents=f"#n{i}") for i in range(30))
    )
    async with committing() as uow:
        stored = await uow.notes.get_many([note.id for note in created])
        events = await uow.events.after(0, limit=1_000_000)
    assert sorted(note.id for note in stored) == sorted(note.id for note in created)
    created_events = [e for e in events if e.note_id in {note.id for note in created}]
    assert sorted(e.note_id for e in created_events) == sorted(note.id for note in created)
    assert {e.type for e in created_events} == {"NoteCreated"}
    assert live_service.create_batches < len(created)


async def _wait_until_blocked_on_a_lock(sql, query_fragment):
    """Return once a session of this database waits on a lock in a query with the fragment."""
    for _ in range(GUARD_SECONDS * 20):
        waiting = await sql.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE :fragment",
            fragment=f"%{query_fragment}%",
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    pytest.fail("the second edit never waited for the first one's lock")


def _respond(note):
    return RecordedResponse(201, {"id": str(note.id)})


# --- edits: no lost update -------------------------------------------------------------------


async def test_edit_waiting_for_a_concurrent_edit_sees_its_version_and_conflicts(
    sql, committing, live_service, make_unique
):
    note = await live_service.create(OWNER, contents="v1", category=make_unique("cat"))
    async with committing() as first:
        locked = await first.notes.get_for_update(OWNER, note.id)
        locked.contents = "v2 by the first edit"
        locked.version = 2
        second = asyncio.create_task(
            live_service.update(OWNER, note.id, contents="v2 by the second edit", if_version={1})
        )
        await _wait_until_blocked_on_a_lock(sql, "FROM notes")
        await first.commit()
    with pytest.raises(VersionConflictError):
        await asyncio.wait_for(second, GUARD_SECONDS)
    stored = await live_service.get_or_raise(OWNER, note.id)
    assert (stored.contents, stored.version) == ("v2 by the first edit", 2)


async def test_concurrent_edits_based_on_one_version_let_exactly_one_apply(
    live_service, make_unique
):
    note = await live_service.create(OWNER, contents="v1", category=make_unique("cat"))
    results = await asyncio.gather(
        *(
            live_service.update(OWNER, note.id, contents=f"edit {i}", if_version={1})
            for i in range(4)
        ),
        return_exceptions=True,
    )
    applied = [r for r in results if isinstance(r, NoteView)]
    assert len(applied) == 1
    assert all(isinstance(r, VersionConflictError) for r in results if r not in applied)
    stored = await live_service.get_or_raise(OWNER, note.id)
    assert (stored.contents, stored.version) == (applied[0].contents, 2)


async def test_concurrent_edits_without_a_version_all_apply_one_after_another(
    live_service, make_unique
):
    note = await live_service.create(OWNER, contents="v1", category=make_unique("cat"))
    await asyncio.gather(*(live_service.update(OWNER, note.id, contents=f"e{i}") for i in range(3)))
    assert (await live_service.get_or_raise(OWNER, note.id)).version == 4


# --- idempotent creates ----------------------------------------------------------------------


async def test_key_locked_by_another_transaction_is_refused_without_waiting(
    committing, live_service, make_unique
):
    key = make_unique("key")
    async with committing() as running:
        assert await running.idempotency_keys.try_lock(OWNER, key)
        async with committing() as other:
            assert not await other.idempotency_keys.try_lock(OWNER, key)
        with pytest.raises(IdempotencyKeyInUseError):
            await asyncio.wait_for(
                live_service.create_idempotent(OWNER, key=key, contents="x", respond=_respond),
                GUARD_SECONDS,
            )
    # The lock ended with the transaction that held it.
    _, replayed = await live_service.create_idempotent(
        OWNER, key=key, contents="x", respond=_respond
    )
    assert not replayed


async def test_request_after_the_first_committed_replays_it(live_service, make_unique):
    key = make_unique("key")
    first, _ = await live_service.create_idempotent(OWNER, key=key, contents="x", respond=_respond)
    again, replayed = await live_service.create_idempotent(
        OWNER, key=key, contents="x", respond=_respond
    )
    assert (again, replayed) == (first, True)


async def test_concurrent_creates_with_one_key_store_one_note(sql, live_service, make_unique):
    key = make_unique("key")
    category = make_unique("cat")
    results = await asyncio.gather(
        *(
            live_service.create_idempotent(
                OWNER, key=key, contents="x", category=category, respond=_respond
            )
            for _ in range(5)
        ),
        return_exceptions=True,
    )
    answers = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, IdempotencyKeyInUseError) for r in refused)
    assert [replayed for _, replayed in answers].count(False) == 1
    assert len({response.body["id"] for response, _ in answers}) == 1
    assert await sql.scalar("SELECT count(*) FROM notes WHERE category = :c", c=category) == 1


# --- search with PostgreSQL's English stemming -----------------------------------------------


@pytest.fixture
def service(sql_uow):
    return NotesService(lambda: sql_uow)


async def _add(sql_uow, *notes):
    async with sql_uow:
        for note in notes:
            await sql_uow.notes.add(note)
        await sql_uow.commit()


@pytest.mark.parametrize(
    "case",
    [
        ("running", "I run every morning", True),
        ("run", "she was running late", True),
        ("studies", "one study a day", True),
        ("running shoes", "new shoes for the run", True),
        ("running shoes", "new boots for the run", False),
        ('"morning run"', "a run every morning", False),
        ('"morning run"', "my morning run", True),
        ("run -late", "she was running late", False),
        ("the", "the run", False),
    ],
)
async def test_search_uses_english_stemming_and_web_search_syntax(
    service, sql_uow, note_factory, make_unique, case
):
    query, contents, found = case
    category = make_unique("cat")
    note = note_factory.build(category=category, contents=contents)
    await _add(sql_uow, note)
    listed = await service.list(OWNER, where=NoteFilter(category=category, text=query))
    assert [n.id for n in listed.notes] == ([note.id] if found else [])


async def test_search_finds_a_changed_note_by_its_new_words(service, sql_uow, note_factory):
    word = f"zyx{uuid.uuid4().hex[:8]}"
    note = note_factory.build(contents="old words")
    await _add(sql_uow, note)
    await service.update(OWNER, note.id, contents=f"new {word}")
    assert [n.id for n in (await service.list(OWNER, where=NoteFilter(text=word))).notes] == [
        note.id
    ]


# --- property: paging by cursor on PostgreSQL ------------------------------------------------


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    moments=st.lists(st.integers(min_value=0, max_value=10), max_size=25),
    sizes=st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=6),
)
async def test_paging_on_postgresql_visits_each_note_once_in_order(
    sql_uow, note_factory, moments, sizes
):
    category = f"prop-{uuid.uuid4().hex}"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    notes = [
        note_factory.build(category=category, creation_date=start + timedelta(seconds=m))
        for m in moments
    ]
    await _add(sql_uow, *notes)
    service = NotesService(lambda: sql_uow)
    where = NoteFilter(category=category)
    seen = []
    cursor = None
    for step in itertools.count():
        page = await service.list(OWNER, limit=sizes[step % len(sizes)], cursor=cursor, where=where)
        seen += [n.id for n in page.notes]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [n.id for n in sorted(notes, key=Position.of, reverse=True)]
