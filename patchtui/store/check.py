"""``patchtui db check`` and ``patchtui db repair``: pure functions over the store's files.

``check_db`` only reads. ``repair_db`` takes the write lock, keeps a
timestamped copy of anything it replaces, and recovers what it can: a corrupt
main file is restored from the newest complete temp file a killed writer left
behind, or else rebuilt from the per-run history shards (the run index comes
back; host state is in its own files and stays). An unreadable history shard is
moved aside (that move is its backup) and its run is flagged ``history_lost``;
an unreadable host file is restored from a complete temp file or moved aside
(its hosts refill at the next scan). Hosts recorded twice or in the wrong host
file are merged back into one record in the right file, after a backup copy.

Backups are created under names that do not exist yet (never through a link,
see :mod:`patchtui.store.files`); a database path that is a link, or a data
directory other users could change, is refused as by the store.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from patchtui.errors import StoreError
from patchtui.store import schema
from patchtui.store.db import (
    JOURNAL_SUFFIX,
    history_dir_for,
    read_journal,
    run_is_live,
    shard_path_for,
)
from patchtui.store.files import (
    check_db_path,
    check_directory,
    check_replaceable,
    copy_to_new,
    move_aside,
)
from patchtui.store.hostfiles import (
    HostFiles,
    host_shard_files,
    hosts_dir_for,
    shard_index,
)
from patchtui.store.lock import StoreLock, lock_path_for
from patchtui.store.storage import (
    Tables,
    atomic_write_tables,
    read_tables,
    stray_temp_files,
)

Level = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    level: Level
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.path}: {self.message}"


@dataclass
class RepairReport:
    actions: list[str] = field(default_factory=list)
    backups: list[Path] = field(default_factory=list)
    remaining: list[Finding] = field(default_factory=list)
    """What ``check_db`` still finds after the repair."""

    @property
    def ok(self) -> bool:
        return not any(finding.level == "error" for finding in self.remaining)


def _shard_files(db_path: Path) -> list[Path]:
    history = history_dir_for(db_path)
    if not history.is_dir():
        return []
    return sorted(entry for entry in history.glob("*.json") if not entry.name.startswith("."))


def _shard_temps(db_path: Path) -> list[Path]:
    found: list[Path] = []
    for directory in (history_dir_for(db_path), hosts_dir_for(db_path)):
        if directory.is_dir():
            found.extend(
                entry
                for entry in directory.iterdir()
                if entry.name.startswith(".") and ".tmp-" in entry.name
            )
    return sorted(found)


def _docs(tables: Tables, name: str) -> list[tuple[int, dict[str, Any]]]:
    return sorted((int(doc_id), doc) for doc_id, doc in tables.get(name, {}).items())


def _run_doc(shard: Tables) -> dict[str, Any] | None:
    docs = _docs(shard, schema.SHARD_RUN)
    return docs[0][1] if docs else None


def check_db(path: Path) -> list[Finding]:
    """Everything wrong (or worth knowing) about the database at ``path``; empty if healthy."""
    findings: list[Finding] = []
    where = str(path)
    unsafe = _unsafe_files(path)
    if unsafe is not None:
        return [Finding("error", where, unsafe)]
    temps = stray_temp_files(path)
    if temps:
        findings.append(
            Finding(
                "info", where, f"{len(temps)} temp file(s) left by a killed writer: {temps[0].name}"
            )
        )
    try:
        tables = read_tables(path)
    except StoreError as exc:
        findings.append(Finding("error", where, exc.message))
        tables = None
        main_ok = False
    else:
        main_ok = True
    if main_ok and tables is None:
        findings.append(Finding("info", where, "no database yet (created on first use)"))
    if tables is not None:
        findings.extend(_check_main(path, tables))

    indexed = {doc.get("run_id"): doc for _, doc in _docs(tables or {}, schema.RUNS)}
    shard_ids: set[str] = set()
    for shard_path in _shard_files(path):
        run_id = shard_path.stem
        shard_ids.add(run_id)
        try:
            shard = read_tables(shard_path) or {}
        except StoreError as exc:
            findings.append(Finding("error", str(shard_path), exc.message))
            continue
        if _run_doc(shard) is None:
            findings.append(Finding("warning", str(shard_path), "history file has no run record"))
        if main_ok and run_id not in indexed:
            findings.append(
                Finding("warning", str(shard_path), f"run {run_id} is missing from the run index")
            )
    findings.extend(_check_host_files(path, schema.host_shard_count(tables or {})))
    findings.extend(_check_journals(path))
    for temp in _shard_temps(path):
        findings.append(Finding("info", str(temp), "temp file left by a killed writer"))
    for indexed_id, doc in indexed.items():
        if indexed_id not in shard_ids and not doc.get("history_lost"):
            findings.append(
                Finding("warning", where, f"run {indexed_id}: its history file is missing")
            )
    return findings


def _check_journals(db_path: Path) -> list[Finding]:
    """A run's journal outlives its process only when the process died mid-run: its
    results are in the journal alone until the next command that opens the store."""
    history = history_dir_for(db_path)
    if not history.is_dir():
        return []
    findings: list[Finding] = []
    for journal in sorted(history.glob(f"*{JOURNAL_SUFFIX}")):
        run_id = journal.name.removesuffix(JOURNAL_SUFFIX)
        if run_is_live(db_path, run_id):
            findings.append(Finding("info", str(journal), f"run {run_id} is in progress"))
            continue
        try:
            entries = len(read_journal(journal))
        except OSError as exc:
            findings.append(Finding("error", str(journal), f"cannot read: {exc.strerror}"))
            continue
        findings.append(
            Finding(
                "warning",
                str(journal),
                f"run {run_id} ended without closing its record: {entries} host result(s)"
                " wait in its journal; the next patchtui command replays them",
            )
        )
    return findings


def _unsafe_files(path: Path) -> str | None:
    """Why the store would refuse this database's directory or path, or None."""
    try:
        check_db_path(path)
        check_replaceable(lock_path_for(path))
        if os.path.lexists(path.parent):
            check_directory(path.parent, follow=True)
        for directory, what in (
            (history_dir_for(path), "history directory"),
            (hosts_dir_for(path), "host directory"),
        ):
            if os.path.lexists(directory):
                check_directory(directory, what=what)
    except StoreError as error:
        return error.message
    return None


