"""Counts from the loader fuzz tests, printed at the end of the pytest run (see conftest.py).

A fuzz test that passes says nothing about how much it tried; the summary
shows, per loader, how many inputs it got and how many loaded or were refused
with patchtui's one-line error.
"""

from __future__ import annotations

from collections import Counter, defaultdict

COUNTS: defaultdict[str, Counter[str]] = defaultdict(Counter)
"""loader -> {"inputs", "loaded", "refused"} -> count."""


def record(loader: str, outcome: str) -> None:
    COUNTS[loader]["inputs"] += 1
    COUNTS[loader][outcome] += 1


def summary_lines() -> list[str]:
    return [
        f"{loader:<18} {counts['inputs']:>5} inputs: {counts['loaded']:>5} loaded, "
        f"{counts['refused']:>5} refused with a one-line error"
        for loader, counts in sorted(COUNTS.items())
    ]
