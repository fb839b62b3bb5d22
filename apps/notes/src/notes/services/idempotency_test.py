# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Idempotent creates and the request fingerprints they store, against the in-memory fakes."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from testkit import OWNER

from notes.entities import IdempotencyKey
from notes.services.errors import IdempotencyKeyInUseError, IdempotencyKeyReusedError
from notes.services.notes import (
    IDEMPOTENCY_KEY_LIFETIME,
    PURGE_BATCH,
    NotesService,
    RecordedResponse,
    request_fingerprint,
)

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
# A fingerprint is stored with its key for a day, so the ones written by the release before a
# deploy must still match after it: this is the canonical form of a create, byte for byte.
CANONICAL_CREATE = (
    '{"fields":{"category":"travail","contents":"café ☕"},"operation":"create_note"}'
)
CANONICAL_CREATE_FINGERPRINT = hashlib.sha256(CANONICAL_CREATE.encode("utf-8")).hexdigest()


class Clock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now=START):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def database(memory_db):
    return memory_db


@pytest.fixture
def service(database, clock):
    return NotesService(database.unit_of_work, clock=clock)


def _respond(note):
    return RecordedResponse(201, {"id": str(note.id), "category": note.category})


def _stored_key(key, *, fingerprint, created_at, response_body=None):
    return IdempotencyKey(
        owner_id=OWNER,
        key=key,
        fingerprint=fingerprint,
        response_status=201,
        response_body=response_body or {"id": "from before"},
        created_at=created_at,
        expires_at=created_at + IDEMPOTENCY_KEY_LIFETIME,
    )


# --- fingerprints ----------------------------------------------------------------------------


def test_fingerprint_is_the_sha256_of_compact_sorted_utf8_json():
    fingerprint = request_fingerprint("create_note", contents="café ☕", category="travail")
    assert fingerprint == CANONICAL_CREATE_FINGERPRINT


def test_fingerprint_differs_when_the_operation_differs():
    fields = {"contents": "x", "category": "c"}
    assert request_fingerprint("create_note", **fields) != request_fingerprint("other", **fields)


def test_fingerprint_differs_when_a_value_moves_to_another_field():
    assert request_fingerprint("create_note", contents="x", category="") != request_fingerprint(
        "create_note", contents="", category="x"
    )


# --- replays ---------------------------------------------------------------------------------


async def test_key_recorded_by_an_earlier_release_is_replayed(service, database, clock):
    database.idempotency_keys[OWNER, "k"] = _stored_key(
        "k",
        fingerprint=CANONICAL_CREATE_FINGERPRINT,
        created_at=clock.now - timedelta(hours=1),
        response_body={"id": "from before the deploy"},
    )
    response, replayed = await service.create_idempotent(
        OWNER, key="k", contents="café ☕", category="travail", respond=_respond
    )
    assert replayed
    assert response == RecordedResponse(201, {"id": "from before the deploy"})
    assert database.notes == {}


async def test_create_without_a_category_files_the_note_under_no_category(service, database):
    response, _ = await service.create_idempotent(OWNER, key="k", contents="x", respond=_respond)
    assert response.body["category"] == ""
    assert [n.category for n in database.notes.values()] == [""]


async def test_key_in_use_error_names_the_key(service, database):
    async with database.unit_of_work() as running:
        assert await running.idempotency_keys.try_lock(OWNER, "order-42")
        with pytest.raises(IdempotencyKeyInUseError) as raised:
            await service.create_idempotent(OWNER, key="order-42", contents="x", respond=_respond)
    assert raised.value.key == "order-42"


async def test_key_reused_error_names_the_key(service):
    await service.create_idempotent(OWNER, key="order-42", contents="x", respond=_respond)
    with pytest.raises(IdempotencyKeyReusedError) as raised:
        await service.create_idempotent(OWNER, key="order-42", contents="y", respond=_respond)
    assert raised.value.key == "order-42"


# --- expiry ----------------------------------------------------------------------------------


async def test_key_is_replayed_up_to_the_end_of_its_lifetime(service, database, clock):
    first, _ = await service.create_idempotent(OWNER, key="k", contents="x", respond=_respond)
    clock.now += IDEMPOTENCY_KEY_LIFETIME - timedelta(microseconds=1)
    again, replayed = await service.create_idempotent(
        OWNER, key="k", contents="x", respond=_respond
    )
    assert replayed
    assert again == first
    assert len(database.notes) == 1


async def test_key_expires_exactly_when_its_lifetime_ends(service, database, clock):
    first, _ = await service.create_idempotent(OWNER, key="k", contents="x", respond=_respond)
    clock.now += IDEMPOTENCY_KEY_LIFETIME
    second, replayed = await service.create_idempotent(
        OWNER, key="k", contents="x", respond=_respond
    )
    assert not replayed
    assert second.body["id"] != first.body["id"]
    assert len(database.notes) == 2


async def test_stored_key_records_when_it_was_created_and_when_it_expires(service, database):
    await service.create_idempotent(OWNER, key="k", contents="x", respond=_respond)
    stored = database.idempotency_keys[OWNER, "k"]
    assert (stored.created_at, stored.expires_at) == (START, START + IDEMPOTENCY_KEY_LIFETIME)


async def test_a_create_purges_at_most_one_batch_of_expired_keys_oldest_first(service, database):
    # Purging rides on user requests: each does a bounded amount of it, the oldest keys first.
    expired = [f"old-{i:03}" for i in range(PURGE_BATCH + 5)]
    for age, key in enumerate(reversed(expired), start=1):
        database.idempotency_keys[OWNER, key] = _stored_key(
            key, fingerprint="0" * 64, created_at=START - IDEMPOTENCY_KEY_LIFETIME - timedelta(age)
        )
    await service.create_idempotent(OWNER, key="new", contents="x", respond=_respond)
    assert {key for _, key in database.idempotency_keys} == {"new", *expired[PURGE_BATCH:]}
