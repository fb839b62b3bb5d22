# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The commit guard against local data and environment files."""

import forbidden_files as ff
import pytest


@pytest.mark.parametrize(
    "path",
    [
        ".data/postgres/PG_VERSION",
        ".data/postgres/base/1/1259",
        "apps/notes/.data/x",
        ".env",
        "apps/notes/.env",
        ".env.local",
        ".env.production",
        "deploy\\.env",
    ],
)
def test_local_data_and_env_files_are_refused(path):
    assert ff.reason(path) is not None


@pytest.mark.parametrize(
    "path",
    [
        ".env.example",
        "apps/.env.sample",
        "README.md",
        "apps/notes/src/notes/core/config.py",
        "docs/.data.md",
        "environment.py",
        ".envrc.md",
        "",
    ],
)
def test_other_files_may_be_committed(path):
    assert ff.reason(path) is None


def test_main_names_each_refused_file_and_fails(capsys):
    assert ff.main(["README.md", ".env", ".data/postgres/PG_VERSION"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == [
        "refusing to commit .env",
        "refusing to commit .data/postgres/PG_VERSION",
    ]


def test_main_passes_clean_commits(capsys):
    assert ff.main(["README.md", "Makefile"]) == 0
    assert capsys.readouterr().out == ""
