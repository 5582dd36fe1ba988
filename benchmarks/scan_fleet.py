"""Scan 100 / 300 / 1,000 lab hosts and print wall time and peak memory of the scanner.

The lab runs in its own process (as a real fleet would be elsewhere), the scan
is the real `patchtui scan --json` command. Run: python benchmarks/scan_fleet.py
[--sizes 100,300,1000] [--concurrency 200]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def start_lab(hosts: int, directory: Path) -> tuple[subprocess.Popen[str], Path]:
    inventory = directory / "inventory.yaml"
    lab = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "patchtui.cli",
            "lab",
            "--hosts",
            str(hosts),
            "--faults",
            "none",
            "--write-inventory",
            str(inventory),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert lab.stdout is not None
    line = lab.stdout.readline()
    if not line.startswith("lab:"):
        lab.kill()
        raise SystemExit(f"lab failed to start: {line!r}")
    return lab, inventory


def measure_patchtui(*args: str) -> tuple[float, int, dict[str, object]]:
    """(wall seconds, peak RSS in KiB, last JSON line) of one `patchtui ... --json` run."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "patchtui.cli", *args, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    last = ""
    for line in process.stdout:
        last = line
    # wait4 gives this child's own peak RSS (RUSAGE_CHILDREN would mix children).
    _pid, _status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    return wall, int(usage.ru_maxrss), json.loads(last)


def scan(inventory: Path, db: Path, concurrency: int) -> tuple[float, int, dict[str, object]]:
    return measure_patchtui(
        "scan", "-i", str(inventory), "--db", str(db), "--concurrency", str(concurrency)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,300,1000")
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"scan benchmark: concurrency {args.concurrency}, {os.cpu_count()} CPUs")
    print(f"{'hosts':>6} {'wall s':>8} {'hosts/s':>8} {'peak MiB':>9} {'ok':>6}")
    first: tuple[int, float] | None = None
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            lab, inventory = start_lab(size, directory)
            try:
                wall, peak_kib, summary = scan(inventory, directory / "db.json", args.concurrency)
            finally:
                lab.send_signal(signal.SIGTERM)
                lab.wait(timeout=30)
        print(
            f"{size:>6} {wall:>8.1f} {size / wall:>8.1f} {peak_kib / 1024:>9.1f} {summary['ok']:>6}"
        )
        if first is None:
            first = (size, wall)
        else:
            ratio = (wall / first[1]) / (size / first[0])
            print(f"       time per host vs {first[0]} hosts: x{ratio:.2f} (1.00 = linear)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
