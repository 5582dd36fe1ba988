"""The run progress area under the hosts table: a bar and one status line.

The text is built by a pure function (``progress_text``) so its wording can be
tested without an app; the widget only places it next to a ``ProgressBar``.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import ProgressBar, Static

from patchtui.engine.events import HostState
from patchtui.tui.bridge import RunProgress

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


def _counts(run: RunProgress) -> str:
    return ", ".join(
        f"{run.count(state)} {state.value}" for state in COUNTED_STATES if run.count(state)
    )


def progress_text(run: RunProgress | None, *, host_count: int, now: float) -> str:
    """The status line: what runs, how far, which wave, failures vs threshold, time, keys."""
    if run is None:
        return f"{host_count} hosts · no run yet this session · s: scan · p: patch"
    counts = _counts(run)
    state = "running" if run.running else str(run.outcome)
    if run.running and run.control:
        state = run.control
    parts = [
        f"{run.operation} {state}: {run.finished}/{run.total} done"
        + (f" ({counts})" if counts else "")
    ]
    if run.wave is not None:
        parts.append(run.wave)
    if run.max_failures is not None:
        parts.append(f"failures {run.failures}/{run.max_failures} allowed")
    if run.halted:
        parts.append(f"HALTED: {run.halted}")
    if not run.running and run.summary is not None:
        summary = run.summary
        parts.append(f"{summary.pending} pending ({summary.security} security)")
        parts.append(f"{summary.reboot_required} need a reboot")
    parts.append(format_elapsed(run.elapsed(now)))
    if run.running:
        keys = "c: cancel"
        if run.max_failures is not None:  # patch-like runs can pause
            keys += " · P: resume" if run.control == "paused" else " · P: pause"
        parts.append(keys)
    return " · ".join(parts)


class RunProgressBar(Horizontal):
    """Hosts done out of the total as a bar, and the status line beside it."""

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=None, show_eta=False, id="run-bar")
        yield Static(id="run-status")

    def show(self, run: RunProgress | None, *, host_count: int, now: float) -> None:
        bar = self.query_one("#run-bar", ProgressBar)
        status = self.query_one("#run-status", Static)
        if run is None:
            bar.update(total=max(1, host_count), progress=0)
        else:
            bar.update(total=max(1, run.total), progress=run.finished)
        status.set_class(run is not None and run.running, "-running")
        status.set_class(run is not None and bool(run.halted or run.control == "paused"), "-alert")
        status.update(Content(progress_text(run, host_count=host_count, now=now)))


__all__ = ["RunProgressBar", "format_elapsed", "progress_text"]
