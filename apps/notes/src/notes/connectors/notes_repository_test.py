# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""One contract, two implementations: the in-memory fake must behave like PostgreSQL."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from testkit import OWNER

from notes.connectors.notes_repository import list_statement
from notes.core.ids import uuid7
from notes.entities import IdempotencyKey, NoteFilter, Position


async def _add(uow, notes):
    async with uow:
        for note in notes:
            await uow.notes.add(note)
        await uow.commit()


async def test_added_note_is_found_after_commit(uow, note_factory):
    note = note_factory.build(category="work")
    await _add(uow, [note])
    async with uow:
        found = await uow.notes.get(OWNER, note.id)
    assert found is not None
    assert (found.contents, found.category, found.creation_date) == (
        note.contents,
        "work",
        note.creation_date,
    )


async def test_notes_added_together_are_found_after_commit(uow, note_factory):
    notes = note_factory.build_batch(3)
    async with uow:
        await uow.notes.add_all(notes)
        await uow.notes.add_all([])
        await uow.commit()
    async with uow:
        found = await uow.notes.get_many([note.id for note in notes])
    assert sorted((n.id, n.contents) for n in found) == sorted((n.id, n.contents) for n in notes)


async def test_note_added_without_commit_is_gone(uow, note_factory):
    note = note_factory.build()
    async with uow:
        await uow.notes.add(note)
    async with uow:
        assert await uow.notes.get(OWNER, note.id) is None


async def test_exception_in_unit_of_work_rolls_back(uow, note_factory):
    note = note_factory.build()

    async def add_then_fail():
        async with uow:
            await uow.notes.add(note)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await add_then_fail()
    async with uow:
        assert await uow.notes.get(OWNER, note.id) is None


async def test_deleted_note_is_invisible(uow, note_factory):
    note = note_factory.build(deleted_at=datetime(2026, 2, 1, tzinfo=UTC))
    await _add(uow, [note])
    async with uow:
        assert await uow.notes.get(OWNER, note.id) is None


async def test_get_many_finds_the_live_notes_among_the_ids_in_id_order(uow, note_factory):
    notes = note_factory.build_batch(3)
    gone = note_factory.build(deleted_at=datetime(2026, 2, 1, tzinfo=UTC))
    missing = note_factory.build()
    await _add(uow, [*notes, gone])
    async with uow:
        asked = [notes[2].id, gone.id, missing.id, notes[0].id, notes[2].id]
        for get_many in (uow.notes.get_many, uow.notes.get_many_for_update):
            found = await get_many(asked)
            assert [n.id for n in found] == sorted([notes[0].id, notes[2].id])
            assert await get_many([]) == []


async def test_list_orders_newest_first_and_breaks_ties_by_id(uow, note_factory, make_unique):
    category = make_unique("cat")
    same_time = datetime(2026, 3, 1, tzinfo=UTC)
    notes = [note_factory.build(category=category, creation_date=same_time) for _ in range(3)]
    notes.append(
        note_factory.build(category=category, creation_date=datetime(2026, 3, 2, tzinfo=UTC))
    )
    await _add(uow, notes)
    async with uow:
        listed = await uow.notes.list(
            OWNER, offset=0, limit=10, where=NoteFilter(category=category)
        )
    expected = sorted(notes, key=lambda n: (n.creation_date, n.id), reverse=True)
    assert [n.id for n in listed] == [n.id for n in expected]


async def test_list_applies_offset_limit_and_skips_deleted(uow, note_factory, make_unique):
    category = make_unique("cat")
    notes = [note_factory.build(category=category) for _ in range(6)]
    notes[4].deleted_at = datetime(2026, 2, 1, tzinfo=UTC)
    await _add(uow, notes)
    live_newest_first = [n.id for n in reversed(notes) if n.deleted_at is None]
    async with uow:
        page = await uow.notes.list(OWNER, offset=1, limit=3, where=NoteFilter(category=category))
    assert [n.id for n in page] == live_newest_first[1:4]


async def test_list_without_category_includes_every_category(uow, note_factory):
    a = note_factory.build(category="a-unique-cat", creation_date=datetime(2099, 1, 1, tzinfo=UTC))
    b = note_factory.build(category="b-unique-cat", creation_date=datetime(2099, 1, 2, tzinfo=UTC))
    await _add(uow, [a, b])
    async with uow:
        listed = await uow.notes.list(OWNER, offset=0, limit=2)
    assert [n.id for n in listed] == [b.id, a.id]


