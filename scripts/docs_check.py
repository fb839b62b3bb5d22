"""Check the Markdown pages: links resolve, every docs page is reachable, the README is short.

python scripts/docs_check.py      check README.md, docs/*.md and the libraries' READMEs

Fails (exit 1, one line per problem) when a relative link names a file that does not exist or a
heading (``#anchor``) that the page does not have, when a page of ``docs/`` is not linked from
the README, or when the README is over README_MAX_BYTES. Links to other sites are not followed.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
README_MAX_BYTES = 10_000

_FENCE = re.compile(r"^(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def pages(root: Path) -> list[Path]:
    """The pages checked: the README, every page of docs/, every library's README."""
    found = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    found += sorted((root / "libs").glob("*/README.md"))
    return [page for page in found if page.is_file()]


def _prose(text: str) -> Iterator[str]:
    """The lines of ``text`` outside fenced code blocks."""
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            yield line


def slug(heading: str) -> str:
    """The anchor a forge gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"`|\*\*|__", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of the headings of a page; a repeated heading gets ``-1``, ``-2``..."""
    seen: dict[str, int] = {}
    found = set()
    for line in _prose(text):
        match = _HEADING.match(line)
        if match is None:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text: str) -> list[str]:
    """The link targets of a page, outside code blocks and inline code."""
    targets = []
    for line in _prose(text):
        without_code = re.sub(r"`[^`]*`", "", line)
        targets += _LINK.findall(without_code)
    return targets


def problems(root: Path) -> list[str]:
    """Every broken link, unlinked docs page and size overrun under ``root``."""
    found = []
    checked = pages(root)
    texts = {page: page.read_text() for page in checked}
    linked_from_readme: set[Path] = set()
    for page, text in texts.items():
        for target in links(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            path_part, _, anchor = target.partition("#")
            where = (page.parent / unquote(path_part)).resolve() if path_part else page
            name = f"{page.relative_to(root)}: link {target!r}"
            if not where.exists():
                found.append(f"{name} points at a missing file")
                continue
            if page.name == "README.md" and page.parent == root:
                linked_from_readme.add(where)
            if anchor and where.suffix == ".md":
                target_text = texts.get(where) or where.read_text()
                if anchor not in anchors(target_text):
                    found.append(f"{name} names a heading {where.name} does not have")
    for page in sorted((root / "docs").glob("*.md")):
        if page.resolve() not in linked_from_readme:
            found.append(f"docs/{page.name} is not linked from README.md")
    readme = root / "README.md"
    size = readme.stat().st_size if readme.is_file() else 0
    if size > README_MAX_BYTES:
        found.append(f"README.md is {size} bytes, over {README_MAX_BYTES}: move details to docs/")
    return found


def main(argv: list[str]) -> int:
    """Print the problems of the tree (or of the folder in ``argv``); 1 if there are any."""
    root = Path(argv[0]).resolve() if argv else ROOT
    found = problems(root)
    for line in found:
        print(line)
    print(f"docs: {len(pages(root))} pages, {len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
