"""The event bus: listener registration, the checked graph, and dispatch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import networkx as nx

from eventing._errors import (
    CycleError,
    DuplicateListenerError,
    PartialFailureError,
    UnknownListenerError,
)
from eventing._mermaid import render_mermaid
from eventing._result import BatchResult, DispatchResult

E = TypeVar("E")

logger = logging.getLogger("eventing")


@dataclass(frozen=True)
class _Listener:
    name: str
    handler: Callable[[Any], Awaitable[None]]
    events: tuple[type, ...]
    after: tuple[str, ...]
    batch: bool  # the handler takes a sequence of events


@dataclass(frozen=True)
class _Plan:
    layers: tuple[tuple[_Listener, ...], ...]
    predecessors: Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class _Outcome:
    succeeded: tuple[str, ...]
    failed: Mapping[str, Exception]
    skipped: tuple[str, ...]


def _no_str(value: Iterable[Any], argument: str) -> None:
    if isinstance(value, str):
        msg = f"{argument} must be an iterable of names, not a single string"
        raise TypeError(msg)


class EventBus(Generic[E]):
    """In-process publish/subscribe bus whose listeners form a directed acyclic graph.

    The graph's nodes are event types and listener names. Subscribing a listener to an
    event type adds the edge ``event_type -> listener``; ``after=("a",)`` on listener
    ``b`` adds ``a -> b``. A published event reaches every listener reachable from any
    class in its MRO, so a subscription to a base class matches its subclasses, and a
    listener that comes after another also runs, downstream of it, for every event that
    one receives: its handler must accept all of them.

    Listeners reached by one event run in ``networkx.topological_generations`` order;
    listeners of one generation (layer) run concurrently. Handlers must be idempotent:
    events published from an upstream that delivers at least once may arrive twice.

    ``publish_batch`` delivers several events in one pass over the graph: each listener runs
    once per batch, on the events of the batch that reach it. A listener registered with
    ``subscribe_batch`` receives them in one call, as a sequence, so it can handle them
    together (one transaction, one query); any other listener receives them one at a time.

    A registration that would close a cycle raises ``CycleError`` and changes nothing.
    ``after`` may name listeners registered later; ``check``, ``layers`` and ``publish``
    raise ``UnknownListenerError`` while any named predecessor is still unregistered.
    """

    def __init__(self) -> None:
        self._graph: Any = nx.DiGraph()
        self._listeners: dict[str, _Listener] = {}
        self._plans: dict[frozenset[type], _Plan] = {}
        self._reached: dict[type, frozenset[str]] = {}
        self._checked = True

    def subscribe(
        self,
        name: str,
        handler: Callable[[E], Awaitable[None]],
        *,
        events: Iterable[type[E]] = (),
        after: Iterable[str] = (),
    ) -> None:
        """Register ``handler`` as listener ``name``.

        Raises ``DuplicateListenerError`` if the name is taken and ``CycleError`` if the
        listener would close a cycle; in both cases the bus is left unchanged.
        """
        self._register(name, handler, events=events, after=after, batch=False)

    def subscribe_batch(
        self,
        name: str,
        handler: Callable[[Sequence[E]], Awaitable[None]],
        *,
        events: Iterable[type[E]] = (),
        after: Iterable[str] = (),
    ) -> None:
        """Register ``handler`` as listener ``name``, taking the events of a batch in one call.

        ``publish_batch`` calls it once with the events of the batch that reach it, in the
        order given; ``publish`` calls it with a sequence of one event. Otherwise exactly as
        ``subscribe``.
        """
        self._register(name, handler, events=events, after=after, batch=True)

    def _register(
        self,
        name: str,
        handler: Callable[[Any], Awaitable[None]],
        *,
        events: Iterable[type[E]],
        after: Iterable[str],
        batch: bool,
    ) -> None:
        _no_str(events, "events")
        _no_str(after, "after")
        if not name:
            raise ValueError("a listener name must be a non-empty string")
        if name in self._listeners:
            raise DuplicateListenerError(name)
        listener = _Listener(
            name, handler, tuple(dict.fromkeys(events)), tuple(dict.fromkeys(after)), batch
        )
        if not listener.events and not listener.after:
            msg = f"listener {name!r} subscribes to no event and comes after no listener"
            raise ValueError(msg)
        if not all(isinstance(event_type, type) for event_type in listener.events):
            msg = f"events must be classes, got {listener.events!r}"
            raise TypeError(msg)

        graph = self._graph.copy()
        graph.add_edges_from((event_type, name) for event_type in listener.events)
        graph.add_edges_from((predecessor, name) for predecessor in listener.after)
        try:
            edges: list[tuple[str, str]] = nx.find_cycle(graph, source=name)
        except nx.NetworkXNoCycle:
            pass
        else:
            path = [source for source, _ in edges]
            start = path.index(name)
            raise CycleError([*path[start:], *path[:start], name])

        self._graph = graph
        self._listeners[name] = listener
        self._plans.clear()
        self._reached.clear()
        self._checked = False

    def listener(
        self,
        *,
        events: Iterable[type[E]] = (),
        after: Iterable[str] = (),
        name: str | None = None,
    ) -> Callable[[Callable[[E], Awaitable[None]]], Callable[[E], Awaitable[None]]]:
        """Decorator form of ``subscribe``; ``name`` defaults to the handler's ``__qualname__``."""

        def register(handler: Callable[[E], Awaitable[None]]) -> Callable[[E], Awaitable[None]]:
            listener_name = name if name is not None else getattr(handler, "__qualname__", None)
            if not isinstance(listener_name, str):
                msg = f"{handler!r} has no __qualname__; pass name="
                raise TypeError(msg)
            self.subscribe(listener_name, handler, events=events, after=after)
            return handler

        return register

    def check(self) -> None:
        """Raise ``UnknownListenerError`` if any ``after`` names an unregistered listener."""
        if self._checked:
            return
        missing = [
            (listener.name, predecessor)
            for listener in self._listeners.values()
            for predecessor in listener.after
            if predecessor not in self._listeners
        ]
        if missing:
            raise UnknownListenerError(missing)
        self._checked = True

    def layers(self, event_type: type[E]) -> tuple[tuple[str, ...], ...]:
        """The execution plan for ``event_type``: layers in order, names sorted within each."""
        plan = self._plan(frozenset({event_type}))
        return tuple(tuple(lst.name for lst in layer) for layer in plan.layers)

    def to_mermaid(self) -> str:
        """The whole graph as deterministic Mermaid ``flowchart`` text."""
        nodes: list[type | str] = list(self._graph.nodes)
        return render_mermaid(
            event_types=(node for node in nodes if isinstance(node, type)),
            listeners=(node for node in nodes if isinstance(node, str)),
            edges=self._graph.edges,
        )

    async def publish(self, event: E) -> DispatchResult[E]:
        """Deliver ``event`` to every listener it reaches, layer by layer.

        A listener that raises is logged on the ``eventing`` logger and recorded in the
        result; its siblings still run, and every listener that comes after it,
        transitively, is skipped. Listener failures are never raised; cancellation is.
        """
        outcome = await self._run((event,))
        return DispatchResult(
            event=event,
            succeeded=outcome.succeeded,
            failed=outcome.failed,
            skipped=outcome.skipped,
        )

    async def publish_batch(self, events: Sequence[E]) -> BatchResult[E]:
        """Deliver ``events`` together: each listener they reach runs once, on its share.

        A listener's share is the events of the batch that reach it, in the order given.
        The layers are those of the listeners the whole batch reaches, so a listener runs
        after everything it comes after, for the batch as a whole. Failures are per
        listener and per batch: a listener that raises is recorded as failed, and every
        listener that comes after it is skipped for the whole batch, including for events
        that did not reach the failed one. A plain handler is called on every event of its
        share, one after the other, whichever of them raise: if some do (and the share
        holds more than one event), its failure is a ``PartialFailureError`` naming each of
        them, so the caller knows the others were handled. As ``publish``, it never raises
        for a listener failure, and an empty batch reaches nothing.
        """
        batch = tuple(events)
        outcome = await self._run(batch)
        return BatchResult(
            events=batch,
            succeeded=outcome.succeeded,
            failed=outcome.failed,
            skipped=outcome.skipped,
        )

    async def _run(self, events: tuple[E, ...]) -> _Outcome:
        plan = self._plan(frozenset(type(event) for event in events))
        failed: dict[str, Exception] = {}
        skipped: list[str] = []
        succeeded: list[str] = []
        for layer in plan.layers:
            runnable: list[_Listener] = []
            for listener in layer:
                blocked = plan.predecessors[listener.name] & (failed.keys() | skipped)
                if blocked:
                    logger.warning(
                        "listener %r skipped for %s: it comes after %s, which did not succeed",
                        listener.name,
                        _describe(events),
                        ", ".join(repr(name) for name in sorted(blocked)),
                    )
                    skipped.append(listener.name)
                else:
                    runnable.append(listener)
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(_deliver(lst, self._share(lst.name, events), failed))
                    for lst in runnable
                ]
            if any(task.cancelled() for task in tasks):
                # A handler raised CancelledError itself: propagate it, never swallow it.
                raise asyncio.CancelledError
            succeeded += (lst.name for lst in runnable if lst.name not in failed)
        order = [lst.name for layer in plan.layers for lst in layer]
        return _Outcome(
            succeeded=tuple(succeeded),
            failed=MappingProxyType({name: failed[name] for name in order if name in failed}),
            skipped=tuple(skipped),
        )

    def _share(self, name: str, events: tuple[E, ...]) -> tuple[E, ...]:
        """The events of a batch that reach listener ``name``."""
        return tuple(event for event in events if name in self._reach(type(event)))

    def _reach(self, event_type: type) -> frozenset[str]:
        """The listeners an event of ``event_type`` reaches."""
        reached = self._reached.get(event_type)
        if reached is None:
            found: set[str] = set()
            for cls in event_type.__mro__:
                if cls in self._graph:
                    found |= nx.descendants(self._graph, cls)
            reached = self._reached[event_type] = frozenset(found)
        return reached

    def _plan(self, event_types: frozenset[type]) -> _Plan:
        plan = self._plans.get(event_types)
        if plan is None:
            self.check()
            reached: frozenset[str] = frozenset().union(
                *(self._reach(event_type) for event_type in event_types)
            )
            subgraph: Any = self._graph.subgraph(reached)
            generations: Iterable[list[str]] = nx.topological_generations(subgraph)
            plan = _Plan(
                layers=tuple(
                    tuple(self._listeners[name] for name in sorted(generation))
                    for generation in generations
                ),
                predecessors={name: frozenset(subgraph.predecessors(name)) for name in reached},
            )
            self._plans[event_types] = plan
        return plan

    def __repr__(self) -> str:
        return f"<EventBus with {len(self._listeners)} listeners>"


