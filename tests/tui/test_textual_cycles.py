"""What Textual's strips and LRU caches drop is freed by reference count; results unchanged."""

from __future__ import annotations

import gc
import random
from collections import OrderedDict
from collections.abc import Callable, Iterator

import pytest
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.strip import Strip
from tuihelp import SIZE

from patchtui.tui import textual_cycles
from patchtui.tui.app import PatchtuiApp
from patchtui.tui.textual_cycles import break_textual_cycles

RED = Style(color="red")


def sample_strips() -> list[Strip]:
    return [
        Strip([]),
        Strip([Segment("hello", RED), Segment(" world")]),
        Strip([Segment("ab"), Segment("cd", RED), Segment("ef")]),
        Strip([Segment("wide 字符", RED)]),
    ]


def divisions(strip: Strip) -> list[list[int]]:
    length = strip.cell_length
    return [[length], [length, length + 4], [0, length], [1, length], [2], [length + 3], []]


def crops(strip: Strip) -> list[tuple[int, int]]:
    length = strip.cell_length
    return [(0, length), (-2, length), (0, length + 3), (1, length), (0, max(length - 1, 0))]


@pytest.fixture
def no_automatic_collection() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_results_are_textual_own() -> None:
    break_textual_cycles()
    for strip in sample_strips():
        for cuts in divisions(strip):
            ours = Strip.divide(strip, cuts)
            theirs = textual_cycles._original_divide(Strip(list(strip), strip.cell_length), cuts)
            assert [list(each) for each in ours] == [list(each) for each in theirs], cuts
            assert [each.cell_length for each in ours] == [each.cell_length for each in theirs]
        for start, end in crops(strip):
            for style in (None, RED):
                ours_cropped = strip.crop_extend(start, end, style)
                theirs_cropped = textual_cycles._original_crop_extend(
                    Strip(list(strip), strip.cell_length), start, end, style
                )
                assert list(ours_cropped) == list(theirs_cropped), (start, end, style)
                assert ours_cropped.cell_length == theirs_cropped.cell_length


def test_a_strip_used_as_the_compositor_uses_it_leaves_no_cycle(
    no_automatic_collection: None,
) -> None:
    break_textual_cycles()
    for strip in sample_strips():
        length = strip.cell_length
        strip.divide([length])
        strip.crop_extend(0, length, None)
        strip.crop(0, length)
        strip.adjust_cell_length(length)
        strip.extend_cell_length(length)
        strip.crop_extend(1, length + 2, RED)  # cached results are other strips: fine
    del strip
    assert gc.collect() == 0


def test_without_the_fix_those_calls_make_cycles(no_automatic_collection: None) -> None:
    """Guards the test above: Textual's own methods do leave cycles behind."""
    strip = Strip([Segment("hello", RED)])
    textual_cycles._original_divide(strip, [strip.cell_length])
    del strip
    assert gc.collect() > 0


async def test_drawing_the_console_leaves_no_strip_to_the_cycle_collector(
    tui_offline_app: Callable[..., PatchtuiApp],
) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(3):
                app.screen.refresh(repaint=True)
                app.screen.query_one("HostTable").refresh()
                await pilot.press("down")
                await pilot.pause()
            gc.collect()
            strips = sum(1 for each in gc.garbage if type(each) is Strip)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    assert strips == 0


class _Value:
    """A cached value the collector tracks, as Textual's strips and rows are."""


@pytest.mark.parametrize("size", [1, 2, 5, 40])
def test_an_lru_cache_behaves_as_before_and_drops_no_cycle(
    size: int, no_automatic_collection: None
) -> None:
    break_textual_cycles()
    rng = random.Random(size)
    cache: LRUCache[int, _Value] = LRUCache(size)
    model: OrderedDict[int, _Value] = OrderedDict()  # least recently used first
    for _ in range(600):
        key, action = rng.randrange(2 * size + 2), rng.random()
        if action < 0.45:
            value = _Value()
            if key not in model:  # LRUCache.set keeps an existing entry as it is
                model[key] = value
                if len(model) > size:
                    model.popitem(last=False)
            cache.set(key, value)
        elif action < 0.8:
            assert cache.get(key) is model.get(key)
            if key in model:
                model.move_to_end(key)
        elif action < 0.97:
            cache.discard(key)
            model.pop(key, None)
        else:
            cache.clear()
            model.clear()
        assert sorted(cache.keys()) == sorted(model)
    assert gc.collect() == 0  # the cache is alive: only what it dropped could be garbage


def test_without_the_fix_clearing_an_lru_cache_leaves_a_cycle(
    no_automatic_collection: None,
) -> None:
    """Guards the test above: Textual's own clear() drops its ring as a cycle."""
    cache: LRUCache[int, _Value] = LRUCache(4)
    for key in range(3):
        cache.set(key, _Value())
    textual_cycles._original_lru_clear(cache)
    assert gc.collect() > 0
