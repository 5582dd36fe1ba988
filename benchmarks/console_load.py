"""The console under load: 300 hosts streaming 2,000 output lines each while keys are pressed.

Prints how long the console takes from a key press to the screen showing its
effect (median, 95th percentile and worst, per key and overall, against the
100 ms target) and the memory: peak RSS, and what the bridge keeps against its
bound (hosts x scrollback), so it is plain that memory is bounded by scrollback
and not by how much the hosts print.

The lab's simulated hosts answer quickly and print a few lines each, so the
stream is synthetic: a feeder task on the UI loop emits ``HostOutput`` events
into the real ``EventBridge`` at a steady high rate (the engine also runs on
that loop and emits the same events), and the real app drains the bridge with
its 10 Hz timer. Keys are posted to the app as a terminal's would be. A key's
latency ends at the first frame the compositor renders while the key's effect
holds in the app's state, checked as each frame is drawn (headless: rendered
off-screen, not written); an output screen's effect includes its panes showing
their hosts' lines.

Run:  python benchmarks/console_load.py [--hosts 300] [--lines 2000] [--rate 30000]
      [--scrollback 2000] [--gap 0.05] [--pause 1.5]
Takes about lines*hosts/rate seconds of streaming (20 s by default) plus start-up.

With ``--real-lab N`` the stream is not synthetic: a real ``patchtui lab`` of N
hosts runs in another process and the console scans, then patches, all of them
while the same keys are timed (console_lab.py; [--concurrency 50]
[--run-timeout 600] [--profile FILE] [--scan-only]).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from textual import events
from textual.screen import Screen
from textual.widgets import Input

from patchtui.engine.events import HostOutput, HostState, HostStateChanged, RunStarted
from patchtui.inventory.model import Host, Inventory
from patchtui.tui.app import PatchtuiApp, make_app
from patchtui.tui.collector import tune_gc_for_console
from patchtui.tui.screens.hosts import HostsScreen
from patchtui.tui.screens.output import HostOutputScreen, SplitOutputScreen
from patchtui.tui.widgets.host_table import HostTable
from patchtui.tui.widgets.output_pane import OutputPane

TARGET_MS = 100.0
RUN_ID = "20260101T000000Z-bench0"
KEY_TIMEOUT = 10.0
"""Seconds a key may take before the benchmark calls it lost (and fails)."""


class _NoConnector:
    async def connect(self, host: Host) -> Any:
        raise AssertionError("the load benchmark never connects")

    def slot(self) -> Any:
        raise AssertionError("the load benchmark never connects")

    async def close_all(self) -> None:
        return None


def build_app(hosts: int, scrollback: int) -> PatchtuiApp:
    fleet = tuple(
        Host(name=f"lab-{index:04d}", address="127.0.0.1", port=9, groups=("lab",))
        for index in range(hosts)
    )
    inventory = Inventory(
        source="/bench/inventory.yaml", hosts=fleet, groups={"lab": tuple(h.name for h in fleet)}
    )
    app = make_app(inventory=inventory, hosts=fleet, connector_factory=_NoConnector)
    app.bridge.scrollback = scrollback
    return app


@dataclass
class Stream:
    """The synthetic engine: every host patching, printing apt-like lines."""

    hosts: list[str]
    lines_per_host: int
    rate: float
    sent: int = 0
    started: float = 0.0
    finished: float = 0.0

    @property
    def total(self) -> int:
        return len(self.hosts) * self.lines_per_host

    async def run(self, app: PatchtuiApp) -> None:
        emit = app.bridge
        emit(RunStarted(run_id=RUN_ID, operation="patch", hosts=tuple(self.hosts)))
        for host in self.hosts:
            emit(HostStateChanged(run_id=RUN_ID, host=host, state=HostState.PATCHING))
        self.started = time.perf_counter()
        tick = 0.01
        hosts = self.hosts
        count = len(hosts)
        while self.sent < self.total:
            # Catch up to where the rate says we should be: a steady stream, not bursts.
            due = min(self.total, int((time.perf_counter() - self.started) * self.rate) + 1)
            while self.sent < due:
                index = self.sent
                host = hosts[index % count]
                line_no = index // count
                emit(
                    HostOutput(
                        run_id=RUN_ID,
                        host=host,
                        stream="stdout",
                        line=f"Unpacking libpkg{line_no % 977}:amd64 (2.{line_no}.1-1) over "
                        f"(2.{line_no}.0-3) ... [{host} line {line_no}]",
                    )
                )
                self.sent += 1
            await asyncio.sleep(tick)
        self.finished = time.perf_counter()
        for host in hosts:
            emit(HostStateChanged(run_id=RUN_ID, host=host, state=HostState.OK))


@dataclass
class CollectorLog:
    """Every garbage collection while the stream runs: the loop stands still during each."""

    young: list[float] = field(default_factory=list)
    full: list[float] = field(default_factory=list)
    _started: float = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = (time.perf_counter() - self._started) * 1000
        (self.full if info["generation"] == 2 else self.young).append(took)

    def describe(self, label: str, values: list[float]) -> str:
        if not values:
            return f"  {label}: none"
        return f"  {label}: {len(values)}, longest {max(values):.1f} ms, total {sum(values):.0f} ms"


@dataclass
class Probe:
    """Times the first frame the compositor draws while a key's effect holds.

    The effect is checked as each frame is handed to the display (wrapping the
    app's display hook): the frame was rendered from the state just checked, so
    the first frame for which it holds is the one that shows it. (Polling for the
    effect and then waiting for the next frame overstated latency: a frame that
    already showed the effect did not count, and with nothing else changing the
    next one can be a whole 10 Hz output tick later.)"""

    effect: Callable[[], bool] | None = None
    shown_at: float | None = None
    shown: asyncio.Event = field(default_factory=asyncio.Event)
    """Set with ``shown_at``: the key's waiter wakes without polling the loop (polling
    every millisecond added a thousand turns a second of the benchmark's own to the
    loop whose stalls it measures)."""

    def install(self, app: PatchtuiApp) -> None:
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            if (
                renderable is not None
                and self.effect is not None
                and self.shown_at is None
                and screen is app.screen
                and self._holds()
            ):
                self.shown_at = time.perf_counter()
                self.shown.set()
            original(screen, renderable)

        app._display = display  # type: ignore[method-assign]

    def _holds(self) -> bool:
        assert self.effect is not None
        try:
            return self.effect()
        except Exception:  # e.g. a widget the effect queries is not mounted yet
            return False

    def expect(self, effect: Callable[[], bool] | None) -> None:
        self.effect, self.shown_at = effect, None
        self.shown.clear()


def _character(key: str) -> str | None:
    return {"space": " ", "slash": "/", "escape": None, "down": None}.get(
        key, key if len(key) == 1 else None
    )


async def press(app: PatchtuiApp, probe: Probe, key: str, effect: Callable[[], bool]) -> float:
    """Milliseconds from posting ``key`` until a frame is drawn while ``effect()`` holds."""
    probe.expect(effect)
    started = time.perf_counter()
    app.post_message(events.Key(key, _character(key)))
    try:
        await asyncio.wait_for(probe.shown.wait(), KEY_TIMEOUT)
    except TimeoutError:
        raise SystemExit(
            f"key {key!r}: no frame showed its effect within {KEY_TIMEOUT} s"
        ) from None
    shown_at = probe.shown_at
    assert shown_at is not None
    probe.expect(None)
    return (shown_at - started) * 1000


def shows_output(app: PatchtuiApp, kind: type[Screen[Any]]) -> bool:
    """The screen is a ``kind`` output screen and each of its panes shows its host's lines."""
    if not isinstance(app.screen, kind):
        return False
    panes = [pane for pane in app.screen.query(OutputPane) if pane.display]
    return bool(panes) and all(pane.lines for pane in panes)


