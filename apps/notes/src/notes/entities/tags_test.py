# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
import pytest

from notes.entities import extract_tags
from notes.entities.tags import TAG_MAX


@pytest.mark.parametrize(
    ("contents", "tags"),
    [
        ("no tags here", ()),
        ("#one and #two", ("one", "two")),
        ("#Python3 #PYTHON3 #python3", ("python3",)),
        ("end of sentence #done.", ("done",)),
        ("(#inside) #snake_case, #café", ("café", "inside", "snake_case")),
        ("#2024 #1st", ("1st",)),
        ("a#b ##double # alone #_", ()),
        ("line\n#next", ("next",)),
    ],
)
def test_hashtags_are_found_lower_cased_unique_and_sorted(contents, tags):
    assert extract_tags(contents) == tags


def test_tags_longer_than_the_limit_are_ignored():
    assert extract_tags("#" + "a" * TAG_MAX + " #" + "b" * (TAG_MAX + 1)) == ("a" * TAG_MAX,)
