# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The note tag repository's contract (and listing by tag), on the fake and PostgreSQL."""

from datetime import UTC, datetime

from testkit import OWNER

from notes.entities import NoteFilter, Position


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


async def test_setting_a_notes_tags_replaces_them(uow, note_factory, make_unique):
    note = note_factory.build()
    a, b, c = (make_unique("tag") for _ in range(3))
    await _add_notes(uow, [note])
    await _set_tags(uow, [(note, {a, b})])
    await _set_tags(uow, [(note, {b, c})])
    async with uow:
        assert await uow.note_tags.note_tags(note.id) == {b, c}
        await uow.note_tags.set_note_tags({note.id: ()})
        assert await uow.note_tags.note_tags(note.id) == set()
    async with uow:
        assert await uow.note_tags.note_tags(note.id) == {b, c}


async def test_the_tags_of_many_notes_are_set_at_once(uow, note_factory, make_unique):
    first, second, third = note_factory.build_batch(3)
    a, b, c = (make_unique("tag") for _ in range(3))
    await _add_notes(uow, [first, second, third])
    await _set_tags(uow, [(first, {a, b}), (second, {b}), (third, {c})])
    async with uow:
        await uow.note_tags.set_note_tags({first.id: {b, c}, second.id: (), third.id: {c}})
        await uow.note_tags.set_note_tags({})
        await uow.commit()
    async with uow:
        assert await uow.note_tags.note_tags(first.id) == {b, c}
        assert await uow.note_tags.note_tags(second.id) == set()
        assert await uow.note_tags.note_tags(third.id) == {c}


async def test_notes_are_listed_by_tag(uow, note_factory, make_unique):
    tag = make_unique("tag")
    tagged, other = note_factory.build(), note_factory.build()
    gone = note_factory.build(deleted_at=datetime(2026, 2, 1, tzinfo=UTC))
    await _add_notes(uow, [tagged, other, gone])
    await _set_tags(uow, [(tagged, {tag}), (other, {make_unique("tag")}), (gone, {tag})])
    async with uow:
        listed = await uow.notes.list(OWNER, limit=10, where=NoteFilter(tag=tag))
    assert [n.id for n in listed] == [tagged.id]


async def test_tag_combines_with_the_other_filters_and_positions(uow, note_factory, make_unique):
    tag, category = make_unique("tag"), make_unique("cat")
    notes = note_factory.build_batch(4, category=category)  # oldest first
    await _add_notes(uow, notes)
    await _set_tags(uow, [(note, {tag}) for note in notes[:3]])
    where = NoteFilter(tag=tag, category=category)
    async with uow:
        assert [n.id for n in await uow.notes.list(OWNER, limit=10, where=where)] == [
            notes[2].id,
            notes[1].id,
            notes[0].id,
        ]
        after = await uow.notes.list(OWNER, limit=10, after=Position.of(notes[2]), where=where)
        assert [n.id for n in after] == [notes[1].id, notes[0].id]
        elsewhere = NoteFilter(tag=tag, category=make_unique("cat"))
        assert await uow.notes.list(OWNER, limit=10, where=elsewhere) == []