def _host_docs(path: Path) -> tuple[list[tuple[Path, dict[str, Any]]], list[tuple[Path, str]]]:
    """(every (file, host document) in readable host files, [(unreadable file, why)])."""
    docs: list[tuple[Path, dict[str, Any]]] = []
    broken: list[tuple[Path, str]] = []
    for host_file in host_shard_files(path):
        try:
            tables = read_tables(host_file) or {}
        except StoreError as exc:
            broken.append((host_file, exc.message))
            continue
        docs.extend((host_file, doc) for _, doc in _docs(tables, schema.HOSTS))
    return docs, broken


def _check_host_files(path: Path, shard_count: int) -> list[Finding]:
    findings: list[Finding] = []
    docs, broken = _host_docs(path)
    findings.extend(Finding("error", str(host_file), why) for host_file, why in broken)
    names: Counter[str] = Counter()
    for host_file, doc in docs:
        name = doc.get("name")
        if not isinstance(name, str) or not name:
            findings.append(Finding("error", str(host_file), "a host record without a name"))
            continue
        names[name] += 1
        if host_file.stem != f"{shard_index(name, shard_count):02d}":
            findings.append(Finding("warning", str(host_file), f"host {name} is in the wrong file"))
    for name, count in names.items():
        if count > 1:
            findings.append(
                Finding("error", str(hosts_dir_for(path)), f"host {name} is recorded {count} times")
            )
    return findings


def _check_main(path: Path, tables: Tables) -> list[Finding]:
    findings: list[Finding] = []
    where = str(path)
    version = schema.schema_version(tables)
    if version > schema.SCHEMA_VERSION:
        findings.append(
            Finding("error", where, f"schema version {version} is newer than this patchtui's")
        )
    elif version < schema.SCHEMA_VERSION:
        findings.append(Finding("info", where, f"schema version {version}: migrated on next open"))
    elif schema.HOSTS in tables:
        findings.append(Finding("info", where, "host records in the main file: moved on next open"))
    names = Counter(doc.get("name") for _, doc in _docs(tables, schema.HOSTS))
    if None in names:
        findings.append(Finding("error", where, f"{names.pop(None)} host record(s) without a name"))
    for name, count in names.items():
        if count > 1:
            findings.append(Finding("error", where, f"host {name} is recorded {count} times"))
    run_ids = Counter(doc.get("run_id") for _, doc in _docs(tables, schema.RUNS))
    if None in run_ids:
        findings.append(Finding("error", where, f"{run_ids.pop(None)} run record(s) without an id"))
    for run_id, count in run_ids.items():
        if count > 1:
            findings.append(Finding("error", where, f"run {run_id} is recorded {count} times"))
    for _, doc in _docs(tables, schema.RUNS):
        status = doc.get("status")
        if status not in schema.RUN_STATUSES:
            findings.append(
                Finding("error", where, f"run {doc.get('run_id')}: unknown status {status!r}")
            )
        elif status == schema.RUN_RUNNING and not run_is_live(path, str(doc.get("run_id"))):
            findings.append(
                Finding(
                    "warning",
                    where,
                    f"run {doc.get('run_id')} was left running by a process that is gone "
                    "(marked interrupted on next open)",
                )
            )
    return findings


