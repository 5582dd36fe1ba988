"""Layout of the store's files, the schema version, and migrations between versions.

Main database (``paths.default_db_path()``, small, rewritten by run start/finish):
  ``meta``   one document: ``{"schema_version": int, "created": epoch,
             "host_shards": int}``
  ``runs``   the run index: run_id, operation, options, user, pid, command,
             started, finished, status, counts, host_count; ``notify`` (the
             alerts' deliveries, engine/notify.py) when any were sent

Host files (``<db dir>/<db stem>.hosts/<NN>.json``, NN = crc32(name) % host_shards;
see :mod:`patchtui.store.hostfiles`), each with one table:
  ``hosts``  one document per host name: facts, pending updates (each with the
             ``first_seen`` time of that (name, candidate) pair), counts,
             last_scan / last_scan_ok / last_patch, reboot_required,
             metadata_stale, first_seen, compliance

History shard per run (``<db dir>/<db stem>.history/<run_id>.json``):
  ``run``     a copy of the run's index entry plus its host list (lets
              ``repair`` rebuild a lost index)
  ``results`` one document per host: status, error, changes, reboot,
              duration, transcript path and tail

Run journal (``<db dir>/<db stem>.history/<run_id>.journal``, only while a run is
recorded or after its process died): one JSON line per durable host record
(``{"host", "at", "result", "hot"}``), fsynced before the host is reported;
replayed into the shard and host files by the next open, then deleted.

Migrations take the parsed main tables and change them in place; each one
moves the schema up by exactly one version. Version 1 kept ``hosts`` in the
main file; the v1 -> v2 step only records the shard count, and the store then
moves any ``hosts`` table it finds in the main file into the host files (host
files first, main file last, so a crash in between repeats the move).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from patchtui.errors import StoreError

SCHEMA_VERSION = 2
HOST_SHARDS = 64

META = "meta"
HOSTS = "hosts"
RUNS = "runs"
SHARD_RUN = "run"
SHARD_RESULTS = "results"

RUN_RUNNING = "running"
RUN_FINAL_STATUSES: frozenset[str] = frozenset(
    # The engine's outcome words (engine/outcome.py; a test keeps the two in step) ...
    {"completed", "completed-with-failures", "halted", "interrupted", "dry-run"}
    # ... and the words runs were recorded with before them, still valid in old files.
    | {"ok", "failed"}
)
RUN_STATUSES: frozenset[str] = RUN_FINAL_STATUSES | {RUN_RUNNING}

Tables = dict[str, dict[str, Any]]
Migration = Callable[[Tables], None]


def _v0_to_v1(tables: Tables) -> None:
    """Version 0 is a file without a ``meta`` table: the tables were already v1-shaped."""
    tables.setdefault(HOSTS, {})
    tables.setdefault(RUNS, {})


def _v1_to_v2(tables: Tables) -> None:
    """Hosts move to their own files (done by the store, which owns the files)."""
    for doc in tables.get(META, {}).values():
        doc.setdefault("host_shards", HOST_SHARDS)


MIGRATIONS: dict[int, Migration] = {0: _v0_to_v1, 1: _v1_to_v2}
"""from-version -> function that upgrades the tables to from-version + 1."""


def schema_version(tables: Tables) -> int:
    """The version recorded in ``meta``; 0 for a file written before versioning."""
    for doc in tables.get(META, {}).values():
        version = doc.get("schema_version")
        if isinstance(version, int):
            return version
    return 0


def host_shard_count(tables: Tables) -> int:
    """How many host files this database uses (recorded at creation)."""
    for doc in tables.get(META, {}).values():
        count = doc.get("host_shards")
        if isinstance(count, int) and count > 0:
            return count
    return HOST_SHARDS


def new_tables() -> Tables:
    return {
        META: {
            "1": {
                "schema_version": SCHEMA_VERSION,
                "created": time.time(),
                "host_shards": HOST_SHARDS,
            }
        },
        RUNS: {},
    }


def migrate(tables: Tables, *, where: str) -> tuple[int, int]:
    """Upgrade ``tables`` in place to SCHEMA_VERSION; returns (old, new) version.

    Raises StoreError for a file from a newer patchtui (never downgraded: it
    would silently drop what the newer version stores).
    """
    found = schema_version(tables)
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"database {where} has schema version {found}, newer than this patchtui "
            f"understands ({SCHEMA_VERSION}); upgrade patchtui"
        )
    version = found
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise StoreError(f"database {where}: no migration from schema version {version}")
        step(tables)
        version += 1
    meta = tables.setdefault(META, {})
    doc = next(iter(meta.values()), None)
    if doc is None:
        meta["1"] = {"schema_version": version, "created": time.time(), "host_shards": HOST_SHARDS}
    else:
        doc["schema_version"] = version
    return found, version
