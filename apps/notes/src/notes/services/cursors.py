"""Opaque list cursors: a position in the list order, signed so it cannot be forged or altered.

A cursor reads ``<payload>.<tag>``, both unpadded base64url: the payload holds a format version,
the position's time (microseconds since the Unix epoch, UTC) and note id; the tag is the first
16 bytes of HMAC-SHA256 over the id of the owner the cursor was issued to and the payload. Only
holders of the secret can make a valid cursor, so replicas must share it, and a cursor issued to
one owner is refused for another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta

from notes.entities import Count, Position
from notes.services.errors import InvalidCursorError

_FORMAT = "1"
_TAG_BYTES = 16
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_CURSOR_LENGTH = 200
# A count's cursor holds its name (up to 100 characters, 400 bytes of UTF-8), so it is longer.
MAX_COUNT_CURSOR_LENGTH = 800


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not text or "=" in text:
        raise ValueError(text)
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    """Turns positions into signed cursors and back."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            msg = "a cursor secret needs at least 16 bytes"
            raise ValueError(msg)
        self._secret = secret

    def _tag(self, payload: bytes, owner_id: uuid.UUID) -> bytes:
        signed = owner_id.bytes + payload
        return hmac.new(self._secret, signed, hashlib.sha256).digest()[:_TAG_BYTES]

    def encode(self, position: Position, owner_id: uuid.UUID) -> str:
        """The cursor of ``position``, for ``owner_id`` alone."""
        micros = (position.creation_date - _EPOCH) // timedelta(microseconds=1)
        payload = f"{_FORMAT}:{micros}:{position.id.hex}".encode("ascii")
        return f"{_b64encode(payload)}.{_b64encode(self._tag(payload, owner_id))}"

    def decode(self, cursor: str, owner_id: uuid.UUID) -> Position:
        """The position in ``cursor``; InvalidCursorError unless this codec's secret signed it
        for ``owner_id``."""
        try:
            payload, tag = _split(cursor)
        except (ValueError, binascii.Error) as error:
            raise InvalidCursorError from error
        if not hmac.compare_digest(tag, self._tag(payload, owner_id)):
            raise InvalidCursorError
        try:
            return _position(payload)
        except (ValueError, OverflowError) as error:
            raise InvalidCursorError from error

    def encode_count(self, kind: str, after: Count, owner_id: uuid.UUID) -> str:
        """The cursor of a position in a list of counts of ``kind`` (``tags``, ...)."""
        payload = f"{kind}:{after.count}:".encode("ascii") + after.name.encode()
        return f"{_b64encode(payload)}.{_b64encode(self._tag(payload, owner_id))}"

    def decode_count(self, kind: str, cursor: str, owner_id: uuid.UUID) -> Count:
        """The position in ``cursor``; InvalidCursorError unless issued for ``kind`` and
        ``owner_id`` with this codec's secret."""
        try:
            payload, tag = _split(cursor, MAX_COUNT_CURSOR_LENGTH)
        except (ValueError, binascii.Error) as error:
            raise InvalidCursorError from error
        if not hmac.compare_digest(tag, self._tag(payload, owner_id)):
            raise InvalidCursorError
        try:
            found, count, name = payload.split(b":", 2)
            if found.decode("ascii") != kind:
                raise InvalidCursorError
            return Count(name.decode(), int(count))
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidCursorError from error


def _split(cursor: str, max_length: int = MAX_CURSOR_LENGTH) -> tuple[bytes, bytes]:
    """The payload and tag of ``cursor``; ValueError when it does not have that shape."""
    if len(cursor) > max_length:
        msg = "cursor too long"
        raise ValueError(msg)
    encoded_payload, encoded_tag = cursor.split(".")
    return _b64decode(encoded_payload), _b64decode(encoded_tag)


def _position(payload: bytes) -> Position:
    """The position a signed payload holds; ValueError for an unknown format."""
    version, micros, note_id = payload.decode("ascii").split(":")
    if version != _FORMAT:
        msg = f"unknown cursor format {version!r}"
        raise ValueError(msg)
    return Position(_EPOCH + timedelta(microseconds=int(micros)), uuid.UUID(hex=note_id))
