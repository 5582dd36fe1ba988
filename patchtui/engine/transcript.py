"""One host's transcript while a job runs: its first lines and its last, bounded in memory.

A command that never stops printing (``patchtui run -- yes``) must not grow
patchtui without limit, and the part of a transcript worth keeping is both
ends: the head has the ``$ command`` line and what the tool said first, the
tail has the error. So the transcript keeps the first ``HEAD_LINES`` lines
(at most ``HEAD_CHARS`` characters), then the last ``TAIL_LINES`` (at most
``TAIL_CHARS``), and in between one marker line saying how many lines were
dropped. A line longer than ``MAX_LINE_CHARS`` is cut, with a note of how
much; the same cut applies to the output events the console and ``patchtui
run`` show (``clip_line``), so one endless line cannot fill memory either.

Marker lines are ``Omission`` objects, which the store recognises, so a
transcript's ``transcript_truncated`` is true exactly when something was left
out (and a host printing marker-like text cannot make it so).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

from patchtui.engine.scrollback import Scrollback
from patchtui.store.transcripts import Omission

HEAD_LINES = 500
HEAD_CHARS = 256 * 1024
TAIL_LINES = 4_500
TAIL_CHARS = 1024 * 1024
MAX_LINE_CHARS = 8 * 1024
"""Longer lines are cut: package-manager lines are under 300 characters."""


def clip_line(line: str) -> str:
    """``line``, or its first ``MAX_LINE_CHARS`` characters and a note of what was cut."""
    if len(line) <= MAX_LINE_CHARS or isinstance(line, Omission):
        return line
    cut = len(line) - MAX_LINE_CHARS
    return Omission(f"{line[:MAX_LINE_CHARS]} [patchtui: {cut:,} more characters cut]")


def dropped_marker(count: int) -> Omission:
    return Omission(
        f"[patchtui: {count:,} lines dropped here; the transcript keeps the first and the "
        "last lines of the output]"
    )


class HostTranscript:
    """Append-only; iterating gives the head, a marker if lines were dropped, and the tail."""

    __slots__ = ("_first", "_head", "_head_chars", "_sizes", "_tail", "_tail_chars", "dropped")

    def __init__(self) -> None:
        self._head = Scrollback(HEAD_LINES)
        self._head_chars = 0
        self._tail = Scrollback(TAIL_LINES)
        self._tail_chars = 0
        # Sizes of the tail's lines, oldest first from _first, to trim by characters.
        self._sizes = array("L")
        self._first = 0
        self.dropped = 0
        """Lines between head and tail that are no longer kept."""

    def append(self, line: str) -> None:
        line = clip_line(line)
        if (
            not self._tail
            and len(self._head) < HEAD_LINES
            and self._head_chars + len(line) <= HEAD_CHARS
        ):
            self._head.append(line)
            self._head_chars += len(line)
            return
        self._tail.append(line)
        self._sizes.append(len(line))
        self._tail_chars += len(line)
        excess = 0
        while len(self._sizes) - self._first - excess > TAIL_LINES or (
            self._tail_chars > TAIL_CHARS and len(self._sizes) - self._first - excess > 1
        ):
            self._tail_chars -= self._sizes[self._first + excess]
            excess += 1
        if excess:
            # The Scrollback trims itself to TAIL_LINES already; drop what is still over.
            self._tail.drop_oldest(len(self._tail) - (len(self._sizes) - self._first - excess))
            self._first += excess
            self.dropped += excess
            if self._first > 4096 and self._first * 2 > len(self._sizes):
                del self._sizes[: self._first]
                self._first = 0

    @property
    def received(self) -> int:
        return self._head.received + self._tail.received

    @property
    def truncated(self) -> bool:
        return self.dropped > 0

    def __len__(self) -> int:
        return len(self._head) + len(self._tail) + (1 if self.dropped else 0)

    def __bool__(self) -> bool:
        return self.received > 0

    def __iter__(self) -> Iterator[str]:
        yield from self._head
        if self.dropped:
            yield dropped_marker(self.dropped)
        yield from self._tail
