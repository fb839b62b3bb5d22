"""Refuse files that must never be committed: local database data and environment files.

    python scripts/forbidden_files.py FILE...      (the pre-commit hook passes the staged files)

Both are git-ignored, but ``git add -f`` or a changed .gitignore lets them through; this is
the second line. ``.env.example`` and the like, which hold no secrets, are allowed.
"""

from __future__ import annotations

import sys
from pathlib import PurePosixPath

DATA_DIR = ".data"
SAFE_ENV_FILES = frozenset({".env.example", ".env.sample", ".env.template"})


def reason(path: str) -> str | None:
    """Why ``path`` must not be committed, or None when it may be."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    if DATA_DIR in parts[:-1]:
        return "local data (the embedded PostgreSQL server's files live in .data/)"
    name = parts[-1] if parts else ""
    if (name == ".env" or name.startswith(".env.")) and name not in SAFE_ENV_FILES:
        return "an environment file, which holds local settings and secrets"
    return None


def main(paths: list[str]) -> int:
    """Print each forbidden path with its reason; 1 if there was any."""
    found = [(path, why) for path in paths if (why := reason(path)) is not None]
    for path, why in found:
        print(f"refusing to commit {path}: {why}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
