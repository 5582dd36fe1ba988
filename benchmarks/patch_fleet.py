"""Patch 100 and 300 lab hosts with the real `patchtui patch` and print the wall time.

The lab runs in its own process. Its simulated installs take 1-3 s per host and
kernel updates reboot (2 s down), as a fast real host would; so the figures
show patchtui's own overhead plus that simulated work, spread over the
concurrency. Run: python benchmarks/patch_fleet.py [--sizes 100,300] [--concurrency 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from scan_fleet import lab_process, measure_patchtui


def patch(inventory: Path, db: Path, concurrency: int) -> tuple[float, int, dict[str, object]]:
    """(wall seconds, peak RSS KiB, summary line) of one `patchtui patch --yes --json`."""
    return measure_patchtui(
        "patch", "-i", str(inventory), "--yes", "--db", str(db), "--concurrency", str(concurrency)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,300")
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    print(f"patch benchmark: concurrency {args.concurrency}, {os.cpu_count()} CPUs")
    print(f"{'hosts':>6} {'wall s':>8} {'hosts/s':>8} {'peak MiB':>9}  results")
    for size in (int(each) for each in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            with lab_process(size, directory) as inventory:
                wall, peak, summary = patch(inventory, directory / "db.json", args.concurrency)
        results = summary.get("results")
        print(f"{size:>6} {wall:>8.1f} {size / wall:>8.1f} {peak / 1024:>9.1f}  {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
