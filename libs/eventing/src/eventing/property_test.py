"""Properties over random listener DAGs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
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

    result = await build(dag, handler).publish(Event())

    graph: nx.DiGraph[str] = nx.DiGraph(dag.edges)
    graph.add_nodes_from(dag.names)
    downstream = set().union(*(nx.descendants(graph, name) for name in failing))
    assert set(result.skipped) == downstream
    assert set(result.failed) == failing - downstream
    assert set(result.succeeded) == set(dag.names) - failing - downstream
    assert sorted(ran) == sorted(set(dag.names) - downstream)
    assert result.ok == (not failing)
