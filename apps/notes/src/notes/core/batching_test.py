# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Group commit: what is written together, who hears of a failure, and how it stops."""

import asyncio

import pytest

from notes.core.batching import Batcher
from notes.core.errors import (
    CommitOutcomeUnknownError,
    DatabaseTimeoutError,
    DatabaseUnavailableError,
    OverloadedError,
    StoppingError,
)


class Store:
    """A write function that records its batches.

    It holds a write of exactly the items of one of ``hold`` (tuples) until that gate opens
    (``open(*items)``), refuses items in ``bad`` (a fault of the item: ValueError), and raises
    ``failures[items]`` (a fault of the database) for a write of exactly those items. Writes
    that were cancelled are in ``cancelled``.
    """

    def __init__(self, *, bad=(), hold=(), failures=None, cancel=False):
        self.batches = []
        self.cancelled = []
        self.bad = set(bad)
        self.gates = {tuple(items): asyncio.Event() for items in hold}
        self.failures = failures or {}
        self.cancel = cancel

    def open(self, *items):
        self.gates[items].set()

    async def __call__(self, items):
        self.batches.append(list(items))
        try:
            gate = self.gates.get(tuple(items))
            if gate is not None:
                await gate.wait()
        except asyncio.CancelledError:
            self.cancelled.append(list(items))
            raise
        if self.cancel:
            raise asyncio.CancelledError
        if tuple(items) in self.failures:
            raise self.failures[tuple(items)]
        refused = self.bad.intersection(items)
        if refused:
            msg = f"refused {sorted(refused)}"
            raise ValueError(msg)


async def _submit_all(batcher, items):
    return await asyncio.gather(*(batcher.submit(i) for i in items), return_exceptions=True)


