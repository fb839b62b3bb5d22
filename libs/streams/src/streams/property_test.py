"""Rules over arbitrary data: chunkings, batch sizes, interleavings, switch points."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

from hypothesis import given, settings
from hypothesis import strategies as st

from streams import (
    Broadcast,
    Line,
    OverlongLine,
    batched,
    map_concurrently,
    merge,
    replay_then_live,
    split_lines,
)
from streams.probe_test import Probe

SETTINGS = settings(max_examples=200, deadline=None)

# Bytes rich in line endings, so that chunk borders fall on and between them.
data = st.lists(st.sampled_from([b"a", b"bc", b"\n", b"\r", b"\r\n", b"xyz" * 3]), max_size=30).map(
    b"".join
)


def expected_lines(whole: bytes, max_line_bytes: int) -> list[Line | OverlongLine]:
    """The lines of ``whole``, computed from the whole at once."""
    parts = whole.split(b"\n")
    if parts[-1] == b"":
        parts.pop()  # a final line ending starts no line
    contents = [part.removesuffix(b"\r") for part in parts]
    return [
        Line(number, content) if len(content) <= max_line_bytes else OverlongLine(number)
        for number, content in enumerate(contents, start=1)
    ]


def chunked(whole: bytes, cuts: list[int]) -> list[bytes]:
    borders = [0, *sorted(cut % (len(whole) + 1) for cut in cuts), len(whole)]
    return [whole[start:end] for start, end in itertools.pairwise(borders)]


@SETTINGS
@given(whole=data, cuts=st.lists(st.integers(min_value=0), max_size=10), maximum=st.integers(1, 12))
async def test_split_lines_over_any_chunking_equals_splitting_the_whole(
    whole: bytes, cuts: list[int], maximum: int
) -> None:
    chunks = Probe(chunked(whole, cuts))

    lines = [line async for line in split_lines(chunks, max_line_bytes=maximum)]

    assert lines == expected_lines(whole, maximum)


@SETTINGS
@given(items=st.lists(st.integers()), size=st.integers(1, 8), timed=st.booleans())
async def test_batched_keeps_every_item_in_order_in_batches_of_size(
    items: list[int],
    size: int,
    timed: bool,  # noqa: FBT001 - drawn by hypothesis
) -> None:
    batches = [b async for b in batched(Probe(items), size, max_wait=3600 if timed else None)]

    assert [item for batch in batches for item in batch] == items
    assert all(len(batch) == size for batch in batches[:-1])
    assert all(1 <= len(batch) <= size for batch in batches)


@SETTINGS
@given(sources=st.lists(st.lists(st.integers(0, 3)), max_size=5))
async def test_merge_keeps_every_item_once_and_the_order_within_each_source(
    sources: list[list[int]],
) -> None:
    # Each item carries its source and its place there; the value sets its pause.
    tagged = [
        [(index, place, pause) for place, pause in enumerate(s)] for index, s in enumerate(sources)
    ]

    async def paced(items: list[tuple[int, int, int]]) -> AsyncIterator[tuple[int, int, int]]:
        for item in items:
            for _ in range(item[2]):
                await asyncio.sleep(0)
            yield item

    merged = [item async for item in merge(*(paced(items) for items in tagged))]

    assert sorted(merged) == sorted(item for items in tagged for item in items)
    for index, items in enumerate(tagged):
        assert [item for item in merged if item[0] == index] == items


@SETTINGS
@given(pauses=st.lists(st.integers(0, 5), max_size=20), limit=st.integers(1, 6))
async def test_map_concurrently_gives_the_results_in_source_order(
    pauses: list[int], limit: int
) -> None:
    async def slow_double(index: int) -> int:
        for _ in range(pauses[index]):
            await asyncio.sleep(0)
        return 2 * index

    results = [
        r async for r in map_concurrently(slow_double, Probe(range(len(pauses))), limit=limit)
    ]

    assert results == [2 * index for index in range(len(pauses))]


@SETTINGS
@given(
    total=st.integers(0, 30),
    data=st.data(),
)
async def test_replay_then_live_has_no_gap_and_no_duplicate_whatever_the_timing(
    total: int, data: st.DataObject
) -> None:
    # Items 1..total are committed one by one; the client last saw `after`. It subscribes
    # after `subscribed` items were committed and its query sees the first `snapshot` ones
    # (taken after subscribing); the live items are published as they commit.
    after = data.draw(st.integers(0, total))
    subscribed = data.draw(st.integers(after, total))
    snapshot = data.draw(st.integers(subscribed, total))
    hub = Broadcast[int](buffer_size=total + 1)

    page = data.draw(st.integers(1, 5))  # the replay reads the log in pages of this size

    async def replay() -> AsyncIterator[list[int]]:
        items = list(range(after + 1, snapshot + 1))
        for start in range(0, len(items), page):
            yield items[start : start + page]

    received: list[int] = []
    async with hub.subscribe() as live:
        for item in range(subscribed + 1, total + 1):
            hub.publish(item)
        stream = replay_then_live(replay(), live.batches(), key=lambda item: item, after=after)
        while len(received) < total - after:
            received += await anext(stream)
        await stream.aclose()

    assert received == list(range(after + 1, total + 1))