def repair_db(path: Path, *, lock_timeout: float = 10.0) -> RepairReport:
    """Fix what ``check_db`` finds, keeping a timestamped backup of every file it replaces."""
    report = RepairReport()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    unsafe = _unsafe_files(path)
    if unsafe is not None:
        raise StoreError(f"{unsafe}; nothing was repaired")
    with StoreLock(path, command="patchtui db repair").hold(lock_timeout):
        tables, changed = _recover_main(path, stamp, report)
        host_files = HostFiles(path, schema.host_shard_count(tables or {}))
        _repair_host_files(path, host_files, stamp, report)
        if tables is not None and schema.HOSTS in tables:
            # v1 layout: move its hosts into the host files first (as Store.open would).
            changed |= _dedupe(tables, report)
            host_files.write_all(tables.pop(schema.HOSTS).values())
            report.actions.append("moved host records from the main file into the host files")
            changed = True
        if tables is not None:
            changed |= _dedupe(tables, report)
            changed |= _repair_shards(path, tables, stamp, report)
            changed |= _interrupt_dead(path, tables, report)
            if changed:
                if path.exists() and not any(
                    b.name.startswith(f"{path.name}.corrupt-") for b in report.backups
                ):
                    backup = copy_to_new(path, path.with_name(f"{path.name}.bak-{stamp}"))
                    report.backups.append(backup)
                atomic_write_tables(path, tables)
        for temp in [*stray_temp_files(path), *_shard_temps(path)]:
            with contextlib.suppress(OSError):
                temp.unlink()
                report.actions.append(f"removed temp file {temp.name} left by a killed writer")
    report.remaining = check_db(path)
    return report


def _recover_main(path: Path, stamp: str, report: RepairReport) -> tuple[Tables | None, bool]:
    """The main tables, restored or rebuilt if the file is broken; (tables, changed)."""
    try:
        tables = read_tables(path)
    except StoreError as exc:
        try:
            backup = copy_to_new(path, path.with_name(f"{path.name}.corrupt-{stamp}"))
        except StoreError as copy_error:
            raise StoreError(
                f"cannot back up {path} before repairing it: {copy_error.message}"
            ) from None
        report.backups.append(backup)
        report.actions.append(
            f"kept the broken file as {backup.name} ({exc.message.split(';')[0]})"
        )
        for temp in stray_temp_files(path):
            try:
                salvaged = read_tables(temp)
            except StoreError:
                continue
            if salvaged is not None:
                schema.migrate(salvaged, where=str(temp))
                report.actions.append(f"restored the database from complete temp file {temp.name}")
                return salvaged, True
        rebuilt = schema.new_tables()
        report.actions.append(
            "started a new main file: the run index is rebuilt from history files; "
            "host files are kept"
        )
        return rebuilt, True
    if tables is None:
        if not _shard_files(path):
            return None, False
        report.actions.append("database file missing: rebuilding the run index from history files")
        return schema.new_tables(), True
    old, new = schema.migrate(tables, where=str(path))
    if old != new:
        report.actions.append(f"migrated schema version {old} -> {new}")
    return tables, old != new


