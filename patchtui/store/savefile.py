"""Saving text a user asked for (a host's output) to a path the user chose.

The console may run as root and the path is typed by hand, often in a shared
directory: the file is never opened through a symbolic link (``O_NOFOLLOW``,
``O_EXCL`` for a new file), and an existing file is replaced only when the
caller says the user agreed (``replace=True``), by a rename of a fully written
temporary file, so a link planted at the name is refused, never followed.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from patchtui.store.files import check_replaceable, create_new, io_error, random_suffix

SAVED_MODE = 0o600
"""Host output can show configuration and paths: readable by its owner only."""


class SaveExists(Exception):
    """The path names something already (a file to replace only if the user agrees)."""

    def __init__(self, path: Path, *, replaceable: bool) -> None:
        super().__init__(str(path))
        self.path = path
        self.replaceable = replaceable
        """A regular file (may be replaced after asking); else a link, directory, device."""


def existing(path: Path) -> SaveExists | None:
    """What is at ``path`` already, if anything (not following a link)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise io_error("examine", path, error, unchanged=False) from None
    return SaveExists(path, replaceable=stat.S_ISREG(info.st_mode))


def _create(path: Path, payload: bytes, *, shown: Path) -> None:
    try:
        create_new(path, payload, for_path=shown, mode=SAVED_MODE, store_file=False)
    except FileExistsError:
        # Something appeared at the name since we looked: say what it is now.
        found = existing(path) or SaveExists(path, replaceable=False)
        raise found from None


def save_text(path: Path, text: str, *, replace: bool = False) -> Path:
    """Write ``text`` to ``path``; the absolute path written.

    Raises ``SaveExists`` if something is at ``path`` and ``replace`` is false (or
    it is not a regular file: a link or directory is never replaced), and
    ``StoreError`` (one line) for an OS error.
    """
    path = Path(os.path.abspath(path))
    # Lone surrogates (undecodable host bytes) are written as U+FFFD, not an error.
    payload = text.encode("utf-8", "replace")
    found = existing(path)
    if found is None:
        _create(path, payload, shown=path)
        return path
    if not (replace and found.replaceable):
        raise found
    check_replaceable(path)  # a link put there since the user was asked: refuse
    temp = path.with_name(f".{path.name}.{random_suffix()}.tmp")
    _create(temp, payload, shown=path)
    try:
        os.replace(temp, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise io_error("replace", path, error, unchanged=False) from None
    return path


__all__ = ["SAVED_MODE", "SaveExists", "existing", "save_text"]
