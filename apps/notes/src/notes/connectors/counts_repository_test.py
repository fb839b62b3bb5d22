# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The count repository's contract, against the in-memory fake and PostgreSQL."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from testkit import OTHER_OWNER, OWNER

from notes.connectors.counts_repository import LOCK_STRIPES
from notes.core.ids import uuid7
from notes.entities import Count, User


async def _add_notes(uow, notes):
    async with uow:
        for note in notes:
            await uow.notes.add(note)
        await uow.commit()


async def _set_tags(uow, note_tags):
    async with uow:
        for note, tags in note_tags:
            await uow.note_tags.set_note_tags({note.id: tags})
        await uow.commit()


def _owned(*names, owner=OWNER):
    return {(owner, name) for name in names}


async def test_tag_recount_counts_tagged_notes_and_forgets_unused_tags(
    uow, note_factory, make_unique
):
    common, rare, unused = (make_unique("tag") for _ in range(3))
    notes = note_factory.build_batch(3)
    await _add_notes(uow, notes)
    await _set_tags(uow, [(notes[0], {common, rare}), (notes[1], {common}), (notes[2], {common})])
    async with uow:
        await uow.counts.recount_tags(_owned(common, rare, unused))
        await uow.commit()
    async with uow:
        counts = {c.name: c.count for c in await uow.counts.tag_counts(OWNER, limit=100_000)}
    assert (counts[common], counts[rare]) == (3, 1)
    assert unused not in counts

    await _set_tags(uow, [(notes[0], {common})])
    async with uow:
        await uow.counts.recount_tags(_owned(rare))
        await uow.commit()
    async with uow:
        assert rare not in {c.name for c in await uow.counts.tag_counts(OWNER, limit=100_000)}


async def test_category_recount_counts_live_notes_and_never_the_empty_category(
    uow, note_factory, make_unique
):
    work, home = make_unique("cat"), make_unique("cat")
    deleted = datetime(2026, 2, 1, tzinfo=UTC)
    await _add_notes(
        uow,
        [
            note_factory.build(category=work),
            note_factory.build(category=work),
            note_factory.build(category=work, deleted_at=deleted),
            note_factory.build(category=home),
            note_factory.build(category=""),
        ],
    )
    async with uow:
        await uow.counts.recount_categories(_owned(work, home, ""))
        await uow.commit()
    async with uow:
        counts = {c.name: c.count for c in await uow.counts.category_counts(OWNER, limit=100_000)}
    assert (counts[work], counts[home]) == (2, 1)
    assert "" not in counts


async def test_counts_are_most_used_first_then_by_name(uow, note_factory, make_unique):
    prefix = make_unique("t")
    b, a, c = f"{prefix}-b", f"{prefix}-a", f"{prefix}-c"
    notes = note_factory.build_batch(2)
    await _add_notes(uow, notes)
    await _set_tags(uow, [(notes[0], {a, b, c}), (notes[1], {c})])
    async with uow:
        await uow.counts.recount_tags(_owned(a, b, c))
        await uow.commit()
    async with uow:
        mine = [
            (t.name, t.count)
            for t in await uow.counts.tag_counts(OWNER, limit=100_000)
            if t.name in {a, b, c}
        ]
    assert mine == [(c, 2), (a, 1), (b, 1)]
    async with uow:
        everything = [(t.count, t.name) for t in await uow.counts.tag_counts(OWNER, limit=100_000)]
    assert everything == sorted(everything, key=lambda item: (-item[0], item[1]))


async def test_counts_are_per_owner(uow, note_factory, make_unique):
    tag, category = make_unique("tag"), make_unique("cat")
    mine = note_factory.build_batch(2, category=category)
    theirs = note_factory.build(category=category, owner_id=OTHER_OWNER)
    await _add_notes(uow, [*mine, theirs])
    await _set_tags(uow, [(note, {tag}) for note in (*mine, theirs)])
    async with uow:
        await uow.counts.recount_tags(_owned(tag) | _owned(tag, owner=OTHER_OWNER))
        await uow.counts.recount_categories(_owned(category) | _owned(category, owner=OTHER_OWNER))
        await uow.commit()
    async with uow:
        counted = {
            owner: (
                {c.name: c.count for c in await uow.counts.tag_counts(owner, limit=100_000)}.get(
                    tag
                ),
                {
                    c.name: c.count for c in await uow.counts.category_counts(owner, limit=100_000)
                }.get(category),
            )
            for owner in (OWNER, OTHER_OWNER)
        }
    assert counted == {OWNER: (2, 2), OTHER_OWNER: (1, 1)}


async def test_counts_are_read_a_page_at_a_time_after_a_position(uow, note_factory, make_unique):
    owner = uuid7()
    async with uow:
        await uow.users.add(
            User(
                id=owner,
                email=f"{owner}@example.com",
                email_key=f"{owner}@example.com",
                password_hash=None,
                created_at=datetime.now(UTC),
            )
        )
        notes = note_factory.build_batch(3, owner_id=owner)
        await uow.notes.add_all(notes)
        await uow.commit()
    await _set_tags(uow, [(notes[0], {"a", "b", "c"}), (notes[1], {"b", "c"}), (notes[2], {"d"})])
    async with uow:
        await uow.counts.recount_tags({(owner, n) for n in "abcd"})
        await uow.commit()
    async with uow:
        first = await uow.counts.tag_counts(owner, limit=2)
        second = await uow.counts.tag_counts(owner, limit=2, after=first[-1])
        rest = await uow.counts.tag_counts(owner, limit=2, after=second[-1])
    assert first == [Count("b", 2), Count("c", 2)]
    assert second == [Count("a", 1), Count("d", 1)]
    assert rest == []


@pytest.mark.integrated
async def test_a_recount_of_thousands_of_names_holds_a_bounded_number_of_locks(sql_uow, sql):
    names = {(OWNER, f"name{i}") for i in range(5000)}
    async with sql_uow:
        await sql_uow.counts.recount_tags(names)
        held = await sql_uow.counts._sql.session.scalar(
            text(
                "SELECT count(*) FROM pg_locks "
                "WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
        )
    assert 0 < held <= LOCK_STRIPES
