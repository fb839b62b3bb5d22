"""Print the mutation score of a mutmut run; fail under a threshold.

    python scripts/mutation_score.py STATS_JSON [--fail-under PERCENT]

STATS_JSON is what ``mutmut export-cicd-stats`` writes. The score is the share of mutants the
tests killed, out of all mutants but those mutmut skipped: a mutant that timed out, that no
test ran, or that survived counts against it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def score(stats: dict[str, int]) -> float | None:
    """Killed mutants as a percentage of the mutants tested; None when there were none."""
    tested = stats["total"] - stats.get("skipped", 0)
    return 100 * stats["killed"] / tested if tested else None


def describe(stats: dict[str, int]) -> str:
    """One line: the score and what became of the mutants that were not killed."""
    value = score(stats)
    tested = stats["total"] - stats.get("skipped", 0)
    others = ", ".join(
        f"{stats[key]} {key.replace('_', ' ')}"
        for key in ("survived", "no_tests", "timeout", "suspicious", "segfault", "skipped")
        if stats.get(key)
    )
    figure = "n/a" if value is None else f"{value:.1f}%"
    return f"mutation score {figure}: {stats['killed']} of {tested} mutants killed" + (
        f" ({others})" if others else ""
    )


def main(argv: list[str]) -> int:
    """Print the score; 1 when it is under ``--fail-under`` or nothing was tested."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stats", type=Path)
    parser.add_argument("--fail-under", type=float, default=0.0)
    options = parser.parse_args(argv)
    stats = json.loads(options.stats.read_text())
    print(describe(stats))
    value = score(stats)
    if value is None:
        print("no mutants were tested")
        return 1
    if value < options.fail_under:
        print(f"under the required {options.fail_under:.0f}%")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
