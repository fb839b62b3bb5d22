# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Group commit: what is written together, and who hears of a failure."""

import asyncio

import pytest

from notes.core.batching import Batcher


class Store:
    """A write function that records its batches; it can hold the first one, or refuse items."""

    def __init__(self, *, bad=(), hold_first=False, cancel=False):
        self.batches = []
        self.bad = set(bad)
        self.cancel = cancel
        self.release = asyncio.Event()
        if not hold_first:
            self.release.set()

    async def __call__(self, items):
        self.batches.append(list(items))
        await self.release.wait()
        if self.cancel:
            raise asyncio.CancelledError
        refused = self.bad.intersection(items)
        if refused:
            msg = f"refused {sorted(refused)}"
            raise ValueError(msg)


async def _submit_all(batcher, items):
    return await asyncio.gather(*(batcher.submit(i) for i in items), return_exceptions=True)


async def test_an_item_submitted_alone_is_written_at_once_alone():
    store = Store()
    await Batcher(store).submit("a")
    assert store.batches == [["a"]]


async def test_items_submitted_while_a_batch_is_written_go_together_in_the_next():
    store = Store(hold_first=True)
    batcher = Batcher(store)
    first = asyncio.create_task(batcher.submit(0))
    await asyncio.sleep(0)  # the first batch, of one item, is being written
    rest = asyncio.create_task(_submit_all(batcher, range(1, 6)))
    await asyncio.sleep(0)
    store.release.set()
    await first
    assert await rest == [None] * 5
    assert store.batches == [[0], [1, 2, 3, 4, 5]]
    assert batcher.batches == 2


async def test_a_batch_holds_at_most_max_size_items():
    store = Store(hold_first=True)
    batcher = Batcher(store, max_size=2)
    gathered = asyncio.create_task(_submit_all(batcher, range(5)))
    await asyncio.sleep(0)
    store.release.set()
    await gathered
    assert store.batches == [[0, 1], [2, 3], [4]]


async def test_when_a_batch_fails_each_item_is_tried_alone_and_only_the_bad_one_fails():
    store = Store(bad={2}, hold_first=True)
    batcher = Batcher(store)
    first = asyncio.create_task(batcher.submit(0))
    await asyncio.sleep(0)
    rest = asyncio.create_task(_submit_all(batcher, [1, 2, 3]))
    await asyncio.sleep(0)
    store.release.set()
    await first
    one, two, three = await rest
    assert (one, three) == (None, None)
    assert isinstance(two, ValueError)
    assert str(two) == "refused [2]"
    assert store.batches == [[0], [1, 2, 3], [1], [2], [3]]


async def test_an_item_that_fails_alone_is_not_tried_again():
    store = Store(bad={"x"})
    with pytest.raises(ValueError, match=r"refused \['x'\]"):
        await Batcher(store).submit("x")
    assert store.batches == [["x"]]


async def test_a_cancelled_submitter_leaves_its_item_to_be_written():
    store = Store(hold_first=True)
    batcher = Batcher(store)
    waiting = asyncio.create_task(batcher.submit("a"))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    other = asyncio.create_task(batcher.submit("b"))
    await asyncio.sleep(0)
    store.release.set()
    await other
    assert store.batches == [["a"], ["b"]]


async def test_submitters_are_cancelled_when_writing_is():
    store = Store(cancel=True)
    with pytest.raises(asyncio.CancelledError):
        await Batcher(store).submit("a")
