# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
import pytest
from fastapi import HTTPException

from notes.interface.conditional import etag, if_match_versions, none_match


def test_etag_is_the_quoted_version():
    assert etag(3) == '"3"'


@pytest.mark.parametrize(
    ("header", "versions"),
    [
        (None, None),
        ("*", None),
        ('"3"', {3}),
        ('"3", "5"', {3, 5}),
        ('W/"3"', set()),
        ('"abc"', set()),
        ('"3" , W/"4"', {3}),
    ],
)
def test_if_match_accepts_strong_tags_only(header, versions):
    found = if_match_versions(header)
    assert found == (None if versions is None else frozenset(versions))


@pytest.mark.parametrize("header", ["3", '"3', "W/3", '"3" "4"'])
def test_malformed_entity_tags_are_a_400(header):
    with pytest.raises(HTTPException) as raised:
        if_match_versions(header)
    assert raised.value.status_code == 400


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        ("*", True),
        ('"2"', True),
        ('W/"2"', True),
        ('"1", "2"', True),
        ('"1"', False),
    ],
)
def test_if_none_match_compares_weakly(header, matches):
    assert none_match(header, 2) is matches


def test_if_match_with_a_tag_too_long_for_any_version_matches_nothing():
    assert if_match_versions('"' + "9" * 5000 + '"') == frozenset()
    assert if_match_versions('"' + "9" * 18 + '"') == frozenset({10**18 - 1})
