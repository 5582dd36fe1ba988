"""Store benchmark: prints seconds and MB for the figures the issue asks for.

    python benchmarks/store.py

1. Recording a 1,000-host run (results, transcripts, host-state updates,
   finish) into a database that already knows 1,000 hosts.
2. Load + compliance evaluation of a database holding 10,000 hosts and
   100,000 host results (100 runs x 1,000 hosts). Target: < 1 s.
3. File sizes.

Everything happens in a temp directory.
"""

from __future__ import annotations

import importlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from patchtui.store import Store
from patchtui.store.db import new_run_id, shard_path_for
from patchtui.store.schema import new_tables
from patchtui.store.storage import atomic_write_tables

TARGET_LOAD_SECONDS = 1.0


def _pending(index: int) -> list[dict[str, Any]]:
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
        for item in range(8)
    ]


def _host_doc(index: int) -> dict[str, Any]:
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
        "pending": _pending(index),
        "counts": {"pending": 8, "security": 3},
        "last_scan": 1_700_000_000.0,
        "last_scan_ok": 1_700_000_000.0,
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


def build_big_db(db_path: Path, hosts: int, runs: int, hosts_per_run: int) -> None:
    """Write the files directly in the store's format (building through the API takes minutes)."""
    tables = new_tables()
    tables["hosts"] = {str(index + 1): _host_doc(index) for index in range(hosts)}
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


def compliance_evaluator() -> Callable[[list[dict[str, Any]]], object] | None:
    """COMPLIANCE HOOK: the evaluator from patchtui.compliance once it exists.

    The compliance author: expose ``evaluate_hosts(hosts: list[dict]) -> ...``
    (default policy) in ``patchtui.compliance`` and this benchmark times it.
    """
    try:
        module = importlib.import_module("patchtui.compliance")
    except ImportError:
        return None
    evaluator = getattr(module, "evaluate_hosts", None)
    return evaluator if callable(evaluator) else None


def placeholder_evaluation(hosts: list[dict[str, Any]]) -> int:
    """Stand-in until compliance exists: touch every pending update's age, as a policy would."""
    now = time.time()
    failing = 0
    for host in hosts:
        oldest = min(
            (item["first_seen"] for item in host.get("pending", []) if item.get("security")),
            default=now,
        )
        failing += (now - oldest) > 14 * 86400 or bool(host.get("reboot_required"))
    return failing


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


def megabytes(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file()) / 1e6


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="patchtui-bench-") as tmp:
        small = Path(tmp) / "small" / "patchtui.json"
        seconds = record_run(small, 1000)
        show("record a 1,000-host run (batched writes)", seconds, "s")

        big = Path(tmp) / "big" / "patchtui.json"
        build_big_db(big, hosts=10_000, runs=100, hosts_per_run=1000)
        started = time.perf_counter()
        store = Store.open(big)
        hosts = store.hosts()
        runs = store.runs()
        loaded = time.perf_counter() - started
        evaluator = compliance_evaluator()
        if evaluator is not None:
            evaluator(hosts)
            how = "patchtui.compliance.evaluate_hosts"
        else:
            placeholder_evaluation(hosts)
            how = "placeholder (patchtui.compliance.evaluate_hosts not available)"
        total = time.perf_counter() - started
        store.close()
        show("load 10,000 hosts + run index (100k results)", loaded, "s")
        show("load + evaluate", total, "s")
        print(f"  evaluated by: {how}")
        print(f"  target < {TARGET_LOAD_SECONDS:.1f} s: ratio {total / TARGET_LOAD_SECONDS:.2f}")
        print(f"  hosts {len(hosts)}, runs {len(runs)}")

        started = time.perf_counter()
        with Store.open(big) as writer:
            run_id = writer.start_run("scan", ["host00001"], {})
            writer.record_host_result(run_id, "host00001", {"status": "ok"})
            writer.update_hosts({"host00001": {"last_scan": time.time()}})
            writer.finish_run(run_id, "ok", {"ok": 1})
        show("open + a 1-host run on the 10,000-host db", time.perf_counter() - started, "s")
        show("main file (hot state, 10,000 hosts)", megabytes(big), "MB")
        show(
            "history (100 run shards, 100k results)",
            megabytes(big.parent / "patchtui.history"),
            "MB",
        )
        show("small db after the 1,000-host run", megabytes(small), "MB")
        show("  its history incl. transcripts", megabytes(small.parent / "patchtui.history"), "MB")


def show(label: str, value: float, unit: str) -> None:
    print(f"{label + ':':<48}{value:8.3f} {unit}")


if __name__ == "__main__":
    main()
