"""The run progress area under the hosts table: a bar and one status line.

The text is built by a pure function (``progress_text``) so its wording can be
tested without an app; the widget only places it next to a ``ProgressBar``.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import ProgressBar, Static

from patchtui.engine.events import HostState
from patchtui.engine.outcome import DRY_RUN, describe_outcome, pending_text, skipped_text
from patchtui.textsafe import strip_control
from patchtui.tui.bridge import RunProgress

RUN_CONTROL_BINDINGS = [
    Binding(
        "c",
        "cancel",
        "Cancel",
        tooltip="Cancel the run: no new hosts start (again: stop waiting for running ones)",
    ),
    Binding("P", "pause", "Pause", tooltip="Pause or resume a patch run between hosts"),
]
"""c and P, on every screen that shows a run (each screen defines action_cancel/_pause)."""

PENDING_OPERATIONS = frozenset({"scan", "patch", "rollback"})
"""Runs that scan hosts, so their pending counts mean something."""

COUNTED_STATES = (
    HostState.OK,
    HostState.FAILED,
    HostState.UNREACHABLE,
    HostState.INTERRUPTED,
    HostState.SKIPPED,
)


def format_elapsed(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` past an hour): a running clock, not a precise duration."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _counts(run: RunProgress, *, skipped: str = "") -> str:
    """Hosts per state; a dry run's ok hosts are 'planned' (nothing was changed)."""
    parts = []
    for state in COUNTED_STATES:
        if state is HostState.SKIPPED and skipped:
            parts.append(skipped)  # the finished run's count, with its reasons
        elif count := run.count(state):
            word = "planned" if state is HostState.OK and run.dry_run else state.value
            parts.append(f"{count} {word}")
    return ", ".join(parts)


def progress_text(run: RunProgress | None, *, host_count: int, now: float) -> str:
    """The status line: what runs, how far, which wave, failures vs threshold, time, keys."""
    if run is None:
        return f"{host_count} hosts · no run yet this session · s: scan · p: patch"
    summary = None if run.running else run.summary
    counts = _counts(run, skipped=skipped_text(summary) if summary is not None else "")
    state = (run.control or "running") if run.running else describe_outcome(run.outcome)
    dry_word = run.dry_run and state != describe_outcome(DRY_RUN)
    operation = f"{run.operation} (dry run)" if dry_word else run.operation
    parts = [
        f"{operation} {state}: {run.finished}/{run.total} done" + (f" ({counts})" if counts else "")
    ]
    if run.wave is not None:
        parts.append(run.wave)
    if run.max_failures is not None:
        parts.append(f"{run.failures} failed of {run.max_failures} allowed")
    if run.switch:
        parts.append(strip_control(run.switch))
    if run.halted:
        parts.append(f"HALTED: {run.halted}")
    if summary is not None and run.operation in PENDING_OPERATIONS:
        parts.append(pending_text(summary))
        parts.append(f"{summary.reboot_required} need a reboot")
    parts.append(format_elapsed(run.elapsed(now)))
    if run.running:
        keys = "c: cancel"
        if run.max_failures is not None:  # patch-like runs can pause
            keys += " · P: resume" if run.control == "paused" else " · P: pause"
        parts.append(keys)
    return " · ".join(parts)


def bar_progress(run: RunProgress) -> int:
    """Hosts worked on: a skipped host is not progress, so a halted run never fills the bar."""
    return run.finished - run.count(HostState.SKIPPED)


class RunProgressBar(Horizontal):
    """Hosts done out of the total as a bar, and the status line beside it."""

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=None, show_eta=False, id="run-bar")
        yield Static(id="run-status")

    _shown: tuple[object, ...] | None = None

    def show(self, run: RunProgress | None, *, host_count: int, now: float) -> None:
        if run is None:
            total, progress = max(1, host_count), 0
        else:
            total, progress = max(1, run.total), bar_progress(run)
        running = run is not None and run.running
        alert = run is not None and bool(run.halted or run.control == "paused")
        text = progress_text(run, host_count=host_count, now=now)
        # Output screens call this at 10 Hz: redraw only what changed.
        shown = (total, progress, running, alert, text)
        if shown == self._shown:
            return
        self._shown = shown
        self.query_one("#run-bar", ProgressBar).update(total=total, progress=progress)
        status = self.query_one("#run-status", Static)
        status.set_class(running, "-running")
        status.set_class(alert, "-alert")
        status.update(Content(text))


__all__ = ["RUN_CONTROL_BINDINGS", "RunProgressBar", "format_elapsed", "progress_text"]
