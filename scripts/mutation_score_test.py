# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The mutation score read from mutmut's statistics."""

import json

import mutation_score as ms
import pytest

STATS = {"killed": 30, "survived": 8, "total": 40, "no_tests": 0, "skipped": 2, "timeout": 0}


def test_score_is_killed_out_of_the_mutants_tested():
    assert ms.score(STATS) == pytest.approx(30 / 38 * 100)


def test_mutants_not_killed_count_against_the_score():
    stats = {**STATS, "survived": 4, "no_tests": 2, "timeout": 2}
    assert ms.score(stats) == pytest.approx(30 / 38 * 100)
    assert ms.describe(stats) == (
        "mutation score 78.9%: 30 of 38 mutants killed "
        "(4 survived, 2 no tests, 2 timeout, 2 skipped)"
    )


def test_nothing_tested_has_no_score():
    assert ms.score({"killed": 0, "total": 0}) is None
    assert ms.describe({"killed": 0, "total": 0}) == "mutation score n/a: 0 of 0 mutants killed"


@pytest.mark.parametrize(("fail_under", "code"), [("78", 0), ("78.9", 0), ("79", 1)])
def test_main_fails_under_the_threshold(tmp_path, capsys, fail_under, code):
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(STATS))
    assert ms.main([str(path), "--fail-under", fail_under]) == code
    assert capsys.readouterr().out.startswith("mutation score 78.9%")


def test_main_fails_when_no_mutant_was_tested(tmp_path):
    path = tmp_path / "stats.json"
    path.write_text(json.dumps({"killed": 0, "total": 0}))
    assert ms.main([str(path)]) == 1
