"""Composable async-generator helpers: each closes its sources and keeps its buffers bounded."""

from streams._batched import batched
from streams._broadcast import Broadcast, Subscription
from streams._errors import SlowConsumerError, StreamsError
from streams._keepalive import with_keepalive
from streams._lines import Line, OverlongLine, split_lines
from streams._map import map_concurrently
from streams._merge import merge
from streams._replay import Ordered, replay_then_live

__all__ = [
    "Broadcast",
    "Line",
    "Ordered",
    "OverlongLine",
    "SlowConsumerError",
    "StreamsError",
    "Subscription",
    "batched",
    "map_concurrently",
    "merge",
    "replay_then_live",
    "split_lines",
    "with_keepalive",
]
