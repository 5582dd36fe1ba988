"""Scan 100 / 300 / 1,000 lab hosts and print wall time and peak memory of the scanner.

The lab runs in its own process (as a real fleet would be elsewhere), the scan
is the real `patchtui scan --json` command. Run: python benchmarks/scan_fleet.py
[--sizes 100,300,1000] [--concurrency 200]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

LAB_START_LIMIT = 120.0
"""Seconds the lab may take to bind its ports and write the inventory."""
LAB_STOP_LIMIT = 15.0


@contextlib.contextmanager
def lab_process(hosts: int, directory: Path) -> Iterator[Path]:
    """``patchtui lab`` in its own process; yields its inventory; stops it by PID."""
    inventory = directory / "inventory.yaml"
    stderr_path = directory / "lab.stderr"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
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
            stderr=stderr,  # a file: a pipe nobody reads would block the lab once full
            stdin=subprocess.DEVNULL,
            text=True,
        )
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=LAB_START_LIMIT)
        line = process.stdout.readline() if ready else ""
        if not line.startswith("lab:"):
            raise SystemExit(
                f"the lab did not start within {LAB_START_LIMIT:.0f} s: {line!r}"
                f" {stderr_path.read_text()[-1000:]}"
            )
        print(f"lab (pid {process.pid}): {line.strip()}", flush=True)
        yield inventory
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=LAB_STOP_LIMIT)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=LAB_STOP_LIMIT)


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
            with lab_process(size, directory) as inventory:
                wall, peak_kib, summary = scan(inventory, directory / "db.json", args.concurrency)
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
