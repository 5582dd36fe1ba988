"""The console's garbage-collection policy: full collections only while nobody types."""

from __future__ import annotations

import gc
from collections.abc import Callable

from textual.pilot import Pilot
from tuihelp import SIZE

from patchtui.tui.app import PatchtuiApp
from patchtui.tui.collector import (
    GC_THRESHOLDS,
    IDLE_SECONDS,
    MAX_GAP_SECONDS,
    MIN_GAP_SECONDS,
    IdleCollector,
    tune_gc_for_console,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(clock: Clock, young: list[int]) -> tuple[IdleCollector, list[float]]:
    runs: list[float] = []
    collector = IdleCollector(
        clock=clock, collect=lambda: runs.append(clock.now), young_collections=lambda: young[0]
    )
    return collector, runs


def test_full_collection_waits_for_an_idle_moment() -> None:
    clock, young = Clock(), [5]
    collector, runs = make(clock, young)
    clock.now += MIN_GAP_SECONDS
    collector.note_input()
    clock.now += IDLE_SECONDS / 2
    assert not collector.tick()  # a key was pressed just now
    clock.now += IDLE_SECONDS
    assert collector.tick() and runs == [clock.now]
    assert collector.full_collections == 1
    clock.now += MIN_GAP_SECONDS * 0.9
    assert not collector.tick()  # idle, but the last one was moments ago
    clock.now += MIN_GAP_SECONDS * 0.2
    assert collector.tick() and len(runs) == 2


def test_nothing_new_in_the_old_generation_means_no_collection() -> None:
    clock, young = Clock(), [0]
    collector, runs = make(clock, young)
    clock.now += MAX_GAP_SECONDS * 2
    assert not collector.tick() and runs == []
    young[0] = 1
    assert collector.tick()


def test_non_stop_typing_still_gets_a_collection_at_the_longest_gap() -> None:
    clock, young = Clock(), [3]
    collector, runs = make(clock, young)
    while clock.now < 1000.0 + MAX_GAP_SECONDS - 0.5:
        clock.now += 0.25
        collector.note_input()
        assert not collector.tick()
    clock.now += 0.5
    collector.note_input()
    assert collector.tick() and len(runs) == 1


def test_tuning_sets_the_thresholds_and_freezes_start_up_objects() -> None:
    before = gc.get_threshold()
    try:
        collector = tune_gc_for_console()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
        assert isinstance(collector, IdleCollector)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


async def test_keys_in_the_console_hold_the_collection_off(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    # Nothing to collect until the key is in: the console's timer ticks on its own, and on a
    # busy machine one tick fell between moving the clock and the key (seen in CI).
    clock, young = Clock(), [0]
    collector, runs = make(clock, young)
    app = tui_offline_app()
    app.collector = collector
    async with app.run_test(size=SIZE) as pilot:
        clock.now += MIN_GAP_SECONDS + IDLE_SECONDS
        await pilot.press("down")  # the operator is there: not now
        young[0] = 4
        await wait_ticks(pilot)
        assert runs == []
        clock.now += IDLE_SECONDS  # a second without input: the console's timer collects
        await wait_ticks(pilot)
        assert runs == [clock.now]


async def wait_ticks(pilot: Pilot[int]) -> None:
    await pilot.pause(0.6)  # two ticks of the collector's 0.25 s timer
