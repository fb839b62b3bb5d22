"""Entity tags of notes and the conditional request headers (RFC 9110, section 13).

A note's entity tag is its version, strong: ``"3"``.
"""

from __future__ import annotations

import re

from fastapi import HTTPException

# One entity tag of a list: optional weakness prefix, then a quoted string, whose characters
# (etagc) may include commas, then optional white space and a comma or the end.
_TAG = re.compile(r'[\s,]*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')


def etag(version: int) -> str:
    """The strong entity tag of a note at ``version``."""
    return f'"{version}"'


def _parse(header: str) -> list[tuple[bool, str]]:
    """The (weak, opaque tag) pairs of an entity-tag list; HTTP 400 when it is malformed.

    Read tag by tag, not split at commas: a comma inside the quotes belongs to the tag.
    """
    tags = []
    position = 0
    while header[position:].strip(" \t,"):
        match = _TAG.match(header, position)
        if match is None:
            raise HTTPException(400, detail=f"Malformed entity tag list: {header[:200]!r}.")
        tags.append((match.group(1) is not None, match.group(2)))
        position = match.end()
    return tags


MAX_VERSION_DIGITS = 18


def if_match_versions(header: str | None) -> frozenset[int] | None:
    """The versions an ``If-Match`` header accepts; None when any version will do.

    If-Match compares strongly, so weak tags accept nothing; an empty set means no version
    can match.
    """
    if header is None or header.strip() == "*":
        return None
    return frozenset(
        int(tag)
        for weak, tag in _parse(header)
        # A version has at most 18 digits (a bigint); a longer tag cannot match any note.
        if not weak and tag.isascii() and tag.isdigit() and len(tag) <= MAX_VERSION_DIGITS
    )


def none_match(header: str | None, version: int) -> bool:
    """Whether an ``If-None-Match`` header matches the note at ``version`` (weak comparison)."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return any(tag == str(version) for _, tag in _parse(header))
