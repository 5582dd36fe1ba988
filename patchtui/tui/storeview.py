"""What the console reads from the store, in the shapes the screens use.

The store (``patchtui.store``) is written by another part of patchtui; these
helpers are the one place that knows the shapes its read methods return, so a
change there is a change here only. They accept a mapping keyed by host or run
id as well as a list of records, and never raise on a missing field: an old
database must still open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from patchtui.engine.outcome import normalize_outcome


class ConsoleStore(Protocol):
    """The read side of ``patchtui.store.db.Store`` that the console uses."""

    def hosts(self) -> Any: ...

    def runs(self) -> Any: ...

    def host_results(self, run_id: str) -> Any: ...

    def transcript(self, run_id: str, host: str) -> Any: ...


def _keyed(records: object, key_fields: Iterable[str]) -> dict[str, Mapping[str, Any]]:
    """Records as {key: record}, from either a mapping or a list of records."""
    fields = tuple(key_fields)
    if isinstance(records, Mapping):
        return {str(key): value for key, value in records.items() if isinstance(value, Mapping)}
    keyed: dict[str, Mapping[str, Any]] = {}
    for record in records or ():  # type: ignore[attr-defined]
        if not isinstance(record, Mapping):
            continue
        for field in fields:
            if record.get(field):
                keyed[str(record[field])] = record
                break
    return keyed


def host_records(store: ConsoleStore) -> dict[str, Mapping[str, Any]]:
    """Each host's last known state (as ``ScanJob`` stores it), by host name."""
    return _keyed(store.hosts(), ("name", "host"))


def run_records(store: ConsoleStore) -> list[Mapping[str, Any]]:
    """Every run, newest first; each has at least ``run_id``."""
    runs = list(_keyed(store.runs(), ("run_id", "id")).items())
    records = [{"run_id": run_id, **record} for run_id, record in runs]
    # Run ids start with a UTC timestamp, so they sort by time even without 'started'.
    return sorted(
        records,
        key=lambda record: (as_number(record.get("started")) or 0.0, str(record["run_id"])),
        reverse=True,
    )


def host_result_records(store: ConsoleStore, run_id: str) -> dict[str, Mapping[str, Any]]:
    return _keyed(store.host_results(run_id), ("host", "name"))


def transcript_lines(store: ConsoleStore, run_id: str, host: str) -> list[str]:
    lines = store.transcript(run_id, host)
    if isinstance(lines, str):
        return lines.splitlines()
    return [str(line) for line in lines or ()]


def summary_of(run: Mapping[str, Any]) -> Mapping[str, Any]:
    """The run's counts (a RunSummary as a dict once it finished; empty while running)."""
    for field in ("counts", "summary"):
        summary = run.get(field)
        if isinstance(summary, Mapping) and summary:
            return summary
    return {}


def run_outcome(run: Mapping[str, Any]) -> str:
    """The run's outcome word (engine/outcome.py; older records' ok/failed read anew) or running."""
    return normalize_outcome(str(run.get("status") or run.get("outcome") or "")) or "running"


def run_host_count(run: Mapping[str, Any]) -> int | None:
    count = run.get("host_count")
    if isinstance(count, int):
        return count
    hosts = run.get("hosts")
    if isinstance(hosts, list | tuple):
        return len(hosts)
    total = summary_of(run).get("hosts")
    return total if isinstance(total, int) else None


def as_number(value: object) -> float | None:
    """A stored number as float; None for anything else (old or hand-edited records)."""
    return float(value) if isinstance(value, int | float) else None
