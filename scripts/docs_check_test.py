# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The Markdown checks, on small trees made for each test, then on the project's own pages."""

import docs_check
import pytest


def _tree(tmp_path, readme, **docs):
    (tmp_path / "README.md").write_text(readme)
    (tmp_path / "docs").mkdir()
    for name, text in docs.items():
        (tmp_path / "docs" / f"{name}.md").write_text(text)
    return tmp_path


def test_a_tree_whose_links_all_resolve_has_no_problems(tmp_path):
    root = _tree(
        tmp_path,
        "# T\n[api](docs/api.md) and [a part](docs/api.md#what-make-check-runs)\n",
        api="# API\n## What `make check` runs\nBack to the [start](../README.md#t).\n",
    )
    assert docs_check.problems(root) == []
    assert docs_check.main([str(root)]) == 0


def test_a_link_to_a_missing_file_is_a_problem(tmp_path):
    root = _tree(tmp_path, "[api](docs/api.md) [gone](docs/gone.md)\n", api="# API\n")
    assert docs_check.problems(root) == ["README.md: link 'docs/gone.md' points at a missing file"]
    assert docs_check.main([str(root)]) == 1


def test_a_link_to_a_missing_heading_is_a_problem(tmp_path):
    root = _tree(tmp_path, "[api](docs/api.md#nowhere)\n", api="# API\n[self](#api)\n")
    assert docs_check.problems(root) == [
        "README.md: link 'docs/api.md#nowhere' names a heading api.md does not have"
    ]


def test_a_docs_page_the_readme_does_not_link_is_a_problem(tmp_path):
    root = _tree(tmp_path, "[api](docs/api.md)\n", api="[more](more.md)\n", more="# More\n")
    assert docs_check.problems(root) == ["docs/more.md is not linked from README.md"]


def test_a_readme_over_the_limit_is_a_problem(tmp_path):
    limit = docs_check.README_MAX_BYTES
    root = _tree(tmp_path, "x" * (limit + 1))
    message = f"README.md is {limit + 1} bytes, over {limit}: move details to docs/"
    assert docs_check.problems(root) == [message]


def test_links_in_code_and_to_other_sites_are_not_followed(tmp_path):
    root = _tree(
        tmp_path,
        "```\n[a](docs/missing.md)\n```\n`[b](missing.md)` [c](https://example.com/x.md)\n"
        "![picture](missing.png)\n",
    )
    assert docs_check.problems(root) == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("What `make check` runs", "what-make-check-runs"),
        ("Delivery: the image, Compose and CI", "delivery-the-image-compose-and-ci"),
        ("**Bold** and under_score", "bold-and-under_score"),
        ("Cost of depth", "cost-of-depth"),
    ],
)
def test_headings_get_the_anchors_a_forge_gives_them(heading, anchor):
    assert docs_check.slug(heading) == anchor


def test_a_repeated_heading_gets_a_numbered_anchor_and_fenced_lines_are_no_headings():
    text = "# Setup\n## Setup\n```\n# not a heading\n```\n## Setup\n"
    assert docs_check.anchors(text) == {"setup", "setup-1", "setup-2"}


def test_the_projects_own_pages_have_no_problems():
    assert docs_check.problems(docs_check.ROOT) == []
    assert len(docs_check.pages(docs_check.ROOT)) >= 8