async def test_version_and_update_time_are_kept(uow, note_factory):
    note = note_factory.build(version=4, updated_at=datetime(2026, 5, 1, tzinfo=UTC))
    await _add(uow, [note])
    async with uow:
        found = await uow.notes.get(OWNER, note.id)
    assert found is not None
    assert (found.version, found.updated_at) == (4, datetime(2026, 5, 1, tzinfo=UTC))


async def test_change_to_a_locked_note_is_kept_on_commit(uow, note_factory):
    note = note_factory.build()
    await _add(uow, [note])
    async with uow:
        found = await uow.notes.get_for_update(OWNER, note.id)
        found.contents = "changed"
        found.version = 2
        await uow.commit()
    async with uow:
        again = await uow.notes.get(OWNER, note.id)
    assert (again.contents, again.version) == ("changed", 2)


async def test_list_after_a_position_continues_behind_it_ties_broken_by_id(
    uow, note_factory, make_unique
):
    category = make_unique("cat")
    same_time = datetime(2026, 3, 1, tzinfo=UTC)
    notes = [note_factory.build(category=category, creation_date=same_time) for _ in range(4)]
    notes += [note_factory.build(category=category) for _ in range(3)]
    await _add(uow, notes)
    newest_first = sorted(notes, key=Position.of, reverse=True)
    where = NoteFilter(category=category)
    for index, note in enumerate(newest_first):
        async with uow:
            rest = await uow.notes.list(OWNER, limit=100, after=Position.of(note), where=where)
        assert [n.id for n in rest] == [n.id for n in newest_first[index + 1 :]]


async def test_list_filters_by_creation_time_from_inclusive_to_exclusive(
    uow, note_factory, make_unique
):
    category = make_unique("cat")
    start = datetime(2026, 4, 1, tzinfo=UTC)
    notes = [
        note_factory.build(category=category, creation_date=start + timedelta(hours=h))
        for h in range(5)
    ]
    await _add(uow, notes)
    where = NoteFilter(
        category=category,
        created_after=start + timedelta(hours=1),
        created_before=start + timedelta(hours=3),
    )
    async with uow:
        listed = await uow.notes.list(OWNER, limit=10, where=where)
    assert [n.id for n in listed] == [notes[2].id, notes[1].id]


async def test_list_filter_by_time_compares_instants_not_wall_clocks(
    uow, note_factory, make_unique
):
    category = make_unique("cat")
    note = note_factory.build(category=category, creation_date=datetime(2026, 4, 1, 12, tzinfo=UTC))
    await _add(uow, [note])
    paris = timezone(timedelta(hours=2))
    async with uow:
        before = await uow.notes.list(
            OWNER,
            limit=10,
            where=NoteFilter(
                category=category, created_before=datetime(2026, 4, 1, 14, tzinfo=paris)
            ),
        )
        after = await uow.notes.list(
            OWNER,
            limit=10,
            where=NoteFilter(
                category=category, created_after=datetime(2026, 4, 1, 14, tzinfo=paris)
            ),
        )
    assert ([n.id for n in before], [n.id for n in after]) == ([], [note.id])


async def test_text_search_needs_every_word_and_ignores_case_and_plurals(
    uow, note_factory, make_unique
):
    category = make_unique("cat")
    both = note_factory.build(category=category, contents="Apple and banana pie")
    apple = note_factory.build(category=category, contents="apples on the tart")
    neither = note_factory.build(category=category, contents="cherry crumble")
    await _add(uow, [both, apple, neither])

    async def search(text):
        async with uow:
            found = await uow.notes.list(
                OWNER, limit=10, where=NoteFilter(category=category, text=text)
            )
        return {n.id for n in found}

    assert await search("apple") == {both.id, apple.id}
    assert await search("APPLES") == {both.id, apple.id}
    assert await search("banana apple") == {both.id}
    assert await search("banana cherry") == set()


async def test_text_search_skips_deleted_notes(uow, note_factory, make_unique):
    category = make_unique("cat")
    gone = note_factory.build(
        category=category, contents="walnut", deleted_at=datetime(2026, 2, 1, tzinfo=UTC)
    )
    await _add(uow, [gone])
    async with uow:
        found = await uow.notes.list(
            OWNER, limit=10, where=NoteFilter(category=category, text="walnut")
        )
    assert found == []


# --- idempotency keys ------------------------------------------------------------------------


def _record(key, now, *, lifetime=timedelta(hours=24)):
    return IdempotencyKey(
        owner_id=OWNER,
        key=key,
        fingerprint="f" * 64,
        response_status=201,
        response_body={"id": "x", "nested": {"n": 1}},
        created_at=now,
        expires_at=now + lifetime,
    )


