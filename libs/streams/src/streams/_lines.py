"""Split a stream of byte chunks into numbered lines of bounded length."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Iterator
from dataclasses import dataclass

from streams._pull import aclose


@dataclass(frozen=True, slots=True)
class Line:
    """A line's content, without its line ending, and its number (the first line is 1)."""

    number: int
    content: bytes


@dataclass(frozen=True, slots=True)
class OverlongLine:
    """A line longer than the maximum: its number alone, its content was skipped unread."""

    number: int


def split_lines(
    chunks: AsyncIterable[bytes], *, max_line_bytes: int
) -> AsyncGenerator[Line | OverlongLine, None]:
    """The lines of the bytes that ``chunks`` carry, numbered, however the chunks cut them.

    Lines end with ``\\n`` or ``\\r\\n`` (the ending is not part of the content); the last line
    may have no ending, and an empty input has no lines. A line whose content is longer than
    ``max_line_bytes`` comes out as an :class:`OverlongLine`: its bytes are skipped as they
    arrive, never held, and the lines after it follow as usual.

    Memory: at most ``max_line_bytes + 1`` bytes of an unfinished line are held, besides the
    chunk being split. Chunks are pulled only as the consumer asks for lines. Closing the lines
    closes ``chunks``.
    """
    if max_line_bytes < 1:
        raise ValueError("max_line_bytes must be at least 1")
    return _split(chunks, max_line_bytes)


async def _split(
    chunks: AsyncIterable[bytes], max_line_bytes: int
) -> AsyncGenerator[Line | OverlongLine, None]:
    splitter = _Splitter(max_line_bytes)
    iterator = aiter(chunks)
    try:
        async for chunk in iterator:
            for line in splitter.feed(chunk):
                yield line
        if (last := splitter.end()) is not None:
            yield last
    finally:
        await aclose(iterator)


class _Splitter:
    """The line being read, fed chunk by chunk."""

    def __init__(self, max_line_bytes: int) -> None:
        self._max = max_line_bytes
        self._held = bytearray()
        self._overlong = False
        self._number = 0

    def feed(self, chunk: bytes) -> Iterator[Line | OverlongLine]:
        """The lines that ``chunk`` ends; the rest of it is held for the next line."""
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            self._add(chunk[start:end])
            yield self._finish()
            start = end + 1
        self._add(chunk[start:])

    def end(self) -> Line | OverlongLine | None:
        """The last line, when the input does not end with a line ending."""
        return self._finish() if self._held or self._overlong else None

    def _add(self, piece: bytes) -> None:
        # One byte more than the maximum may be held: it may be the "\r" of a "\r\n".
        if not self._overlong and len(self._held) + len(piece) > self._max + 1:
            self._overlong = True
            self._held.clear()
        if not self._overlong:
            self._held += piece

    def _finish(self) -> Line | OverlongLine:
        self._number += 1
        content = bytes(self._held.removesuffix(b"\r"))
        self._held.clear()
        overlong, self._overlong = self._overlong or len(content) > self._max, False
        return OverlongLine(self._number) if overlong else Line(self._number, content)
