"""When each output line arrived, for the panes' per-line timestamps, in a few bytes.

The console keeps up to 2,000 lines for each of hundreds of hosts (see
``engine/scrollback.py``); a float per line would add 8 bytes and, as a
Python object, far more. Output arrives in bursts, and a timestamp is shown
to the second, so only the changes are kept: "from line N on, lines arrived
at T", one entry per second in which the host printed anything, in two packed
arrays. Entries for lines no longer kept are dropped as lines fall off.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right

TRIM_AFTER = 64
"""Obsolete entries tolerated before they are cut off (a cut copies the arrays)."""


class ArrivalTimes:
    """Arrival time, to the second, of each line a host printed (by its received index)."""

    __slots__ = ("_firsts", "_second", "_times")

    def __init__(self) -> None:
        self._firsts = array("Q")
        """Received index of the first line of each second."""
        self._times = array("d")
        """When that line arrived (the clock's value, not rounded)."""
        self._second: int | None = None

    def __len__(self) -> int:
        """Entries kept (one per second with output): what the memory test measures."""
        return len(self._firsts)

    def note(self, index: int, when: float) -> None:
        """Line ``index`` (0 = the host's first line ever) arrived at ``when``."""
        second = int(when)
        if second != self._second:
            self._second = second
            self._firsts.append(index)
            self._times.append(when)

    def at(self, index: int) -> float | None:
        """When line ``index`` arrived, to the second; None if not recorded."""
        position = bisect_right(self._firsts, index) - 1
        return self._times[position] if position >= 0 else None

    def forget_before(self, index: int) -> None:
        """Lines before ``index`` are no longer kept: their entries may go."""
        position = bisect_right(self._firsts, index) - 1
        if position > TRIM_AFTER:
            del self._firsts[:position]
            del self._times[:position]


__all__ = ["ArrivalTimes"]
