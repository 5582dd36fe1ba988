"""Layout of the store's files, the schema version, and migrations between versions.

Main database (``paths.default_db_path()``, small hot state, rewritten per commit):
  ``meta``   one document: ``{"schema_version": int, "created": epoch}``
  ``hosts``  one document per host name: facts, pending updates (each with the
             ``first_seen`` time of that (name, candidate) pair), counts,
             last_scan / last_scan_ok / last_patch, reboot_required,
             metadata_stale, first_seen, compliance
  ``runs``   the run index: run_id, operation, options, user, pid, command,
             started, finished, status, counts, host_count

History shard per run (``<db dir>/<db stem>.history/<run_id>.json``):
  ``run``     a copy of the run's index entry plus its host list (lets
              ``repair`` rebuild a lost index)
  ``results`` one document per host: status, error, changes, reboot,
              duration, transcript path and tail

Migrations take the parsed main tables and change them in place; each one
moves the schema up by exactly one version.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from patchtui.errors import StoreError

SCHEMA_VERSION = 1

META = "meta"
HOSTS = "hosts"
RUNS = "runs"
SHARD_RUN = "run"
SHARD_RESULTS = "results"

RUN_RUNNING = "running"
RUN_FINAL_STATUSES: frozenset[str] = frozenset({"ok", "failed", "interrupted", "halted"})
RUN_STATUSES: frozenset[str] = RUN_FINAL_STATUSES | {RUN_RUNNING}

Tables = dict[str, dict[str, Any]]
Migration = Callable[[Tables], None]


def _v0_to_v1(tables: Tables) -> None:
    """Version 0 is a file without a ``meta`` table: the tables were already v1-shaped."""
    tables.setdefault(HOSTS, {})
    tables.setdefault(RUNS, {})


MIGRATIONS: dict[int, Migration] = {0: _v0_to_v1}
"""from-version -> function that upgrades the tables to from-version + 1."""


def schema_version(tables: Tables) -> int:
    """The version recorded in ``meta``; 0 for a file written before versioning."""
    for doc in tables.get(META, {}).values():
        version = doc.get("schema_version")
        if isinstance(version, int):
            return version
    return 0


def new_tables() -> Tables:
    return {
        META: {"1": {"schema_version": SCHEMA_VERSION, "created": time.time()}},
        HOSTS: {},
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
        meta["1"] = {"schema_version": version, "created": time.time()}
    else:
        doc["schema_version"] = version
    return found, version
