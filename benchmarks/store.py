"""Store benchmark: prints seconds and MB for the figures the issue asks for, with target ratios.

    python benchmarks/store.py

1. Recording a 1,000-host run (results, transcripts, host-state updates,
   finish) into a database that already knows 1,000 hosts; then the same with
   every host durable before the next (``commit_hosts``: the run journal is
   fsynced per host, or per group of 20 as the recorder's group commit does).
2. Load + compliance evaluation (``evaluate_fleet`` with ``DEFAULT_POLICY``
   over ``Store.hosts()``) of a database holding 10,000 hosts (20 pending
   updates each) and 100,000 host results (100 runs x 1,000 hosts).
   Target (the issue's): < 1 s.
3. Open + record a 1-host run on that big database: what a cron scan of one
   host costs; it must not grow with the fleet's hot state or the history.
4. File sizes, and the bytes a 1-host run rewrites.

The big database is written in the *version 1* layout (one main file with
hosts and runs), the layout patchtui shipped first, so the first open also
times the v1 -> v2 migration. Everything happens in a temp directory.
Ratios are figure / target: below 1.00 meets the target.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from patchtui.compliance.evaluate import evaluate_fleet
from patchtui.compliance.policy import DEFAULT_POLICY
from patchtui.store import Store
from patchtui.store.db import HostRecord, new_run_id, shard_path_for
from patchtui.store.storage import atomic_write_tables

# The target for load + evaluate; the others are ours: a store write
# should stay a small part of a run that takes minutes, and a one-host cron scan
# should not pay for the other 9,999 hosts.
TARGET_LOAD_EVALUATE_SECONDS = 1.0
TARGET_RECORD_1000_SECONDS = 2.0
TARGET_ONE_HOST_RUN_SECONDS = 0.5
PENDING_PER_HOST = 20


def _pending(index: int, count: int = PENDING_PER_HOST) -> list[dict[str, Any]]:
    return [
        {
            "name": f"pkg{item}",
            "installed": "1.0-1",
            "candidate": f"1.0-{index % 7 + 2}",
            "arch": "amd64",
            "repository": "bookworm-security" if item % 3 == 0 else "bookworm-updates",
            "security": item % 3 == 0,
            "severity": "important" if item % 3 == 0 else None,
            "advisories": [f"DSA-{5000 + item}-1"] if item % 3 == 0 else [],
            "cves": [f"CVE-2025-{1000 + item}"] if item % 3 == 0 else [],
            "first_seen": 1_700_000_000.0,
        }
        for item in range(count)
    ]


def _host_doc(index: int) -> dict[str, Any]:
    pending = _pending(index)
    return {
        "name": f"host{index:05d}",
        "facts": {
            "os_id": "debian",
            "os_version": "12",
            "os_name": "Debian GNU/Linux 12 (bookworm)",
            "os_like": [],
            "kernel": "6.1.0-18-amd64",
            "uptime_seconds": 123456.0,
            "boot_id": f"{index:08x}-0000-4000-8000-000000000000",
            "hostname": f"host{index:05d}",
            "package_manager": "apt",
        },
        "pending": pending,
        "counts": {
            "pending": len(pending),
            "security": sum(1 for item in pending if item["security"]),
        },
        "last_scan": time.time() - 3600,
        "last_scan_ok": time.time() - 3600,
        "last_patch": 1_699_000_000.0,
        "reboot_required": index % 10 == 0,
        "metadata_stale": False,
        "first_seen": 1_690_000_000.0,
        "compliance": {},
    }


def _result_doc(run_id: str, host: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "host": host,
        "operation": "patch",
        "status": "ok",
        "error_kind": None,
        "error": None,
        "duration": 42.5,
        "started": 1_700_000_000.0,
        "finished": 1_700_000_042.5,
        "changes": [{"name": f"pkg{item}", "from": "1.0-1", "to": "1.0-2"} for item in range(3)],
        "reboot": False,
        "transcript_path": f"patchtui.history/{run_id}/{host}.log",
        "transcript_tail": "\n".join(f"Setting up pkg{item} (1.0-2) ..." for item in range(10)),
        "transcript_truncated": False,
    }


def build_v1_db(db_path: Path, hosts: int, runs: int, hosts_per_run: int) -> None:
    """Write the files directly in the v1 layout (building through the API takes minutes)."""
    tables: dict[str, dict[str, Any]] = {
        "meta": {"1": {"schema_version": 1, "created": time.time()}},
        "hosts": {str(index + 1): _host_doc(index) for index in range(hosts)},
        "runs": {},
    }
    base = time.time() - runs * 3600
    for number in range(runs):
        run_id = new_run_id(base + number * 3600)
        names = [
            f"host{(number * hosts_per_run + index) % hosts:05d}" for index in range(hosts_per_run)
        ]
        run = {
            "run_id": run_id,
            "operation": "patch",
            "options": {},
            "user": "bench",
            "pid": 1,
            "command": "patchtui patch",
            "started": base + number * 3600,
            "finished": base + number * 3600 + 600,
            "status": "ok",
            "counts": {"ok": hosts_per_run},
            "host_count": hosts_per_run,
        }
        tables["runs"][str(number + 1)] = run
        shard = {
            "run": {"1": {**run, "hosts": names}},
            "results": {str(i + 1): _result_doc(run_id, name) for i, name in enumerate(names)},
        }
        atomic_write_tables(shard_path_for(db_path, run_id), shard)
    atomic_write_tables(db_path, tables)


def record_run(db_path: Path, hosts: int) -> float:
    with Store.open(db_path) as store:
        names = [f"host{index:05d}" for index in range(hosts)]
        store.update_hosts({name: _host_doc(index) for index, name in enumerate(names)})
        store.flush()
        started = time.perf_counter()
        run_id = store.start_run("patch", names, {"reboot": "if-needed"})
        for index, name in enumerate(names):
            store.append_transcript(run_id, name, [f"{name}: line {line}" for line in range(20)])
            store.record_host_result(run_id, name, _result_doc(run_id, name))
            store.update_hosts({name: {"last_patch": time.time(), "pending": _pending(index)[:2]}})
        store.finish_run(run_id, "ok", {"ok": hosts})
        return time.perf_counter() - started


def record_run_durable(db_path: Path, hosts: int, group: int) -> float:
    """As ``record_run``, but each host committed durably (journal fsync) before the next
    group: ``group`` 1 is one fsync per host (hosts finishing one by one), more is what the
    recorder's group commit does when hosts finish together."""
    with Store.open(db_path) as store:
        names = [f"host{index:05d}" for index in range(hosts)]
        store.update_hosts({name: _host_doc(index) for index, name in enumerate(names)})
        store.flush()
        started = time.perf_counter()
        run_id = store.start_run("patch", names, {"reboot": "if-needed"})
        for first in range(0, hosts, group):
            store.commit_hosts(
                run_id,
                [
                    HostRecord(
                        name,
                        _result_doc(run_id, name),
                        {"last_patch": time.time(), "pending": _pending(index)[:2]},
                        [f"{name}: line {line}" for line in range(20)],
                    )
                    for index, name in enumerate(names[first : first + group], start=first)
                ],
            )
        store.finish_run(run_id, "ok", {"ok": hosts})
        return time.perf_counter() - started


