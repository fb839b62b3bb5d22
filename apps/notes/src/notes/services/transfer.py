"""Export and import: an owner's notes out as NDJSON, and NDJSON in as new notes, in batches.

Both are streams with bounded memory, built from the ``streams`` helpers: the export passes the
exporter's batches on as they are read; the import splits the body into lines
(``split_lines``), checks each line on its own, and stores the valid notes a batch at a time,
each batch in one unit of work with its ``NoteCreated`` events.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field

from streams import OverlongLine, split_lines

from notes.core.clock import Clock, utc_now
from notes.core.ids import uuid7
from notes.entities import NO_FILTER, Note, NoteCreated, NoteFilter, normalize_tag
from notes.services.errors import NotesError
from notes.services.ports import NoteExporter, UnitsOfWork

ParseLine = Callable[[bytes], tuple[str, str]]
"""Reads one line of an import as (contents, category); raises ``ValueError`` saying why the
line is not a valid note (the HTTP layer gives the create's own validation)."""

EXPORT_BATCH = 1000
IMPORT_BATCH = 1000
IMPORT_BATCH_BYTES = 4 * 1024 * 1024
MAX_REPORTED_ERRORS = 1000


@dataclass(frozen=True)
class LineError:
    """A line of an import that was not stored, and why."""

    line: int
    error: str


@dataclass
class ImportReport:
    """What an import did: notes created, lines refused (the first ``MAX_REPORTED_ERRORS`` of
    them with their reasons), and the lines read (blank lines included)."""

    created: int = 0
    invalid: int = 0
    lines: int = 0
    errors: list[LineError] = field(default_factory=list)

    @property
    def errors_truncated(self) -> bool:
        """Whether more lines were refused than ``errors`` lists."""
        return self.invalid > len(self.errors)


class ImportInterruptedError(NotesError):
    """An import stopped before the end of its body: the body could not be read to its end,
    or a batch could not be stored (the cause is ``__cause__``).

    ``report`` says what was done until then. Every line before ``resume_from_line`` was
    either stored or refused (and reported); no line from it on was stored, unless the cause
    is a ``CommitOutcomeUnknownError``: then the batch of lines ``resume_from_line`` to
    ``batch_last_line`` may or may not have been stored.
    """

    def __init__(self, report: ImportReport, resume_from_line: int, batch_last_line: int) -> None:
        super().__init__(
            f"the import stopped after {report.created} notes; resume from line {resume_from_line}"
        )
        self.report = report
        self.resume_from_line = resume_from_line
        self.batch_last_line = batch_last_line


class TransferService:
    """Export of an owner's notes, and import of new ones, as streams of NDJSON."""

    def __init__(  # noqa: PLR0913 - its ports and limits, each a keyword with a default
        self,
        uow: UnitsOfWork,
        exporter: NoteExporter,
        *,
        clock: Clock = utc_now,
        new_id: Callable[[], uuid.UUID] = uuid7,
        export_batch: int = EXPORT_BATCH,
        import_batch: int = IMPORT_BATCH,
        import_batch_bytes: int = IMPORT_BATCH_BYTES,
        max_line_bytes: int = 1_310_720,
        max_reported_errors: int = MAX_REPORTED_ERRORS,
    ) -> None:
        """An import batch is stored when it holds ``import_batch`` notes or
        ``import_batch_bytes`` bytes of lines, whichever comes first; a line over
        ``max_line_bytes`` is refused without being held."""
        self._uow = uow
        self._exporter = exporter
        self._clock = clock
        self._new_id = new_id
        self._export_batch = export_batch
        self._import_batch = import_batch
        self._import_batch_bytes = import_batch_bytes
        self._max_line_bytes = max_line_bytes
        self._max_reported_errors = max_reported_errors

    def export(
        self, owner_id: uuid.UUID, *, where: NoteFilter = NO_FILTER
    ) -> AsyncGenerator[bytes, None]:
        """The owner's live notes matching ``where``, newest first, as chunks of NDJSON (see
        ``NoteExporter.export``); a ``tag`` is matched as the list matches it. Close the
        iterator to stop early: that releases the read at once."""
        if where.tag is not None:
            where = dataclasses.replace(where, tag=normalize_tag(where.tag))
        return self._exporter.export(owner_id, where=where, batch_size=self._export_batch)

    async def import_notes(
        self, owner_id: uuid.UUID, body: AsyncIterable[bytes], *, parse: ParseLine
    ) -> ImportReport:
        """Store a note of ``owner_id`` for each valid line of ``body`` (NDJSON), in batches.

        Each line is checked on its own with ``parse``: a valid line is stored, an invalid
        one is reported (its number and why) and the others go on. Blank lines are skipped.
        Each batch of valid notes is one unit of work, with a ``NoteCreated`` event per note:
        stored whole, or not at all. ``body`` is read only as the batches are stored, so the
        memory held is one batch and one line whatever the body's length.

        Raises ``ImportInterruptedError`` (the failure as its ``__cause__``) if the body
        cannot be read to its end or a batch cannot be stored: the batch being filled, and
        the lines after it, are not stored.
        """
        report = ImportReport()
        batch: list[Note] = []
        batch_bytes = 0
        settled = 0  # every line up to this one is stored or reported
        lines = split_lines(aiter(body), max_line_bytes=self._max_line_bytes)
        try:
            async with aclosing(lines):
                async for line in lines:
                    report.lines = line.number
                    if isinstance(line, OverlongLine):
                        self._refuse(report, line.number, "the line is longer than allowed")
                    elif line.content.strip():
                        try:
                            contents, category = parse(line.content)
                        except ValueError as error:
                            self._refuse(report, line.number, str(error))
                        else:
                            batch.append(self._new_note(owner_id, contents, category))
                            batch_bytes += len(line.content)
                    if not batch:
                        settled = line.number
                    elif (
                        len(batch) >= self._import_batch or batch_bytes >= self._import_batch_bytes
                    ):
                        await self._store(batch)
                        report.created += len(batch)
                        batch, batch_bytes, settled = [], 0, line.number
                if batch:
                    await self._store(batch)
                    report.created += len(batch)
        except Exception as error:
            raise ImportInterruptedError(report, settled + 1, report.lines) from error
        return report

    def _refuse(self, report: ImportReport, number: int, reason: str) -> None:
        report.invalid += 1
        if len(report.errors) < self._max_reported_errors:
            report.errors.append(LineError(number, reason))

    def _new_note(self, owner_id: uuid.UUID, contents: str, category: str) -> Note:
        return Note.new(
            id=self._new_id(),
            owner_id=owner_id,
            contents=contents,
            category=category,
            at=self._clock(),
        )

    async def _store(self, notes: list[Note]) -> None:
        async with self._uow() as uow:
            await uow.notes.copy_all(notes)
            await uow.events.copy_all(
                [NoteCreated.of(note, at=note.creation_date) for note in notes]
            )
            await uow.commit()