def hosts_screen(app: PatchtuiApp) -> HostsScreen:
    screen = app.screen
    assert isinstance(screen, HostsScreen), screen
    return screen


async def key_cycle(
    app: PatchtuiApp, probe: Probe, timings: dict[str, list[float]], *, after_pause: bool = False
) -> None:
    """One round of everyday keys, each measured (the first one after a pause: apart)."""
    screen = hosts_screen(app)
    table = screen.query_one(HostTable)

    async def measure(label: str, key: str, effect: Callable[[], bool]) -> None:
        timings[label].append(await press(app, probe, key, effect))

    row = table.cursor_row
    first = "down, after a pause" if after_pause else "down"
    await measure(first, "down", lambda: table.cursor_row == row + 1)
    selected = len(screen.selected)
    await measure("space (select)", "space", lambda: len(screen.selected) != selected)
    await measure("z (full-screen output)", "z", lambda: shows_output(app, HostOutputScreen))
    await measure("escape (back)", "escape", lambda: app.screen is screen)
    await measure("v (split view)", "v", lambda: shows_output(app, SplitOutputScreen))
    await measure("escape (back)", "escape", lambda: app.screen is screen)
    filter_input = screen.query_one("#filter", Input)
    await measure("/ (filter)", "slash", lambda: filter_input.has_focus)
    await measure("type in filter", "7", lambda: screen.filter_text == "7")
    await measure("escape (clear filter)", "escape", lambda: screen.filter_text == "")
    await measure("escape (close filter)", "escape", lambda: table.has_focus)


def rss_mib() -> float:
    # ru_maxrss is KiB on Linux: the peak of this process so far.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return float("nan")


