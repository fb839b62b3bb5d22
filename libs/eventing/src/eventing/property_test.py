"""Properties over random listener DAGs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from eventing import EventBus


class Event:
    pass


@dataclass(frozen=True)
class Dag:
    names: list[str]  # a topological order: edges only go from earlier to later names
    edges: frozenset[tuple[str, str]]
    subscribed: frozenset[str]
    registration_order: list[str]
    pauses: dict[str, int]

    def predecessors(self, name: str) -> list[str]:
        return [source for source, target in self.edges if target == name]


@st.composite
def dags(draw: st.DrawFn) -> Dag:
    names = draw(
        st.lists(st.text("abcxyz", min_size=1, max_size=3), min_size=1, max_size=9, unique=True)
    )
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    edges = draw(st.frozensets(st.sampled_from(pairs))) if pairs else frozenset()
    # A listener nothing precedes must subscribe, or no event would reach it.
    roots = {name for name in names if not any(target == name for _, target in edges)}
    subscribed = roots | draw(st.frozensets(st.sampled_from(names)))
    return Dag(
        names=names,
        edges=edges,
        subscribed=frozenset(subscribed),
        registration_order=draw(st.permutations(names)),
        pauses={name: draw(st.integers(0, 3)) for name in names},
    )


def build(
    dag: Dag, handler: Callable[[str], Callable[[object], Awaitable[None]]]
) -> EventBus[object]:
    bus: EventBus[object] = EventBus()
    for name in dag.registration_order:
        events = (Event,) if name in dag.subscribed else ()
        bus.subscribe(name, handler(name), events=events, after=dag.predecessors(name))
    return bus


@settings(max_examples=200, deadline=None)
@given(dag=dags())
async def test_every_listener_runs_once_after_everything_it_comes_after(dag: Dag) -> None:
    log: list[tuple[str, str]] = []

    def handler(name: str) -> Callable[[object], Awaitable[None]]:
        async def record(event: object) -> None:
            log.append(("start", name))
            for _ in range(dag.pauses[name]):
                await asyncio.sleep(0)
            log.append(("finish", name))

        return record

    result = await build(dag, handler).publish(Event())

    assert result.ok
    assert sorted(result.succeeded) == sorted(dag.names)
    assert sorted(log) == sorted(
        [("start", n) for n in dag.names] + [("finish", n) for n in dag.names]
    )
    for source, target in dag.edges:
        assert log.index(("finish", source)) < log.index(("start", target))


@settings(max_examples=200, deadline=None)
@given(dag=dags(), data=st.data())
async def test_failures_skip_exactly_the_listeners_downstream_of_them(
    dag: Dag, data: st.DataObject
) -> None:
    failing = data.draw(st.frozensets(st.sampled_from(dag.names)))
    ran: list[str] = []

    def handler(name: str) -> Callable[[object], Awaitable[None]]:
        async def record(event: object) -> None:
            ran.append(name)
            if name in failing:
                raise RuntimeError(name)

        return record

    bus = build(dag, handler)
    # Alone or in a batch of two: failures and skips are the same, for the batch as a whole.
    batched = data.draw(st.booleans())
    result = await (bus.publish_batch([Event(), Event()]) if batched else bus.publish(Event()))

    graph: nx.DiGraph[str] = nx.DiGraph(dag.edges)
    graph.add_nodes_from(dag.names)
    downstream = set().union(*(nx.descendants(graph, name) for name in failing))
    assert set(result.skipped) == downstream
    assert set(result.failed) == failing - downstream
    assert set(result.succeeded) == set(dag.names) - failing - downstream
    # A plain handler is called on every event of its share, whichever of them fail.
    runs = 2 if batched else 1
    assert sorted(ran) == sorted(n for n in dag.names if n not in downstream for _ in range(runs))
    assert result.ok == (not failing)


class Left(Event):
    pass


class Right(Event):
    pass


@settings(max_examples=200, deadline=None)
@given(dag=dags(), data=st.data())
async def test_a_batch_gives_each_listener_exactly_its_share_after_its_predecessors(
    dag: Dag, data: st.DataObject
) -> None:
    # Each subscribed listener takes Left, Right or both; a batch mixes the two.
    kinds = {
        name: data.draw(st.sampled_from([(Left,), (Right,), (Left, Right)])) for name in dag.names
    }
    batched = data.draw(st.frozensets(st.sampled_from(dag.names)))
    batch = data.draw(st.lists(st.sampled_from([Left, Right]), max_size=6))
    events = [cls() for cls in batch]
    received: dict[str, list[object]] = {name: [] for name in dag.names}
    runs: list[tuple[str, str]] = []

    bus: EventBus[Event] = EventBus()
    for name in dag.registration_order:
        types = kinds[name] if name in dag.subscribed else ()
        after = dag.predecessors(name)
        if name in batched:

            async def take_batch(share: Sequence[Event], name: str = name) -> None:
                runs.append(("start", name))
                received[name] += share
                await asyncio.sleep(0)
                runs.append(("finish", name))

            bus.subscribe_batch(name, take_batch, events=types, after=after)
        else:

            async def take_one(event: Event, name: str = name) -> None:
                runs.append(("start", name))
                received[name].append(event)
                await asyncio.sleep(0)
                runs.append(("finish", name))

            bus.subscribe(name, take_one, events=types, after=after)

    result = await bus.publish_batch(events)

    graph: nx.DiGraph[object] = nx.DiGraph(dag.edges)
    graph.add_nodes_from(dag.names)
    graph.add_edges_from((cls, name) for name in dag.subscribed for cls in kinds[name])
    for name in dag.names:
        expected = [
            e for e in events if type(e) in graph and name in nx.descendants(graph, type(e))
        ]
        assert received[name] == expected
    assert result.ok
    assert sorted(result.succeeded) == sorted(n for n in dag.names if received[n])
    for source, target in dag.edges:
        if received[source] and received[target]:
            last_finish = max(i for i, run in enumerate(runs) if run == ("finish", source))
            first_start = runs.index(("start", target))
            assert last_finish < first_start