def _describe(events: tuple[object, ...]) -> str:
    if len(events) == 1:
        return type(events[0]).__qualname__
    return f"a batch of {len(events)} events"


async def _deliver(
    listener: _Listener, share: tuple[object, ...], failed: dict[str, Exception]
) -> None:
    try:
        if listener.batch:
            await listener.handler(share)
        elif len(share) == 1:
            await listener.handler(share[0])
        else:
            await _each(listener, share)
    except Exception as exc:
        # One bounded line: the failure is in the result, for the caller to report or retry;
        # the traceback goes to DEBUG, so a listener failing on every retry floods no log.
        lines = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")[:200]
        logger.error(  # noqa: TRY400 - one line on purpose; the traceback is logged at DEBUG
            "listener %r failed for %s: %s", listener.name, _describe(share), reason
        )
        logger.debug("listener %r failed", listener.name, exc_info=exc)
        failed[listener.name] = exc


async def _each(listener: _Listener, share: tuple[object, ...]) -> None:
    """Call a plain handler on every event of its share; if it raised on some, raise a
    ``PartialFailureError`` naming them."""
    failures: list[tuple[object, Exception]] = []
    for event in share:
        try:
            await listener.handler(event)
        except Exception as exc:  # noqa: BLE001 - named in the listener's failure, below
            failures.append((event, exc))
    if failures:
        raise PartialFailureError(failures)