def kept_lines(app: PatchtuiApp, hosts: list[str]) -> tuple[int, int]:
    """(lines the bridge keeps, bytes they take there)."""
    count = sum(len(app.bridge.lines(host)) for host in hosts)
    return count, sum(app.bridge.kept_bytes(host) for host in hosts)


def summarise(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"  {label:<24} n={len(values):<4} median {statistics.median(values):6.1f} ms"
        f"  p95 {p95:6.1f} ms  worst {ordered[-1]:6.1f} ms"
    )


async def main(args: argparse.Namespace) -> int:
    if args.real_lab:
        from console_lab import run_real_lab

        return await run_real_lab(args)
    app = build_app(args.hosts, args.scrollback)
    app.collector = tune_gc_for_console()  # as `patchtui` and `patchtui demo` do
    names = list(app.rows)
    stream = Stream(names, args.lines, args.rate)
    timings: dict[str, list[float]] = defaultdict(list)
    probe = Probe()
    rss_start = current_rss_mib()
    async with app.run_test(size=(160, 45), headless=True) as pilot:
        probe.install(app)
        await pilot.pause(0.5)
        collections = CollectorLog()
        gc.callbacks.append(collections)
        feeder = asyncio.create_task(stream.run(app))
        await asyncio.sleep(0.3)  # let the stream get going before the first key
        rounds = 0
        while not feeder.done():
            # Every few rounds the operator stops to read, long enough for the console
            # to run a full collection; the key after the pause may meet one.
            pause = args.pause if rounds % 4 == 3 else args.gap
            await asyncio.sleep(pause)
            if feeder.done():
                break
            await key_cycle(app, probe, timings, after_pause=pause == args.pause)
            rounds += 1
        await feeder
        gc.callbacks.remove(collections)
        await pilot.pause(0.3)
        rss_streamed = current_rss_mib()
        kept, kept_bytes = kept_lines(app, names)
        pane_lines = len(hosts_screen(app).query_one(OutputPane).lines)
    gc.collect()

    every = [value for values in timings.values() for value in values]
    streamed = stream.finished - stream.started
    print(
        f"console load: {args.hosts} hosts x {args.lines:,} lines = {stream.total:,} lines"
        f" in {streamed:.1f} s ({stream.total / streamed:,.0f} lines/s, asked {args.rate:,.0f})"
    )
    print(f"key press -> screen shows its effect ({len(every)} keys in {rounds} rounds):")
    for label, values in timings.items():
        print(summarise(label, values))
    print(summarise("all keys", every))
    worst = max(every)
    print(
        f"  target {TARGET_MS:.0f} ms: median at {statistics.median(every) / TARGET_MS:.2f}x,"
        f" worst at {worst / TARGET_MS:.2f}x of the target"
        f" -> {'met' if worst < TARGET_MS else 'NOT met'}"
    )
    print("garbage collections while streaming (the UI loop waits for each):")
    print(collections.describe("young (generations 0 and 1)", collections.young))
    print(collections.describe("full (the console runs them between keys)", collections.full))
    bound = args.hosts * args.scrollback
    print("memory:")
    print(f"  RSS before the app {rss_start:7.1f} MiB, after streaming {rss_streamed:7.1f} MiB,")
    print(f"  peak RSS (ru_maxrss) {rss_mib():7.1f} MiB")
    print(
        f"  bridge keeps {kept:,} lines ({kept_bytes / 2**20:.1f} MiB) of"
        f" {stream.total:,} received; bound {args.hosts} x {args.scrollback:,} = {bound:,}"
    )
    print(f"  the hosts screen's pane holds {pane_lines:,} lines (scrollback {args.scrollback:,})")
    return 0 if kept <= bound else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=300)
    parser.add_argument("--lines", type=int, default=2_000, help="lines each host prints")
    parser.add_argument("--rate", type=float, default=30_000, help="lines per second, all hosts")
    parser.add_argument(
        "--scrollback", type=int, default=2_000, help="lines kept per host (bridge and panes)"
    )
    parser.add_argument("--gap", type=float, default=0.05, help="seconds between key rounds")
    parser.add_argument(
        "--pause",
        type=float,
        default=1.5,
        help="seconds of no keys before every 4th round (the console collects garbage then)",
    )
    real = parser.add_argument_group("a real run (console_lab.py)")
    real.add_argument(
        "--real-lab",
        type=int,
        default=0,
        metavar="N",
        help="scan then patch N hosts of a real `patchtui lab` in another process",
    )
    real.add_argument(
        "--concurrency", type=int, default=50, help="SSH sessions at once (the console's default)"
    )
    real.add_argument(
        "--run-timeout", type=float, default=600, help="seconds each run may take before failing"
    )
    real.add_argument("--profile", metavar="FILE", help="cProfile both runs into FILE")
    real.add_argument(
        "--scan-only", action="store_true", help="stop after the scan (quicker comparisons)"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse_args())))
