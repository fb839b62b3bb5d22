"""Exceptions raised by the event bus."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class EventingError(Exception):
    """Root of every error raised by this library."""


class DuplicateListenerError(EventingError):
    """A listener with this name is already registered."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a listener named {name!r} is already registered")
        self.name = name


class CycleError(EventingError):
    """A registration would make the listener graph cyclic; it was rejected."""

    def __init__(self, cycle: Sequence[str]) -> None:
        super().__init__("listener cycle: " + " -> ".join(cycle))
        self.cycle: tuple[str, ...] = tuple(cycle)
        """The closed path, first node repeated last, e.g. ``("a", "b", "a")``."""


class UnknownListenerError(EventingError):
    """Some listener must run after a listener that was never registered."""

    def __init__(self, missing: Iterable[tuple[str, str]]) -> None:
        self.missing: tuple[tuple[str, str], ...] = tuple(sorted(missing))
        """``(listener, unknown predecessor)`` pairs, sorted."""
        details = ", ".join(
            f"{listener!r} comes after unknown listener {unknown!r}"
            for listener, unknown in self.missing
        )
        super().__init__(f"unregistered listeners named in 'after': {details}")


class PartialFailureError(EventingError):
    """A plain listener raised on some events of a batch and handled the others.

    ``publish_batch`` calls a plain (one-event) handler on each event of its share in turn;
    when some of those calls raise, the listener's failure is this error, naming each event
    it raised on, with that error, in the order of the share.
    """

    def __init__(self, failures: Sequence[tuple[object, Exception]]) -> None:
        first = failures[0][1] if failures else None
        reason = f"{type(first).__name__}: {str(first).strip()[:100]}" if first else ""
        super().__init__(f"failed on {len(failures)} event(s) of the batch; the first: {reason}")
        self.failures: tuple[tuple[object, Exception], ...] = tuple(failures)
        """Each event the listener raised on, with what it raised."""
