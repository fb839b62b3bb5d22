"""Give Compose the secrets it refuses to default: ``python scripts/compose_env.py [FILE]``.

docker-compose.yml has no default for ``POSTGRES_PASSWORD`` or ``NOTES_CURSOR_SECRET``:
``compose up`` stops and names the one that is missing. This writes the missing ones into
FILE (default ``.env`` beside the Compose files, which Compose reads and git ignores), each a
fresh random value, and keeps every line already there, so the database volume's password
stays the one it was created with. The file is readable by its owner only. Run by
``make compose_up``; ``make container_test`` generates its own values per run instead.
"""

from __future__ import annotations

import re
import secrets
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Each variable Compose requires, and how a fresh value for it is made (URL-safe, so that it
# fits in NOTES_DATABASE_URL unquoted; the cursor secret needs 16 bytes or more).
GENERATED: Mapping[str, Callable[[], str]] = {
    "POSTGRES_PASSWORD": lambda: secrets.token_urlsafe(24),
    "NOTES_CURSOR_SECRET": lambda: secrets.token_urlsafe(32),
}
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def assigned(text: str) -> dict[str, str]:
    """The variables an env file gives a non-empty value, as Compose reads simple lines."""
    found = {}
    for line in text.splitlines():
        match = _ASSIGNMENT.match(line)
        if match and not line.lstrip().startswith("#"):
            value = match.group(2).strip("'\"")
            if value:
                found[match.group(1)] = value
    return found


def missing_lines(text: str) -> list[str]:
    """The lines to append to an env file holding ``text``: one per variable it lacks."""
    present = assigned(text)
    return [f"{name}={make()}" for name, make in GENERATED.items() if name not in present]


def ensure(path: Path) -> list[str]:
    """Append the missing variables to ``path`` (created if absent); the names added."""
    text = path.read_text() if path.exists() else ""
    lines = missing_lines(text)
    if lines:
        header = [] if text else ["# Compose's secrets for this checkout (git-ignored)."]
        separator = "" if not text or text.endswith("\n") else "\n"
        path.write_text(text + separator + "\n".join([*header, *lines]) + "\n")
    path.chmod(0o600)
    return [line.split("=", 1)[0] for line in lines]


def main(argv: list[str]) -> int:
    """Complete the env file named in ``argv`` (default: ``.env`` of the checkout)."""
    path = Path(argv[0]) if argv else ROOT / ".env"
    added = ensure(path)
    if added:
        print(f"compose_env: wrote {', '.join(added)} into {path}")
    else:
        print(f"compose_env: {path} already sets {', '.join(GENERATED)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
