"""Hot host state in N files sharded by a hash of the host name, parsed once and cached.

Why shards: in schema v1 the hosts lived in the main file with the run index,
so every run start, run finish and batch of host updates re-read and rewrote
all of it (21-45 MB at 10,000 hosts, 1-1.3 s per write). Now a host lives in
``<db dir>/<db stem>.hosts/<NN>.json`` with ``NN = crc32(name) % shard count``
(crc32, not ``hash()``: it must be the same in every process). A batch of
updates rewrites only the shards it touches, a one-host scan rewrites 1/64 of
the hot state, and run start/finish never touch host files at all. Each file
is a TinyDB file with one table, ``hosts``.

Why not TinyDB's ``Table`` here: at 10,000 hosts its per-document work
(Document objects, id conversion, a whole-table copy per operation) costs more
than the JSON itself, and it mutates the parsed data in place, which would rule
out keeping that data as a cache. Writes here are copy-on-write: a changed
shard gets a new top-level dict and new dicts for changed hosts, so the cached
parse (and every dict a reader was handed) stays exactly what is on disk.

Caching: a shard's parse is kept with the file's (inode, mtime_ns, size).
Readers re-parse only shards whose stat changed, so repeated reads are free.
Writers, under the store lock, also compare a SHA-1 of the bytes: inode
numbers are reused and mtime is coarse, and a stale cache there would be a lost
update, while a stale read just shows the previous version until the next change.

Garbage collector: parsing 10,000 hosts creates ~650,000 lists and dicts, and
CPython's cyclic collector then walks all of them, repeatedly (measured: parse
0.28 s with the collector paused, 1.4 s with it running; each full pass over
the parsed data afterwards ~0.3-0.5 s). Parsing pauses the collector, and
after a large load (FREEZE_MIN_BYTES) the loaded objects are moved into the
collector's permanent generation with ``gc.freeze()``, after a ``gc.collect()``
so no garbage is frozen with them. JSON data has no reference cycles, so
frozen host documents are still freed by reference counting when the cache
drops them.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchtui.errors import StoreError
from patchtui.store import schema
from patchtui.store.files import ensure_directory, read_bytes
from patchtui.store.storage import (
    Tables,
    atomic_write_many,
    corrupt_message,
    dump_tables,
    empty_detail,
    validate_tables,
)

HOSTS_SUFFIX = ".hosts"
FREEZE_MIN_BYTES = 4 * 1024 * 1024
"""Loads smaller than this leave the garbage collector alone (its cost is proportional)."""

_StatKey = tuple[int, int, int]


def hosts_dir_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.stem + HOSTS_SUFFIX)


def shard_index(name: str, shard_count: int) -> int:
    """Which host file holds ``name``: stable across processes and Python versions."""
    return zlib.crc32(name.encode("utf-8", "surrogatepass")) % shard_count


def host_shard_path(db_path: Path, index: int) -> Path:
    return hosts_dir_for(db_path) / f"{index:02d}.json"


def host_shard_files(db_path: Path) -> list[Path]:
    """Host files present (temp files and backups excluded), in index order."""
    directory = hosts_dir_for(db_path)
    if not directory.is_dir():
        return []
    return sorted(
        entry
        for entry in directory.glob("*.json")
        if not entry.name.startswith(".") and entry.stem.isdigit()
    )


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector (restored as it was)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_host_file(path: Path, raw: bytes) -> Tables:
    """Parse one host file's bytes; StoreError (naming the file) if corrupt or empty.

    The store never writes an empty host file (a shard left without hosts is
    removed), so an empty one was truncated: its hosts must not silently vanish.
    """
    if not raw.strip():
        raise StoreError(corrupt_message(path, empty_detail(raw)))
    try:
        with collector_paused():
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


def stat_key(path: Path) -> _StatKey | None:
    try:
        info = os.lstat(path)  # a link is never followed: its read is refused
    except FileNotFoundError:
        return None
    # Writers rename a new file into place, so the inode changes on every write.
    return (info.st_ino, info.st_mtime_ns, info.st_size)


def _digest(raw: bytes) -> bytes:
    return hashlib.sha1(raw, usedforsecurity=False).digest()


@dataclass(frozen=True)
class HostShard:
    """One parsed host file: never mutated once built (writers build a new one)."""

    key: _StatKey | None
    digest: bytes
    docs: Mapping[str, dict[str, Any]]
    """doc id -> host document, as in the file."""
    by_name: Mapping[str, str]
    """host name -> doc id."""

    @classmethod
    def build(cls, key: _StatKey | None, digest: bytes, tables: Tables) -> HostShard:
        docs = tables.get(schema.HOSTS, {})
        by_name = {str(doc.get("name")): doc_id for doc_id, doc in docs.items()}
        return cls(key, digest, docs, by_name)


EMPTY_DIGEST = _digest(b"")


class HostFiles:
    """The host shards of one database, as one process sees them."""

    def __init__(self, db_path: Path, shard_count: int = schema.HOST_SHARDS) -> None:
        self.db_path = db_path
        self.directory = hosts_dir_for(db_path)
        self.shard_count = shard_count
        self._cache: dict[int, HostShard] = {}
        self._merged_keys: tuple[_StatKey | None, ...] | None = None
        self._merged: list[dict[str, Any]] = []
        self._by_name: dict[str, dict[str, Any]] = {}

    def path(self, index: int) -> Path:
        return host_shard_path(self.db_path, index)

    def shard_of(self, name: str) -> int:
        return shard_index(name, self.shard_count)

    def forget(self) -> None:
        self._cache.clear()
        self._merged_keys = None
        self._merged, self._by_name = [], {}

    # ------------------------------------------------------------------- reads

    def _read(self, index: int, key: _StatKey | None) -> tuple[HostShard, int]:
        """The shard as on disk now (cached if its stat is unchanged); (shard, bytes parsed)."""
        cached = self._cache.get(index)
        if cached is not None and cached.key == key:
            return cached, 0
        if key is None:
            shard = HostShard(None, EMPTY_DIGEST, {}, {})
            self._cache[index] = shard
            return shard, 0
        path = self.path(index)
        raw = read_bytes(path)
        if raw is None:
            shard = HostShard(None, EMPTY_DIGEST, {}, {})
            self._cache[index] = shard
            return shard, 0
        shard = HostShard.build(key, _digest(raw), parse_host_file(path, raw))
        self._cache[index] = shard
        return shard, len(raw)

    def all_docs(self) -> list[dict[str, Any]]:
        """Every stored host document, sorted by name; shared objects: do not mutate."""
        keys = tuple(stat_key(self.path(index)) for index in range(self.shard_count))
        if keys == self._merged_keys:
            return self._merged
        stale = [
            index
            for index, key in enumerate(keys)
            if (cached := self._cache.get(index)) is None or cached.key != key
        ]
        big_load = sum(key[2] for index in stale if (key := keys[index]) is not None)
        freeze = big_load >= FREEZE_MIN_BYTES
        if freeze:
            # Free existing garbage first: whatever is frozen is never collected.
            gc.collect()
        with collector_paused():
            for index in stale:
                self._read(index, keys[index])
            by_name: dict[str, dict[str, Any]] = {}
            for index in range(self.shard_count):
                by_name.update(
                    (str(doc.get("name")), doc) for doc in self._cache[index].docs.values()
                )
            self._by_name = by_name
            self._merged = [by_name[name] for name in sorted(by_name)]
            self._merged_keys = keys
            if freeze:
                gc.freeze()
        return self._merged

    def get(self, name: str) -> dict[str, Any] | None:
        """One stored host document (shared: do not mutate), or None."""
        index = self.shard_of(name)
        shard, _ = self._read(index, stat_key(self.path(index)))
        doc_id = shard.by_name.get(name)
        return shard.docs.get(doc_id) if doc_id is not None else None

    # ------------------------------------------------------------------ writes

    def read_for_write(self, index: int) -> HostShard:
        """The shard as on disk now; call with the store lock held.

        The bytes are read and hashed every time: a cached parse is used only
        if it is of exactly these bytes.
        """
        path = self.path(index)
        key = stat_key(path)
        found = read_bytes(path)
        raw, key = (b"", None) if found is None else (found, key)
        if found is not None and not found.strip():
            parse_host_file(path, found)  # raises: an empty file is damage, not "no hosts"
        digest = _digest(raw)
        cached = self._cache.get(index)
        if cached is not None and cached.digest == digest:
            if cached.key != key:
                cached = HostShard(key, cached.digest, cached.docs, cached.by_name)
                self._cache[index] = cached
            return cached
        tables = parse_host_file(path, raw) if found is not None else {}
        shard = HostShard.build(key, digest, tables)
        self._cache[index] = shard
        return shard

    def write(self, index: int, docs: dict[str, dict[str, Any]]) -> None:
        """Replace shard ``index`` atomically with ``docs`` and cache them as its parse.

        ``docs`` must be new objects (copy-on-write), never the cached ones mutated.
        """
        self.write_many({index: docs})

    def write_many(self, shards: Mapping[int, dict[str, dict[str, Any]]]) -> None:
        """:meth:`write` for several shards, with one directory fsync for all of them."""
        payloads = {index: dump_tables({schema.HOSTS: docs}) for index, docs in shards.items()}
        # At every write: a link swapped in since the store opened must not redirect it.
        ensure_directory(self.directory, what="host directory")
        atomic_write_many([(self.path(index), payload) for index, payload in payloads.items()])
        for index, docs in shards.items():
            self._cache[index] = HostShard.build(
                stat_key(self.path(index)), _digest(payloads[index]), {schema.HOSTS: docs}
            )

    def write_all(self, docs: Iterable[dict[str, Any]]) -> None:
        """Distribute ``docs`` over the shards and write every one (migration, repair).

        Shards left without hosts are removed, so stale files from an earlier,
        interrupted attempt cannot shadow what is written now.
        """
        grouped: dict[int, dict[str, dict[str, Any]]] = {}
        for doc in docs:
            shard = grouped.setdefault(self.shard_of(str(doc.get("name"))), {})
            shard[str(len(shard) + 1)] = doc
        self.write_many(grouped)
        for index in range(self.shard_count):
            if index not in grouped:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path(index))
                self._cache.pop(index, None)
        self._merged_keys = None


def next_doc_id(docs: Mapping[str, object]) -> int:
    return max((int(doc_id) for doc_id in docs), default=0) + 1
