"""Keep Textual's ``Strip`` from caching itself, so drawn lines die by reference count.

A ``Strip`` (one drawn line) memoises what is derived from it. Two of those
caches store the strip itself when the result is the strip unchanged:
``divide`` at a single cut at its own length (``[self]``) and ``crop_extend``
over exactly its own cells. Both are what the compositor asks of nearly every
line of a widget that fills its region, so nearly every line drawn becomes a
reference cycle. Nothing but the cycle collector can free it then: at 300
streaming hosts that was thousands of strips, each with seven caches, per
collection (benchmarks/console_load.py), and the UI loop waits for collections.

``break_strip_self_cycles`` makes those two calls return the strip without
caching it; every other call and every result is Textual's own (textual==8.2.8,
pinned; tests/tui/test_strip_cycles.py checks the results against the originals
and fails if an upgrade brings the cycles back another way).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from rich.style import Style
from textual.strip import Strip

_original_divide: Callable[[Strip, Iterable[int]], Sequence[Strip]] = Strip.divide
_original_crop_extend: Callable[[Strip, int, int, Style | None], Strip] = Strip.crop_extend


def _divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    cuts = list(cuts)
    if [cut for cut in cuts if cut <= self.cell_length] == [self.cell_length]:
        return [self]
    return _original_divide(self, cuts)


def _crop_extend(self: Strip, start: int, end: int, style: Style | None) -> Strip:
    if start <= 0 and end == self.cell_length:
        return self
    return _original_crop_extend(self, start, end, style)


def break_strip_self_cycles() -> None:
    """Install the two methods above on ``Strip`` (idempotent; process-wide)."""
    Strip.divide = _divide  # type: ignore[method-assign]
    Strip.crop_extend = _crop_extend  # type: ignore[method-assign]


__all__ = ["break_strip_self_cycles"]
