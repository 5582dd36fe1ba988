"""From engine events to the console: record now, draw later.

The engine calls ``EventBridge`` (its ``EventSink``) for every event, output
lines included: hundreds per second on a big fleet. Posting a Textual message
per line would flood the message pump, so the bridge only records: a bounded
deque of output lines per host, the latest state and scan per host, and a set
of hosts that changed. The app's timer (about 10 Hz) takes the dirty set and
redraws just those hosts inside ``app.batch_update()``.

The bridge is called on the UI's event loop (the scan runs in a Textual async
worker), so it needs no locks; it must never block.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from patchtui.engine.events import (
    Event,
    HostFinished,
    HostOutput,
    HostScanned,
    HostState,
    HostStateChanged,
    RunFinished,
    RunHalted,
    RunStarted,
    RunSummary,
    SwitchRan,
    WaveStarted,
)
from patchtui.engine.observed import STREAM_PREFIX
from patchtui.engine.outcome import FAILURE_RESULTS
from patchtui.engine.scrollback import Scrollback
from patchtui.textsafe import strip_control
from patchtui.tui.arrivals import ArrivalTimes

SCROLLBACK_LINES = 2_000
"""Output lines kept per host: enough to read a failed upgrade, bounded for 1,000 hosts."""

FORGET_EVERY = 256
"""Lines between drops of arrival times of lines no longer kept (not on every line)."""


@dataclass
class HostLive:
    """The latest of each kind of event for one host during this session."""

    state: HostState | None = None
    detail: str = ""
    scanned: HostScanned | None = None
    finished: HostFinished | None = None
    keeps_state: str | None = None
    """'dry run' or 'command': these events show activity, not a new patch state
    (a dry run changes nothing; an ad-hoc command's result has a column of its own)."""


@dataclass
class RunProgress:
    """The run in progress (or the last one), for the status line."""

    run_id: str
    operation: str
    total: int
    started: float
    """When the run started, on the bridge's clock (monotonic in the console)."""
    finished: int = 0
    states: dict[str, HostState] = field(default_factory=dict)
    outcome: str | None = None
    summary: RunSummary | None = None
    ended: float | None = None
    wave: str | None = None
    """Label of the wave running now (``canary``, ``wave 2/3``); None for scans."""
    waves: int = 0
    """Waves started so far."""
    failures: int = 0
    """Hosts whose result counts against the failure threshold."""
    max_failures: int | None = None
    """Failures the run allows before it halts (set by the console from the job's plan)."""
    halted: str | None = None
    """Why the run halted (failure threshold, canary), once it has."""
    control: str | None = None
    """What the operator asked of the run: paused, cancelling, stopped waiting (console-set)."""
    dry_run: bool = False
    """A dry run: its ok hosts are 'planned', and it changes no host's state."""
    switch: str | None = None
    """Blue-green: what the switch command did (ok, exited N, not run), once decided."""

    @property
    def running(self) -> bool:
        return self.outcome is None

    def elapsed(self, now: float) -> float:
        """Seconds since the run started; frozen once it finished."""
        end = self.ended if self.ended is not None else now
        return max(0.0, end - self.started)

    def count(self, state: HostState) -> int:
        return sum(1 for each in self.states.values() if each == state)


AD_HOC_OPERATION = "run"
"""The operation of an ad-hoc command run (engine/adhoc.py)."""


def _keeps_state(operation: str, run: RunProgress) -> str | None:
    if operation == AD_HOC_OPERATION:
        return "command"
    return "dry run" if run.dry_run else None


class EventBridge:
    """The engine's event sink for the console: cheap to call, drained by a timer."""

    def __init__(
        self,
        *,
        scrollback: int = SCROLLBACK_LINES,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.scrollback = scrollback
        self.clock = clock
        """Times a run's elapsed time; the app passes its own so tests can freeze it."""
        self.wall_clock = wall_clock
        """When output lines arrive (the panes' timestamps, saved files' names): the
        app's injected clock, so tests never see the real time."""
        self._arrivals: dict[str, ArrivalTimes] = {}
        self.live: dict[str, HostLive] = {}
        self.run: RunProgress | None = None
        self._lines: dict[str, Scrollback] = {}
        self._dirty: set[str] = set()
        """Hosts whose row (state, scan) changed."""
        self._output_dirty: set[str] = set()
        """Hosts with new output lines only: their row needs no redraw. Kept apart
        because 300 streaming hosts would otherwise redraw 300 rows every tick."""
        self._run_dirty = False
        self._next_max_failures: int | None = None

    def expect_run(self, *, max_failures: int | None) -> None:
        """The failure threshold of the run about to start (the engine's plan, not an event)."""
        self._next_max_failures = max_failures

    # ------------------------------------------------------------ recording

    def __call__(self, event: Event) -> None:
        if isinstance(event, HostOutput):
            prefix = STREAM_PREFIX.get(event.stream, "")
            self._append(event.host, prefix + event.line)
        elif isinstance(event, HostStateChanged):
            live = self._live(event.host)
            live.state, live.detail = event.state, event.detail
            if self.run is not None and self.run.run_id == event.run_id:
                self.run.states[event.host] = event.state
                self._run_dirty = True
            self._dirty.add(event.host)
        elif isinstance(event, HostScanned):
            self._live(event.host).scanned = event
            self._dirty.add(event.host)
        elif isinstance(event, HostFinished):
            live = self._live(event.host)
            live.state, live.finished = event.state, event
            live.detail = event.error or ""
            if self.run is not None and self.run.run_id == event.run_id:
                self.run.states[event.host] = event.state
                self.run.finished += 1
                if event.result in FAILURE_RESULTS:  # as the engine counts the threshold
                    self.run.failures += 1
                self._run_dirty = True
            if event.error:
                kind = f"{event.error_kind}: " if event.error_kind else ""
                self._append(event.host, f"[patchtui] {event.state.value}: {kind}{event.error}")
            self._dirty.add(event.host)
        elif isinstance(event, RunStarted):
            self.run = RunProgress(
                run_id=event.run_id,
                operation=event.operation,
                total=len(event.hosts),
                started=self.clock(),
                max_failures=self._next_max_failures,
                dry_run=bool(event.options.get("dry_run")),
            )
            self._next_max_failures = None
            self._run_dirty = True
            for host in event.hosts:
                # A fresh run replaces what the previous one found out about the host.
                self.live[host] = HostLive(keeps_state=_keeps_state(event.operation, self.run))
                self._dirty.add(host)
                self._append(host, f"--- {event.operation} {event.run_id} ---")
        elif self.run is None or self.run.run_id != event.run_id:
            return
        elif isinstance(event, WaveStarted):
            self.run.wave = event.label
            self.run.waves = event.index + 1
            self._run_dirty = True
        elif isinstance(event, RunHalted):
            self.run.halted = event.reason
            self._run_dirty = True
        elif isinstance(event, SwitchRan):
            last = event.output[-1] if event.output else ""
            if event.exit_status == 0:
                self.run.switch = "switched" + (f": {last}" if last else "")
            elif event.exit_status is None:
                self.run.switch = "switch not run"
            else:
                self.run.switch = f"SWITCH FAILED ({event.reason})" + (f": {last}" if last else "")
            self._run_dirty = True
        elif isinstance(event, RunFinished):
            self.run.outcome = event.outcome
            self.run.summary = event.summary
            self.run.ended = self.clock()
            if event.summary.halt_reason and self.run.halted is None:
                self.run.halted = event.summary.halt_reason
            self._run_dirty = True

    def mark_run_dirty(self) -> None:
        """The console changed something the status line shows (pause, cancel, ticking time)."""
        self._run_dirty = True

    def _live(self, host: str) -> HostLive:
        live = self.live.get(host)
        if live is None:
            live = self.live[host] = HostLive()
        return live

    def _append(self, host: str, line: str) -> None:
        lines = self._lines.get(host)
        if lines is None:
            lines = self._lines[host] = Scrollback(self.scrollback)
        arrivals = self._arrivals.get(host)
        if arrivals is None:
            arrivals = self._arrivals[host] = ArrivalTimes()
        arrivals.note(lines.received, self.wall_clock())
        # Everything shown comes from hosts (output, error messages): strip it here, once.
        lines.append(strip_control(line))
        if not lines.received % FORGET_EVERY:
            arrivals.forget_before(lines.received - len(lines))
        self._output_dirty.add(host)

    # ------------------------------------------------------------ draining

    def take_dirty(self) -> tuple[set[str], bool]:
        """Hosts whose row changed since the last call, and whether the run status changed."""
        dirty, self._dirty = self._dirty, set()
        run_dirty, self._run_dirty = self._run_dirty, False
        return dirty, run_dirty

    def take_output_dirty(self) -> set[str]:
        """Hosts with new output lines since the last call."""
        dirty, self._output_dirty = self._output_dirty, set()
        return dirty

    def lines(self, host: str) -> list[str]:
        """The host's kept output, oldest first (at most ``scrollback`` lines)."""
        kept = self._lines.get(host)
        return list(kept) if kept is not None else []

    def arrived(self, host: str, index: int) -> int | None:
        """When the host's line number ``index`` (counted as ``line_count`` counts,
        from 0) arrived, on the wall clock, to the second; None if unknown."""
        arrivals = self._arrivals.get(host)
        return arrivals.at(index) if arrivals is not None else None

    def kept_bytes(self, host: str) -> int:
        """Memory the host's kept output takes (the load benchmark reports it)."""
        kept = self._lines.get(host)
        arrivals = self._arrivals.get(host)
        return (kept.nbytes() if kept is not None else 0) + (
            arrivals.nbytes() if arrivals is not None else 0
        )

    def line_count(self, host: str) -> int:
        """Lines ever received for ``host``: lets a pane append only what is new."""
        kept = self._lines.get(host)
        return kept.received if kept is not None else 0

    def lines_since(self, host: str, seen: int) -> list[str]:
        """Lines received after the first ``seen``; as many as are still kept."""
        new = self.line_count(host) - seen
        if new <= 0:
            return []
        kept = self._lines.get(host)
        return kept.tail(new) if kept is not None else []
