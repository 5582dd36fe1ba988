"""Headless store: TinyDB hot state + per-run history shards, durable writes, one writer.

Public API: :class:`Store` (what the engine and front ends call) and
:func:`check_db` / :func:`repair_db` (what ``patchtui db check|repair`` call).
"""

from __future__ import annotations

from patchtui.store.check import Finding, RepairReport, check_db, repair_db
from patchtui.store.db import Store, to_jsonable

__all__ = ["Finding", "RepairReport", "Store", "check_db", "repair_db", "to_jsonable"]
