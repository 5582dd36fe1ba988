"""The word for how a run ended, and the counts said with it: one place for every front end.

The engine decides a run's outcome once; the JSON summary, the console's status
line and toast, and history all say it with these functions, so they cannot
disagree. Outcome words say what happened:

- ``completed``: every host was worked on and none failed (hosts skipped for a
  reason of their own, e.g. a closed maintenance window, are counted beside it);
- ``completed-with-failures``: every host was worked on, some failed or were unreachable;
- ``halted``: the rollout stopped itself (a canary or the failure threshold);
- ``interrupted``: the operator stopped it (Ctrl+C, cancel, a closed pipe);
- ``dry-run``: nothing was changed; the results are what *would* happen (planned).

Runs recorded before these words existed said ``ok``/``failed``: ``LEGACY_OUTCOMES``
reads them the new way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from patchtui.engine.events import RunSummary

OK_RESULTS = frozenset({"ok", "ok-reboot-required", "planned"})
"""Host results of a patch run that went as asked (a dry run's plan included)."""
FAILURE_RESULTS = frozenset({"failed", "partial", "unreachable", "interrupted"})
"""Host results that count against a patch run's failure threshold."""

COMPLETED = "completed"
COMPLETED_WITH_FAILURES = "completed-with-failures"
HALTED = "halted"
INTERRUPTED = "interrupted"
DRY_RUN = "dry-run"

OUTCOMES = (COMPLETED, COMPLETED_WITH_FAILURES, HALTED, INTERRUPTED, DRY_RUN)
LEGACY_OUTCOMES: Mapping[str, str] = {"ok": COMPLETED, "failed": COMPLETED_WITH_FAILURES}

SKIP_HALTED = "halted"
"""error_kind of a host the rollout never started because it halted."""
SKIP_CANCELLED = "cancelled"
"""error_kind of a host never started because the operator stopped the run."""


def decide_outcome(
    summary: RunSummary, *, interrupted: bool, halted: bool, dry_run: bool = False
) -> str:
    """The outcome word of a finished run."""
    if interrupted:
        return INTERRUPTED
    if halted:
        return HALTED
    if dry_run:
        return DRY_RUN
    return COMPLETED_WITH_FAILURES if not_ok_count(summary) else COMPLETED


def normalize_outcome(word: str | None) -> str:
    """A stored outcome in today's words (older runs said ok/failed); '' stays ''."""
    text = str(word or "")
    return LEGACY_OUTCOMES.get(text, text)


def not_ok_count(summary: RunSummary) -> int:
    """Hosts worked on that did not succeed: failed (partial included), unreachable,
    interrupted. Skipped hosts are counted apart: nothing was tried on them."""
    return summary.failed + summary.unreachable + summary.interrupted


def describe_outcome(outcome: str | None, summary: RunSummary | None = None) -> str:
    """``completed``, ``completed with 3 failed, 1 unreachable``, ``halted``, ``dry run``.

    Without ``summary``: ``completed with failures``, for lines whose counts follow."""
    word = normalize_outcome(outcome)
    if word == COMPLETED_WITH_FAILURES:
        if summary is None:
            return "completed with failures"
        parts = [
            f"{count} {name}"
            for count, name in (
                (summary.failed, "failed"),
                (summary.unreachable, "unreachable"),
                (summary.interrupted, "interrupted"),
            )
            if count
        ]
        return "completed with " + ", ".join(parts) if parts else "completed with failures"
    if word == DRY_RUN:
        return "dry run"
    return word or "running"


def skipped_text(summary: RunSummary) -> str:
    """``29 skipped (27 halted, 2 outside-window)``; '' when nothing was skipped."""
    if not summary.skipped:
        return ""
    reasons = ", ".join(
        f"{count} {reason}" for reason, count in sorted(summary.skipped_reasons.items())
    )
    return f"{summary.skipped} skipped" + (f" ({reasons})" if reasons else "")


def pending_text(summary: RunSummary) -> str:
    """Pending updates found, and on how many hosts, so 0 never stands for 'not looked'."""
    if summary.scanned == 0:
        return "no host scanned"
    text = f"{summary.pending} pending ({summary.security} security)"
    if summary.scanned < summary.hosts:
        text += f" on {summary.scanned} of {summary.hosts} hosts"
    return text


_COUNT_FIELDS = tuple(f.name for f in dataclasses.fields(RunSummary) if f.type in ("int", "float"))


def summary_from_record(counts: object) -> RunSummary | None:
    """A stored run's counts as a RunSummary (tolerant of older and hand-edited records)."""
    if not isinstance(counts, Mapping) or not counts:
        return None
    values: dict[str, Any] = {
        name: counts[name] if isinstance(counts.get(name), int | float) else 0
        for name in _COUNT_FIELDS
    }
    for name in ("results", "skipped_reasons"):
        value = counts.get(name)
        values[name] = (
            {str(k): v for k, v in value.items() if isinstance(v, int)}
            if isinstance(value, Mapping)
            else {}
        )
    reason = counts.get("halt_reason")
    values["halt_reason"] = str(reason) if reason else None
    values["halted"] = bool(counts.get("halted"))
    values["dry_run"] = bool(counts.get("dry_run"))
    if "scanned" not in counts:  # recorded before 'scanned' existed: hosts that reported
        values["scanned"] = values["ok"]
    return RunSummary(**values)


def stored_run_is_dry(run: Mapping[str, Any]) -> bool:
    """Whether a stored run changed nothing by design (a dry run)."""
    options = run.get("options")
    counts = run.get("counts")
    return (
        normalize_outcome(run.get("status")) == DRY_RUN
        or (isinstance(options, Mapping) and bool(options.get("dry_run")))
        or (isinstance(counts, Mapping) and bool(counts.get("dry_run")))
    )


def stored_run_label(run: Mapping[str, Any]) -> str:
    """How history says a stored run ended: ``completed with 2 failed``, ``halted (dry run)``."""
    word = normalize_outcome(run.get("status")) or "running"
    text = describe_outcome(word, summary_from_record(run.get("counts")))
    if word != DRY_RUN and stored_run_is_dry(run):
        text += " (dry run)"
    return text


RETRY_RESULTS = frozenset({"failed", "partial", "unreachable", "interrupted", "skipped"})
"""Results a retry patches again: everything but ok (and a dry run's planned)."""
RESUME_SKIPS = frozenset({SKIP_HALTED, SKIP_CANCELLED, "outside-window"})
"""Skip reasons a resume takes up: the run stopped before the host, or its window was shut."""


def names_to_repeat(results: Iterable[Mapping[str, Any]], *, mode: str) -> set[str]:
    """Hosts of a patch run's stored results to patch again: ``retry``, those that did
    not finish ok; ``resume``, those it never finished (interrupted, or skipped because
    the run stopped or their window was shut)."""
    chosen: set[str] = set()
    for result in results:
        status, kind = result.get("status"), result.get("error_kind")
        if (mode == "retry" and status in RETRY_RESULTS) or (
            mode == "resume"
            and (status == "interrupted" or (status == "skipped" and kind in RESUME_SKIPS))
        ):
            chosen.add(str(result.get("host")))
    return chosen


__all__ = [
    "COMPLETED",
    "COMPLETED_WITH_FAILURES",
    "DRY_RUN",
    "HALTED",
    "INTERRUPTED",
    "OUTCOMES",
    "SKIP_CANCELLED",
    "SKIP_HALTED",
    "decide_outcome",
    "describe_outcome",
    "names_to_repeat",
    "normalize_outcome",
    "not_ok_count",
    "pending_text",
    "skipped_text",
    "stored_run_is_dry",
    "stored_run_label",
    "summary_from_record",
]
