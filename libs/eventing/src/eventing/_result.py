"""The outcome of publishing one event, or a batch of events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

E = TypeVar("E")


@dataclass(frozen=True)
class DispatchResult(Generic[E]):
    """What happened to each listener the event reached, names in plan order.

    ``failed`` maps a listener's name to the exception it raised; ``skipped`` lists the
    listeners that did not run because something they come after failed or was skipped.
    """

    event: E
    succeeded: tuple[str, ...]
    failed: Mapping[str, Exception]
    skipped: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when every listener the event reached ran and succeeded."""
        return not self.failed and not self.skipped


@dataclass(frozen=True)
class BatchResult(Generic[E]):
    """What happened to each listener a batch reached, names in plan order.

    As ``DispatchResult``, for the batch as a whole: a listener in ``failed`` raised on its
    share of ``events``, one in ``skipped`` did not run for any of them.
    """

    events: Sequence[E]
    succeeded: tuple[str, ...]
    failed: Mapping[str, Exception]
    skipped: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when every listener the batch reached ran on its share and succeeded."""
        return not self.failed and not self.skipped
