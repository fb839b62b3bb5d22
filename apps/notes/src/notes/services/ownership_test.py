# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Property: two owners creating, editing, deleting and listing at the same time never see, nor
touch, each other's notes; on the in-memory fakes and on PostgreSQL."""

import asyncio
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testkit import OTHER_OWNER, OWNER

from notes.entities import NoteFilter
from notes.services.errors import NoteNotFoundError
from notes.services.notes import NotesService

OWNERS = (OWNER, OTHER_OWNER)
ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(OWNERS),
        st.sampled_from(["create", "edit", "delete", "list", "touch_other"]),
        st.integers(min_value=0, max_value=5),
    ),
    min_size=1,
    max_size=25,
)


async def _play(service, actions, category):
    """Run ``actions`` concurrently; what each owner created and every note each owner saw."""
    created: dict[uuid.UUID, list[uuid.UUID]] = {owner: [] for owner in OWNERS}
    seen: dict[uuid.UUID, set[uuid.UUID]] = {owner: set() for owner in OWNERS}
    refused: list[uuid.UUID] = []

    async def act(owner, action, pick):
        other = OTHER_OWNER if owner == OWNER else OWNER
        if action == "create":
            note = await service.create(owner, contents=f"note {pick}", category=category)
            created[owner].append(note.id)
        elif action == "list":
            page = await service.list(owner, limit=100, where=NoteFilter(category=category))
            seen[owner].update(note.id for note in page.notes)
        elif action == "touch_other" and created[other]:
            target = created[other][pick % len(created[other])]
            for attempt in (
                service.get_or_raise(owner, target),
                service.update(owner, target, contents="hijacked"),
                service.delete(owner, target),
            ):
                with pytest.raises(NoteNotFoundError):
                    await attempt
                refused.append(target)
        elif created[owner]:
            target = created[owner][pick % len(created[owner])]
            try:
                if action == "edit":
                    await service.update(owner, target, contents=f"edited {pick}")
                else:
                    await service.delete(owner, target)
            except NoteNotFoundError:  # deleted by an earlier action of the same owner
                pass

    await asyncio.gather(*(act(*action) for action in actions))
    for owner in OWNERS:
        page = await service.list(owner, limit=100, where=NoteFilter(category=category))
        seen[owner].update(note.id for note in page.notes)
        for note in page.notes:
            assert note.owner_id == owner
            assert note.contents != "hijacked"
    return created, seen, refused


def _check(created, seen):
    for owner in OWNERS:
        other = OTHER_OWNER if owner == OWNER else OWNER
        assert seen[owner] <= set(created[owner])
        assert not seen[owner] & set(created[other])


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=ACTIONS)
async def test_owners_never_see_each_others_notes_on_the_fakes(new_memory_db, actions):
    service = NotesService(new_memory_db().unit_of_work)
    created, seen, _ = await _play(service, actions, "shared")
    _check(created, seen)


@pytest.mark.integrated
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=ACTIONS)
async def test_owners_never_see_each_others_notes_on_postgresql(committing_uow, actions):
    service = NotesService(committing_uow)
    created, seen, _ = await _play(service, actions, f"shared-{uuid.uuid4().hex}")
    _check(created, seen)
