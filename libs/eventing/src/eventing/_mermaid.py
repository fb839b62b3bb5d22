"""Render the listener graph as Mermaid flowchart text."""

from __future__ import annotations

from collections.abc import Iterable


def _label(text: str) -> str:
    """Quote ``text`` as a Mermaid label, entity-encoding characters Mermaid would parse."""
    for char, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return f'"{text}"'


def render_mermaid(
    event_types: Iterable[type],
    listeners: Iterable[str],
    edges: Iterable[tuple[type | str, str]],
) -> str:
    """Render events as hexagons and listeners as rectangles, every part sorted."""
    events = sorted(event_types, key=lambda t: (t.__qualname__, t.__module__))
    names = sorted(listeners)
    ids: dict[type | str, str] = {t: f"e{i}" for i, t in enumerate(events)}
    ids.update({name: f"l{i}" for i, name in enumerate(names)})
    order = {node: i for i, node in enumerate([*events, *names])}

    lines = ["flowchart LR"]
    lines += [f"    {ids[t]}{{{{{_label(t.__qualname__)}}}}}" for t in events]
    lines += [f"    {ids[name]}[{_label(name)}]" for name in names]
    lines += [
        f"    {ids[source]} --> {ids[target]}"
        for source, target in sorted(edges, key=lambda e: (order[e[0]], order[e[1]]))
    ]
    return "\n".join(lines) + "\n"
