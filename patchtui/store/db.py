"""The store: a run index file, host state sharded by host name, history sharded per run.

Files (schema v2, see :mod:`patchtui.store.schema`): the main TinyDB file
holds ``meta`` and the run index, so starting or finishing a run rewrites only
that small file and the run's own history shard; host state lives in 64 files
chosen by a hash of the host name (:mod:`patchtui.store.hostfiles`), so a batch
of host updates rewrites only the files it touches. In v1 hosts and runs
shared one file and every write re-read and rewrote it whole (21-45 MB at
10,000 hosts: ~1-1.3 s per write); v1 files are migrated on open, after a
backup copy.

Why shard history per run (``<db dir>/<db stem>.history/<run_id>.json``) and
not per month: TinyDB re-serialises its whole file on every write (measured
with TinyDB 4.9: ~0.1 s at 10k documents, seconds at 100k). A per-run shard is
written only while its run is live and its size is bounded by that run's host
count, so recording a run costs the same in year five as on day one; a month
shard would grow with fleet size x scan frequency (an hourly cron scan of
1,000 hosts is 720k results a month). Per-run shards also make ``prune`` a
file deletion and confine damage from a bad disk block to one run.

Concurrency: every write is one transaction under the inter-process lock
(:mod:`patchtui.store.lock`), held only for that transaction so the console
and a cron scan interleave. Inside it the files are re-read from disk and a
fresh TinyDB instance is built over them: each TinyDB ``Table`` caches its
next document id and its query results, so an instance kept across
transactions would hand out ids another process already used (lost and
duplicate documents) and answer queries from stale caches. Reads need no lock
because writers replace files atomically; a reader sees one whole version.

Batching: host results and host-state updates are buffered and written
together when a batch fills, a few seconds pass, or ``flush`` / ``finish_run``
is called, so a 1,000-host run is a handful of file rewrites, not thousands.
Whatever ``finish_run`` recorded is durable (fsynced) when it returns.

Durable before reported: ``commit_hosts`` appends each host's result (and the
host-state update it implies) as one JSON line to the run's journal,
``<run_id>.journal`` in the history directory, and fsyncs it before it
returns; the shard and host files are still rewritten in batches. A line costs
its own bytes, while rewriting the shard would cost the whole run's results
(O(hosts) per host, O(hosts²) per run). The journal is deleted once
``finish_run`` has written everything; when a process dies mid-run, the next
``Store.open`` replays its journal into the shard and host files, so every
result a front end was shown survives a SIGKILL. Results still in progress
(``installing``, ``installed``: a patch records a host's before-versions and
then its changes as its package manager starts and finishes) become
``interrupted``, keeping what they say changed.

Crash recovery: a running run holds an flock on ``<run_id>.live`` in the
history directory. The kernel drops that lock when the process dies, even by
SIGKILL, so ``Store.open`` can tell a run whose process is gone (lock free)
from one still in progress (lock held) without trusting pids, which get
reused; the dead ones are marked ``interrupted``.

Readers: ``Store.open(readonly=True)`` (history, compliance, advisories)
takes no lock and writes nothing, so it works while a scan holds the lock and
on a read-only file system. It cannot migrate or recover, so it shows a run
whose process died as ``interrupted`` without recording it (the next writer
does), and an older schema is left to a writer.

Files: nothing is read or written through a link, and the data directory
must not be writable by other users (:mod:`patchtui.store.files`); an OS
error (read-only file system, full disk) is one line naming the file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import getpass
import json
import math
import os
import secrets
import shutil
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from enum import Enum
from pathlib import Path, PurePath
from typing import Any

from tinydb import Query, TinyDB
from tinydb.table import Table

from patchtui import paths
from patchtui.errors import StoreError
from patchtui.store import schema
from patchtui.store.files import (
    check_db_path,
    check_directory,
    check_replaceable,
    copy_to_new,
    ensure_directory,
    open_file,
    read_bytes,
)
from patchtui.store.hostfiles import HostFiles, HostShard, hosts_dir_for, next_doc_id, stat_key
from patchtui.store.lock import StoreLock
from patchtui.store.storage import (
    Tables,
    TransactionStorage,
    fsync_directory,
    read_tables,
    stray_temp_files,
    temp_name_prefix,
)
from patchtui.store.transcripts import DEFAULT_CAP_BYTES, TranscriptBook, transcript_relpath

HISTORY_SUFFIX = ".history"
LIVE_SUFFIX = ".live"
JOURNAL_SUFFIX = ".journal"

IN_PROGRESS_RESULTS: dict[str, str] = {
    "installing": (
        "patchtui ended while the package manager ran: what changed is unknown; "
        "rollback restores the recorded before-versions"
    ),
    "installed": "patchtui ended after the install, before its checks (changes are recorded)",
}
"""Host result statuses a patch writes while it works, and what each means if the run died."""


@dataclasses.dataclass(frozen=True)
class HostRecord:
    """One host's durable record in a run: its result, its host-state update, its output."""

    host: str
    result: Mapping[str, object]
    hot: Mapping[str, object] | None = None
    transcript: Sequence[str] = ()


def history_dir_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.stem + HISTORY_SUFFIX)


def shard_path_for(db_path: Path, run_id: str) -> Path:
    return history_dir_for(db_path) / f"{run_id}.json"


def live_path_for(db_path: Path, run_id: str) -> Path:
    return history_dir_for(db_path) / f"{run_id}{LIVE_SUFFIX}"


