# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The rules of concurrent units of work, held by the in-memory fake as by PostgreSQL: locked
reads wait and then see the other's commit, one of two edits based on one version applies,
an email taken by a unit of work still running is waited for, stored rows are copies, and a
duplicate key fails at the insert."""

import asyncio
from datetime import UTC, datetime

import pytest
from testkit import OWNER

from notes.core.ids import uuid7
from notes.entities import User
from notes.services.errors import VersionConflictError
from notes.services.notes import NotesService


@pytest.fixture(
    params=[
        pytest.param("memory"),
        pytest.param("postgresql", marks=pytest.mark.integrated),
    ]
)
def units(request):
    """Makes units of work that really commit, each on its own connection."""
    if request.param == "memory":
        return request.getfixturevalue("memory_db").unit_of_work
    return request.getfixturevalue("committing_uow")


async def test_a_locked_read_waits_for_the_holder_then_sees_its_commit(units, note_factory):
    note = note_factory.build()
    async with units() as setup:
        await setup.notes.add(note)
        await setup.commit()

    async def read_in_b():
        async with units() as b:
            found = await b.notes.get_for_update(OWNER, note.id)
            return found.version, found.contents

    async with units() as a:
        mine = await a.notes.get_for_update(OWNER, note.id)
        waiting = asyncio.create_task(read_in_b())
        await asyncio.sleep(0.2)
        assert not waiting.done()
        mine.contents, mine.version = "changed by a", mine.version + 1
        await a.commit()
    assert await asyncio.wait_for(waiting, 10) == (2, "changed by a")


async def test_of_two_edits_based_on_one_version_exactly_one_applies(units, note_factory):
    service = NotesService(units)
    note = await service.create(OWNER, contents="first")

    outcomes = await asyncio.gather(
        *(service.update(OWNER, note.id, contents=f"edit {i}", if_version={1}) for i in range(2)),
        return_exceptions=True,
    )

    assert sorted(type(o).__name__ for o in outcomes) == ["NoteView", "VersionConflictError"]
    assert any(isinstance(o, VersionConflictError) for o in outcomes)
    assert (await service.get_or_raise(OWNER, note.id)).version == 2


def _user(email):
    return User(
        id=uuid7(),
        email=email,
        email_key=email.lower(),
        password_hash=None,
        created_at=datetime.now(UTC),
    )


@pytest.mark.parametrize("first_commits", [True, False], ids=["commits", "rolls-back"])
async def test_an_email_another_unit_of_work_is_adding_is_waited_for(
    units, make_unique, first_commits
):
    email = f"{make_unique('race')}@example.com"

    async def add_in_b():
        async with units() as b:
            added = await b.users.add(_user(email.upper()))
            await b.commit()
            return added

    async with units() as a:
        assert await a.users.add(_user(email))
        waiting = asyncio.create_task(add_in_b())
        await asyncio.sleep(0.2)
        assert not waiting.done()
        if first_commits:
            await a.commit()
    assert await asyncio.wait_for(waiting, 10) is not first_commits
    async with units() as check:
        assert (await check.users.get_by_email(email.lower())) is not None


async def test_a_stored_note_is_a_copy_of_what_was_added(units, note_factory):
    note = note_factory.build(contents="as added")
    async with units() as uow:
        await uow.notes.add(note)
        note.contents = "changed afterwards"
        await uow.commit()
    async with units() as uow:
        assert (await uow.notes.get(OWNER, note.id)).contents == "as added"


async def test_a_duplicate_id_committed_meanwhile_fails_at_the_insert(units, note_factory):
    note = note_factory.build()
    async with units() as late:
        await late.notes.get(OWNER, note.id)  # begun before the other commits
        async with units() as early:
            await early.notes.add(note)
            await early.commit()
        with pytest.raises(Exception, match="duplicate key"):
            await late.notes.add(note_factory.build(id=note.id, contents="another"))
    async with units() as uow:
        assert (await uow.notes.get(OWNER, note.id)).contents == note.contents
