"""In-process async publish/subscribe event bus whose listeners form a checked DAG."""

from eventing._bus import EventBus
from eventing._errors import (
    CycleError,
    DuplicateListenerError,
    EventingError,
    PartialFailureError,
    UnknownListenerError,
)
from eventing._result import BatchResult, DispatchResult

__all__ = [
    "BatchResult",
    "CycleError",
    "DispatchResult",
    "DuplicateListenerError",
    "EventBus",
    "EventingError",
    "PartialFailureError",
    "UnknownListenerError",
]
