"""Keep Textual's caches from turning what they drop into reference cycles.

The console draws hundreds of lines a second while hosts stream. Whatever
Textual discards as a reference cycle is freed only by the cycle collector,
and the UI loop waits for every collection (see collector.py). Two of
Textual's caches made most of that garbage (benchmarks/console_load.py):

- A ``Strip`` (one drawn line) memoises what is derived from it, and two of
  those caches store the strip itself when the result is the strip unchanged:
  ``divide`` at a single cut at its own length (``[self]``) and
  ``crop_extend`` over exactly its own cells. The compositor asks both of
  nearly every line of a widget that fills its region, so nearly every drawn
  line (with its seven caches) became a cycle.
- ``LRUCache`` keeps its entries in a circular linked list of small lists.
  ``clear()`` drops the ring whole, a cycle holding every cached value, and
  ``DataTable`` clears its caches on every restyle (each focus change) and
  whenever its rows are rebuilt (each keystroke in the filter box):
  thousands of rows, strips and segments per second went to the collector.

``break_textual_cycles`` returns the strip uncached in those two cases, and
unlinks an ``LRUCache``'s entries when it clears or discards them. Results and
behaviour are Textual's own (textual==8.2.8, pinned);
tests/tui/test_textual_cycles.py checks them against the originals and shows
drawing the console leaves no strip for the collector.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

from rich.style import Style
from textual.cache import LRUCache
from textual.strip import Strip

_original_divide: Callable[[Strip, Iterable[int]], Sequence[Strip]] = Strip.divide
_original_crop_extend: Callable[[Strip, int, int, Style | None], Strip] = Strip.crop_extend
_original_lru_clear: Callable[[LRUCache[Any, Any]], None] = LRUCache.clear
_original_lru_discard: Callable[[LRUCache[Any, Any], Any], None] = LRUCache.discard


def _divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    cuts = [cut for cut in cuts if cut <= self.cell_length]  # as Textual's divide does
    if cuts == [self.cell_length]:
        return [self]
    return _original_divide(self, cuts)


def _crop_extend(self: Strip, start: int, end: int, style: Style | None) -> Strip:
    if start <= 0 and end == self.cell_length:
        return self
    return _original_crop_extend(self, start, end, style)


def _lru_clear(self: LRUCache[Any, Any]) -> None:
    # Each link is [previous, next, key, value]: emptied, the ring holds nothing.
    for link in self._cache.values():
        link.clear()
    _original_lru_clear(self)


def _lru_discard(self: LRUCache[Any, Any], key: Hashable) -> None:
    link = self._cache.get(key)
    _original_lru_discard(self, key)
    if link is not None:
        link.clear()  # a lone entry links to itself


def break_textual_cycles() -> None:
    """Install the methods above on ``Strip`` and ``LRUCache`` (idempotent; process-wide)."""
    Strip.divide = _divide  # type: ignore[method-assign]
    Strip.crop_extend = _crop_extend  # type: ignore[method-assign]
    LRUCache.clear = _lru_clear  # type: ignore[method-assign]
    LRUCache.discard = _lru_discard  # type: ignore[method-assign]


__all__ = ["break_textual_cycles"]
