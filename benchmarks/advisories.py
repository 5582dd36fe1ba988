"""OSV advisories benchmark: prints seconds and MB, with target ratios.

    python benchmarks/advisories.py

A synthetic Ubuntu-sized data set (40,000 records, as many CVE records as
Canonical's OSV directory holds for a few releases, 4 affected ecosystems each
with 8 binaries), written as a zip the way osv.dev serves it, then:

1. ``advisories sync`` of the zip into an empty store (parse, normalise, write);
2. the same sync again: every record unchanged (the incremental case);
3. load the stored file and build the lookup index (what every ``advisories``,
   ``compliance`` and ``patch --min-severity`` pays once);
4. the first lookup, which builds the tables of the hosts' ecosystems (only
   those: Ubuntu 22.04 and its Pro twin here, not the other releases);
5. annotate 10,000 Ubuntu 22.04 hosts with 20 pending updates each, of which
   5 match an advisory (each host's versions differ from the next one's; a real
   fleet of identical hosts repeats them, and repeated questions are cached).

Everything happens in a temp directory. Ratios are figure / target: below 1.00
meets the target (ours: a nightly sync and a fleet report stay small next to the
scans that feed them).
"""

from __future__ import annotations

import json
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from patchtui.advisories.osv import annotate_states
from patchtui.advisories.store import advisories_path_for, load, sync

RECORDS = 40_000
HOSTS = 10_000
TARGET_SYNC_SECONDS = 30.0
TARGET_RESYNC_SECONDS = 15.0
TARGET_LOAD_INDEX_SECONDS = 5.0
TARGET_BUILD_SECONDS = 3.0
TARGET_ANNOTATE_SECONDS = 3.0
NOW = 1_800_000_000.0


def _record(number: int) -> dict[str, Any]:
    source = f"src{number % 5000}"
    affected = []
    for release in ("20.04", "22.04", "24.04", "Pro:18.04"):
        fixed = f"1.{number % 97}-{number % 13 + 2}ubuntu0.{number % 7 + 1}"
        affected.append(
            {
                "package": {"ecosystem": f"Ubuntu:{release}:LTS", "name": source},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
                "ecosystem_specific": {
                    "binaries": [
                        {"binary_name": f"{source}-bin{b}", "binary_version": fixed}
                        for b in range(8)
                    ],
                    "ubuntu_priority": ("low", "medium", "high", "critical")[number % 4],
                },
            }
        )
    return {
        "schema_version": "1.6.3",
        "id": f"UBUNTU-CVE-2024-{number:05d}",
        "details": "x" * 300,
        "aliases": [],
        "related": [f"CVE-2024-{number:05d}", f"USN-{number}-1"],
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "published": "2024-07-01T00:00:00Z",
        "modified": "2024-07-01T00:00:00Z",
        "affected": affected,
    }


def _host(index: int) -> dict[str, Any]:
    pending = []
    for item in range(20):
        number = (index * 20 + item) % RECORDS
        source = f"src{number % 5000}"
        fixed = f"1.{number % 97}-{number % 13 + 2}ubuntu0.{number % 7 + 1}"
        matching = item < 5
        pending.append(
            {
                "name": f"{source}-bin{item % 8}" if matching else f"other{item}",
                "installed": f"1.{number % 97}-{number % 13 + 2}ubuntu0.0",
                "candidate": fixed,
                "security": False,
                "severity": None,
                "first_seen": NOW,
            }
        )
    return {
        "name": f"host{index:05d}",
        "facts": {"os_id": "ubuntu", "os_version": "22.04"},
        "pending": pending,
    }


def _line(label: str, seconds: float, target: float) -> None:
    print(f"{label:<48} {seconds:7.2f} s  target {target:5.1f} s  ratio {seconds / target:.2f}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="patchtui-osv-bench-") as directory:
        root = Path(directory)
        archive = root / "all.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
            for number in range(RECORDS):
                record = _record(number)
                out.writestr(f"{record['id']}.json", json.dumps(record))
        target = advisories_path_for(root / "patchtui.json")
        print(f"zip: {RECORDS} records, {archive.stat().st_size / 1e6:.1f} MB")

        start = time.perf_counter()
        result = sync(target, str(archive), now=NOW)
        _line(
            f"sync {result.read} records into an empty store",
            time.perf_counter() - start,
            TARGET_SYNC_SECONDS,
        )
        print(f"  stored file {target.stat().st_size / 1e6:.1f} MB, {result.total} records")

        start = time.perf_counter()
        again = sync(target, str(archive), now=NOW)
        _line(
            f"sync again ({again.unchanged} unchanged)",
            time.perf_counter() - start,
            TARGET_RESYNC_SECONDS,
        )

        start = time.perf_counter()
        index = load(target).index()
        _line("load + build the index", time.perf_counter() - start, TARGET_LOAD_INDEX_SECONDS)

        states = [_host(number) for number in range(HOSTS)]
        start = time.perf_counter()
        annotate_states(states[:1], index)
        _line(
            "first lookup: build Ubuntu:22.04 tables",
            time.perf_counter() - start,
            TARGET_BUILD_SECONDS,
        )
        start = time.perf_counter()
        annotated = annotate_states(states, index)
        elapsed = time.perf_counter() - start
        matched = sum(1 for state in annotated for u in state["pending"] if "osv" in u)
        _line(f"annotate {HOSTS} hosts x 20 pending", elapsed, TARGET_ANNOTATE_SECONDS)
        print(f"  matched updates: {matched} (expected {HOSTS * 5})")


if __name__ == "__main__":
    main()
