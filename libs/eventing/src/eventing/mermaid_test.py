"""The Mermaid rendering of the graph, and the README's example and diagram."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

from eventing import EventBus

README = Path(__file__).parents[2] / "README.md"


class Created:
    pass


class Deleted:
    pass


async def noop(event: object) -> None:
    pass


def test_mermaid_draws_events_listeners_and_edges_sorted() -> None:
    bus: EventBus[object] = EventBus()
    bus.subscribe("notify", noop, after=("store", "audit"))
    bus.subscribe("store", noop, events=(Deleted, Created))
    bus.subscribe("audit", noop, events=(Deleted,))

    assert bus.to_mermaid() == (
        "flowchart LR\n"
        '    e0{{"Created"}}\n'
        '    e1{{"Deleted"}}\n'
        '    l0["audit"]\n'
        '    l1["notify"]\n'
        '    l2["store"]\n'
        "    e0 --> l2\n"
        "    e1 --> l0\n"
        "    e1 --> l2\n"
        "    l0 --> l1\n"
        "    l2 --> l1\n"
    )


def test_mermaid_output_does_not_depend_on_registration_order() -> None:
    registrations: list[tuple[str, tuple[type, ...], tuple[str, ...]]] = [
        ("a", (Created,), ()),
        ("b", (Deleted, Created), ("a",)),
        ("c", (), ("b", "a")),
        ("d", (Deleted,), ()),
    ]
    outputs = set()
    for order in (registrations, registrations[::-1], registrations[1::2] + registrations[::2]):
        bus: EventBus[object] = EventBus()
        for name, events, after in order:
            bus.subscribe(name, noop, events=events, after=after)
        outputs.add(bus.to_mermaid())

    assert len(outputs) == 1


def test_mermaid_labels_escape_characters_mermaid_would_parse() -> None:
    bus: EventBus[object] = EventBus()
    bus.subscribe('say "hi" <now> #1', noop, events=(Created,))

    assert '    l0["say #quot;hi#quot; #lt;now#gt; #35;1"]\n' in bus.to_mermaid()


def readme_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", README.read_text(), re.MULTILINE | re.DOTALL)


async def test_readme_example_runs_and_its_diagram_is_current() -> None:
    definitions, usage = readme_blocks("python")
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(definitions, str(README), "exec", dont_inherit=True), namespace)  # noqa: S102
    usage = "async def usage():\n" + textwrap.indent(usage, "    ")
    exec(compile(usage, str(README), "exec", dont_inherit=True), namespace)  # noqa: S102
    await namespace["usage"]()

    [diagram] = readme_blocks("mermaid")
    assert diagram == namespace["bus"].to_mermaid()