def load_and_evaluate(db_path: Path) -> tuple[float, float, float, int, int, int]:
    """(open+hosts s, evaluate s, cached re-read s, hosts, runs, non-compliant hosts)."""
    started = time.perf_counter()
    store = Store.open(db_path)
    hosts = store.hosts()
    runs = store.runs()
    loaded = time.perf_counter() - started
    report = evaluate_fleet(hosts, DEFAULT_POLICY, time.time(), source=str(db_path))
    evaluated = time.perf_counter() - started - loaded
    again = time.perf_counter()
    store.hosts()
    cached = time.perf_counter() - again
    store.close()
    return loaded, evaluated, cached, len(hosts), len(runs), report.summary["non_compliant"]


def one_host_run(db_path: Path) -> tuple[float, int]:
    """Seconds to open + record a 1-host run, and the bytes of database files it rewrote."""
    before = _file_versions(db_path.parent)
    started = time.perf_counter()
    with Store.open(db_path) as writer:
        run_id = writer.start_run("scan", ["host00001"], {})
        writer.record_host_result(run_id, "host00001", {"status": "ok"})
        writer.update_hosts({"host00001": {"last_scan": time.time()}})
        writer.finish_run(run_id, "ok", {"ok": 1})
    seconds = time.perf_counter() - started
    after = _file_versions(db_path.parent)
    rewritten = sum(
        size for path, (ino, size) in after.items() if before.get(path, (0, 0))[0] != ino
    )
    return seconds, rewritten