def journal_path_for(db_path: Path, run_id: str) -> Path:
    return history_dir_for(db_path) / f"{run_id}{JOURNAL_SUFFIX}"


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The journal's entries in order; a torn last line (power cut) is left out."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    entries: list[dict[str, Any]] = []
    for line in raw.split(b"\n"):
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a torn or empty line: never reported, since its fsync never returned
        if isinstance(entry, dict) and isinstance(entry.get("host"), str):
            entries.append(entry)
    return entries


def new_run_id(now: float | None = None) -> str:
    """A sortable, file-name-safe id: UTC time to the microsecond plus random bits."""
    moment = time.time() if now is None else now
    micro = round((moment % 1) * 1_000_000) % 1_000_000
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(moment))
    return f"{stamp}.{micro:06d}Z-{secrets.token_hex(3)}"


def local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # getuser raises OSError or KeyError when no name is known
        return str(os.getuid())


def to_jsonable(value: object) -> Any:
    """A JSON-safe copy of ``value``: dataclasses, enums, tuples, sets and paths converted."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((to_jsonable(item) for item in value), key=str)
    if isinstance(value, PurePath):
        return str(value)
    return str(value)


def _as_dict(value: object, what: str) -> dict[str, Any]:
    converted = to_jsonable(value)
    if not isinstance(converted, dict):
        raise TypeError(f"{what} must be a mapping or a dataclass, not {type(value).__name__}")
    return converted


def carry_reboot_since(update: dict[str, Any], doc: Mapping[str, Any], at: float) -> None:
    """Keep ``reboot_required_since``: when the host was first seen needing a reboot.

    Compliance's "no reboot pending longer than N days" needs the start of
    the pending reboot, not the time of the latest scan that saw it.
    """
    if "reboot_required" not in update:
        return
    if update["reboot_required"] is True:
        since = doc.get("reboot_required_since") if doc.get("reboot_required") is True else None
        update["reboot_required_since"] = since if isinstance(since, int | float) else at
    else:
        update["reboot_required_since"] = None


def carry_first_seen(new_pending: list[Any], old_pending: object, at: float) -> None:
    """Give each pending update the earliest time its (name, candidate) was seen pending.

    Compliance asks "security update pending since N days"; an update that
    disappears (installed) and comes back later starts counting again.
    """
    known: dict[tuple[object, object], float] = {}
    if isinstance(old_pending, list):
        for old in old_pending:
            if isinstance(old, dict) and isinstance(old.get("first_seen"), int | float):
                known[(old.get("name"), old.get("candidate"))] = old["first_seen"]
    for update in new_pending:
        if not isinstance(update, dict):
            continue
        times = [
            moment
            for moment in (
                update.get("first_seen"),
                known.get((update.get("name"), update.get("candidate"))),
            )
            if isinstance(moment, int | float)
        ]
        update["first_seen"] = min(times) if times else at


def _pending_counts(pending: list[Any]) -> dict[str, int]:
    return {
        "pending": len(pending),
        "security": sum(1 for item in pending if isinstance(item, dict) and item.get("security")),
    }


class _Transaction:
    """Fresh TinyDB instances over files re-read under the lock; committed once.

    Host files are not TinyDB instances: changed shards are staged as new
    document dicts (copy-on-write, see :mod:`patchtui.store.hostfiles`).
    """

    def __init__(self, db_path: Path, host_files: HostFiles) -> None:
        self.db_path = db_path
        self.host_files = host_files
        self.main = TinyDB(str(db_path), storage=TransactionStorage)
        self._shards: dict[str, TinyDB] = {}
        self._host_writes: dict[int, dict[str, dict[str, Any]]] = {}
        data = self.main.storage.read()
        if data is None:
            self.main.storage.write(schema.new_tables())
        self.fresh = data is None

    @property
    def main_storage(self) -> TransactionStorage:
        storage = self.main.storage
        assert isinstance(storage, TransactionStorage)
        return storage

    def table(self, name: str) -> Table:
        # cache_size=0: this instance lives for one transaction, a query cache buys nothing.
        return self.main.table(name, cache_size=0)

    def shard(self, run_id: str) -> TinyDB:
        db = self._shards.get(run_id)
        if db is None:
            db = TinyDB(
                str(shard_path_for(self.db_path, run_id)),
                storage=TransactionStorage,
                subdirectory="history directory",
            )
            self._shards[run_id] = db
        return db

    def shard_table(self, run_id: str, name: str) -> Table:
        return self.shard(run_id).table(name, cache_size=0)

    def host_shard(self, index: int) -> HostShard:
        """Host shard ``index`` as on disk now (the lock is held, so it is current)."""
        return self.host_files.read_for_write(index)

    def stage_hosts(self, index: int, docs: dict[str, dict[str, Any]]) -> None:
        self._host_writes[index] = docs

    def commit(self) -> None:
        # History and host files first: once the index says a run finished,
        # its results and the host state it produced are on disk.
        for db in self._shards.values():
            storage = db.storage
            assert isinstance(storage, TransactionStorage)
            storage.commit()
        if self._host_writes:
            self.host_files.write_many(self._host_writes)
            self._host_writes.clear()
        self.main_storage.commit()


@dataclasses.dataclass
class _ActiveRun:
    operation: str
    live_fd: int
    written_hosts: set[str] = dataclasses.field(default_factory=set)
    journal_fd: int | None = None


_StatKey = tuple[int, int, int]


class Store:
    """patchtui's database. Build with :meth:`Store.open`; one per process is typical."""

    def __init__(
        self,
        path: Path,
        *,
        lock_timeout: float,
        command: str | None,
        batch_size: int,
        batch_seconds: float,
        transcript_cap_bytes: int,
    ) -> None:
        self.path = path
        self.history_dir = history_dir_for(path)
        self.lock_timeout = lock_timeout
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self._lock = StoreLock(path, command=command)
        self._mutex = threading.RLock()
        self._active: dict[str, _ActiveRun] = {}
        self._pending_results: dict[str, dict[str, dict[str, Any]]] = {}
        self._pending_hosts: dict[str, dict[str, Any]] = {}
        self._tail_dirty: set[tuple[str, str]] = set()
        self._last_flush = time.monotonic()
        self._transcripts = TranscriptBook(
            path.parent, self.history_dir.name, cap_bytes=transcript_cap_bytes
        )
        self._snapshot_key: _StatKey | None = None
        self._snapshot: Tables = {}
        self._host_files = HostFiles(path)
        self.hosts_dir = hosts_dir_for(path)
        self._shard_cache: dict[str, tuple[_StatKey, Tables]] = {}
        self._closed = False
        self.readonly = False
        """Opened with ``readonly=True``: no lock taken, nothing written."""
        self.recovered_runs: list[str] = []
        self._replayed: list[str] = []
        """Runs that ``open`` found left running by a dead process and marked interrupted."""

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        path: Path | None = None,
        *,
        lock_timeout: float = 10.0,
        command: str | None = None,
        batch_size: int = 250,
        batch_seconds: float = 5.0,
        transcript_cap_bytes: int = DEFAULT_CAP_BYTES,
        readonly: bool = False,
    ) -> Store:
        """Open (creating if needed) the database at ``path`` (default: paths.default_db_path()).

        Under the lock: checks the file parses (StoreError otherwise, file
        untouched), migrates an older schema after a backup copy, removes temp
        files left by a killed writer, and marks runs whose process died
        ``interrupted``. ``command`` names this process in lock messages.

        ``readonly``: for commands that only read. No lock, no file created or
        changed (see the module docstring); a database that needs migrating is
        opened as a writer once to migrate it.
        """
        db_path = Path(path) if path is not None else paths.default_db_path()
        store = cls(
            db_path,
            lock_timeout=lock_timeout,
            command=command,
            batch_size=batch_size,
            batch_seconds=batch_seconds,
            transcript_cap_bytes=transcript_cap_bytes,
        )
        if not (readonly and store._startup_readonly()):
            store._startup()
        return store

    def _check_files(self) -> None:
        """The data directory and the store's own names: no links, no foreign owners."""
        check_db_path(self.path)
        # Readers never open the lock, but a link there is an attack on the next writer.
        check_replaceable(self._lock.path)
        for directory, what in (
            (self.history_dir, "history directory"),
            (self.hosts_dir, "host directory"),
        ):
            if os.path.lexists(directory):
                check_directory(directory, what=what)

    def _startup_readonly(self) -> bool:
        """Open for reading only; False if a writer must open it first (an older schema)."""
        if os.path.lexists(self.path.parent):
            check_directory(self.path.parent, follow=True)
        self._check_files()
        tables = read_tables(self.path)
        if tables is not None and (
            schema.schema_version(tables) < schema.SCHEMA_VERSION or schema.HOSTS in tables
        ):
            return False
        if self._unreplayed_journals():
            # A killed run's results are in its journal only: a writer replays them
            # first, so a reader never shows a run without results it durably had.
            return False
        self.readonly = True
        data = tables or {}
        self._host_files.shard_count = schema.host_shard_count(data)
        key = _stat_key(self.path)
        if key is not None:
            self._snapshot, self._snapshot_key = data, key
        return True

    def _unreplayed_journals(self) -> bool:
        """Is there a journal of a run whose process is gone (waiting for a replay)?"""
        try:
            names = os.listdir(self.history_dir)
        except OSError:
            return False
        return any(
            name.endswith(JOURNAL_SUFFIX)
            and not run_is_live(self.path, name.removesuffix(JOURNAL_SUFFIX))
            for name in names
        )

    def _startup(self) -> None:
        ensure_directory(self.path.parent, what="data directory", follow=True)
        self._check_files()
        ensure_directory(self.history_dir, what="history directory")
        with self._mutex, self._lock.hold(self.lock_timeout):
            txn = _Transaction(self.path, self._host_files)
            tables = txn.main_storage.read() or {}
            old, new = schema.migrate(tables, where=str(self.path))
            self._host_files.shard_count = schema.host_shard_count(tables)
            legacy_hosts = schema.HOSTS in tables
            if (old != new or legacy_hosts) and not txn.fresh:
                backup = self.path.with_name(
                    f"{self.path.name}.pre-v{new}-{time.strftime('%Y%m%dT%H%M%S')}"
                )
                copy_to_new(self.path, backup)
                txn.main_storage.write(tables)
            if legacy_hosts:
                # Host files are written before the main file drops its hosts table:
                # a crash in between leaves v1 data that the next open moves again.
                self._host_files.write_all(tables.pop(schema.HOSTS).values())
                txn.main_storage.write(tables)
            self._remove_stray_temps()
            self.recovered_runs = self._interrupt_dead_runs(txn)
            txn.commit()
            self._remember(txn)
            # Only now that the shards and host files hold them are the journals redundant.
            for run_id in self._replayed:
                with contextlib.suppress(OSError):
                    journal_path_for(self.path, run_id).unlink()

    def _remember(self, txn: _Transaction) -> None:
        """Keep what the transaction read or wrote as the read snapshot: no second parse."""
        key = _stat_key(self.path)
        if key is not None:
            self._snapshot, self._snapshot_key = txn.main_storage.read() or {}, key

    def _remove_stray_temps(self) -> None:
        # Safe only under the lock: writers create temp files only while holding it.
        for stray in stray_temp_files(self.path):
            with contextlib.suppress(OSError):
                stray.unlink()
        for directory in (self.history_dir, self.hosts_dir):
            if not directory.is_dir():
                continue
            for entry in directory.iterdir():
                if not entry.name.startswith(".") or ".tmp-" not in entry.name:
                    continue
                shard_name = entry.name[1:].split(".tmp-", 1)[0]
                try:
                    read_tables(directory / shard_name)
                except StoreError:
                    continue  # keep it: `patchtui db repair` may salvage the shard from it
                with contextlib.suppress(OSError):
                    entry.unlink()

    def _interrupt_dead_runs(self, txn: _Transaction) -> list[str]:
        runs = txn.table(schema.RUNS)
        now = time.time()
        dead = [
            doc["run_id"]
            for doc in runs.search(Query().status == schema.RUN_RUNNING)
            if doc.get("run_id") not in self._active and not run_is_live(self.path, doc["run_id"])
        ]
        fields = {"status": "interrupted", "finished": now, "note": "the process ended mid-run"}
        for run_id in dead:
            runs.update(fields, Query().run_id == run_id)
            shard_path = shard_path_for(self.path, run_id)
            if shard_path.exists():
                # A damaged shard is reported by `db check`, never rewritten here.
                with contextlib.suppress(StoreError):
                    txn.shard_table(run_id, schema.SHARD_RUN).update(fields)
                    _settle_in_progress(txn.shard_table(run_id, schema.SHARD_RESULTS), now)
        # Live files of runs that are no longer running (process died after finishing).
        for entry in self.history_dir.glob(f"*{LIVE_SUFFIX}"):
            run_id = entry.name[: -len(LIVE_SUFFIX)]
            if run_id not in self._active and not run_is_live(self.path, run_id):
                with contextlib.suppress(OSError):
                    entry.unlink()
        # Journals no process is writing: a run that died mid-way, or one that died
        # between finishing and deleting it (replaying that changes nothing). Each is
        # deleted after the commit, and only if its replay worked: a damaged shard keeps
        # its journal for `db repair` and the next open.
        self._replayed = []
        for entry in self.history_dir.glob(f"*{JOURNAL_SUFFIX}"):
            run_id = entry.name[: -len(JOURNAL_SUFFIX)]
            if run_id in self._active or run_is_live(self.path, run_id):
                continue
            if not shard_path_for(self.path, run_id).exists():
                continue
            try:
                self._replay_journal(txn, run_id, now)
            except StoreError:
                continue
            self._replayed.append(run_id)
        return dead

    def _replay_journal(self, txn: _Transaction, run_id: str, now: float) -> None:
        """Put what the journal of a run nobody records any more holds into its shard
        and the host files (idempotent: a second replay changes nothing).

        A result is merged into the shard's only if it is at least as recent (the
        shard may hold a later batch); a host update applies only if nothing wrote
        the host since. Results left in progress become ``interrupted``.
        """
        entries = read_journal(journal_path_for(self.path, run_id))
        results: dict[str, dict[str, Any]] = {}
        hot: dict[str, tuple[float, dict[str, Any]]] = {}
        for entry in entries:
            host = entry["host"]
            if isinstance(entry.get("result"), dict):
                results[host] = entry["result"]
            if isinstance(entry.get("hot"), dict):
                at = entry.get("at")
                hot[host] = (float(at) if isinstance(at, int | float) else 0.0, entry["hot"])
        table = txn.shard_table(run_id, schema.SHARD_RESULTS)
        stored = {doc.get("host"): doc for doc in table.all()}
        newer = {
            host: doc
            for host, doc in results.items()
            if _recorded(doc) >= _recorded(stored.get(host, {}))
        }
        _upsert_by_key(table, "host", inserts=newer, updates=newer)
        _settle_in_progress(table, now)
        try:
            for name, (at, update) in hot.items():
                shard = txn.host_shard(self._host_files.shard_of(name))
                doc_id = shard.by_name.get(name)
                current = shard.docs.get(doc_id) if doc_id is not None else None
                if current is not None and float(current.get("updated") or 0.0) >= at:
                    continue  # written since (by a later batch, or another process)
                self._pending_hosts.setdefault(name, {}).update(update)
            if self._pending_hosts:
                self._write_pending_hosts(txn)
        finally:
            self._pending_hosts.clear()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[_Transaction]:
        if self._closed:
            raise StoreError(f"database {self.path} is closed")
        if self.readonly:
            raise StoreError(f"internal error: database {self.path} was opened read-only")
        with self._mutex, self._lock.hold(self.lock_timeout):
            txn = _Transaction(self.path, self._host_files)
            tables = txn.main_storage.read() or {}
            version = schema.schema_version(tables)
            if version != schema.SCHEMA_VERSION:
                raise StoreError(
                    f"database {self.path} changed to schema version {version} while open "
                    f"(this patchtui writes {schema.SCHEMA_VERSION}); restart patchtui"
                )
            yield txn
            txn.commit()
            self._remember(txn)

    # ------------------------------------------------------------------ writes

    def start_run(self, operation: str, hosts: Sequence[str], options: Mapping[str, object]) -> str:
        """Record a new running run and return its id (sortable by start time)."""
        if self.readonly:
            raise StoreError(f"internal error: database {self.path} was opened read-only")
        with self._mutex:
            run_id = new_run_id()
            ensure_directory(self.history_dir, what="history directory")
            # The live lock is taken before the index says "running", so another
            # process opening the store never sees a running run without it.
            live_fd = open_file(
                live_path_for(self.path, run_id),
                os.O_RDWR | os.O_CREAT | os.O_EXCL,
                action="create the run's live file",
            )
            fcntl.flock(live_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            doc: dict[str, Any] = {
                "run_id": run_id,
                "operation": operation,
                "options": _as_dict(options, "options"),
                "user": local_user(),
                "pid": os.getpid(),
                "command": self._lock.command,
                "started": time.time(),
                "finished": None,
                "status": schema.RUN_RUNNING,
                "counts": {},
                "host_count": len(hosts),
            }
            try:
                with self._transaction() as txn:
                    txn.table(schema.RUNS).insert(doc)
                    txn.shard_table(run_id, schema.SHARD_RUN).insert(
                        {**doc, "hosts": [str(host) for host in hosts]}
                    )
            except BaseException:
                _release_live(self.path, run_id, live_fd)
                raise
            self._active[run_id] = _ActiveRun(operation=operation, live_fd=live_fd)
            return run_id

    def _require_active(self, run_id: str) -> _ActiveRun:
        active = self._active.get(run_id)
        if active is None:
            raise ValueError(f"run {run_id} was not started by this store or has finished")
        return active

    def record_host_result(self, run_id: str, host: str, result: Mapping[str, object]) -> None:
        """Buffer one host's result for the run (a later call for the same host replaces it).

        ``result``: status, error_kind, error, duration, started, finished,
        changes [{name, from, to}], reboot, and any facts/pending summary; a
        mapping or a dataclass.
        """
        with self._mutex:
            active = self._require_active(run_id)
            doc = _as_dict(result, "result")
            doc.update(run_id=run_id, host=host, operation=active.operation, recorded=time.time())
            self._pending_results.setdefault(run_id, {})[host] = doc
            self._maybe_flush()

    def commit_hosts(self, run_id: str, records: Sequence[HostRecord]) -> None:
        """Record hosts of the run durably: on disk (fsynced) when this returns.

        Each record is one line appended to the run's journal, and one fsync
        covers them all (callers group the hosts that finish together); the
        shard and host files follow in the next batch. Report a host only after
        this returned: a SIGKILL cannot lose what was shown.
        """
        if not records:
            return
        with self._mutex:
            active = self._require_active(run_id)
            now = time.time()
            docs: list[tuple[HostRecord, dict[str, Any], dict[str, Any] | None]] = []
            lines: list[bytes] = []
            for record in records:
                doc = _as_dict(record.result, "result")
                doc.update(
                    run_id=run_id, host=record.host, operation=active.operation, recorded=now
                )
                hot = _as_dict(record.hot, "host update") if record.hot is not None else None
                entry = {"host": record.host, "at": now, "result": doc, "hot": hot}
                lines.append(json.dumps(entry, separators=(",", ":")).encode("utf-8") + b"\n")
                docs.append((record, doc, hot))
            self._append_journal(run_id, active, b"".join(lines))
            for record, doc, hot in docs:
                self._pending_results.setdefault(run_id, {})[record.host] = doc
                if record.transcript:
                    self._transcripts.append(run_id, record.host, list(record.transcript))
                if hot is not None:
                    self._buffer_host_updates({record.host: hot}, now)
            if self._transcripts.buffered_bytes > 256 * 1024:
                self._transcripts.write_buffered()
            self._maybe_flush()

    def _append_journal(self, run_id: str, active: _ActiveRun, payload: bytes) -> None:
        path = journal_path_for(self.path, run_id)
        try:
            if active.journal_fd is None:
                # O_NOFOLLOW: a link planted in the data directory is refused, not written through.
                active.journal_fd = os.open(
                    path,
                    os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o600,
                )
                fsync_directory(path.parent)  # the new file's name must survive a power cut too
            view = memoryview(payload)
            while view:
                written = os.write(active.journal_fd, view)
                view = view[written:]
            os.fsync(active.journal_fd)
        except OSError as error:
            raise StoreError(
                f"cannot record run {run_id} in {path}: {error.strerror or error}; "
                "nothing more is reported as done until it can be recorded"
            ) from error

    def update_hosts(self, updates: Mapping[str, Mapping[str, object]]) -> None:
        """Buffer an upsert of hot host state: {host name: fields to set}.

        ``pending`` entries get ``first_seen`` (earliest time that (name,
        candidate) was pending); ``counts`` is derived from ``pending`` unless given.
        """
        with self._mutex:
            self._buffer_host_updates(updates, time.time())
            self._maybe_flush()

    def _buffer_host_updates(self, updates: Mapping[str, Mapping[str, object]], now: float) -> None:
        for name, fields in updates.items():
            update = _as_dict(fields, "host update")
            update.pop("name", None)
            earlier = self._pending_hosts.get(name)
            if isinstance(update.get("pending"), list):
                at = update.get("last_scan")
                moment = float(at) if isinstance(at, int | float) else now
                carry_first_seen(update["pending"], (earlier or {}).get("pending"), moment)
                update.setdefault("counts", _pending_counts(update["pending"]))
            if earlier is None:
                self._pending_hosts[name] = update
            else:
                earlier.update(update)

    def append_transcript(self, run_id: str, host: str, lines: Sequence[str]) -> None:
        """Buffer output lines of ``host`` in ``run_id``; appended to its file at flush."""
        with self._mutex:
            active = self._require_active(run_id)
            self._transcripts.append(run_id, host, list(lines))
            if host in active.written_hosts:
                self._tail_dirty.add((run_id, host))
            if self._transcripts.buffered_bytes > 256 * 1024:
                self._transcripts.write_buffered()
            self._maybe_flush()

    def _pending_count(self) -> int:
        return sum(len(results) for results in self._pending_results.values()) + len(
            self._pending_hosts
        )

    def _maybe_flush(self) -> None:
        count = self._pending_count()
        if count >= self.batch_size or (
            (count or self._tail_dirty)
            and time.monotonic() - self._last_flush >= self.batch_seconds
        ):
            self.flush()

    def flush(self) -> None:
        """Write everything buffered now: transcripts, host results, host state."""
        with self._mutex:
            self._transcripts.write_buffered()
            if self._pending_count() or self._tail_dirty:
                with self._transaction() as txn:
                    self._write_pending(txn)
                self._clear_pending()
            self._last_flush = time.monotonic()

    def _write_pending(self, txn: _Transaction) -> None:
        dirty_by_run: dict[str, set[str]] = {}
        for run_id, host in self._tail_dirty:
            dirty_by_run.setdefault(run_id, set()).add(host)
        for run_id in set(self._pending_results) | set(dirty_by_run):
            results = self._pending_results.get(run_id, {})
            for host, doc in results.items():
                doc.update(self._transcripts.tail_fields(run_id, host))
            tail_only = {
                host: self._transcripts.tail_fields(run_id, host)
                for host in dirty_by_run.get(run_id, set())
                if host not in results
            }
            _upsert_by_key(
                txn.shard_table(run_id, schema.SHARD_RESULTS),
                "host",
                inserts=results,
                updates={**tail_only, **results},
            )
        if self._pending_hosts:
            self._write_pending_hosts(txn)

    def _write_pending_hosts(self, txn: _Transaction) -> None:
        """Merge buffered host updates into the shards they touch (copy-on-write)."""
        now = time.time()
        by_shard: dict[int, list[str]] = {}
        for name in self._pending_hosts:
            by_shard.setdefault(self._host_files.shard_of(name), []).append(name)
        for index, names in by_shard.items():
            shard = txn.host_shard(index)
            # A new top-level dict and a new dict per changed host: the cached
            # parse, and dicts readers were handed, are never changed in place.
            docs = dict(shard.docs)
            next_id = next_doc_id(docs)
            for name in names:
                update = dict(self._pending_hosts[name])
                doc_id = shard.by_name.get(name)
                if doc_id is None:
                    carry_reboot_since(update, {}, now)
                    docs[str(next_id)] = {"name": name, "first_seen": now, "updated": now, **update}
                    next_id += 1
                    continue
                old = docs[doc_id]
                if isinstance(update.get("pending"), list):
                    carry_first_seen(update["pending"], old.get("pending"), now)
                carry_reboot_since(update, old, now)
                docs[doc_id] = {**old, **update, "updated": now}
            txn.stage_hosts(index, docs)

    def _clear_pending(self) -> None:
        for run_id, results in self._pending_results.items():
            active = self._active.get(run_id)
            if active is not None:
                active.written_hosts.update(results)
        self._pending_results.clear()
        self._pending_hosts.clear()
        self._tail_dirty.clear()

    def finish_run(self, run_id: str, status: str, counts: Mapping[str, object]) -> None:
        """Mark the run finished (an outcome word, engine/outcome.py); durable on return."""
        if status not in schema.RUN_FINAL_STATUSES:
            raise ValueError(f"run status must be one of {sorted(schema.RUN_FINAL_STATUSES)}")
        with self._mutex:
            active = self._require_active(run_id)
            self._transcripts.write_buffered()
            now = time.time()
            fields = {"status": status, "finished": now, "counts": _as_dict(counts, "counts")}
            with self._transaction() as txn:
                self._write_pending(txn)
                # A run closed with hosts still at work (its job was abandoned): say so.
                _settle_in_progress(txn.shard_table(run_id, schema.SHARD_RESULTS), now)
                txn.table(schema.RUNS).update(fields, Query().run_id == run_id)
                txn.shard_table(run_id, schema.SHARD_RUN).update(fields)
            self._clear_pending()
            self._last_flush = time.monotonic()
            del self._active[run_id]
            self._transcripts.forget_run(run_id)
            # The shard now holds every result the journal had (fsynced above): drop it
            # before the live lock, so a reader never replays a finished run.
            _drop_journal(self.path, run_id, active)
            _release_live(self.path, run_id, active.live_fd)

    def annotate_run(self, run_id: str, fields: Mapping[str, object]) -> None:
        """Add ``fields`` to a finished run's record (its notifications: what was sent
        after the run ended); durable on return. An unknown run is a ValueError."""
        if self.readonly:
            raise StoreError(f"internal error: database {self.path} was opened read-only")
        extra = _as_dict(fields, "fields")
        reserved = set(extra) & {"run_id", "operation", "status", "counts", "started"}
        if reserved:
            raise ValueError(f"annotate_run may not change {sorted(reserved)}")
        with self._mutex, self._transaction() as txn:
            if not txn.table(schema.RUNS).update(extra, Query().run_id == run_id):
                raise ValueError(f"no run {run_id} in the database")
            txn.shard_table(run_id, schema.SHARD_RUN).update(extra)

    def prune(self, older_than_days: float) -> int:
        """Delete finished runs older than the age (index, history, transcripts); count them."""
        cutoff = time.time() - older_than_days * 86400
        with self._mutex, self._transaction() as txn:
            runs = txn.table(schema.RUNS)

            def is_old(doc: Mapping[str, Any]) -> bool:
                moment = doc.get("finished") or doc.get("started") or 0
                return doc.get("status") != schema.RUN_RUNNING and float(moment) < cutoff

            old = [doc for doc in runs.all() if is_old(doc)]
            # Files first: a crash now leaves index entries without history (reported
            # by `db check`), never history nobody can find.
            for doc in old:
                run_id = str(doc.get("run_id"))
                with contextlib.suppress(FileNotFoundError):
                    shard_path_for(self.path, run_id).unlink()
                shutil.rmtree(self.history_dir / run_id, ignore_errors=True)
                self._shard_cache.pop(run_id, None)
            runs.remove(doc_ids=[doc.doc_id for doc in old])
            return len(old)

    def close(self) -> None:
        """Flush, mark runs this store left unfinished ``interrupted``, release everything."""
        with self._mutex:
            if self._closed:
                return
            try:
                for run_id in list(self._active):
                    self.finish_run(run_id, "interrupted", {})
                self.flush()
            finally:
                for run_id, active in self._active.items():
                    # Unfinished: the journal stays for the next open to replay.
                    if active.journal_fd is not None:
                        with contextlib.suppress(OSError):
                            os.close(active.journal_fd)
                    _release_live(self.path, run_id, active.live_fd)
                self._active.clear()
                self._closed = True

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------- reads

    def _tables(self) -> Tables:
        """The main file as last written, re-parsed only when it changed on disk."""
        key = _stat_key(self.path)
        if key is None:
            return {}
        if key != self._snapshot_key:
            data = read_tables(self.path) or {}
            version = schema.schema_version(data)
            if version > schema.SCHEMA_VERSION:
                schema.migrate(data, where=str(self.path))  # raises the clear "newer" error
            self._snapshot, self._snapshot_key = data, key
        if self.readonly:
            return _dead_runs_shown_interrupted(self.path, self._snapshot)
        return self._snapshot

    def _shard(self, run_id: str) -> Tables:
        path = shard_path_for(self.path, run_id)
        key = _stat_key(path)
        if key is None:
            return {}
        cached = self._shard_cache.get(run_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        data = read_tables(path) or {}
        if len(self._shard_cache) >= 64:
            self._shard_cache.pop(next(iter(self._shard_cache)))
        self._shard_cache[run_id] = (key, data)
        return data

    def host(self, name: str) -> dict[str, Any] | None:
        """Hot state of one host (buffered updates included), or None if never seen."""
        with self._mutex:
            stored = self._host_files.get(name)
            found = dict(stored) if stored is not None else None
            pending = self._pending_hosts.get(name)
            if pending is not None:
                found = {**(found or {"name": name}), **pending}
            return found

    def hosts(self) -> list[dict[str, Any]]:
        """Hot state of every known host, by name. Treat nested values as read-only.

        Host files are parsed only when they changed on disk; each call
        returns new top-level dicts over the cached nested values.
        """
        with self._mutex:
            stored = self._host_files.all_docs()
            if not self._pending_hosts:
                return [dict(doc) for doc in stored]
            by_name = {str(doc.get("name")): dict(doc) for doc in stored}
            for name, pending in self._pending_hosts.items():
                by_name[name] = {**by_name.get(name, {"name": name}), **pending}
            return [by_name[name] for name in sorted(by_name)]

    def runs(self, *, limit: int | None = None, host: str | None = None) -> list[dict[str, Any]]:
        """The run index, newest first; with ``host``, only runs that included it."""
        with self._mutex:
            ordered = sorted(
                (dict(doc) for doc in self._tables().get(schema.RUNS, {}).values()),
                key=lambda doc: str(doc.get("run_id")),
                reverse=True,
            )
            chosen: list[dict[str, Any]] = []
            for doc in ordered:
                if limit is not None and len(chosen) >= limit:
                    break
                if host is None or host in self._run_hosts(str(doc.get("run_id"))):
                    chosen.append(doc)
            return chosen

    def _run_hosts(self, run_id: str) -> list[str]:
        for doc in self._shard(run_id).get(schema.SHARD_RUN, {}).values():
            hosts = doc.get("hosts")
            if isinstance(hosts, list):
                return [str(host) for host in hosts]
        return []

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self._mutex:
            for doc in self._tables().get(schema.RUNS, {}).values():
                if doc.get("run_id") == run_id:
                    return {**doc, "hosts": self._run_hosts(run_id)}
            return None

    def host_results(self, run_id: str) -> list[dict[str, Any]]:
        """Results of every host of the run (buffered ones included), by host name."""
        with self._mutex:
            by_host = {
                doc.get("host"): dict(doc)
                for doc in self._shard(run_id).get(schema.SHARD_RESULTS, {}).values()
            }
            for host, doc in self._pending_results.get(run_id, {}).items():
                by_host[host] = dict(doc)
            return sorted(by_host.values(), key=lambda doc: str(doc.get("host")))

    def results_for_host(self, host: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        """One host's results across runs, newest first."""
        with self._mutex:
            found: list[dict[str, Any]] = []
            for run in self.runs(host=host):
                if limit is not None and len(found) >= limit:
                    break
                for doc in self.host_results(str(run.get("run_id"))):
                    if doc.get("host") == host:
                        found.append(doc)
            return found

    def transcript(self, run_id: str, host: str) -> str:
        """The host's full output in the run (the file), else the tail kept in the database."""
        with self._mutex:
            if run_id in self._active:
                self._transcripts.write_buffered()
            result = next((doc for doc in self.host_results(run_id) if doc.get("host") == host), {})
            relpath = str(
                result.get("transcript_path")
                or transcript_relpath(self.history_dir.name, run_id, host)
            )
            tail = str(result.get("transcript_tail") or "")
            parts = PurePath(relpath).parts
            # A path from the file: read only below the history directory.
            if (
                PurePath(relpath).is_absolute()
                or ".." in parts
                or parts[:1] != (self.history_dir.name,)
            ):
                return tail
            path = self.path.parent / relpath
            try:
                raw = read_bytes(path)
            except StoreError:
                if path.is_symlink():
                    raise  # refused, and said so: never read through a link
                raw = None  # unreadable: the tail kept in the database still helps
            return tail if raw is None else raw.decode("utf-8", errors="replace")


def _stat_key(path: Path) -> _StatKey | None:
    return stat_key(path)


def _dead_runs_shown_interrupted(db_path: Path, tables: Tables) -> Tables:
    """``tables`` with runs left ``running`` by a dead process shown as a writer would mark them.

    A read-only store cannot record the recovery; it must not show a run whose
    process is gone as still running either. Returns new dicts, never changed in place.
    """
    runs = tables.get(schema.RUNS)
    if not runs:
        return tables
    dead = {
        doc_id
        for doc_id, doc in runs.items()
        if doc.get("status") == schema.RUN_RUNNING
        and not run_is_live(db_path, str(doc.get("run_id")))
    }
    if not dead:
        return tables
    shown = {
        doc_id: (
            {**doc, "status": "interrupted", "note": "the process ended mid-run"}
            if doc_id in dead
            else doc
        )
        for doc_id, doc in runs.items()
    }
    return {**tables, schema.RUNS: shown}


def _settle_in_progress(table: Table, now: float) -> None:
    """Results a patch left in progress become ``interrupted``, keeping what they recorded."""
    for doc in table.all():
        reason = IN_PROGRESS_RESULTS.get(str(doc.get("status")))
        if reason is not None:
            table.update(
                {
                    "status": "interrupted",
                    "state": "interrupted",
                    "error_kind": "process-ended",
                    "error": reason,
                    "finished": doc.get("finished") or now,
                },
                doc_ids=[doc.doc_id],
            )


def _recorded(doc: Mapping[str, Any]) -> float:
    at = doc.get("recorded")
    return float(at) if isinstance(at, int | float) else 0.0


def _upsert_by_key(
    table: Table,
    key: str,
    *,
    inserts: Mapping[str, dict[str, Any]],
    updates: Mapping[str, dict[str, Any]],
    merge: Callable[[MutableMapping[str, Any], dict[str, Any]], None] | None = None,
) -> None:
    """Update documents whose ``key`` is in ``updates``; insert ``inserts`` for the rest.

    One pass over the table and one ``update`` call with doc ids: a Query per
    document would cost O(table x batch).
    """
    ids_by_key = {doc.get(key): doc.doc_id for doc in table.all()}
    existing = {name: ids_by_key[name] for name in updates if name in ids_by_key}
    if existing:

        def apply(doc: MutableMapping[str, Any]) -> None:
            update = updates[doc[key]]
            if merge is None:
                doc.update(update)
            else:
                merge(doc, update)

        table.update(apply, doc_ids=list(existing.values()))
    missing = [doc for name, doc in inserts.items() if name not in ids_by_key]
    if missing:
        table.insert_multiple(missing)


def run_is_live(db_path: Path, run_id: str) -> bool:
    """True while the process recording ``run_id`` holds its live lock."""
    # Read-only (flock needs no write access: readers on a read-only disk ask too),
    # never through a link, never blocking on a FIFO.
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(live_path_for(db_path, run_id), flags)
    except OSError:
        return False
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _drop_journal(db_path: Path, run_id: str, active: _ActiveRun) -> None:
    if active.journal_fd is None:
        return
    with contextlib.suppress(OSError):
        os.close(active.journal_fd)
    active.journal_fd = None
    with contextlib.suppress(OSError):
        journal_path_for(db_path, run_id).unlink()


def _release_live(db_path: Path, run_id: str, fd: int) -> None:
    with contextlib.suppress(OSError):
        live_path_for(db_path, run_id).unlink()
    with contextlib.suppress(OSError):
        os.close(fd)


__all__ = [
    "HostRecord",
    "Store",
    "history_dir_for",
    "hosts_dir_for",
    "journal_path_for",
    "live_path_for",
    "new_run_id",
    "run_is_live",
    "shard_path_for",
    "temp_name_prefix",
    "to_jsonable",
]
