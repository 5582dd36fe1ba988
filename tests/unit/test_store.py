"""Store behaviour in one process: recording, batching, reads, caches, locks, recovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import pytest

from patchtui.errors import StoreError, StoreLockedError
from patchtui.store import Store
from patchtui.store.db import history_dir_for, shard_path_for
from patchtui.store.hostfiles import host_shard_files
from patchtui.store.lock import StoreLock
from patchtui.store.storage import temp_name_prefix


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "patchtui.json"


def _raw(path: Path) -> dict:
    return json.loads(path.read_text())


def _raw_hosts(db_path: Path) -> list[dict]:
    return [doc for path in host_shard_files(db_path) for doc in _raw(path)["hosts"].values()]


def test_run_round_trip(db_path: Path) -> None:
    with Store.open(db_path) as store:
        run_id = store.start_run("patch", ["web1", "web2"], {"reboot": "never"})
        store.record_host_result(
            run_id,
            "web1",
            {"status": "ok", "changes": [{"name": "bash", "from": "5.1", "to": "5.2"}]},
        )
        store.record_host_result(run_id, "web2", {"status": "failed", "error": "dpkg lock"})
        store.finish_run(run_id, "failed", {"ok": 1, "failed": 1})

        run = store.run(run_id)
        assert run is not None
        assert run["status"] == "failed"
        assert run["operation"] == "patch"
        assert run["options"] == {"reboot": "never"}
        assert run["user"]
        assert run["hosts"] == ["web1", "web2"]
        assert run["counts"] == {"ok": 1, "failed": 1}
        assert run["finished"] >= run["started"]
        results = store.host_results(run_id)
        assert [(r["host"], r["status"]) for r in results] == [("web1", "ok"), ("web2", "failed")]
        assert results[0]["changes"] == [{"name": "bash", "from": "5.1", "to": "5.2"}]
        assert [r["run_id"] for r in store.results_for_host("web2")] == [run_id]


def test_run_ids_sort_by_start_and_runs_newest_first(db_path: Path) -> None:
    with Store.open(db_path) as store:
        ids = []
        for host in ("a", "b", "c"):
            run_id = store.start_run("scan", [host], {})
            store.finish_run(run_id, "ok", {})
            ids.append(run_id)
        assert ids == sorted(ids)
        assert [run["run_id"] for run in store.runs()] == ids[::-1]
        assert [run["run_id"] for run in store.runs(limit=2)] == ids[:0:-1]
        assert [run["run_id"] for run in store.runs(host="b")] == [ids[1]]


def test_results_are_batched_but_finish_run_is_durable(db_path: Path) -> None:
    store = Store.open(db_path, batch_size=1000, batch_seconds=3600)
    run_id = store.start_run("scan", [f"h{i}" for i in range(50)], {})
    shard = shard_path_for(db_path, run_id)
    before = shard.stat().st_ino
    for index in range(50):
        store.record_host_result(run_id, f"h{index}", {"status": "ok"})
        store.update_hosts({f"h{index}": {"last_scan": 1.0}})
    # Nothing rewritten yet, but this store's reads see the buffered data.
    assert shard.stat().st_ino == before
    assert len(store.host_results(run_id)) == 50
    assert store.host("h7") == {"name": "h7", "last_scan": 1.0}
    store.finish_run(run_id, "ok", {"ok": 50})
    assert shard.stat().st_ino != before
    # A second, independent reader sees everything finish_run promised.
    reader = Store.open(db_path)
    assert reader.run(run_id)["status"] == "ok"  # type: ignore[index]
    assert len(reader.host_results(run_id)) == 50
    assert len(reader.hosts()) == 50
    store.close()
    reader.close()


def test_batch_size_triggers_a_write(db_path: Path) -> None:
    with Store.open(db_path, batch_size=10, batch_seconds=3600) as store:
        run_id = store.start_run("scan", [], {})
        for index in range(10):
            store.record_host_result(run_id, f"h{index}", {"status": "ok"})
        stored = _raw(shard_path_for(db_path, run_id))["results"]
        assert len(stored) == 10


def test_pending_first_seen_is_kept_across_scans(db_path: Path) -> None:
    with Store.open(db_path) as store:
        openssl = {"name": "openssl", "candidate": "3.0.2-1", "security": True}
        store.update_hosts({"db1": {"last_scan": 1000.0, "pending": [openssl]}})
        store.flush()
        curl = {"name": "curl", "candidate": "8.1", "security": False}
        store.update_hosts({"db1": {"last_scan": 2000.0, "pending": [dict(openssl), curl]}})
        store.flush()
        host = store.host("db1")
        assert host is not None
        seen = {item["name"]: item["first_seen"] for item in host["pending"]}
        assert seen == {"openssl": 1000.0, "curl": 2000.0}
        assert host["counts"] == {"pending": 2, "security": 1}
        # Installed, then offered again as a newer candidate: the clock restarts.
        store.update_hosts({"db1": {"last_scan": 3000.0, "pending": []}})
        newer = {"name": "openssl", "candidate": "3.0.2-2", "security": True}
        store.update_hosts({"db1": {"last_scan": 4000.0, "pending": [newer]}})
        store.flush()
        assert store.host("db1")["pending"][0]["first_seen"] == 4000.0  # type: ignore[index]


def test_reboot_required_since_is_the_start_of_the_pending_reboot(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.update_hosts({"web1": {"reboot_required": True}})
        store.flush()
        since = store.host("web1")["reboot_required_since"]  # type: ignore[index]
        assert isinstance(since, float)
        store.update_hosts({"web1": {"reboot_required": True, "last_scan": since + 100}})
        store.flush()
        assert store.host("web1")["reboot_required_since"] == since  # type: ignore[index]
        store.update_hosts({"web1": {"reboot_required": False}})
        store.flush()
        assert store.host("web1")["reboot_required_since"] is None  # type: ignore[index]
        store.update_hosts({"web1": {"last_state": "ok"}})  # no reboot news: untouched
        store.flush()
        assert store.host("web1")["reboot_required_since"] is None  # type: ignore[index]


class _Kind(StrEnum):
    OK = "ok"


@dataclass(frozen=True)
class _Change:
    name: str
    versions: tuple[str, str]


@dataclass(frozen=True)
class _Result:
    status: _Kind
    changes: tuple[_Change, ...]
    where: Path


def test_dataclasses_and_enums_are_stored_as_json(db_path: Path) -> None:
    with Store.open(db_path) as store:
        run_id = store.start_run("patch", ["x"], {"hosts": ("x",)})
        result = _Result(_Kind.OK, (_Change("bash", ("1", "2")),), Path("/tmp/x"))
        store.record_host_result(run_id, "x", result)  # type: ignore[arg-type]
        store.finish_run(run_id, "ok", {})
    doc = next(iter(_raw(shard_path_for(db_path, run_id))["results"].values()))
    assert doc["status"] == "ok"
    assert doc["changes"] == [{"name": "bash", "versions": ["1", "2"]}]
    assert doc["where"] == "/tmp/x"


def test_transcripts_live_beside_the_db_with_tail_and_cap(db_path: Path) -> None:
    with Store.open(db_path, transcript_cap_bytes=2000) as store:
        run_id = store.start_run("patch", ["web/1"], {})
        for index in range(300):
            store.append_transcript(run_id, "web/1", [f"line {index:04d} " + "x" * 20])
        store.record_host_result(run_id, "web/1", {"status": "ok"})
        store.append_transcript(run_id, "web/1", ["after the result"])
        store.finish_run(run_id, "ok", {})
        text = store.transcript(run_id, "web/1")
        result = store.host_results(run_id)[0]
    path = db_path.parent / result["transcript_path"]
    assert path.parent == history_dir_for(db_path) / run_id
    assert "/" not in path.name  # the host name cannot escape the run directory
    assert path.stat().st_size <= 2000 + 100
    assert text.startswith("line 0000 ")
    assert text.rstrip().endswith("[patchtui: transcript truncated at 2000 bytes]")
    assert result["transcript_truncated"] is True
    # The tail in the database is the real end of the output, past the cap.
    assert result["transcript_tail"].endswith("line 0299 " + "x" * 20 + "\nafter the result")


def test_corrupt_db_is_a_clear_error_and_never_overwritten(db_path: Path) -> None:
    Store.open(db_path).close()
    broken = b'{"meta": {"1": {"schema_version": 1}}, "hosts": {"1": {"name": '
    db_path.write_bytes(broken)
    with pytest.raises(StoreError) as caught:
        Store.open(db_path)
    message = str(caught.value)
    assert f"database {db_path} is corrupt" in message
    assert "line 1 column" in message
    assert "patchtui db check" in message
    assert db_path.read_bytes() == broken


def test_wrong_shape_is_corrupt_too(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_text('{"hosts": [1, 2]}')
    with pytest.raises(StoreError, match="not an object of documents"):
        Store.open(db_path)


def test_stray_temp_files_are_removed_at_open(db_path: Path) -> None:
    Store.open(db_path).close()
    stray = db_path.with_name(temp_name_prefix(db_path) + "999-dead")
    stray.write_text('{"half": ')
    Store.open(db_path).close()
    assert not stray.exists()


def test_second_store_in_same_process_sees_fresh_ids(db_path: Path) -> None:
    """TinyDB caches next ids per Table: interleaved writers must not reuse them."""
    first, second = Store.open(db_path), Store.open(db_path)
    made = []
    for index in range(6):
        store = first if index % 2 else second
        run_id = store.start_run("scan", [], {})
        store.finish_run(run_id, "ok", {})
        store.update_hosts({f"host{index}": {"last_scan": float(index)}})
        store.flush()
        made.append(run_id)
    raw = _raw(db_path)
    assert sorted(doc["run_id"] for doc in raw["runs"].values()) == sorted(made)
    assert sorted(doc["name"] for doc in _raw_hosts(db_path)) == [f"host{i}" for i in range(6)]
    first.close()
    second.close()


def test_lock_wait_is_bounded_and_names_the_holder(db_path: Path) -> None:
    Store.open(db_path).close()
    holder = StoreLock(db_path, command="patchtui scan")
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.hold(5):
            entered.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert entered.wait(5)
        started = time.monotonic()
        with pytest.raises(StoreLockedError) as caught:
            Store.open(db_path, lock_timeout=0.3)
        assert 0.25 < time.monotonic() - started < 3
        message = str(caught.value)
        assert f"database {db_path} is locked by pid {os.getpid()} (patchtui scan) since" in message
    finally:
        release.set()
        thread.join(5)
    Store.open(db_path, lock_timeout=1).close()


_START_AND_DIE = """
import os, sys
from pathlib import Path
from patchtui.store import Store
store = Store.open(Path(sys.argv[1]))
run_id = store.start_run("patch", ["a"], {})
store.record_host_result(run_id, "a", {"status": "ok"})
store.flush()
print(run_id, flush=True)
os._exit(0)  # no close(): like a killed process
"""


def test_runs_of_dead_processes_are_marked_interrupted(db_path: Path) -> None:
    with Store.open(db_path) as live:
        alive_run = live.start_run("scan", [], {})
        done = subprocess.run(
            [sys.executable, "-c", _START_AND_DIE, str(db_path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        dead_run = done.stdout.strip()
        assert live.run(dead_run)["status"] == "running"  # type: ignore[index]
        # Another store (as another process would) recovers only the dead run.
        with Store.open(db_path) as other:
            assert other.recovered_runs == [dead_run]
            assert other.run(dead_run)["status"] == "interrupted"  # type: ignore[index]
            assert other.run(alive_run)["status"] == "running"  # type: ignore[index]
        assert len(live.host_results(dead_run)) == 1
        live.finish_run(alive_run, "ok", {})
        assert live.run(alive_run)["status"] == "ok"  # type: ignore[index]


def test_close_marks_unfinished_runs_interrupted(db_path: Path) -> None:
    store = Store.open(db_path)
    run_id = store.start_run("patch", ["a"], {})
    store.close()
    with Store.open(db_path) as again:
        assert again.run(run_id)["status"] == "interrupted"  # type: ignore[index]


def test_prune_removes_old_runs_and_their_files(db_path: Path) -> None:
    with Store.open(db_path) as store:
        old = store.start_run("scan", ["a"], {})
        store.append_transcript(old, "a", ["x"])
        store.record_host_result(old, "a", {"status": "ok"})
        store.finish_run(old, "ok", {})
        running = store.start_run("scan", ["a"], {})
        time.sleep(0.05)
        assert store.prune(older_than_days=0.01 / 86400) == 1
        assert [run["run_id"] for run in store.runs()] == [running]
        assert not shard_path_for(db_path, old).exists()
        assert not (history_dir_for(db_path) / old).exists()
        store.finish_run(running, "ok", {})


def test_unknown_run_and_bad_status_are_refused(db_path: Path) -> None:
    with Store.open(db_path) as store:
        with pytest.raises(ValueError):
            store.record_host_result("nope", "a", {"status": "ok"})
        run_id = store.start_run("scan", [], {})
        with pytest.raises(ValueError):
            store.finish_run(run_id, "running", {})
        store.finish_run(run_id, "halted", {})
