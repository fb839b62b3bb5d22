"""Creating, reading, editing, listing and deleting notes; each change is recorded as an event."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from notes.core.batching import Batcher
from notes.core.clock import Clock, utc_now
from notes.core.ids import uuid7
from notes.entities import (
    NO_FILTER,
    IdempotencyKey,
    Note,
    NoteCreated,
    NoteDeleted,
    NoteFilter,
    NoteUpdated,
    NoteView,
    Position,
    normalize_tag,
)
from notes.services.cursors import CursorCodec
from notes.services.errors import (
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    NoteNotFoundError,
    VersionConflictError,
)
from notes.services.ports import NoteReader, UnitsOfWork

IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)
# Expired keys deleted, at most, by each create that stores a new key.
PURGE_BATCH = 100


@dataclass(frozen=True)
class Page:
    """One page of a list, and the cursor of the next page (None when this is the last)."""

    notes: list[NoteView]
    next_cursor: str | None


@dataclass(frozen=True)
class RecordedResponse:
    """The answer given to the first request with an idempotency key, as the caller shaped it."""

    status: int
    body: dict[str, Any]


def request_fingerprint(operation: str, **fields: object) -> str:
    """SHA-256 (hex) of the canonical JSON of ``operation`` and ``fields``."""
    canonical = json.dumps(
        {"operation": operation, "fields": fields},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class NotesService:
    """The notes use cases. Each change is one unit of work (one transaction), except that
    creates arriving together share one (see ``create``); reads go through the reader.

    Every change records its event (``NoteCreated``, ``NoteUpdated``, ``NoteDeleted``) through
    ``uow.events`` in the same unit of work, so a change and its event are committed, or rolled
    back, together.
    """

    def __init__(  # noqa: PLR0913 - its ports and limits, each a keyword with a default
        self,
        uow: UnitsOfWork,
        *,
        reader: NoteReader | None = None,
        clock: Clock = utc_now,
        new_id: Callable[[], uuid.UUID] = uuid7,
        cursors: CursorCodec | None = None,
        max_waiting_creates: int = 10_000,
    ) -> None:
        """``reader`` serves the reads, which need no transaction of their own (with
        PostgreSQL: one autocommit statement on the read pool); by default each read runs in a
        unit of work of its own. At most ``max_waiting_creates`` creates wait for their group
        commit; beyond, ``create`` raises OverloadedError at once.
        """
        self._uow = uow
        self._reader = reader or _ReaderOverUnitsOfWork(uow)
        self._clock = clock
        self._new_id = new_id
        self._cursors = cursors or CursorCodec(secrets.token_bytes(32))
        self._creates = Batcher(self._store_new, max_waiting=max_waiting_creates)

    def _new_note(self, owner_id: uuid.UUID, contents: str, category: str, now: datetime) -> Note:
        return Note.new(
            id=self._new_id(), owner_id=owner_id, contents=contents, category=category, at=now
        )

    async def create(self, owner_id: uuid.UUID, *, contents: str, category: str = "") -> NoteView:
        """Store a new note of ``owner_id`` and return it once committed.

        Creates that arrive together are committed together (group commit): one transaction
        and one round trip per statement for the lot, instead of for each note. When that
        transaction fails for the database's sake (``UnavailableError``), every create of it
        fails with that error and none is tried again (see ``Batcher``).
        """
        note = self._new_note(owner_id, contents, category, self._clock())
        await self._creates.submit(note)
        return NoteView.of(note)

    async def close(self, timeout: float) -> None:  # noqa: ASYNC109 - see Batcher.close
        """Take no more creates (``StoppingError``); wait up to ``timeout`` seconds for those
        accepted to be committed, then give up on the rest (see ``Batcher.close``)."""
        await self._creates.close(timeout)

    @property
    def create_batches(self) -> int:
        """How many groups the creates so far were committed in."""
        return self._creates.batches

    async def _store_new(self, notes: Sequence[Note]) -> None:
        async with self._uow() as uow:
            await uow.notes.add_all(notes)
            await uow.events.add_all(
                [NoteCreated.of(note, at=note.creation_date) for note in notes]
            )
            await uow.commit()

    async def create_idempotent(
        self,
        owner_id: uuid.UUID,
        *,
        key: str,
        contents: str,
        category: str = "",
        respond: Callable[[NoteView], RecordedResponse],
    ) -> tuple[RecordedResponse, bool]:
        """Create a note at most once per owner and ``key``; the response, and whether it is a
        replay. Keys are the owner's own: another owner's use of the same key is unrelated.

        The first request with ``key`` stores a note, and ``respond(note)`` beside it in the same
        transaction. A repeat within IDEMPOTENCY_KEY_LIFETIME gets that response again and
        creates nothing; a repeat with other contents or category raises
        IdempotencyKeyReusedError, and one arriving while the first is still running raises
        IdempotencyKeyInUseError instead of waiting. Expired keys count as never used.
        """
        fingerprint = request_fingerprint("create_note", contents=contents, category=category)
        now = self._clock()
        async with self._uow() as uow:
            if not await uow.idempotency_keys.try_lock(owner_id, key):
                raise IdempotencyKeyInUseError(key)
            # Read after taking the lock: whoever held it before has committed or rolled back.
            record = await uow.idempotency_keys.get(owner_id, key)
            if record is not None and record.expires_at > now:
                if record.fingerprint != fingerprint:
                    raise IdempotencyKeyReusedError(key)
                return RecordedResponse(record.response_status, record.response_body), True
            if record is not None:
                await uow.idempotency_keys.remove(record)
            await uow.idempotency_keys.purge_expired(now, limit=PURGE_BATCH)
            note = self._new_note(owner_id, contents, category, now)
            await uow.notes.add(note)
            await uow.events.add(NoteCreated.of(note, at=note.creation_date))
            response = respond(NoteView.of(note))
            await uow.idempotency_keys.add(
                IdempotencyKey(
                    owner_id=owner_id,
                    key=key,
                    fingerprint=fingerprint,
                    response_status=response.status,
                    response_body=response.body,
                    created_at=now,
                    expires_at=now + IDEMPOTENCY_KEY_LIFETIME,
                )
            )
            await uow.commit()
        return response, False

    async def get_or_raise(self, owner_id: uuid.UUID, note_id: uuid.UUID) -> NoteView:
        """The owner's live note with ``note_id``; NoteNotFoundError if there is none (another
        owner's note included)."""
        note = await self._reader.get(owner_id, note_id)
        if note is None:
            raise NoteNotFoundError(note_id)
        return note

    async def update(
        self,
        owner_id: uuid.UUID,
        note_id: uuid.UUID,
        *,
        contents: str | None = None,
        category: str | None = None,
        if_version: Collection[int] | None = None,
    ) -> NoteView:
        """Change the given fields and return the note as it is then; ``None`` leaves a field.

        With ``if_version``, the change applies only if the note is at one of those versions,
        checked under a row lock so concurrent edits based on the same version cannot both
        apply: the others raise VersionConflictError and change nothing. A change that alters
        something bumps ``version`` and sets ``updated_at``; one that alters nothing does not.
        """
        async with self._uow() as uow:
            note = await uow.notes.get_for_update(owner_id, note_id)
            if note is None:
                raise NoteNotFoundError(note_id)
            if if_version is not None and note.version not in if_version:
                raise VersionConflictError(note_id, note.version)
            before = (note.contents, note.category)
            changed = False
            if contents is not None and contents != note.contents:
                note.contents = contents
                changed = True
            if category is not None and category != note.category:
                note.category = category
                changed = True
            if changed:
                note.version += 1
                note.updated_at = self._clock()
                await uow.events.add(NoteUpdated.of(note, at=note.updated_at, before=before))
                await uow.commit()
            return NoteView.of(note)

    async def list(
        self,
        owner_id: uuid.UUID,
        *,
        limit: int = 20,
        offset: int = 0,
        cursor: str | None = None,
        where: NoteFilter = NO_FILTER,
    ) -> Page:
        """A page of the owner's live notes matching ``where``, newest first.

        ``cursor`` (from a previous page's ``next_cursor``) continues after that page's last
        note, whatever was added or deleted since; InvalidCursorError if it was not issued
        here, to this owner. ``offset`` skips that many notes from the start (or from the
        cursor). A ``tag`` in ``where`` is matched without its ``#`` and case-insensitively.
        """
        if where.tag is not None:
            where = dataclasses.replace(where, tag=normalize_tag(where.tag))
        after = None if cursor is None else self._cursors.decode(cursor, owner_id)
        found = await self._reader.list(
            owner_id, limit=limit + 1, offset=offset, after=after, where=where
        )
        if len(found) <= limit:
            return Page(found, None)
        page = found[:limit]
        return Page(page, self._cursors.encode(Position.of(page[-1]), owner_id))

    async def delete(
        self,
        owner_id: uuid.UUID,
        note_id: uuid.UUID,
        *,
        if_version: Collection[int] | None = None,
    ) -> NoteView:
        """Mark the note deleted and return it as it was then; NoteNotFoundError if it is not live.

        With ``if_version``, only while the note is at one of those versions (checked under the
        row lock, as ``update`` does); otherwise VersionConflictError and nothing changes.
        """
        async with self._uow() as uow:
            note = await uow.notes.get_for_update(owner_id, note_id)
            if note is None:
                raise NoteNotFoundError(note_id)
            if if_version is not None and note.version not in if_version:
                raise VersionConflictError(note_id, note.version)
            note.deleted_at = self._clock()
            await uow.events.add(NoteDeleted.of(note, at=note.deleted_at))
            await uow.commit()
            return NoteView.of(note)


class _ReaderOverUnitsOfWork(NoteReader):
    """Each read in a unit of work of its own: the reader when no other is given."""

    def __init__(self, uow: UnitsOfWork) -> None:
        self._uow = uow

    async def get(self, owner_id: uuid.UUID, note_id: uuid.UUID) -> NoteView | None:
        async with self._uow() as uow:
            return await uow.notes.get(owner_id, note_id)

    async def list(
        self,
        owner_id: uuid.UUID,
        *,
        limit: int,
        offset: int = 0,
        after: Position | None = None,
        where: NoteFilter = NO_FILTER,
    ) -> list[NoteView]:
        async with self._uow() as uow:
            return await uow.notes.list(
                owner_id, limit=limit, offset=offset, after=after, where=where
            )