async def _settle():
    """Let every task that can run, run."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_an_item_submitted_alone_is_written_at_once_alone():
    store = Store()
    await Batcher(store).submit("a")
    assert store.batches == [["a"]]


async def test_items_submitted_while_a_batch_is_written_go_together_in_the_next():
    store = Store(hold=[(0,)])
    batcher = Batcher(store)
    first = asyncio.create_task(batcher.submit(0))
    await _settle()  # the first batch, of one item, is being written
    rest = asyncio.create_task(_submit_all(batcher, range(1, 6)))
    await _settle()
    store.open(0)
    await first
    assert await rest == [None] * 5
    assert store.batches == [[0], [1, 2, 3, 4, 5]]
    assert batcher.batches == 2


async def test_a_batch_holds_at_most_max_size_items():
    store = Store(hold=[(0,)])
    batcher = Batcher(store, max_size=2)
    gathered = asyncio.create_task(_submit_all(batcher, range(5)))
    await _settle()
    store.open(0)
    await gathered
    assert store.batches == [[0, 1], [2, 3], [4]]


async def test_when_a_batch_fails_for_one_item_each_is_tried_alone_and_only_that_one_fails():
    store = Store(bad={2}, hold=[(0,)])
    batcher = Batcher(store)
    first = asyncio.create_task(batcher.submit(0))
    await _settle()
    rest = asyncio.create_task(_submit_all(batcher, [1, 2, 3]))
    await _settle()
    store.open(0)
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


@pytest.mark.parametrize(
    "failure",
    [
        DatabaseTimeoutError("statement timeout"),
        CommitOutcomeUnknownError("lost during the commit"),
        DatabaseUnavailableError("connection lost"),
    ],
)
async def test_a_batch_that_fails_for_the_database_fails_all_its_callers_and_is_not_retried(
    failure,
):
    store = Store(hold=[(0,)], failures={(0,): failure})
    batcher = Batcher(store)
    first = asyncio.create_task(batcher.submit(0))
    await _settle()
    store.open(0)
    with pytest.raises(type(failure)):
        await first
    assert store.batches == [[0]]

    store = Store(hold=[(0,)], failures={(1, 2, 3): failure})
    batcher = Batcher(store)
    first = asyncio.create_task(batcher.submit(0))
    await _settle()
    rest = asyncio.create_task(_submit_all(batcher, [1, 2, 3]))
    await _settle()
    store.open(0)
    await first
    assert await rest == [failure] * 3
    assert store.batches == [[0], [1, 2, 3]]


async def test_items_waiting_behind_a_batch_that_lost_the_database_fail_unwritten():
    failures = {(0,): CommitOutcomeUnknownError("lost during the commit")}
    store = Store(hold=[(0,)], failures=failures)
    batcher = Batcher(store, max_size=1)
    first = asyncio.create_task(batcher.submit(0))
    await _settle()
    rest = asyncio.create_task(_submit_all(batcher, [1, 2]))
    await _settle()
    store.open(0)
    with pytest.raises(CommitOutcomeUnknownError):
        await first
    one, two = await rest
    # Their notes were in no commit: unavailable, not "outcome unknown".
    assert type(one) is type(two) is DatabaseUnavailableError
    assert str(one) == "not written: lost during the commit"
    assert store.batches == [[0]]


async def test_items_waiting_behind_a_batch_that_timed_out_are_written():
    store = Store(hold=[(0,)], failures={(0,): DatabaseTimeoutError("lock timeout")})
    batcher = Batcher(store)
    first = asyncio.create_task(batcher.submit(0))
    await _settle()
    rest = asyncio.create_task(_submit_all(batcher, [1, 2]))
    await _settle()
    store.open(0)
    with pytest.raises(DatabaseTimeoutError):
        await first
    assert await rest == [None, None]
    assert store.batches == [[0], [1, 2]]


async def test_past_max_waiting_a_submit_is_refused_at_once():
    store = Store(hold=[(0,)])
    batcher = Batcher(store, max_waiting=2)
    first = asyncio.create_task(batcher.submit(0))
    await _settle()  # being written: no longer waiting
    waiting = asyncio.create_task(_submit_all(batcher, [1, 2]))
    await _settle()
    with pytest.raises(OverloadedError, match="2 writes are already waiting"):
        await batcher.submit(3)
    store.open(0)
    await first
    assert await waiting == [None, None]
    assert store.batches == [[0], [1, 2]]


async def test_a_cancelled_submitter_takes_its_waiting_item_out():
    store = Store(hold=[("a",)])
    batcher = Batcher(store)
    first = asyncio.create_task(batcher.submit("a"))
    await _settle()
    waiting = asyncio.create_task(batcher.submit("b"))
    other = asyncio.create_task(batcher.submit("c"))
    await _settle()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    store.open("a")
    await first
    await other
    assert store.batches == [["a"], ["c"]]


async def test_a_cancelled_submitter_leaves_its_item_in_a_batch_written_for_others():
    store = Store(hold=[("a", "b")])
    batcher = Batcher(store)
    leaving = asyncio.create_task(batcher.submit("a"))
    staying = asyncio.create_task(batcher.submit("b"))
    await _settle()  # "a" and "b" are being written together
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    store.open("a", "b")
    await staying
    assert store.batches == [["a", "b"]]
    assert store.cancelled == []


async def test_a_batch_whose_submitters_all_left_is_cancelled_and_the_next_goes_on():
    store = Store(hold=[("a", "b")])
    batcher = Batcher(store)
    leaving = [asyncio.create_task(batcher.submit(item)) for item in ("a", "b")]
    await _settle()
    later = asyncio.create_task(batcher.submit("c"))
    await _settle()
    for task in leaving:
        task.cancel()
    await asyncio.gather(*leaving, return_exceptions=True)
    await later
    assert store.cancelled == [["a", "b"]]
    assert store.batches == [["a", "b"], ["c"]]


async def test_a_write_cancelled_from_within_fails_its_submitters_as_stopping():
    store = Store(cancel=True)
    with pytest.raises(StoppingError):
        await Batcher(store).submit("a")


async def test_close_refuses_new_items_and_returns_at_once_when_idle():
    store = Store()
    batcher = Batcher(store)
    await batcher.submit("a")
    await batcher.close(timeout=10)
    with pytest.raises(StoppingError):
        await batcher.submit("b")
    assert store.batches == [["a"]]


async def test_close_waits_until_what_was_submitted_is_written():
    store = Store(hold=[(0,)])
    batcher = Batcher(store, max_size=2)
    submitted = asyncio.create_task(_submit_all(batcher, range(5)))
    await _settle()
    closing = asyncio.create_task(batcher.close(timeout=60))
    await _settle()
    assert not closing.done()
    store.open(0)
    await closing
    assert await submitted == [None] * 5
    assert store.batches == [[0, 1], [2, 3], [4]]


async def test_close_past_its_timeout_cancels_the_write_and_fails_the_rest_unwritten():
    store = Store(hold=[(0,)])
    batcher = Batcher(store, max_size=1)
    submitted = asyncio.create_task(_submit_all(batcher, range(3)))
    await _settle()
    await batcher.close(timeout=0.01)
    results = await submitted
    assert all(isinstance(result, StoppingError) for result in results)
    assert store.batches == [[0]]
    assert store.cancelled == [[0]]


async def test_cancellation_during_the_retry_alone_path():
    # The batch [1, 2, 3, 4] fails for item 2's sake, so each is tried alone; item 3 is held.
    store = Store(bad={2}, hold=[(0,), (3,)])
    batcher = Batcher(store)
    first = asyncio.create_task(batcher.submit(0))
    await _settle()
    tasks = {item: asyncio.create_task(batcher.submit(item)) for item in (1, 2, 3, 4)}
    await _settle()
    store.open(0)
    await first
    await _settle()
    assert store.batches[-1] == [3]  # item 3 is being written alone, and held
    tasks[4].cancel()  # its submitter leaves before its turn: it is not written
    await _settle()
    await batcher.close(timeout=0.01)  # gives up on item 3: its write is cancelled
    await tasks[1]  # written alone
    with pytest.raises(ValueError, match=r"refused \[2\]"):
        await tasks[2]
    with pytest.raises(StoppingError):
        await tasks[3]
    with pytest.raises(asyncio.CancelledError):
        await tasks[4]
    assert store.batches == [[0], [1, 2, 3, 4], [1], [2], [3]]
    assert store.cancelled == [[3]]


async def test_a_submitter_leaving_while_its_item_is_retried_alone_cancels_that_write():
    store = Store(bad={2}, hold=[(0,), (3,)])
    batcher = Batcher(store)
    first = asyncio.create_task(batcher.submit(0))
    await _settle()
    tasks = {item: asyncio.create_task(batcher.submit(item)) for item in (1, 2, 3, 4)}
    await _settle()
    store.open(0)
    await first
    await _settle()
    tasks[3].cancel()  # item 3 is being written alone: its write is cancelled, 4 goes on
    await tasks[4]  # written alone, after
    with pytest.raises(asyncio.CancelledError):
        await tasks[3]
    assert store.batches == [[0], [1, 2, 3, 4], [1], [2], [3], [4]]
    assert store.cancelled == [[3]]
