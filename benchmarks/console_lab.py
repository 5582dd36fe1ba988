"""The console during a real run: key latency while a 300-host lab is scanned, then patched.

``python benchmarks/console_load.py --real-lab 300`` starts ``patchtui lab``
(simulated hosts behind a real asyncssh server, on loopback) in another
process, opens the console on the inventory it writes (headless, in this
process, with a real store in a temporary directory and the console's own SSH
connector), and runs through the console's own keys: ``s`` scans every host;
then ``p``, the patch form as it opens, ``ctrl+s`` and the typed host count
patch them. While each run goes on, the everyday keys of console_load.py are
pressed in rounds and timed the same way (key posted -> first frame drawn
while its effect holds).

The lab is another process, but the console's SSH client sessions (up to
``--concurrency`` at once) run on the console's loop, as they do for a user:
their crypto and protocol work competes with the keys. ``--profile FILE``
runs cProfile over both runs, writes FILE and prints where the UI process's
time went, by package (asyncssh and cryptography, textual and rich, patchtui).
A loop monitor prints how long the UI loop stood still between its turns, and
``CpuSplit`` what the UI thread spent its CPU time on (thread time: what others
on a shared machine take is not counted), without a profiler's overhead.

Everything is bounded: the lab must start in LAB_START_LIMIT, each run must end
in ``--run-timeout``, each key in KEY_TIMEOUT; the lab process is stopped by
its PID however the benchmark ends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import gc
import os
import pstats
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TARGET_MS = 100.0
STEP_LIMIT = 30.0
"""Seconds a dialog step (form, confirmation, run start) may take to appear."""


def isolate(directory: Path) -> None:
    """A throwaway home, data and config dir, no agent: nothing of the real user is read
    or written (known_hosts, theme, database)."""
    home = directory / "home"
    (home / ".ssh").mkdir(parents=True)
    os.environ["HOME"] = str(home)
    os.environ["PATCHTUI_DATA_DIR"] = str(directory / "data")
    os.environ["PATCHTUI_CONFIG"] = str(directory / "config")
    os.environ.pop("SSH_AUTH_SOCK", None)


@dataclass
class LoopMonitor:
    """How late the UI loop wakes a task that asks to sleep STEP seconds: time it stood still."""

    step: float = 0.005
    lags: list[float] = field(default_factory=list)

    async def run(self) -> None:
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(self.step)
            self.lags.append((time.perf_counter() - asked - self.step) * 1000)

    def take(self) -> list[float]:
        lags, self.lags = self.lags, []
        return lags


class CpuSplit:
    """The UI thread's CPU time by what it was doing, each second counted once.

    Wraps a few methods (benchmark only): the SSH client's receiving (decrypting, and
    the engine's work on what arrives) and sending (encrypting), the console applying
    the bridge's events to its widgets, Textual laying out and drawing frames, and the
    garbage collector. The rest (key handling, timers, the loop itself) is "other".
    Calls on other threads (the console runs a job on a loop of its own thread) are
    not the UI thread's: they are summed apart as the process's other threads."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.gc_seconds = 0.0
        self.gc_count = 0
        self._gc_started: float | None = None
        self._stack: list[list[Any]] = []
        self._started = time.thread_time()
        self._process_started = time.process_time()
        self._ui_thread = threading.get_ident()

    def enter(self, what: str) -> None:
        now = time.thread_time()
        if self._stack:
            top = self._stack[-1]
            self.totals[top[0]] += now - top[1]
        self._stack.append([what, now])
        self.calls[what] += 1

    def leave(self) -> None:
        now = time.thread_time()
        if not self._stack:
            return
        what, started = self._stack.pop()
        self.totals[what] += now - started
        if self._stack:
            self._stack[-1][1] = now

    def wrap(self, owner: Any, name: str, what: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != self._ui_thread:
                return original(*args, **kwargs)
            self.enter(what)
            try:
                return original(*args, **kwargs)
            finally:
                self.leave()

        setattr(owner, name, timed)

    def on_gc(self, phase: str, _info: dict[str, int]) -> None:
        # Kept off the stack (a collection can start inside enter/leave themselves):
        # its time stays in the category it interrupted and is also shown on its own.
        if threading.get_ident() != self._ui_thread:
            return
        if phase == "start":
            self._gc_started = time.thread_time()
        elif self._gc_started is not None:
            self.gc_seconds += time.thread_time() - self._gc_started
            self.gc_count += 1
            self._gc_started = None

    def install(self, app_class: Any) -> None:
        from asyncssh.connection import SSHConnection
        from textual._compositor import Compositor

        self.wrap(SSHConnection, "data_received", "ssh receive (+ engine)")
        self.wrap(SSHConnection, "_send", "ssh send")
        self.wrap(app_class, "flush_events", "events -> widgets")
        self.wrap(Compositor, "reflow", "layout")
        self.wrap(Compositor, "render_update", "drawing (compositor)")
        # Inside drawing: the widgets that draw the most lines.
        from textual.widgets import DataTable, Log

        self.wrap(DataTable, "render_lines", "drawing: tables")
        self.wrap(Log, "render_lines", "drawing: output logs")
        gc.callbacks.append(self.on_gc)

    def take(self) -> tuple[float, float, dict[str, tuple[float, int]]]:
        """(UI thread CPU seconds, other threads' CPU seconds, the UI thread's by what:
        (seconds, calls)) since the last call."""
        now, process = time.thread_time(), time.process_time()
        whole, self._started = now - self._started, now
        others = process - self._process_started - whole
        self._process_started = process
        totals = {what: (seconds, self.calls[what]) for what, seconds in self.totals.items()}
        self.totals, self.calls = defaultdict(float), defaultdict(int)
        totals["(garbage collection, within the above)"] = (self.gc_seconds, self.gc_count)
        self.gc_seconds, self.gc_count = 0.0, 0
        return whole, others, totals


@dataclass
class Phase:
    name: str
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    seconds: float = 0.0
    rounds: int = 0
    outcome: str = ""
    lags: list[float] = field(default_factory=list)
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cpu: float = 0.0
    other_threads_cpu: float = 0.0
    cpu_by: dict[str, tuple[float, int]] = field(default_factory=dict)

    @property
    def every(self) -> list[float]:
        return [value for values in self.timings.values() for value in values]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def keys_while_running(
    app: Any,
    probe: Any,
    phase: Phase,
    args: argparse.Namespace,
    monitor: LoopMonitor,
    split: CpuSplit,
) -> None:
    """Key rounds until the run ends (bounded by --run-timeout), then the run's figures."""
    from console_load import key_cycle

    started = time.perf_counter()
    deadline = started + args.run_timeout
    monitor.take()
    split.take()
    while app.job is not None:
        if time.perf_counter() > deadline:
            app.cancel_run()
            raise SystemExit(f"{phase.name}: the run did not end within {args.run_timeout} s")
        await asyncio.sleep(args.gap)
        if app.job is None:
            break
        await key_cycle(app, probe, phase.timings)
        phase.rounds += 1
    phase.seconds = time.perf_counter() - started
    phase.lags = monitor.take()
    phase.cpu, phase.other_threads_cpu, phase.cpu_by = split.take()
    phase.load = os.getloadavg()
    run = app.bridge.run
    phase.outcome = "" if run is None else f"{run.outcome} ({run.finished}/{run.total} done)"


async def wait_for(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.perf_counter() + STEP_LIMIT
    while not predicate():
        if time.perf_counter() > deadline:
            raise SystemExit(f"{what} did not happen within {STEP_LIMIT:.0f} s")
        await asyncio.sleep(0.02)


async def drive(
    app: Any, pilot: Any, probe: Any, split: CpuSplit, args: argparse.Namespace
) -> list[Phase]:
    from patchtui.engine.patch import PatchJob
    from patchtui.engine.scan import ScanJob
    from patchtui.tui.screens.confirm import ConfirmScreen
    from patchtui.tui.screens.hosts import HostsScreen
    from patchtui.tui.screens.patch_modal import PatchModal

    monitor = LoopMonitor()
    watcher = asyncio.create_task(monitor.run())
    phases = [Phase("scan"), Phase("patch")]
    try:
        await pilot.press("s")
        await wait_for(lambda: isinstance(app.job, ScanJob), "the scan starting")
        await keys_while_running(app, probe, phases[0], args, monitor, split)
        await pilot.pause(0.3)
        if args.scan_only:
            return phases[:1]

        # The rounds toggled a few hosts' selection: a selects every host, so p patches all.
        screen = app.screen
        assert isinstance(screen, HostsScreen) and not screen.filter_text
        await pilot.press("a")
        await wait_for(lambda: len(screen.selected) == len(app.rows), "selecting every host")
        await pilot.press("p")
        await wait_for(lambda: isinstance(app.screen, PatchModal), "the patch form opening")
        await pilot.press("ctrl+s")
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        typed = getattr(app.screen, "typed", None)
        await pilot.press(*(typed or "y"), *(["enter"] if typed else []))
        await wait_for(lambda: isinstance(app.job, PatchJob), "the patch starting")
        await wait_for(lambda: isinstance(app.screen, HostsScreen), "the hosts screen")
        await keys_while_running(app, probe, phases[1], args, monitor, split)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    return phases


PACKAGES = ("asyncssh", "cryptography", "textual", "rich", "patchtui", "tinydb", "asyncio")


def by_package(stats: pstats.Stats) -> dict[str, float]:
    """Own time (not counting callees) per package, seconds."""
    totals: dict[str, float] = defaultdict(float)
    for (filename, _line, _name), row in stats.stats.items():  # type: ignore[attr-defined]
        own = row[2]
        bucket = next((each for each in PACKAGES if f"/{each}/" in filename), None)
        if bucket is None:
            bucket = "builtins (C)" if filename == "~" else "other"
        totals[bucket] += own
    return dict(totals)


def report(phases: list[Phase], args: argparse.Namespace) -> bool:
    from console_load import summarise

    print(
        f"console during a real run: {args.real_lab} lab hosts in another process,"
        f" SSH concurrency {args.concurrency}, {os.cpu_count()} CPUs"
    )
    met = True
    for phase in phases:
        every = phase.every
        load = " ".join(f"{value:.2f}" for value in phase.load)
        print(
            f"{phase.name}: {phase.outcome} in {phase.seconds:.1f} s;"
            f" {len(every)} keys in {phase.rounds} rounds; load average {load}"
        )
        if not every:
            print("  no key was pressed (the run ended first)")
            continue
        for label, values in phase.timings.items():
            print(summarise(label, values))
        print(summarise("all keys", every))
        p95 = percentile(every, 0.95)
        print(
            f"  target {TARGET_MS:.0f} ms: median {statistics.median(every) / TARGET_MS:.2f}x,"
            f" p95 {p95 / TARGET_MS:.2f}x, worst {max(every) / TARGET_MS:.2f}x"
            f" -> p95 {'met' if p95 < TARGET_MS else 'NOT met'}"
        )
        if phase.lags:
            print(
                f"  UI loop stood still: median {statistics.median(phase.lags):.1f} ms,"
                f" p95 {percentile(phase.lags, 0.95):.1f} ms, worst {max(phase.lags):.1f} ms"
                f" ({len(phase.lags)} turns sampled)"
            )
        if phase.cpu:
            parts = sorted(phase.cpu_by.items(), key=lambda item: -item[1][0])
            other = phase.cpu - sum(
                seconds for name, (seconds, _calls) in phase.cpu_by.items() if name[0] != "("
            )
            share = phase.cpu / phase.seconds
            print(f"  UI thread CPU {phase.cpu:.1f} s ({share:.0%} of the run):")
            for name, (seconds, calls) in parts:
                each = seconds * 1000 / max(1, calls)
                print(f"    {name:<24} {seconds:6.2f} s  {calls:7} calls  {each:6.2f} ms each")
            print(f"    {'other (keys, timers, the loop)':<24} {other:6.2f} s")
            print(
                f"  other threads' CPU {phase.other_threads_cpu:.1f} s"
                " (the run's engine thread: SSH, the engine, the store)"
            )
        met &= p95 < TARGET_MS
    return met


async def run_real_lab(args: argparse.Namespace) -> int:
    from console_load import Probe
    from scan_fleet import lab_process

    from patchtui.inventory.loader import load_inventory
    from patchtui.store.db import Store
    from patchtui.transport.ssh import SshConnector
    from patchtui.tui.app import make_app
    from patchtui.tui.collector import tune_gc_for_console

    # Stopped with SIGTERM (timeout(1), kill PID): unwind, so the lab is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    with tempfile.TemporaryDirectory(prefix="patchtui-console-lab-") as tmp:
        directory = Path(tmp)
        isolate(directory)
        with lab_process(args.real_lab, directory) as inventory_path:
            inventory = load_inventory(inventory_path)
            store = Store.open(directory / "db.json", command="benchmark console_load --real-lab")
            profiler = cProfile.Profile() if args.profile else None
            try:
                concurrency = args.concurrency
                app = make_app(
                    inventory=inventory,
                    hosts=inventory.hosts,
                    connector_factory=lambda: SshConnector(
                        concurrency=concurrency, use_agent=False
                    ),
                    store=store,
                )
                app.collector = tune_gc_for_console()  # as `patchtui` does
                probe = Probe()
                split = CpuSplit()
                split.install(type(app))  # before the app's timers take its bound methods
                async with app.run_test(size=(160, 45), headless=True) as pilot:
                    probe.install(app)
                    await pilot.pause(0.5)
                    if profiler is not None:
                        profiler.enable()
                    try:
                        phases = await drive(app, pilot, probe, split, args)
                    finally:
                        if profiler is not None:
                            profiler.disable()
            finally:
                store.close()
    met = report(phases, args)
    if profiler is not None:
        profiler.dump_stats(args.profile)
        stats = pstats.Stats(profiler)
        totals = by_package(stats)
        whole = sum(totals.values()) or 1.0
        print(f"profile (UI process, both runs, own time by package; written to {args.profile}):")
        for name, seconds in sorted(totals.items(), key=lambda item: -item[1]):
            print(f"  {name:<14} {seconds:7.1f} s  {seconds / whole:6.1%}")
        stats.sort_stats("tottime").print_stats(25)
    return 0 if met else 1
