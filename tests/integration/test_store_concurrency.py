"""Two processes write the same database at once: no corruption, both runs complete."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from patchtui.store import Store, check_db
from patchtui.store.hostfiles import host_shard_files

HOSTS_PER_RUN = 150

_WRITER = """
import sys, time
from pathlib import Path
from patchtui.store import Store

db_path, name, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
store = Store.open(db_path, batch_size=3, batch_seconds=0.01, command=f"writer {name}")
deadline = time.monotonic() + 20
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.005)
hosts = [f"{name}-{index:03d}" for index in range({count})]
run_id = store.start_run("scan", hosts + ["shared"], {"writer": name})
for host in hosts + ["shared"]:
    store.append_transcript(run_id, host, [f"scanning {host}"])
    store.record_host_result(run_id, host, {"status": "ok", "writer": name})
    store.update_hosts({host: {"last_scan": time.time(), "writer": name}})
store.finish_run(run_id, "ok", {"ok": len(hosts) + 1})
store.close()
print(run_id, flush=True)
""".replace("{count}", str(HOSTS_PER_RUN))


def test_two_writers_at_once(tmp_path: Path) -> None:
    db_path = tmp_path / "patchtui.json"
    go = tmp_path / "go"
    Store.open(db_path).close()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(db_path), name, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("alpha", "beta")
    ]
    time.sleep(0.3)  # let both import and open before starting together
    go.touch()
    run_ids = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        run_ids.append(out.strip())

    raw = json.loads(db_path.read_text())
    names = [
        doc["name"]
        for path in host_shard_files(db_path)
        for doc in json.loads(path.read_text())["hosts"].values()
    ]
    assert len(names) == len(set(names)) == 2 * HOSTS_PER_RUN + 1  # no lost or duplicate hosts
    assert sorted(doc["run_id"] for doc in raw["runs"].values()) == sorted(run_ids)
    with Store.open(db_path) as store:
        for run_id, name in zip(run_ids, ("alpha", "beta"), strict=True):
            run = store.run(run_id)
            assert run is not None and run["status"] == "ok"
            results = store.host_results(run_id)
            assert len(results) == HOSTS_PER_RUN + 1
            assert {result["writer"] for result in results} == {name}
        assert store.host("shared") is not None
        first, second = (store.run(run_id) for run_id in run_ids)
        assert first and second
        # They really ran at the same time (else this test proves nothing).
        assert first["started"] < second["finished"] and second["started"] < first["finished"]
    assert check_db(db_path) == []


_STEADY_WRITER = """
import sys
from pathlib import Path
from patchtui.store import Store

store = Store.open(Path(sys.argv[1]), batch_size=5, batch_seconds=0.01)
for number in range(40):
    hosts = [f"host{index:02d}" for index in range(10)]
    run_id = store.start_run("scan", hosts, {"n": number})
    for host in hosts:
        store.append_transcript(run_id, host, [f"{host} run {number}"])
        store.record_host_result(run_id, host, {"status": "ok"})
        store.update_hosts({host: {"last_scan": float(number)}})
    store.finish_run(run_id, "ok", {"ok": len(hosts)})
store.close()
"""


def test_readers_need_no_lock_and_always_see_whole_files(tmp_path: Path) -> None:
    """Writers replace files by rename, so a lock-free reader sees one whole version each time."""
    db_path = tmp_path / "patchtui.json"
    Store.open(db_path).close()
    writer = subprocess.Popen(
        [sys.executable, "-c", _STEADY_WRITER, str(db_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reads, finished_seen = 0, 0
    deadline = time.monotonic() + 120
    try:
        while writer.poll() is None and time.monotonic() < deadline:
            with Store.open(db_path, readonly=True) as reader:
                runs = reader.runs()
                finished = [run for run in runs if run["status"] == "ok"]
                # Never fewer finished runs than already seen, never a half-recorded one.
                assert len(finished) >= finished_seen
                finished_seen = len(finished)
                for run in finished[:3]:
                    assert len(reader.host_results(run["run_id"])) == 10
                assert all(doc.get("last_scan") is not None for doc in reader.hosts())
            reads += 1
    finally:
        _, stderr = writer.communicate(timeout=120)
    assert writer.returncode == 0, stderr
    assert reads >= 5, f"only {reads} reads while the writer ran"
    with Store.open(db_path, readonly=True) as reader:
        assert len(reader.runs()) == 40
