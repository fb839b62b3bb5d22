"""Registration, the graph's checks, and execution plans."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import networkx as nx
import pytest

from eventing import (
    CycleError,
    DuplicateListenerError,
    EventBus,
    EventingError,
    UnknownListenerError,
)


class Base:
    pass


class Child(Base):
    pass


class Grandchild(Child):
    pass


class Other:
    pass


async def noop(event: object) -> None:
    pass


def make_bus(*listeners: tuple[str, Iterable[type], Iterable[str]]) -> EventBus[object]:
    bus: EventBus[object] = EventBus()
    for name, events, after in listeners:
        bus.subscribe(name, noop, events=events, after=after)
    return bus


def test_subscribe_registers_a_listener() -> None:
    bus = make_bus(("a", [Base], []))

    assert bus.layers(Base) == (("a",),)


def test_decorator_defaults_the_name_to_the_qualname_and_returns_the_handler() -> None:
    bus: EventBus[object] = EventBus()

    async def handler(event: object) -> None:
        pass

    decorated = bus.listener(events=(Base,))(handler)
    bus.listener(events=(Base,), name="explicit")(handler)

    assert decorated is handler
    assert bus.layers(Base) == (("explicit", handler.__qualname__),)
    assert handler.__qualname__.endswith("<locals>.handler")


def test_decorator_rejects_a_handler_without_a_qualname() -> None:
    class Callback:
        async def __call__(self, event: object) -> None:
            pass

    bus: EventBus[object] = EventBus()
    with pytest.raises(TypeError, match="pass name="):
        bus.listener(events=(Base,))(Callback())
    bus.listener(events=(Base,), name="callback")(Callback())

    assert bus.layers(Base) == (("callback",),)


def test_duplicate_name_is_rejected_and_the_bus_is_unchanged() -> None:
    bus = make_bus(("a", [Base], []))
    before = bus.to_mermaid()

    with pytest.raises(DuplicateListenerError, match="'a' is already registered") as caught:
        bus.subscribe("a", noop, events=(Other,))

    assert caught.value.name == "a"
    assert bus.to_mermaid() == before
    assert bus.layers(Other) == ()


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"name": "", "events": (Base,)}, ValueError, "non-empty"),
        ({"name": "a"}, ValueError, "subscribes to no event and comes after no listener"),
        ({"name": "a", "events": (Base,), "after": "b"}, TypeError, "not a single string"),
        ({"name": "a", "events": "Base"}, TypeError, "not a single string"),
        ({"name": "a", "events": (Base(),)}, TypeError, "events must be classes"),
    ],
)
def test_invalid_arguments_are_rejected(
    arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    bus: EventBus[object] = EventBus()

    with pytest.raises(error, match=message):
        bus.subscribe(handler=noop, **arguments)

    assert bus.to_mermaid() == "flowchart LR\n"


def test_layers_follow_after_edges_and_are_sorted_within_a_layer() -> None:
    bus = make_bus(
        ("d", [], ["c", "b"]),
        ("c", [], ["a"]),
        ("b", [Base], ["a"]),
        ("a", [Base], []),
        ("e", [Base], []),
    )

    assert bus.layers(Base) == (("a", "e"), ("b", "c"), ("d",))


def test_a_listener_runs_downstream_of_its_predecessor_without_subscribing() -> None:
    bus = make_bus(("first", [Base], []), ("then", [], ["first"]))

    assert bus.layers(Base) == (("first",), ("then",))
    assert bus.layers(Other) == ()


def test_a_predecessor_the_event_does_not_reach_is_left_out_of_the_plan() -> None:
    bus = make_bus(("a", [Base], []), ("b", [Other], ["a"]))

    assert bus.layers(Base) == (("a",), ("b",))
    assert bus.layers(Other) == (("b",),)


def test_subscribing_to_a_base_class_matches_subclasses_through_the_mro() -> None:
    bus = make_bus(
        ("on_base", [Base], []),
        ("on_child", [Child], []),
        ("on_object", [object], []),
        ("on_other", [Other], []),
    )

    assert bus.layers(Base) == (("on_base", "on_object"),)
    assert bus.layers(Grandchild) == (("on_base", "on_child", "on_object"),)
    assert bus.layers(Other) == (("on_object", "on_other"),)


def test_a_cycle_is_rejected_naming_its_path_and_the_bus_is_unchanged() -> None:
    bus = make_bus(("a", [Base], ["c"]), ("b", [], ["a"]))
    before = bus.to_mermaid()

    with pytest.raises(CycleError) as caught:
        bus.subscribe("c", noop, events=(Other,), after=("b",))

    assert str(caught.value) == "listener cycle: c -> a -> b -> c"
    assert caught.value.cycle == ("c", "a", "b", "c")
    assert bus.to_mermaid() == before
    with pytest.raises(UnknownListenerError):
        bus.layers(Base)  # "c" was not registered

    bus.subscribe("c", noop, events=(Other,))
    assert bus.layers(Base) == (("a",), ("b",))
    assert bus.layers(Other) == (("c",), ("a",), ("b",))


def test_a_listener_after_itself_is_a_cycle() -> None:
    bus: EventBus[object] = EventBus()

    with pytest.raises(CycleError, match=r"^listener cycle: a -> a$"):
        bus.subscribe("a", noop, events=(Base,), after=("a",))

    assert bus.to_mermaid() == "flowchart LR\n"


async def test_an_unknown_predecessor_fails_check_layers_and_publish_until_registered() -> None:
    bus = make_bus(("b", [Base], ["x", "a"]), ("c", [Base], ["y"]), ("a", [Base], []))

    for attempt in (bus.check, lambda: bus.layers(Base)):
        with pytest.raises(UnknownListenerError) as caught:
            attempt()
        assert caught.value.missing == (("b", "x"), ("c", "y"))
        assert str(caught.value) == (
            "unregistered listeners named in 'after': "
            "'b' comes after unknown listener 'x', 'c' comes after unknown listener 'y'"
        )
    with pytest.raises(UnknownListenerError):
        await bus.publish(Other())

    bus.subscribe("x", noop, events=(Other,))
    bus.subscribe("y", noop, after=("x",))
    bus.check()
    assert bus.layers(Base) == (("a", "c"), ("b",))
    assert bus.layers(Other) == (("x",), ("b", "y"), ("c",))


def test_errors_share_one_root() -> None:
    for error in (CycleError, DuplicateListenerError, UnknownListenerError):
        assert issubclass(error, EventingError)
    assert issubclass(EventingError, Exception)


async def test_plans_are_computed_once_per_event_type_and_recomputed_after_registration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[object] = []
    original: Callable[[Any], Any] = nx.topological_generations

    def counting(graph: Any) -> Any:
        calls.append(graph)
        return original(graph)

    monkeypatch.setattr(nx, "topological_generations", counting)
    bus = make_bus(("a", [Base], []))

    for _ in range(3):
        await bus.publish(Base())
    bus.layers(Base)
    assert len(calls) == 1

    await bus.publish(Child())
    assert len(calls) == 2

    bus.subscribe("b", noop, after=("a",))
    assert (await bus.publish(Base())).succeeded == ("a", "b")
    await bus.publish(Base())
    assert len(calls) == 3


def test_repr_counts_listeners() -> None:
    assert repr(make_bus(("a", [Base], []))) == "<EventBus with 1 listeners>"
