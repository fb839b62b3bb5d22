# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Signed list cursors: they round-trip, and anything not signed with the secret is refused."""

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from testkit import OTHER_OWNER, OWNER

from notes.core.ids import uuid7
from notes.entities import Position
from notes.services.cursors import CursorCodec
from notes.services.errors import InvalidCursorError

SECRET = b"s" * 32


@pytest.fixture
def codec():
    return CursorCodec(SECRET)


def _position():
    return Position(datetime(2026, 7, 1, 12, 30, 45, 123456, tzinfo=UTC), uuid7())


def test_cursor_round_trips_to_the_microsecond(codec):
    position = _position()
    assert codec.decode(codec.encode(position, OWNER), OWNER) == position


def test_position_in_another_time_zone_decodes_as_the_same_instant(codec):
    local = Position(datetime(2026, 7, 1, 14, 30, tzinfo=timezone(timedelta(hours=2))), uuid7())
    decoded = codec.decode(codec.encode(local, OWNER), OWNER)
    assert decoded == local
    assert decoded.creation_date.tzinfo is not None


def test_cursor_is_url_safe(codec):
    cursor = codec.encode(_position(), OWNER)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_cursor_signed_with_another_secret_is_refused(codec):
    other = CursorCodec(b"o" * 32).encode(_position(), OWNER)
    with pytest.raises(InvalidCursorError):
        codec.decode(other, OWNER)


def test_cursor_with_an_altered_payload_is_refused(codec):
    position = _position()
    payload, tag = codec.encode(position, OWNER).split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    forged = raw.replace(position.id.hex, uuid.UUID(int=position.id.int + 1).hex)
    forged_payload = base64.urlsafe_b64encode(forged.encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidCursorError):
        codec.decode(f"{forged_payload}.{tag}", OWNER)


def test_cursor_with_an_altered_tag_is_refused(codec):
    payload, tag = codec.encode(_position(), OWNER).split(".")
    flipped = ("A" if tag[0] != "A" else "B") + tag[1:]
    with pytest.raises(InvalidCursorError):
        codec.decode(f"{payload}.{flipped}", OWNER)


@pytest.mark.parametrize(
    "cursor",
    ["", "abc", "a.b.c", "....", "not base64!.x", "x" * 500, "éé.éé", "=.="],
)
def test_malformed_cursors_are_refused(codec, cursor):
    with pytest.raises(InvalidCursorError):
        codec.decode(cursor, OWNER)


def test_signed_payload_of_unknown_format_is_refused(codec):
    payload = b"9:0:" + uuid7().hex.encode()
    tag = codec._tag(payload, OWNER)
    encode = base64.urlsafe_b64encode
    cursor = f"{encode(payload).rstrip(b'=').decode()}.{encode(tag).rstrip(b'=').decode()}"
    with pytest.raises(InvalidCursorError):
        codec.decode(cursor, OWNER)


def test_short_secret_is_refused():
    with pytest.raises(ValueError, match="16 bytes"):
        CursorCodec(b"short")


def test_sixteen_byte_secret_is_long_enough():
    codec = CursorCodec(b"k" * 16)
    position = _position()
    assert codec.decode(codec.encode(position, OWNER), OWNER) == position


def test_fifteen_byte_secret_is_too_short():
    with pytest.raises(ValueError, match="16 bytes"):
        CursorCodec(b"k" * 15)


@settings(max_examples=200, deadline=None)
@given(
    moment=st.datetimes(timezones=st.just(UTC)),
    note_id=st.uuids(),
)
def test_cursor_round_trips_at_any_time_a_datetime_can_hold(moment, note_id):
    # The payload's length varies with the number of digits of the time, so does its padding.
    codec = CursorCodec(SECRET)
    position = Position(moment, note_id)
    assert codec.decode(codec.encode(position, OWNER), OWNER) == position


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1700, 1, 1, tzinfo=UTC),
        datetime(2500, 1, 1, tzinfo=UTC),
    ],
)
def test_cursor_round_trips_at_and_around_the_epoch_and_far_from_it(codec, moment):
    position = Position(moment, uuid7())
    assert codec.decode(codec.encode(position, OWNER), OWNER) == position


def test_cursor_is_accepted_only_as_issued_not_with_base64_padding(codec):
    # One spelling per cursor: the format is unpadded base64url, a padded variant is refused.
    payload, tag = codec.encode(_position(), OWNER).split(".")
    padded_tag = tag + "=" * (-len(tag) % 4)
    assert padded_tag != tag
    with pytest.raises(InvalidCursorError):
        codec.decode(f"{payload}.{padded_tag}", OWNER)


def test_a_cursor_issued_to_one_owner_is_refused_for_another(codec):
    cursor = codec.encode(_position(), OWNER)
    with pytest.raises(InvalidCursorError):
        codec.decode(cursor, OTHER_OWNER)
