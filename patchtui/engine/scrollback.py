"""The last N lines of a host's output, stored so the garbage collector barely sees them.

A ``deque(maxlen=N)`` of strings is the obvious store, but CPython's cycle
collector visits every element of every container it tracks, on every full
collection. The console keeps 2,000 lines for each of hundreds of hosts (and a
patch run keeps 5,000 per host for the transcript): a million references, each
to a string somewhere else in memory, walked while the UI loop waits.

Here the newest lines sit in an ordinary list (the open block). Every
``BLOCK_LINES`` lines it is sealed: the lines are encoded as UTF-8 into one
``bytes`` with their end offsets packed beside it. A sealed block is a tuple of
two ``bytes``, which the collector stops tracking once it has seen it, so it
walks one reference per block instead of one per line; and a kept line costs
its UTF-8 bytes plus 8, not a ~50-byte string object (~100 MB less at 1,000
hosts x 2,000 lines). Lines are decoded again when read, which the console
does for the few hosts on screen.
"""

from __future__ import annotations

import sys
from array import array
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import accumulate, count
from typing import Final

BLOCK_LINES = 256
"""Lines per sealed block: few enough references for the collector, small enough
that the open block (an ordinary, tracked list) stays cheap."""

_OFFSET: Final = "Q"
"""Packed end offsets: unsigned 64-bit, so no line is too long for its block."""
_OFFSET_SIZE = array(_OFFSET).itemsize
_ENCODING = ("utf-8", "surrogatepass")
"""Round-trips every str, lone surrogates from undecodable host output included."""

_stagger = count()
"""Numbers Scrollbacks so that their first blocks differ in size (see ``__init__``)."""

Block = tuple[bytes, bytes]
"""A sealed block: the lines' UTF-8 back to back, and their packed end offsets."""


def seal(lines: list[str]) -> Block:
    text = "".join(lines)
    if text.isascii():
        # Nearly all package-manager output: one encode, and offsets are lengths.
        return text.encode("ascii"), array(_OFFSET, accumulate(map(len, lines))).tobytes()
    encoded = [line.encode(*_ENCODING) for line in lines]
    return b"".join(encoded), array(_OFFSET, accumulate(map(len, encoded))).tobytes()


def block_size(block: Block) -> int:
    """Lines in a sealed block."""
    return len(block[1]) // _OFFSET_SIZE


def unseal(block: Block, start: int = 0) -> list[str]:
    """The block's lines from ``start`` on."""
    data, packed = block
    ends = memoryview(packed).cast(_OFFSET)
    begin = ends[start - 1] if start > 0 else 0
    lines: list[str] = []
    for end in ends[start:]:
        lines.append(data[begin:end].decode(*_ENCODING))
        begin = end
    return lines


class Scrollback:
    """A bounded, append-only sequence of lines: the newest ``limit`` are kept."""

    __slots__ = ("_blocks", "_dropped", "_kept", "_open", "_received", "_seal_at", "limit")

    def __init__(self, limit: int, lines: Iterable[str] = ()) -> None:
        if limit < 0:
            raise ValueError(f"scrollback limit must be >= 0, not {limit}")
        self.limit = limit
        self._blocks: deque[Block] = deque()
        self._dropped = 0
        """Lines of the oldest block that are already out of scrollback."""
        self._open: list[str] = []
        self._kept = 0
        self._received = 0
        # Hosts that print alike (a fleet patched with one command) would all seal
        # on the same line, hundreds of seals in one go; a first block of a size
        # between a half and a whole block spreads them out from the start.
        half = BLOCK_LINES // 2
        self._seal_at = half + next(_stagger) * 37 % half
        self.extend(lines)

    @property
    def received(self) -> int:
        """Lines ever appended, including those no longer kept."""
        return self._received

    def __len__(self) -> int:
        return self._kept

    def append(self, line: str) -> None:
        self._received += 1
        if self.limit == 0:
            return
        self._open.append(line)
        self._kept += 1
        if len(self._open) >= self._seal_at:
            self._blocks.append(seal(self._open))
            self._open.clear()
            self._seal_at = BLOCK_LINES
        self._trim()

    def extend(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.append(line)

    def _trim(self) -> None:
        self.drop_oldest(self._kept - self.limit)

    def drop_oldest(self, excess: int) -> None:
        """Forget the ``excess`` oldest kept lines (for bounds other than a line count)."""
        excess = min(excess, self._kept)
        if excess <= 0:
            return
        self._kept -= excess
        while excess > 0 and self._blocks:
            oldest_left = block_size(self._blocks[0]) - self._dropped
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
            yield from unseal(block, self._dropped if index == 0 else 0)
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
            # Never reaches the oldest block's dropped lines: count <= len(self).
            taken[:0] = unseal(block, max(0, block_size(block) - (count - len(taken))))
        return taken

    def nbytes(self) -> int:
        """Memory the kept lines take (sealed blocks and the open block's strings)."""
        sealed = sum(sys.getsizeof(data) + sys.getsizeof(ends) for data, ends in self._blocks)
        return sealed + sum(map(sys.getsizeof, self._open))

    def __repr__(self) -> str:
        return f"Scrollback(limit={self.limit}, kept={len(self)}, received={self._received})"


__all__ = ["BLOCK_LINES", "Block", "Scrollback", "block_size", "seal", "unseal"]
