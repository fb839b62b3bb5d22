"""Print the combined coverage's line and branch figures per package; gate the service's.

    python scripts/coverage_summary.py [DATA_FILE] [--no-gate]

``coverage report`` gives one figure that mixes lines and branches; this splits them and
shows each top-level package (the service, each library) on a line of its own. It fails when

- the ``notes`` package's figure (lines and branches together, as coverage counts them) is
  under ``fail_under`` of ``[tool.coverage.report]``: the gate is on the service alone, so
  it holds whichever database the tests ran on (the embedded-server library, ``localpg``,
  goes unused with ``NOTES_DATABASE_URL`` set);
- ``notes/__main__.py`` ran in no measured process: only the servers the external tests start
  run it, so the servers' own lines were not counted.

``--no-gate`` leaves the first check out, for data that is a part of the whole by design: the
processes measured inside the containers of ``make container_test``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import coverage

ROOT = Path(__file__).resolve().parent.parent
GATED_PACKAGE = "notes"
SERVER_ENTRY = "notes/__main__.py"


@dataclass
class Counts:
    """Covered and total statements and branches of some files."""

    lines: int = 0
    lines_total: int = 0
    branches: int = 0
    branches_total: int = 0

    def add(self, summary: dict[str, int]) -> None:
        """Add one file's summary from coverage's JSON report."""
        self.lines += summary["covered_lines"]
        self.lines_total += summary["num_statements"]
        self.branches += summary.get("covered_branches", 0)
        self.branches_total += summary.get("num_branches", 0)

    def percent(self) -> float:
        """Lines and branches together, as ``coverage report`` counts them."""
        whole = self.lines_total + self.branches_total
        return 100 * (self.lines + self.branches) / whole if whole else 100.0

    def line(self, name: str) -> str:
        """One line of the summary."""
        total = _percent(self.lines + self.branches, self.lines_total + self.branches_total)
        return (
            f"{name:<10} lines {_percent(self.lines, self.lines_total):>6} "
            f"({self.lines}/{self.lines_total})   "
            f"branches {_percent(self.branches, self.branches_total):>6} "
            f"({self.branches}/{self.branches_total})   together {total:>6}"
        )


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def package_of(path: str) -> str:
    """The top-level package a measured file belongs to: the folder after ``src/``."""
    parts = Path(path).parts
    return parts[parts.index("src") + 1] if "src" in parts[:-1] else "(other)"


def by_package(files: dict[str, dict[str, dict[str, int]]]) -> dict[str, Counts]:
    """The counts of each top-level package, and of all of them under ``TOTAL``."""
    counts: dict[str, Counts] = {"TOTAL": Counts()}
    for path, data in files.items():
        counts["TOTAL"].add(data["summary"])
        counts.setdefault(package_of(path), Counts()).add(data["summary"])
    return counts


def problems(files: dict[str, dict[str, dict[str, int]]], fail_under: float | None) -> list[str]:
    """Why the coverage is not good enough, if it is not (``fail_under=None``: no gate)."""
    found = []
    gated = by_package(files).get(GATED_PACKAGE, Counts())
    if fail_under is not None and gated.percent() < fail_under:
        found.append(f"{GATED_PACKAGE} is covered {gated.percent():.1f}%, under {fail_under}%")
    server = [d for p, d in files.items() if Path(p).as_posix().endswith(SERVER_ENTRY)]
    if not server or server[0]["summary"]["covered_lines"] == 0:
        found.append(f"{SERVER_ENTRY} never ran measured: the server processes were not measured")
    return found


def main(argv: list[str]) -> int:
    """Summarize the data file named in ``argv`` (default: ``.coverage``); 1 if not enough."""
    gate = "--no-gate" not in argv
    paths = [arg for arg in argv if arg != "--no-gate"]
    data_file = paths[0] if paths else str(ROOT / ".coverage")
    cov = coverage.Coverage(data_file=data_file)
    cov.load()
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "coverage.json"
        cov.json_report(outfile=str(report))
        files = json.loads(report.read_text())["files"]
    counts = by_package(files)
    for name in sorted(counts, key=lambda n: (n == "TOTAL", n)):
        print(counts[name].line(name))
    fail_under = float(cov.get_option("report:fail_under")) if gate else None  # type: ignore[arg-type]
    found = problems(files, fail_under)
    for problem in found:
        print(f"coverage: {problem}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