def _repair_host_files(path: Path, host_files: HostFiles, stamp: str, report: RepairReport) -> None:
    """Restore or move aside unreadable host files; merge duplicate or misplaced hosts."""
    for host_file in host_shard_files(path):
        try:
            read_tables(host_file)
        except StoreError:
            if _salvage_shard(host_file, report) is not None:
                continue
            aside = move_aside(host_file, host_file.with_name(f"{host_file.name}.corrupt-{stamp}"))
            report.backups.append(aside)
            report.actions.append(
                f"moved unreadable host file {host_file.name} aside to {aside.name} "
                "(its hosts refill at the next scan)"
            )
    docs, _ = _host_docs(path)
    latest: dict[str, dict[str, Any]] = {}
    misplaced = False
    for host_file, doc in docs:
        name = doc.get("name")
        if not isinstance(name, str) or not name:
            continue
        misplaced |= host_file.stem != f"{host_files.shard_of(name):02d}"
        earlier = latest.get(name)
        if earlier is None or _number(doc.get("updated")) >= _number(earlier.get("updated")):
            latest[name] = doc
    if not misplaced and len(latest) == len(docs):
        return
    for host_file in host_shard_files(path):
        backup = copy_to_new(host_file, host_file.with_name(f"{host_file.name}.bak-{stamp}"))
        report.backups.append(backup)
    host_files.write_all(latest[name] for name in sorted(latest))
    report.actions.append(
        f"rewrote the host files: {len(docs) - len(latest)} duplicate or nameless host "
        "record(s) dropped (the most recently updated kept), every host in its own file"
    )


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _dedupe(tables: Tables, report: RepairReport) -> bool:
    changed = False
    for table_name, key in ((schema.HOSTS, "name"), (schema.RUNS, "run_id")):
        if table_name not in tables:
            continue
        latest: dict[object, int] = {}
        for doc_id, doc in _docs(tables, table_name):
            latest[doc.get(key)] = doc_id  # ascending ids: the last write wins
        table = tables.get(table_name, {})
        for doc_id, doc in _docs(tables, table_name):
            if doc.get(key) is None or latest[doc.get(key)] != doc_id:
                del table[str(doc_id)]
                report.actions.append(f"removed duplicate or nameless {table_name} record {doc_id}")
                changed = True
    return changed


def _repair_shards(path: Path, tables: Tables, stamp: str, report: RepairReport) -> bool:
    changed = False
    runs = tables.setdefault(schema.RUNS, {})
    indexed = {doc.get("run_id"): doc for doc in runs.values()}
    next_id = max((int(doc_id) for doc_id in runs), default=0) + 1
    for shard_path in _shard_files(path):
        run_id = shard_path.stem
        shard: Tables | None
        try:
            shard = read_tables(shard_path) or {}
        except StoreError:
            shard = _salvage_shard(shard_path, report)
            if shard is None:
                aside = move_aside(
                    shard_path, shard_path.with_name(f"{shard_path.name}.corrupt-{stamp}")
                )
                report.backups.append(aside)
                report.actions.append(
                    f"moved unreadable history {shard_path.name} aside to {aside.name}"
                )
                if run_id in indexed:
                    indexed[run_id]["history_lost"] = True
                    changed = True
                continue
        if run_id not in indexed:
            doc = dict(
                _run_doc(shard)
                or {"run_id": run_id, "operation": "unknown", "status": "interrupted"}
            )
            doc.pop("hosts", None)
            doc["run_id"] = run_id
            runs[str(next_id)] = doc
            indexed[run_id] = doc
            next_id += 1
            report.actions.append(f"restored run {run_id} to the index from its history file")
            changed = True
    return changed


def _salvage_shard(shard_path: Path, report: RepairReport) -> Tables | None:
    for temp in stray_temp_files(shard_path):
        try:
            salvaged = read_tables(temp)
        except StoreError:
            continue
        if salvaged is not None:
            aside = copy_to_new(
                shard_path,
                shard_path.with_name(f"{shard_path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"),
            )
            report.backups.append(aside)
            atomic_write_tables(shard_path, salvaged)
            report.actions.append(f"restored history {shard_path.name} from temp file {temp.name}")
            return salvaged
    return None


def _interrupt_dead(path: Path, tables: Tables, report: RepairReport) -> bool:
    changed = False
    now = time.time()
    for doc in tables.get(schema.RUNS, {}).values():
        run_id = str(doc.get("run_id"))
        if doc.get("status") == schema.RUN_RUNNING and not run_is_live(path, run_id):
            doc.update(status="interrupted", finished=doc.get("finished") or now)
            report.actions.append(f"marked run {run_id} interrupted (its process is gone)")
            changed = True
            shard_path = shard_path_for(path, run_id)
            try:
                shard = read_tables(shard_path)
            except StoreError:
                continue
            if shard is not None:
                for run_doc in shard.get(schema.SHARD_RUN, {}).values():
                    run_doc.update(status="interrupted", finished=doc["finished"])
                atomic_write_tables(shard_path, shard)
    return changed
