# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""One contract, two implementations: the in-memory fake must behave like PostgreSQL."""

from datetime import UTC, datetime

import pytest

from notes.connectors.memory import InMemoryUnitOfWork


@pytest.fixture(
    params=[
        pytest.param("memory"),
        pytest.param("postgresql", marks=pytest.mark.integrated),
    ]
)
def uow(request):
    if request.param == "memory":
        return InMemoryUnitOfWork()
    return request.getfixturevalue("sql_uow")


async def _add(uow, notes):
    async with uow:
        for note in notes:
            await uow.notes.add(note)
        await uow.commit()


async def test_added_note_is_found_after_commit(uow, note_factory):
    note = note_factory.build(category="work")
    await _add(uow, [note])
    async with uow:
        found = await uow.notes.get(note.id)
    assert found is not None
    assert (found.contents, found.category, found.creation_date) == (
        note.contents,
        "work",
        note.creation_date,
    )


async def test_note_added_without_commit_is_gone(uow, note_factory):
    note = note_factory.build()
    async with uow:
        await uow.notes.add(note)
    async with uow:
        assert await uow.notes.get(note.id) is None


async def test_exception_in_unit_of_work_rolls_back(uow, note_factory):
    note = note_factory.build()

    async def add_then_fail():
        async with uow:
            await uow.notes.add(note)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await add_then_fail()
    async with uow:
        assert await uow.notes.get(note.id) is None


async def test_deleted_note_is_invisible(uow, note_factory):
    note = note_factory.build(deleted_at=datetime(2026, 2, 1, tzinfo=UTC))
    await _add(uow, [note])
    async with uow:
        assert await uow.notes.get(note.id) is None


async def test_list_orders_newest_first_and_breaks_ties_by_id(uow, note_factory, make_unique):
    category = make_unique("cat")
    same_time = datetime(2026, 3, 1, tzinfo=UTC)
    notes = [note_factory.build(category=category, creation_date=same_time) for _ in range(3)]
    notes.append(
        note_factory.build(category=category, creation_date=datetime(2026, 3, 2, tzinfo=UTC))
    )
    await _add(uow, notes)
    async with uow:
        listed = await uow.notes.list(offset=0, limit=10, category=category)
    expected = sorted(notes, key=lambda n: (n.creation_date, n.id), reverse=True)
    assert [n.id for n in listed] == [n.id for n in expected]


async def test_list_applies_offset_limit_and_skips_deleted(uow, note_factory, make_unique):
    category = make_unique("cat")
    notes = [note_factory.build(category=category) for _ in range(6)]
    notes[4].deleted_at = datetime(2026, 2, 1, tzinfo=UTC)
    await _add(uow, notes)
    live_newest_first = [n.id for n in reversed(notes) if n.deleted_at is None]
    async with uow:
        page = await uow.notes.list(offset=1, limit=3, category=category)
    assert [n.id for n in page] == live_newest_first[1:4]


async def test_list_without_category_includes_every_category(uow, note_factory):
    a = note_factory.build(category="a-unique-cat", creation_date=datetime(2099, 1, 1, tzinfo=UTC))
    b = note_factory.build(category="b-unique-cat", creation_date=datetime(2099, 1, 2, tzinfo=UTC))
    await _add(uow, [a, b])
    async with uow:
        listed = await uow.notes.list(offset=0, limit=2, category=None)
    assert [n.id for n in listed] == [b.id, a.id]
