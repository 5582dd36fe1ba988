"""The last N lines of a host's output, stored so the garbage collector barely sees them.

A ``deque(maxlen=N)`` of strings is the obvious store, but CPython's cycle
collector visits every element of every container it tracks, on every full
collection. The console keeps 2,000 lines for each of hundreds of hosts (and a
patch run keeps 5,000 per host for the transcript): a million references, each
to a string somewhere else in memory, walked while the UI loop waits. Sealed
blocks are tuples of strings, which the collector stops tracking after it has
seen them once, so it walks one reference per block instead of one per line.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice

BLOCK_LINES = 256
"""Lines per sealed block: few enough references for the collector, small enough
that the open block (an ordinary, tracked list) stays cheap."""


class Scrollback:
    """A bounded, append-only sequence of lines: the newest ``limit`` are kept."""

    __slots__ = ("_blocks", "_dropped", "_kept", "_open", "_received", "limit")

    def __init__(self, limit: int, lines: Iterable[str] = ()) -> None:
        if limit < 0:
            raise ValueError(f"scrollback limit must be >= 0, not {limit}")
        self.limit = limit
        self._blocks: deque[tuple[str, ...]] = deque()
        self._dropped = 0
        """Lines of the oldest block that are already out of scrollback."""
        self._open: list[str] = []
        self._kept = 0
        self._received = 0
        self.extend(lines)

    @property
    def received(self) -> int:
        """Lines ever appended, including those no longer kept."""
        return self._received

    def __len__(self) -> int:
        return self._kept

    def __bool__(self) -> bool:
        return len(self) > 0

    def append(self, line: str) -> None:
        self._received += 1
        if self.limit == 0:
            return
        self._open.append(line)
        self._kept += 1
        if len(self._open) >= BLOCK_LINES:
            self._blocks.append(tuple(self._open))
            self._open.clear()
        self._trim()

    def extend(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.append(line)

    def _trim(self) -> None:
        excess = self._kept - self.limit
        if excess <= 0:
            return
        self._kept = self.limit
        while excess > 0 and self._blocks:
            oldest_left = len(self._blocks[0]) - self._dropped
            if excess < oldest_left:
                self._dropped += excess
                return
            self._blocks.popleft()
            self._dropped = 0
            excess -= oldest_left
        if excess > 0:
            # Only when the limit is below a block: the open list itself is the window.
            del self._open[:excess]

    def __iter__(self) -> Iterator[str]:
        for index, block in enumerate(self._blocks):
            yield from (islice(block, self._dropped, None) if index == 0 else block)
        yield from self._open

    def tail(self, count: int) -> list[str]:
        """The newest ``count`` kept lines, oldest first (fewer if fewer are kept)."""
        count = min(count, len(self))
        if count <= 0:
            return []
        taken: list[str] = self._open[-count:]
        for block in reversed(self._blocks):
            if len(taken) >= count:
                break
            taken[:0] = block[-(count - len(taken)) :]
        return taken[-count:] if len(taken) > count else taken

    def __repr__(self) -> str:
        return f"Scrollback(limit={self.limit}, kept={len(self)}, received={self._received})"


__all__ = ["BLOCK_LINES", "Scrollback"]
