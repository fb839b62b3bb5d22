"""One logging set-up for the API and the worker."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    """Send the service's logs to stderr at ``level``; safe to call more than once."""
    root = logging.getLogger()
    if not any(getattr(h, "_notes", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._notes = True  # type: ignore[attr-defined]  # noqa: SLF001 - marks our handler
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("notes").setLevel(level)
