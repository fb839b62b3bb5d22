# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The tag repository's contract, against the in-memory fake and PostgreSQL."""

from datetime import UTC, datetime

from notes.connectors.notes_repository import NoteFilter, Position


async def _add_notes(uow, notes):
    async with uow:
        for note in notes:
            await uow.notes.add(note)
        await uow.commit()


async def _set_tags(uow, note_tags):
    async with uow:
        for note, tags in note_tags:
            await uow.tags.set_note_tags({note.id: tags})
        await uow.commit()


async def test_setting_a_notes_tags_replaces_them(uow, note_factory, make_unique):
    note = note_factory.build()
    a, b, c = (make_unique("tag") for _ in range(3))
    await _add_notes(uow, [note])
    await _set_tags(uow, [(note, {a, b})])
    await _set_tags(uow, [(note, {b, c})])
    async with uow:
        assert await uow.tags.note_tags(note.id) == {b, c}
        await uow.tags.set_note_tags({note.id: ()})
        assert await uow.tags.note_tags(note.id) == set()
    async with uow:
        assert await uow.tags.note_tags(note.id) == {b, c}


async def test_the_tags_of_many_notes_are_set_at_once(uow, note_factory, make_unique):
    first, second, third = note_factory.build_batch(3)
    a, b, c = (make_unique("tag") for _ in range(3))
    await _add_notes(uow, [first, second, third])
    await _set_tags(uow, [(first, {a, b}), (second, {b}), (third, {c})])
    async with uow:
        await uow.tags.set_note_tags({first.id: {b, c}, second.id: (), third.id: {c}})
        await uow.tags.set_note_tags({})
        await uow.commit()
    async with uow:
        assert await uow.tags.note_tags(first.id) == {b, c}
        assert await uow.tags.note_tags(second.id) == set()
        assert await uow.tags.note_tags(third.id) == {c}


async def test_notes_are_listed_by_tag(uow, note_factory, make_unique):
    tag = make_unique("tag")
    tagged, other = note_factory.build(), note_factory.build()
    gone = note_factory.build(deleted_at=datetime(2026, 2, 1, tzinfo=UTC))
    await _add_notes(uow, [tagged, other, gone])
    await _set_tags(uow, [(tagged, {tag}), (other, {make_unique("tag")}), (gone, {tag})])
    async with uow:
        listed = await uow.notes.list(limit=10, where=NoteFilter(tag=tag))
    assert [n.id for n in listed] == [tagged.id]


async def test_tag_combines_with_the_other_filters_and_positions(uow, note_factory, make_unique):
    tag, category = make_unique("tag"), make_unique("cat")
    notes = note_factory.build_batch(4, category=category)  # oldest first
    await _add_notes(uow, notes)
    await _set_tags(uow, [(note, {tag}) for note in notes[:3]])
    where = NoteFilter(tag=tag, category=category)
    async with uow:
        assert [n.id for n in await uow.notes.list(limit=10, where=where)] == [
            notes[2].id,
            notes[1].id,
            notes[0].id,
        ]
        after = await uow.notes.list(limit=10, after=Position.of(notes[2]), where=where)
        assert [n.id for n in after] == [notes[1].id, notes[0].id]
        elsewhere = NoteFilter(tag=tag, category=make_unique("cat"))
        assert await uow.notes.list(limit=10, where=elsewhere) == []


async def test_tag_recount_counts_tagged_notes_and_forgets_unused_tags(
    uow, note_factory, make_unique
):
    common, rare, unused = (make_unique("tag") for _ in range(3))
    notes = note_factory.build_batch(3)
    await _add_notes(uow, notes)
    await _set_tags(uow, [(notes[0], {common, rare}), (notes[1], {common}), (notes[2], {common})])
    async with uow:
        await uow.tags.recount_tags({common, rare, unused})
        await uow.commit()
    async with uow:
        counts = {c.name: c.count for c in await uow.tags.tag_counts()}
    assert (counts[common], counts[rare]) == (3, 1)
    assert unused not in counts

    await _set_tags(uow, [(notes[0], {common})])
    async with uow:
        await uow.tags.recount_tags({rare})
        await uow.commit()
    async with uow:
        assert rare not in {c.name for c in await uow.tags.tag_counts()}


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
        await uow.tags.recount_categories({work, home, ""})
        await uow.commit()
    async with uow:
        counts = {c.name: c.count for c in await uow.tags.category_counts()}
    assert (counts[work], counts[home]) == (2, 1)
    assert "" not in counts


async def test_counts_are_most_used_first_then_by_name(uow, note_factory, make_unique):
    prefix = make_unique("t")
    b, a, c = f"{prefix}-b", f"{prefix}-a", f"{prefix}-c"
    notes = note_factory.build_batch(2)
    await _add_notes(uow, notes)
    await _set_tags(uow, [(notes[0], {a, b, c}), (notes[1], {c})])
    async with uow:
        await uow.tags.recount_tags({a, b, c})
        await uow.commit()
    async with uow:
        mine = [(t.name, t.count) for t in await uow.tags.tag_counts() if t.name in {a, b, c}]
    assert mine == [(c, 2), (a, 1), (b, 1)]
    async with uow:
        everything = [(t.count, t.name) for t in await uow.tags.tag_counts()]
    assert everything == sorted(everything, key=lambda item: (-item[0], item[1]))
