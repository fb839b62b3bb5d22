"""Write the listener graph, as the code builds it, into docs/events.md between its markers.

python scripts/events_graph.py          rewrite the block in docs/events.md
python scripts/events_graph.py --print  print the block instead
"""

from __future__ import annotations

import sys
from pathlib import Path

from notes.connectors.memory import InMemoryDatabase
from notes.services.listeners import GRAPH_END, GRAPH_START, build_bus, graph_block

PAGE = Path(__file__).resolve().parent.parent / "docs" / "events.md"


def main(argv: list[str]) -> int:
    """Print the block, or replace the page's."""
    # The graph does not depend on the database: in-memory units of work are never opened.
    block = graph_block(build_bus(InMemoryDatabase().unit_of_work))
    if argv[:1] == ["--print"]:
        print(block)
        return 0
    text = PAGE.read_text()
    start, end = text.find(GRAPH_START), text.find(GRAPH_END)
    if start < 0 or end < start:
        print(f"{PAGE}: markers not found; add {GRAPH_START!r} ... {GRAPH_END!r}")
        return 1
    updated = text[:start] + block + text[end + len(GRAPH_END) :]
    if updated != text:
        PAGE.write_text(updated)
    print(f"{PAGE.name}: listener graph {'updated' if updated != text else 'already current'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
