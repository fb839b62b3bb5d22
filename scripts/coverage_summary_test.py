# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The coverage summary: figures per package, the service's gate, the servers' lines."""

import coverage_summary as cs
import pytest


def _file(lines, of_lines, branches=0, of_branches=0):
    return {
        "summary": {
            "covered_lines": lines,
            "num_statements": of_lines,
            "covered_branches": branches,
            "num_branches": of_branches,
        }
    }


FILES = {
    "/w/apps/notes/src/notes/__main__.py": _file(10, 10),
    "/w/apps/notes/src/notes/services/notes.py": _file(80, 90, 8, 10),
    "/w/libs/localpg/src/localpg/_server.py": _file(0, 50, 0, 10),
}


@pytest.mark.parametrize(
    ("path", "package"),
    [
        ("/w/apps/notes/src/notes/services/notes.py", "notes"),
        ("libs/eventing/src/eventing/_bus.py", "eventing"),
        ("scripts/localdb.py", "(other)"),
    ],
)
def test_files_belong_to_the_package_after_src(path, package):
    assert cs.package_of(path) == package


def test_counts_are_summed_per_package_and_in_total():
    counts = cs.by_package(FILES)
    assert (counts["notes"].lines, counts["notes"].lines_total) == (90, 100)
    assert (counts["notes"].branches, counts["notes"].branches_total) == (8, 10)
    assert (counts["TOTAL"].lines_total, counts["TOTAL"].branches_total) == (150, 20)
    assert counts["notes"].percent() == pytest.approx(98 / 110 * 100)


def test_summary_line_shows_lines_branches_and_both():
    line = cs.by_package(FILES)["notes"].line("notes")
    assert "lines  90.0% (90/100)" in line
    assert "branches  80.0% (8/10)" in line
    assert line.endswith("together  89.1%")


def test_package_without_branches_reports_none():
    assert "branches    n/a (0/0)" in cs.by_package({"a/src/p/m.py": _file(1, 1)})["p"].line("p")


def test_gate_is_on_the_service_not_the_libraries():
    # localpg is not covered at all, which would sink the total, but the gate is on notes.
    assert cs.problems(FILES, fail_under=89.0) == []
    assert cs.problems(FILES, fail_under=90.0) == ["notes is covered 89.1%, under 90.0%"]


def test_unmeasured_server_processes_are_reported():
    files = {**FILES, "/w/apps/notes/src/notes/__main__.py": _file(0, 10)}
    assert cs.problems(files, fail_under=0) == [
        "notes/__main__.py never ran measured: the server processes were not measured"
    ]
    without = {p: d for p, d in FILES.items() if not p.endswith("__main__.py")}
    assert len(cs.problems(without, fail_under=0)) == 1


def test_without_the_gate_only_unmeasured_servers_fail():
    assert cs.problems(FILES, fail_under=None) == []
    files = {**FILES, "/w/apps/notes/src/notes/__main__.py": _file(0, 10)}
    assert cs.problems(files, fail_under=None) == [
        "notes/__main__.py never ran measured: the server processes were not measured"
    ]
