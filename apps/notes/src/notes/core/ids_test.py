# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
import uuid

from notes.core.ids import uuid7, uuid7_time_ms


def test_uuid7_has_version_7_and_rfc_variant():
    value = uuid7()
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_uuid7_carries_the_given_time():
    assert uuid7_time_ms(uuid7(unix_ms=1_700_000_000_123)) == 1_700_000_000_123


def test_uuid7_sorts_by_time_across_milliseconds():
    earlier = uuid7(unix_ms=1_000)
    later = uuid7(unix_ms=1_001)
    assert earlier < later


def test_uuid7_values_differ_within_one_millisecond():
    values = {uuid7(unix_ms=42) for _ in range(1000)}
    assert len(values) == 1000
