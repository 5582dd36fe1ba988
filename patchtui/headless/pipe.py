"""Standard output that a closed pipe ends quietly.

``patchtui scan --json | head -1``: once ``head`` exits, the next write to stdout
fails with EPIPE. Python ignores SIGPIPE, so without care that is a
``BrokenPipeError`` traceback, and possibly a second one when the interpreter
flushes stdout at exit. Instead, the first failed write:

- points file descriptor 1 at /dev/null, so no later write or flush can fail again;
- tells whoever listens (a running job treats it as Ctrl+C: start no new host,
  let what runs finish and be recorded);
- and the command line exits with ``ExitCode.BROKEN_PIPE`` (141, what a shell
  reports for a process that SIGPIPE ended), with nothing on stderr.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable, Iterator
from typing import IO, Any, TextIO, cast


class PipeGuard:
    """Wraps a text stream; a broken pipe turns it into a sink and notifies listeners."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self.broken = False
        self._listeners: list[Callable[[], None]] = []

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._break()
        return len(text)

    def flush(self) -> None:
        if self.broken:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._break()

    def on_break(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` once the pipe breaks (at once if it has); returns an unsubscribe."""
        if self.broken:
            listener()
            return lambda: None
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _break(self) -> None:
        self.broken = True
        # What the wrapped stream still buffers goes to /dev/null at the interpreter's
        # final flush instead of raising a second BrokenPipeError there.
        with contextlib.suppress(AttributeError, OSError, io.UnsupportedOperation):
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self._stream.fileno())
            finally:
                os.close(devnull)
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


_current: PipeGuard | None = None


@contextlib.contextmanager
def guarded_stdout() -> Iterator[PipeGuard]:
    """``sys.stdout`` is a ``PipeGuard`` for the duration (restored after)."""
    global _current
    previous, previous_guard = sys.stdout, _current
    guard = PipeGuard(previous)
    sys.stdout, _current = cast(TextIO, guard), guard
    try:
        yield guard
        guard.flush()
    finally:
        sys.stdout, _current = previous, previous_guard


def on_broken_pipe(listener: Callable[[], None]) -> Callable[[], None]:
    """Subscribe to the current guard, if stdout is guarded; returns an unsubscribe."""
    if _current is None:
        return lambda: None
    return _current.on_break(listener)


__all__ = ["PipeGuard", "guarded_stdout", "on_broken_pipe"]
