"""SIGKILL a process in the middle of many store writes, repeatedly: nothing breaks.

After every kill: the database parses, every run whose ``finish_run`` returned
(the child prints its id right after) is present and finished, no run is left
``running`` after a re-open, and the run that was in progress is ``interrupted``.
"""

from __future__ import annotations

import json
import os
import random
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from patchtui.store import Store, check_db

# Kills a writer at random moments: one kill test at a time (conftest.py SERIAL_GROUPS).
pytestmark = pytest.mark.serial

KILLS = 15

_WRITER = """
import sys
from pathlib import Path
from patchtui.store import Store

store = Store.open(Path(sys.argv[1]), batch_size=4, batch_seconds=0.01)
for number in range(10_000):
    hosts = [f"host{index:02d}" for index in range(12)]
    run_id = store.start_run("patch", hosts, {"number": number})
    print("start", run_id, flush=True)
    for host in hosts:
        store.append_transcript(run_id, host, [f"{host} line {line}" for line in range(20)])
        store.record_host_result(run_id, host, {"status": "ok", "changes": [
            {"name": "bash", "from": "1", "to": str(number)}]})
        store.update_hosts({host: {"last_scan": float(number), "pending": [
            {"name": "bash", "candidate": str(number + 1), "security": True}]}})
    store.finish_run(run_id, "ok", {"ok": len(hosts)})
    print("finished", run_id, flush=True)
"""


def _run_writer_until_killed(db_path: Path, rng: random.Random) -> tuple[set[str], set[str]]:
    """Start the writer, SIGKILL it at a random moment; (started ids, finished ids)."""
    started: set[str] = set()
    finished: set[str] = set()
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(db_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(child.stdout, selectors.EVENT_READ)
    # Wait for the first run to start (import time varies) and, on about half the kills, for
    # one to finish (on a busy machine a whole run can take longer than the random while),
    # then a random while.
    need_finished = rng.randint(0, 1)
    kill_at: float | None = None
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            if kill_at is not None and time.monotonic() >= kill_at:
                break
            if selector.select(timeout=0.005):
                line = child.stdout.readline()
                if not line:
                    break
                kind, run_id = line.split()
                (started if kind == "start" else finished).add(run_id)
                if kill_at is None and len(finished) >= need_finished:
                    kill_at = time.monotonic() + rng.uniform(0.0, 0.4)
        os.kill(child.pid, signal.SIGKILL)
        # Lines already in the pipe were printed after finish_run returned: count them.
        # Read through the buffered file (communicate() would skip what readline buffered).
        rest = child.stdout.read()
        assert child.stderr is not None
        errors = child.stderr.read()
        child.wait(timeout=10)
        # The kill can cut the last print short: only whole lines were really printed.
        complete = rest.split("\n")[:-1]
        for line in complete:
            kind, run_id = line.split()
            (started if kind == "start" else finished).add(run_id)
    finally:
        selector.close()
        if child.poll() is None:
            child.kill()
            child.wait(5)
    assert child.returncode == -signal.SIGKILL, errors
    return started, finished


def test_sigkill_mid_write_never_loses_finished_runs(tmp_path: Path) -> None:
    db_path = tmp_path / "patchtui.json"
    Store.open(db_path).close()
    rng = random.Random(301)
    all_finished: set[str] = set()
    all_started: set[str] = set()
    for _ in range(KILLS):
        started, finished = _run_writer_until_killed(db_path, rng)
        all_started |= started
        all_finished |= finished
        # The file always parses as it is, before anyone repairs anything.
        json.loads(db_path.read_text())
        with Store.open(db_path, lock_timeout=5) as store:
            runs = {run["run_id"]: run for run in store.runs()}
            assert all(run["status"] != "running" for run in runs.values())
            for run_id in all_finished:
                assert runs[run_id]["status"] == "ok"
                assert len(store.host_results(run_id)) == 12
            for run_id in started - finished:
                # Killed mid-run (or between finish_run and the print).
                assert runs[run_id]["status"] in ("interrupted", "ok")
            # Runs killed after start_run may not have printed "start" yet: superset.
            recovered = set(store.recovered_runs)
            assert recovered.isdisjoint(all_finished)
            assert {
                run_id for run_id in started - finished if runs[run_id]["status"] == "interrupted"
            } <= recovered
        assert not [f for f in check_db(db_path) if f.level == "error"]
    assert len(all_finished) >= KILLS // 2  # the test really exercised completed runs
    with Store.open(db_path) as store:
        interrupted = [run for run in store.runs() if run["status"] == "interrupted"]
    assert interrupted, "no kill landed mid-run"
