"""split_lines: numbered lines of bounded length from byte chunks."""

from __future__ import annotations

from contextlib import aclosing

import pytest

from streams import Line, OverlongLine, split_lines
from streams._lines import _Splitter
from streams.probe_test import (
    Probe,
    cancel,
    collect,
    consume_in_task,
    no_task_left_behind,
    turns,
    until,
)


async def lines_of(*chunks: bytes, max_line_bytes: int = 100) -> list[Line | OverlongLine]:
    return [line async for line in split_lines(Probe(chunks), max_line_bytes=max_line_bytes)]


async def test_lines_are_numbered_from_one_without_their_line_endings() -> None:
    assert await lines_of(b"first\nsecond\r\n\nlast") == [
        Line(1, b"first"),
        Line(2, b"second"),
        Line(3, b""),
        Line(4, b"last"),
    ]


async def test_chunks_may_cut_lines_and_line_endings_anywhere() -> None:
    assert await lines_of(b"fi", b"rst\r", b"\nsec", b"", b"ond\r\n") == [
        Line(1, b"first"),
        Line(2, b"second"),
    ]


async def test_an_empty_input_has_no_lines_and_a_final_line_ending_adds_none() -> None:
    assert await lines_of() == []
    assert await lines_of(b"") == []
    assert await lines_of(b"only\n") == [Line(1, b"only")]


async def test_a_line_longer_than_the_maximum_is_skipped_and_numbered() -> None:
    lines = await lines_of(b"12345\n123456\r\n1234", b"567890", b"12\nok", max_line_bytes=5)

    assert lines == [Line(1, b"12345"), OverlongLine(2), OverlongLine(3), Line(4, b"ok")]


async def test_the_carriage_return_of_a_line_ending_does_not_count_towards_the_maximum() -> None:
    assert await lines_of(b"12345\r", b"\n", b"12345\r", max_line_bytes=5) == [
        Line(1, b"12345"),
        Line(2, b"12345"),
    ]
    assert await lines_of(b"123456", b"\n", max_line_bytes=5) == [OverlongLine(1)]


async def test_an_overlong_last_line_without_a_line_ending_is_reported() -> None:
    assert await lines_of(b"ok\n", b"123", b"456", max_line_bytes=5) == [
        Line(1, b"ok"),
        OverlongLine(2),
    ]


def test_an_overlong_line_is_never_held_whole() -> None:
    splitter = _Splitter(max_line_bytes=10)
    held = []
    for _ in range(1000):
        assert list(splitter.feed(b"x" * 7)) == []
        held.append(len(splitter._held))

    assert max(held) <= 10 + 1
    assert list(splitter.feed(b"\nnext\n")) == [OverlongLine(1), Line(2, b"next")]


def test_a_maximum_under_one_is_refused_at_the_call() -> None:
    with pytest.raises(ValueError, match="max_line_bytes must be at least 1"):
        split_lines(Probe([b"x"]), max_line_bytes=0)


async def test_breaking_out_closes_the_chunks_at_once() -> None:
    chunks = Probe([b"a\nb\n", b"c\n"], hang=True)

    async with aclosing(split_lines(chunks, max_line_bytes=10)) as lines:
        async for line in lines:
            assert line == Line(1, b"a")
            break

    assert chunks.closed
    assert chunks.produced == 1


async def test_cancelling_the_consumer_closes_the_chunks() -> None:
    chunks = Probe([b"a\nb"], hang=True)

    async with no_task_left_behind():
        task, received = await consume_in_task(split_lines(chunks, max_line_bytes=10))
        await until(lambda: received == [Line(1, b"a")])
        await turns()  # the chunks are waiting for ever now
        await cancel(task)

    assert chunks.cancelled


async def test_a_slow_consumer_gets_chunks_read_only_as_it_asks_for_lines() -> None:
    chunks = Probe(b"line %d\n" % number for number in range(1000))

    async with aclosing(split_lines(chunks, max_line_bytes=10)) as lines:
        assert await anext(lines) == Line(1, b"line 0")
        await turns()  # the consumer is busy; nothing more is read meanwhile

        assert chunks.produced == 1


async def test_an_error_of_the_chunks_comes_after_the_lines_before_it() -> None:
    chunks = Probe([b"a\nb"], error=ConnectionResetError("client went away"))
    received: list[Line | OverlongLine] = []

    with pytest.raises(ConnectionResetError, match="client went away"):
        await collect(split_lines(chunks, max_line_bytes=10), into=received)

    assert received == [Line(1, b"a")]
    assert chunks.closed
