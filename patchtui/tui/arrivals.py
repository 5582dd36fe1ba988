"""When each output line arrived, for the panes' per-line timestamps, in a few bytes.

The console keeps up to 2,000 lines for each of hundreds of hosts (see
``engine/scrollback.py``); a float per line would add 8 bytes and, as a
Python object, far more. Output arrives in bursts, and a timestamp is shown
to the second, so only the changes are kept: "from line N on, lines arrived
at second T", one entry per second in which the host printed anything, in two
packed arrays (12 bytes an entry). So a host printing in bursts costs a few
entries, and one printing a line every few seconds at most 12 bytes a line.
Entries for lines no longer kept are dropped as lines fall off.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_right

TRIM_AFTER = 64
"""Obsolete entries tolerated before they are cut off (a cut copies the arrays)."""


class ArrivalTimes:
    """Arrival time, to the second, of each line a host printed (by its received index)."""

    __slots__ = ("_firsts", "_seconds")

    def __init__(self) -> None:
        self._firsts = array("Q")
        """Received index of the first line of each second."""
        self._seconds = array("I")
        """That second, as whole seconds of the clock (unsigned 32-bit: until 2106)."""

    def __len__(self) -> int:
        """Entries kept (one per second with output): what the memory test measures."""
        return len(self._firsts)

    def nbytes(self) -> int:
        """Memory the entries take (the packed arrays)."""
        return sys.getsizeof(self._firsts) + sys.getsizeof(self._seconds)

    def note(self, index: int, when: float) -> None:
        """Line ``index`` (0 = the host's first line ever) arrived at ``when``."""
        # Called for every output line: the common case (same second) is one compare.
        second = int(when)
        seconds = self._seconds
        if seconds and seconds[-1] == second:
            return
        self._firsts.append(index)
        seconds.append(min(max(0, second), 2**32 - 1))

    def at(self, index: int) -> int | None:
        """When line ``index`` arrived, in whole seconds; None if not recorded."""
        position = bisect_right(self._firsts, index) - 1
        return self._seconds[position] if position >= 0 else None

    def forget_before(self, index: int) -> None:
        """Lines before ``index`` are no longer kept: their entries may go."""
        position = bisect_right(self._firsts, index) - 1
        if position > TRIM_AFTER:
            del self._firsts[:position]
            del self._seconds[:position]


__all__ = ["ArrivalTimes"]