async def test_idempotency_key_is_stored_and_read_back(uow, make_unique):
    key = make_unique("key")
    now = datetime(2026, 6, 1, tzinfo=UTC)
    async with uow:
        assert await uow.idempotency_keys.get(OWNER, key) is None
        await uow.idempotency_keys.add(_record(key, now))
        await uow.commit()
    async with uow:
        found = await uow.idempotency_keys.get(OWNER, key)
    assert found is not None
    assert (found.response_status, found.response_body) == (201, {"id": "x", "nested": {"n": 1}})
    assert found.expires_at == now + timedelta(hours=24)


async def test_removed_idempotency_key_can_be_stored_again(uow, make_unique):
    key = make_unique("key")
    now = datetime(2026, 6, 1, tzinfo=UTC)
    await _add_key(uow, _record(key, now))
    async with uow:
        await uow.idempotency_keys.remove(await uow.idempotency_keys.get(OWNER, key))
        await uow.idempotency_keys.add(_record(key, now + timedelta(days=2)))
        await uow.commit()
    async with uow:
        found = await uow.idempotency_keys.get(OWNER, key)
    assert found.created_at == now + timedelta(days=2)


async def test_purge_deletes_only_expired_keys(uow, make_unique):
    now = datetime(2026, 6, 1, tzinfo=UTC)
    expired = make_unique("key")
    live = make_unique("key")
    await _add_key(uow, _record(expired, now - timedelta(days=2)))
    await _add_key(uow, _record(live, now))
    async with uow:
        purged = await uow.idempotency_keys.purge_expired(now, limit=1000)
        await uow.commit()
    assert purged >= 1
    async with uow:
        assert await uow.idempotency_keys.get(OWNER, expired) is None
        assert await uow.idempotency_keys.get(OWNER, live) is not None


async def test_a_unit_of_work_may_lock_a_key_it_holds_again(uow, make_unique):
    key = make_unique("key")
    async with uow:
        assert await uow.idempotency_keys.try_lock(OWNER, key)
        assert await uow.idempotency_keys.try_lock(OWNER, key)


async def _add_key(uow, record):
    async with uow:
        await uow.idempotency_keys.add(record)
        await uow.commit()


# --- paging reads the index ------------------------------------------------------------------


async def _plan(connection, query):
    """PostgreSQL's plan for ``query`` when it may not read whole tables."""
    compiled = query.compile(connection.sync_engine)
    await connection.execute(text("SET LOCAL enable_seqscan = off"))
    rows = await connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
    return "\n".join(row[0] for row in rows)


@pytest.mark.integrated
async def test_page_after_a_cursor_is_read_off_the_index_without_sorting(connection):
    # Statistics of a table with many categories (inside this test's transaction), so the
    # plan does not depend on whatever other tests left in the shared database.
    await connection.execute(
        text(
            "INSERT INTO notes (id, owner_id, contents, category, creation_date, updated_at)"
            " SELECT gen_random_uuid(), :owner, 'filler ' || i, 'plan-' || (i % 3),"
            "  timestamptz '2025-01-01' + i * interval '1 minute', now()"
            " FROM generate_series(1, 3000) AS i"
        ),
        {"owner": OWNER},
    )
    await connection.execute(text("ANALYZE notes"))
    after = Position(datetime(2026, 1, 1, tzinfo=UTC), uuid7())
    for where, index in [
        (NoteFilter(), "ix_notes_owner_live_newest"),
        (NoteFilter(category="plan-1"), "ix_notes_owner_live_category_newest"),
    ]:
        plan = await _plan(connection, list_statement(OWNER, limit=20, after=after, where=where))
        assert index in plan, plan
        assert "Sort" not in plan, plan


@pytest.mark.integrated
async def test_text_search_reads_the_gin_index(connection):
    # Enough notes, and fresh statistics, for a rare word to be cheaper to find through GIN
    # than by walking the list's btree index.
    await connection.execute(
        text(
            "INSERT INTO notes (id, owner_id, contents, category, creation_date, updated_at)"
            " SELECT gen_random_uuid(), :owner, 'filler words ' || i, 'gin-plan', now(), now()"
            " FROM generate_series(1, 3000) AS i"
        ),
        {"owner": OWNER},
    )
    await connection.execute(text("ANALYZE notes"))
    plan = await _plan(connection, list_statement(OWNER, limit=20, where=NoteFilter(text="garden")))
    assert "ix_notes_live_contents_tsv" in plan, plan
