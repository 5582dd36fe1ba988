"""Exit codes of the headless commands.

These are public API: cron jobs, CI pipelines and scripts branch on them.
Change a value only with a major version bump; the README's table is generated
from the docstrings here, so keep them one line each.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    """Everything selected was processed successfully (and, for compliance, complies)."""
    HOST_FAILURES = 1
    """At least one host failed, was unreachable, or was skipped (window, pre-check)."""
    BAD_INPUT = 2
    """Bad input: inventory, flags, pattern, policy or database file; nothing was run."""
    NON_COMPLIANT = 3
    """compliance: at least one selected host is non-compliant or unknown."""
    DB_LOCKED = 4
    """The database is locked by another patchtui process beyond the wait limit."""
    HALTED = 5
    """patch/reboot: the rollout halted (canary, threshold, blue-green); later hosts untouched."""
    INTERRUPTED = 130
    """Interrupted by SIGINT/SIGTERM (Ctrl+C); work already started was allowed to finish."""
    BROKEN_PIPE = 141
    """The reader of stdout went away (e.g. head): no new host started; what ran is recorded."""


def describe() -> list[tuple[int, str, str]]:
    """(code, name, meaning) rows for help texts and the README."""
    import inspect

    source = inspect.getsource(ExitCode)
    rows: list[tuple[int, str, str]] = []
    lines = [line.strip() for line in source.splitlines()]
    for index, line in enumerate(lines):
        for member in ExitCode:
            if line.startswith(f"{member.name} = "):
                doc = lines[index + 1].strip('"') if index + 1 < len(lines) else ""
                rows.append((int(member), member.name, doc))
    return rows
