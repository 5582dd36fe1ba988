"""One writer at a time: an fcntl.flock on ``<db>.lock`` with a bounded wait.

The console and a cron ``patchtui scan`` may run at the same time. Each write
transaction (read the file, change it, write it back) takes this lock, so two
processes never interleave their read-modify-write cycles. The lock is held
per transaction, not for a whole run, so both can make progress.

The holder writes its pid, command and start time into the lock file so that
a waiter that gives up can say who is in the way. The kernel releases a flock
when its holder dies (even by SIGKILL), so a crashed process never leaves the
database locked; the stale text in the file is ignored because it is read only
when the lock is actually busy.

The lock file is opened without following links and must be a regular file
with one link (:mod:`patchtui.store.files`): a link planted at ``<db>.lock``
would otherwise make every command, even ``history``, truncate its target.
Taking the lock also checks the data directory, so every writer does.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from patchtui.errors import StoreError, StoreLockedError
from patchtui.store.files import ensure_directory, open_file, read_bytes

POLL_SECONDS = 0.02


def lock_path_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


def default_command() -> str:
    """A short name for this process: ``patchtui scan``, ``patchtui``, ``pytest``."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if program in ("__main__.py", "-c", "-", ""):
        program = "python"
    subcommand = next((arg for arg in sys.argv[1:2] if not arg.startswith("-")), None)
    return f"{program} {subcommand}" if subcommand else program


@dataclass(frozen=True)
class LockHolder:
    pid: int | None
    command: str
    since: float | None

    def describe(self) -> str:
        if self.pid is None:
            return "another process"
        text = f"pid {self.pid} ({self.command})"
        if self.since is not None:
            moment = time.localtime(self.since)
            same_day = time.strftime("%Y-%m-%d", moment) == time.strftime("%Y-%m-%d")
            text += " since " + time.strftime(
                "%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S", moment
            )
        return text


def read_holder(lock_file: Path) -> LockHolder:
    """What the current (or last) holder wrote into the lock file."""
    try:
        info = json.loads((read_bytes(lock_file) or b"").decode("utf-8") or "{}")
    except (OSError, ValueError, StoreError):
        return LockHolder(None, "", None)
    if not isinstance(info, dict):
        return LockHolder(None, "", None)
    pid = info.get("pid")
    since = info.get("since")
    return LockHolder(
        pid if isinstance(pid, int) else None,
        str(info.get("command") or "unknown command"),
        float(since) if isinstance(since, int | float) else None,
    )


class StoreLock:
    """The inter-process write lock of one database file.

    Not re-entrant: callers serialise their own threads (``Store`` does, with a
    threading lock) and never nest transactions.
    """

    def __init__(self, db_path: Path, *, command: str | None = None) -> None:
        self.db_path = db_path
        self.path = lock_path_for(db_path)
        self.command = command or default_command()
        self._directory_checked = False

    @contextlib.contextmanager
    def hold(self, timeout: float) -> Iterator[None]:
        """Hold the lock for the body; wait at most ``timeout`` seconds, then raise."""
        if not self._directory_checked:
            ensure_directory(self.path.parent, what="data directory", follow=True)
            self._directory_checked = True
        # A fresh open file description per transaction: flock conflicts are per
        # description, so two Store objects in one process also exclude each other.
        fd = open_file(self.path, os.O_RDWR | os.O_CREAT, action="open the lock file")
        try:
            self._acquire(fd, timeout)
            try:
                self._write_holder(fd)
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _acquire(self, fd: int, timeout: float) -> None:
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = read_holder(self.path)
                    raise StoreLockedError(
                        f"database {self.db_path} is locked by {holder.describe()}; "
                        f"gave up after waiting {timeout:g} s (try again when it has finished)"
                    ) from None
                time.sleep(POLL_SECONDS)

    def _write_holder(self, fd: int) -> None:
        info = {"pid": os.getpid(), "command": self.command, "since": time.time()}
        payload = json.dumps(info).encode("utf-8")
        # Best effort: the text only improves the waiter's message.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, payload, 0)
