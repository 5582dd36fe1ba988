"""A read-only or full disk under the database: one line naming the file, exit 2, nothing lost.

Root ignores file modes, so a read-only directory is a read-only bind mount
and a full disk a tiny tmpfs, each made inside a private mount namespace
(``unshare -m``) that disappears with the command: nothing is left mounted
if a test dies. Where mounting is not permitted the tests skip and say why.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from labhelp import patchtui_command

from patchtui.store import Store

_READONLY = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'


def _mount_problem(tmp_path: Path) -> str | None:
    if shutil.which("unshare") is None:
        return "unshare(1) is not installed"
    if os.geteuid() != 0:
        return "mount namespaces need root here"
    probe = tmp_path / "probe"
    probe.mkdir()
    tried = subprocess.run(
        ["unshare", "-m", "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$1"', "sh", str(probe)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    probe.rmdir()
    if tried.returncode != 0:
        return f"mounting in a private namespace is not permitted: {tried.stderr.strip()}"
    return None


@pytest.fixture
def mounts(tmp_path: Path) -> None:
    problem = _mount_problem(tmp_path)
    if problem is not None:
        pytest.skip(problem)


def _tree(directory: Path) -> dict[str, str]:
    """Every file below ``directory`` by relative path -> SHA-256 of its bytes."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def _record(db_path: Path, runs: int) -> list[str]:
    made = []
    with Store.open(db_path) as store:
        for number in range(runs):
            run_id = store.start_run("patch", ["ghost"], {"n": number})
            store.append_transcript(run_id, "ghost", [f"output {number}"])
            change = {"name": "bash", "from": "1", "to": "2"}
            store.record_host_result(run_id, "ghost", {"status": "ok", "changes": [change]})
            store.update_hosts({"ghost": {"last_scan": 1.0, "pending": []}})
            store.finish_run(run_id, "ok", {"ok": 1})
            made.append(run_id)
    return made


