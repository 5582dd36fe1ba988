"""Counts from the loader fuzz tests, printed at the end of the pytest run (see conftest.py).

A fuzz test that passes says nothing about how much it tried; the summary
shows, per loader, how many inputs it got and how many loaded or were refused
with patchtui's one-line error. Under pytest-xdist the fuzz tests run in worker
processes, which hand their counts to the controller (which prints the summary)
when they finish; see conftest.py.
"""

from __future__ import annotations

from collections import Counter, defaultdict

COUNTS: defaultdict[str, Counter[str]] = defaultdict(Counter)
"""loader -> {"inputs", "loaded", "refused"} -> count."""


def record(loader: str, outcome: str) -> None:
    COUNTS[loader]["inputs"] += 1
    COUNTS[loader][outcome] += 1


def export() -> dict[str, dict[str, int]]:
    """The counts as plain data: an xdist worker hands them to the controller this way."""
    return {loader: dict(counts) for loader, counts in COUNTS.items()}


def merge(counts: dict[str, dict[str, int]]) -> None:
    """Add one worker's ``export()`` to this process's counts (the xdist controller's)."""
    for loader, outcomes in counts.items():
        COUNTS[loader].update(outcomes)


def summary_lines() -> list[str]:
    return [
        f"{loader:<18} {counts['inputs']:>5} inputs: {counts['loaded']:>5} loaded, "
        f"{counts['refused']:>5} refused with a one-line error"
        for loader, counts in sorted(COUNTS.items())
    ]
