"""The library's exceptions: one root, a leaf for each failure a consumer must tell apart."""

from __future__ import annotations


class StreamsError(Exception):
    """The root of the library's exceptions."""


class SlowConsumerError(StreamsError):
    """The subscriber fell behind by more than its buffer and was dropped.

    It received every item up to the last one it read; the items after it are lost to it.
    """

    def __init__(self, buffer_size: int) -> None:
        super().__init__(
            f"the subscriber fell more than {buffer_size} items behind and was dropped"
        )
        self.buffer_size = buffer_size