def _inventory(tmp_path: Path) -> Path:
    # Port 1 on loopback refuses at once: writers fail on the store before connecting anyway.
    path = tmp_path / "inventory.yaml"
    path.write_text(
        "hosts:\n  ghost:\n    address: 127.0.0.1\n    port: 1\n    connect_timeout: 3\n"
    )
    return path


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_read_only_database_directory(mounts: None, tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = data / "patchtui.json"
    made = _record(db, 2)
    inventory = str(_inventory(tmp_path))
    before = _tree(data)

    def readonly(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["unshare", "-m", "sh", "-c", _READONLY, "sh", str(data), *patchtui_command(*args)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    # Readers work on a read-only disk: they take no lock and write nothing.
    listed = readonly("history", "--db", str(db), "--json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(json.loads(line).get("run_id") for line in listed.stdout.splitlines()[:-1]) == (
        sorted(made)
    )
    shown = readonly("history", "--db", str(db), "--run", made[1], "--host", "ghost")
    assert shown.returncode == 0 and "output 1" in shown.stdout, shown.stderr
    report = readonly("compliance", "-i", inventory, "--db", str(db), "--format", "json")
    assert report.returncode == 3, report.stderr  # evaluated: its only scan is from 1970
    assert json.loads(report.stdout.splitlines()[-1])["non_compliant"] == 1
    assert readonly("advisories", "--db", str(db)).returncode == 0
    assert readonly("db", "check", "--db", str(db)).returncode == 0

    # Writers: one line naming the file and the reason, exit 2.
    for args in (
        ["scan", "-i", inventory, "--db", str(db)],
        ["patch", "-i", inventory, "--db", str(db), "--yes"],
        ["run", "-i", inventory, "--db", str(db), "--", "true"],
        ["history", "prune", "--older-than", "0h", "--db", str(db)],
        ["db", "repair", "--db", str(db)],
    ):
        line = _one_line(readonly(*args))
        assert f"{db}.lock" in line and "Read-only file system" in line, (args, line)
    missing = _one_line(readonly("scan", "-i", inventory, "--db", str(data / "new" / "db.json")))
    assert f"cannot create the data directory {data / 'new'}" in missing
    assert _tree(data) == before  # nothing changed, nothing lost


_FULL_DISK = """
import errno, json, subprocess, sys
from pathlib import Path
from patchtui.errors import PatchtuiError
from patchtui.store import Store

data, inventory = Path(sys.argv[1]), sys.argv[2]
db = data / "patchtui.json"
cli = [sys.executable, "-m", "patchtui.cli"]
seen = {}

def run(name, *args):
    done = subprocess.run(cli + list(args), capture_output=True, text=True, timeout=120)
    seen[name] = {"code": done.returncode, "stdout": done.stdout, "stderr": done.stderr}

with Store.open(db) as store:
    for number in range(3):
        run_id = store.start_run("scan", ["ghost"], {})
        store.record_host_result(run_id, "ghost", {"status": "ok"})
        store.finish_run(run_id, "ok", {"ok": 1})
live = Store.open(db, batch_size=1000, batch_seconds=3600)
live_run = live.start_run("patch", [f"h{i}" for i in range(5)], {})
for host in ("h0", "h1"):
    live.record_host_result(live_run, host, {"status": "ok", "changes": [
        {"name": "bash", "from": "1", "to": "2"}]})
live.flush()

filler = data / "filler"
with open(filler, "wb") as handle:  # fill the disk, bounded
    for _ in range(100_000):
        try:
            handle.write(b"x" * 65536)
            handle.flush()
        except OSError as error:
            seen["filled"] = error.errno == errno.ENOSPC
            break

for host in ("h2", "h3", "h4"):
    live.record_host_result(live_run, host, {"status": "ok", "changes": [
        {"name": "bash", "from": "1", "to": "2"}]})
try:
    live.flush()
except PatchtuiError as error:
    seen["flush_error"] = str(error)
run("history_full", "history", "--db", str(db), "--json")
run("scan_full", "scan", "-i", inventory, "--db", str(db))
run("check_full", "db", "check", "--db", str(db))

filler.unlink()
live.finish_run(live_run, "ok", {"ok": 5})  # what was buffered is written now
live.close()
run("scan_after", "scan", "-i", inventory, "--db", str(db))
run("history_after", "history", "--db", str(db), "--json")
run("check_after", "db", "check", "--db", str(db))
with Store.open(db, readonly=True) as store:
    seen["live_results"] = sorted(doc["host"] for doc in store.host_results(live_run))
    seen["live_status"] = store.run(live_run)["status"]
print(json.dumps(seen))
"""


def test_full_disk(mounts: None, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    inventory = _inventory(tmp_path)
    script = tmp_path / "full_disk.py"
    script.write_text(_FULL_DISK)
    # mode=0755: a tmpfs root is 1777 by default, which the store rightly refuses.
    shell = 'mount -t tmpfs -o size=1m,mode=0755 tmpfs "$1" && shift && exec "$@"'
    done = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            shell,
            "sh",
            str(data),
            sys.executable,
            str(script),
            str(data),
            str(inventory),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["filled"] is True
    # The writer that hit the full disk: one line naming the file, the reason and what to do.
    assert "No space left on device (the disk is full: free some space" in seen["flush_error"]
    assert f"{data}/patchtui.history/" in seen["flush_error"]
    # A reader still works on the full disk (it writes nothing) and shows all 4 runs.
    history = seen["history_full"]
    assert history["code"] == 0, history["stderr"]
    assert json.loads(history["stdout"].splitlines()[-1]) == {"type": "summary", "runs": 4}
    scan = seen["scan_full"]
    assert scan["code"] == 2 and len(scan["stderr"].strip().splitlines()) == 1, scan
    assert "No space left on device" in scan["stderr"] and "Traceback" not in scan["stderr"]
    assert seen["check_full"]["code"] == 0, seen["check_full"]
    # Space freed: nothing buffered was lost, and writers work again.
    assert seen["live_results"] == ["h0", "h1", "h2", "h3", "h4"]
    assert seen["live_status"] == "ok"
    assert seen["scan_after"]["code"] == 1, seen["scan_after"]  # ghost is unreachable
    after = json.loads(seen["history_after"]["stdout"].splitlines()[-1])
    assert after == {"type": "summary", "runs": 5}, seen["history_after"]
    assert seen["check_after"]["code"] == 0, seen["check_after"]