def _file_versions(root: Path) -> dict[Path, tuple[int, int]]:
    """Every .json file under root: (inode, size); writers rename new files in, so a new inode."""
    found: dict[Path, tuple[int, int]] = {}
    for directory, _dirs, files in os.walk(root):
        for name in files:
            if name.endswith(".json"):
                info = os.stat(os.path.join(directory, name))
                found[Path(directory, name)] = (info.st_ino, info.st_size)
    return found


def megabytes(*paths: Path) -> float:
    total = 0
    for path in paths:
        if path.is_file():
            total += path.stat().st_size
        elif path.is_dir():
            total += sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())
    return total / 1e6


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="patchtui-bench-") as tmp:
        small = Path(tmp) / "small" / "patchtui.json"
        seconds = record_run(small, 1000)
        show("record a 1,000-host run (batched writes)", seconds, "s", TARGET_RECORD_1000_SECONDS)
        for group in (1, 20):
            seconds = record_run_durable(
                Path(tmp) / f"durable{group}" / "patchtui.json", 1000, group
            )
            label = f"  the same, durable: fsync per {group} host{'s' if group > 1 else ''}"
            show(label, seconds, "s", TARGET_RECORD_1000_SECONDS)

        big = Path(tmp) / "big" / "patchtui.json"
        build_v1_db(big, hosts=10_000, runs=100, hosts_per_run=1000)
        v1_size = megabytes(big)
        started = time.perf_counter()
        Store.open(big).close()
        show("first open of the v1 db (migrates, if needed)", time.perf_counter() - started, "s")

        loaded, evaluated, cached, hosts, runs, failing = load_and_evaluate(big)
        show("load 10,000 hosts + run index (100k results)", loaded, "s")
        show("evaluate (evaluate_fleet, DEFAULT_POLICY)", evaluated, "s")
        show("load + evaluate", loaded + evaluated, "s", TARGET_LOAD_EVALUATE_SECONDS)
        show("hosts() again, files unchanged", cached, "s")
        print(f"  hosts {hosts}, runs {runs}, non-compliant {failing}")

        seconds, rewritten = one_host_run(big)
        show("open + a 1-host run on the 10,000-host db", seconds, "s", TARGET_ONE_HOST_RUN_SECONDS)
        show("  database bytes it rewrote", rewritten / 1e6, "MB")

        hot = [big, big.parent / "patchtui.hosts"]
        show("v1 main file (hosts + runs index)", v1_size, "MB")
        show("hot state now (main file + host files)", megabytes(*hot), "MB")
        show("  main file (meta + runs index)", megabytes(big), "MB")
        show(
            "history (100 run shards, 100k results)",
            megabytes(big.parent / "patchtui.history"),
            "MB",
        )
        show(
            "small db after the 1,000-host run",
            megabytes(small, small.parent / "patchtui.hosts"),
            "MB",
        )
        show("  its history incl. transcripts", megabytes(small.parent / "patchtui.history"), "MB")


def show(label: str, value: float, unit: str, target: float | None = None) -> None:
    line = f"{label + ':':<50}{value:8.3f} {unit}"
    if target is not None:
        line += f"   target < {target:g} {unit}: ratio {value / target:.2f}"
    print(line)


if __name__ == "__main__":
    main()
