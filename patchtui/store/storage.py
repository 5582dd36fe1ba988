"""Durable JSON files for TinyDB: read once, write to a temp file, fsync, rename.

TinyDB's own ``JSONStorage`` rewrites the file in place (seek 0, write,
truncate). A process killed in the middle of that write leaves a half-written
file that no longer parses (TinyDB issue #301; about 1 in 40 SIGKILLs when we
measured it). Here every write goes to a temp file in the same directory,
which is fsynced and then atomically renamed over the real file, and the
directory is fsynced so the rename itself survives a power cut. A reader
therefore always sees either the old or the new complete file.

A corrupt, empty or unreadable file raises :class:`~patchtui.errors.StoreError`
and is never written over: a storage that failed to read refuses to write. No
file is read or written through a symbolic link (:mod:`patchtui.store.files`).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from patchtui.errors import StoreError
from patchtui.store.files import (
    check_replaceable,
    create_new,
    ensure_directory,
    io_error,
    random_suffix,
    read_bytes,
)

Tables = dict[str, dict[str, Any]]
"""TinyDB's on-disk shape: table name -> {doc id as str -> document}."""

TEMP_MARKER = ".tmp-"


def temp_name_prefix(path: Path) -> str:
    """Prefix of the temp files a writer of ``path`` creates (hidden, same directory)."""
    return f".{path.name}{TEMP_MARKER}"


def stray_temp_files(path: Path) -> list[Path]:
    """Temp files left beside ``path`` by a writer that was killed, newest first."""
    prefix = temp_name_prefix(path)
    try:
        found = [entry for entry in path.parent.iterdir() if entry.name.startswith(prefix)]
    except FileNotFoundError:
        return []
    return sorted(found, key=_mtime, reverse=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def corrupt_message(path: Path, detail: str) -> str:
    return (
        f"database {path} is corrupt: {detail}; run `patchtui db check` to see what is wrong "
        f"and `patchtui db repair` to recover (it keeps a backup); the file was not changed"
    )


def validate_tables(data: object) -> str | None:
    """Why ``data`` is not TinyDB's table layout, or None if it is."""
    if not isinstance(data, dict):
        return f"top level is a {type(data).__name__}, not an object of tables"
    for name, table in data.items():
        if not isinstance(table, dict):
            return f"table {name!r} is a {type(table).__name__}, not an object of documents"
        for doc_id, doc in table.items():
            if not doc_id.isdigit():
                return f"table {name!r} has a non-numeric document id {doc_id!r}"
            if not isinstance(doc, dict):
                return f"table {name!r} document {doc_id} is not an object"
    return None


def empty_detail(raw: bytes) -> str:
    return f"the file is empty ({len(raw)} bytes): it was truncated or damaged"


def read_tables(path: Path) -> Tables | None:
    """Parse a TinyDB JSON file; None if it does not exist (a new database).

    Raises StoreError naming the file and the JSON error position if it is
    corrupt, if it is empty (the store never writes an empty file, so an empty
    one was truncated: treating it as new would hide every recorded run), if
    it is a link, or the OS error if it cannot be read.
    """
    raw = read_bytes(path)
    if raw is None:
        return None
    if not raw.strip():
        raise StoreError(corrupt_message(path, empty_detail(raw)))
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        detail = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        raise StoreError(corrupt_message(path, detail)) from exc
    except UnicodeDecodeError as exc:
        raise StoreError(corrupt_message(path, f"not UTF-8 text ({exc.reason})")) from exc
    problem = validate_tables(data)
    if problem is not None:
        raise StoreError(corrupt_message(path, problem))
    return data


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (not supported everywhere: best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def temp_path_for(path: Path) -> Path:
    """A new temp file name beside ``path`` (hidden, random: never guessable in advance)."""
    return path.with_name(f"{temp_name_prefix(path)}{random_suffix()}")


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Replace ``path`` with ``payload`` so that a crash leaves the old or the new file."""
    atomic_write_many([(path, payload)])


def atomic_write_many(files: list[tuple[Path, bytes]]) -> None:
    """Replace several files, each atomically, with one fsync per directory for the renames.

    All temp files are written and fsynced before the first rename, so a crash
    leaves every file old or new (never half-written). fsync dominated a batch
    of host updates that touches dozens of host files: this halves their number.
    """
    # Every name is checked before anything is written: a link at one of them
    # refuses the whole write rather than leaving it half done.
    for path, _ in files:
        check_replaceable(path)
    temps: list[tuple[Path, Path]] = []
    try:
        for path, payload in files:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise io_error("create the directory", path.parent, error) from None
            temp = temp_path_for(path)
            # O_EXCL | O_NOFOLLOW with a random name: nothing that exists is written to.
            create_new(temp, payload, for_path=path)
            temps.append((temp, path))
        for temp, path in temps:
            try:
                os.replace(temp, path)
            except OSError as error:
                raise io_error("replace", path, error) from None
    except BaseException:
        for temp, _ in temps:
            with contextlib.suppress(OSError):
                temp.unlink()
        raise
    for directory in {path.parent for path, _ in files}:
        fsync_directory(directory)


def dump_tables(data: Tables) -> bytes:
    # Compact separators: the file is rewritten whole on every commit, so bytes are time.
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def atomic_write_tables(path: Path, data: Tables) -> None:
    atomic_write_bytes(path, dump_tables(data))


class TransactionStorage(Storage):
    """A TinyDB storage that reads the file once and writes it once, atomically.

    TinyDB calls ``read()`` before and ``write()`` after every table operation,
    so with a file-backed storage each insert re-parses and re-serialises the
    whole file. This storage parses the file at construction (the caller holds
    the store lock, so what it reads is current), serves all reads of the
    transaction from memory, and only ``commit()`` writes, once, through a temp
    file and an atomic rename. A file that failed to parse raised in the
    constructor, so there is never a storage that could overwrite it.
    """

    def __init__(self, path: str | Path, *, subdirectory: str | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.subdirectory = subdirectory
        """What its directory is, if it is one of the store's own (checked at each commit)."""
        self._data: Tables | None = read_tables(self.path)
        self.dirty = False

    def read(self) -> Tables | None:
        return self._data

    def write(self, data: Tables) -> None:
        self._data = data
        self.dirty = True

    def commit(self) -> None:
        """Write the transaction's state if anything changed."""
        if self.dirty:
            if self.subdirectory is not None:
                # Checked at every write, not only at open: a console stays open for
                # hours, and a link swapped in meanwhile must not redirect the write.
                ensure_directory(self.path.parent, what=self.subdirectory)
            atomic_write_tables(self.path, self._data or {})
            self.dirty = False

    def close(self) -> None:
        # Nothing is open between calls; uncommitted changes are dropped on purpose.
        pass


class SnapshotStorage(Storage):
    """Read-only TinyDB storage over tables already parsed (a reader's snapshot)."""

    def __init__(self, data: Tables | None) -> None:
        super().__init__()
        self._data = data

    def read(self) -> Tables | None:
        return self._data

    def write(self, data: Tables) -> None:
        raise StoreError("internal error: a read-only snapshot of the database was written to")
