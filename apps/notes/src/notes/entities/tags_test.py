# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
import pytest

from notes.entities import TAGS_PER_NOTE_MAX, extract_tags, has_too_many_tags, normalize_tag
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


@pytest.mark.parametrize(
    ("contents", "tags"),
    [
        ("#cafe\u0301 and #café", ("café",)),  # decomposed and composed: one tag, composed
        ("#नमस्ते", ("नमस्ते",)),  # vowel signs and virama are combining marks: kept
        ("e\u0301#x", ()),  # after a combining mark, as after a letter: not a tag
        ("#\u0301x", ("\u0301x",)),  # a mark alone after '#' starts nothing, yet x is a letter
        ("#ÉTÉ", ("été",)),
    ],
)
def test_combining_marks_belong_to_the_tag_and_names_are_composed(contents, tags):
    assert extract_tags(contents) == tags


def test_a_note_counts_its_first_50_distinct_tags_in_order_of_appearance():
    names = [f"t{i:03d}" for i in range(TAGS_PER_NOTE_MAX + 10)]
    contents = " ".join(f"#{name} #{name.upper()}" for name in reversed(names))
    assert extract_tags(contents) == tuple(sorted(names[-TAGS_PER_NOTE_MAX:]))
    assert has_too_many_tags(contents)
    assert not has_too_many_tags(" ".join(f"#{n}" for n in names[:TAGS_PER_NOTE_MAX]) * 3)


def test_every_three_letter_hashtag_is_bounded_by_the_cap():
    letters = "abcdefghijklmnopqrstuvwxyz"
    contents = " ".join(f"#{a}{b}{c}" for a in letters for b in letters for c in letters)
    assert len(contents) > 87_000
    assert len(extract_tags(contents)) == TAGS_PER_NOTE_MAX
    assert has_too_many_tags(contents)


def test_a_queried_tag_is_normalized_as_stored_ones_are():
    assert normalize_tag("#Cafe\u0301") == "café"
    assert normalize_tag("walk") == "walk"
