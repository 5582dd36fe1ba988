"""When the console's garbage collector runs: small collections often, full ones when idle.

While hundreds of hosts stream, the console allocates hundreds of thousands of
objects a second, and CPython's collector decides when the UI loop stops to
look for cycles among them; a key waits for any collection running when it
arrives. textual_cycles.py keeps Textual from turning what it drops into
cycles, so little of that is garbage the collector must find, but each
collection still walks what it finds alive:

- collections of the young generations are kept small (``GC_THRESHOLDS``):
  each walks at most a few tens of thousands of objects, under ~10 ms in
  benchmarks/console_load.py;
- full collections walk everything alive since start-up (~75,000 objects under
  Textual with 300 hosts streaming, ~50-75 ms there). CPython would start one
  at a moment of its choosing, mid key press. Here they never start by
  themselves: the console runs one when nobody has pressed a key or touched the
  mouse for ``IDLE_SECONDS``, at most every ``MIN_GAP_SECONDS``, and after
  ``MAX_GAP_SECONDS`` even if the operator never stops typing, so garbage that
  outlives the young collections cannot grow without bound.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

GC_THRESHOLDS = (4_000, 5, 1_000_000)
"""Young collections every 4,000 net allocations, the middle one every 5 of those;
the full one only when ``IdleCollector`` asks (a million middle ones never happen).
Measured with benchmarks/console_load.py: the longest young collection ~8-10 ms
(17-20 ms with a middle one every 10), for the same total time."""
IDLE_SECONDS = 1.0
"""No input for this long: a full collection will not be in the way of a key."""
MIN_GAP_SECONDS = 2.0
MAX_GAP_SECONDS = 30.0
CHECK_SECONDS = 0.25
"""How often the console asks ``IdleCollector.tick`` whether a full collection is due."""


class IdleCollector:
    """Decides when the console process runs a full garbage collection."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[], object] = gc.collect,
        young_collections: Callable[[], int] = lambda: gc.get_count()[2],
    ) -> None:
        self.clock = clock
        self.collect = collect
        self.young_collections = young_collections
        """Middle-generation collections since the last full one: 0 means nothing new
        can have reached the old generation, and a full collection would be wasted."""
        now = clock()
        self.last_input = now
        self.last_full = now
        self.full_collections = 0
        self.longest_full = 0.0
        """Seconds the longest full collection so far took (benchmarks report it)."""

    def note_input(self) -> None:
        """A key or mouse event arrived: the operator is there."""
        self.last_input = self.clock()

    def due(self) -> bool:
        now = self.clock()
        since_full = now - self.last_full
        if since_full < MIN_GAP_SECONDS or self.young_collections() == 0:
            return False
        return now - self.last_input >= IDLE_SECONDS or since_full >= MAX_GAP_SECONDS

    def tick(self) -> bool:
        """Run a full collection if one is due; True if it ran."""
        if not self.due():
            return False
        started = time.perf_counter()
        self.collect()
        self.longest_full = max(self.longest_full, time.perf_counter() - started)
        self.full_collections += 1
        self.last_full = self.clock()
        return True


def tune_gc_for_console() -> IdleCollector:
    """Freeze what exists at start-up (imports, the app), set the thresholds above,
    and return the collector the console must tick (set as ``app.collector`` before ``run()``)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return IdleCollector()


__all__ = [
    "CHECK_SECONDS",
    "GC_THRESHOLDS",
    "IDLE_SECONDS",
    "MAX_GAP_SECONDS",
    "MIN_GAP_SECONDS",
    "IdleCollector",
    "tune_gc_for_console",
]
