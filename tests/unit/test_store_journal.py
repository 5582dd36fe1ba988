"""The run journal: a host result is on disk when ``commit_hosts`` returns, and survives death.

A writer process commits results with batching set so high that nothing reaches the
shard or host files, then dies without closing (``os._exit``, as a SIGKILL would leave
it): the next ``Store.open`` must find every committed result and host update.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from patchtui.engine.recorder import Recorder
from patchtui.errors import StoreError
from patchtui.store import Store
from patchtui.store.check import check_db
from patchtui.store.db import HostRecord, journal_path_for, read_journal, shard_path_for

_COMMIT_AND_DIE = """
import json, os, sys
from pathlib import Path
from patchtui.store.db import HostRecord, Store
store = Store.open(Path(sys.argv[1]), batch_size=10_000, batch_seconds=3600)
run_id = store.start_run("patch", ["a", "b", "c"], {})
change = {"name": "bash", "before": "5.1-1", "after": "5.1-2"}
store.commit_hosts(run_id, [
    HostRecord("a", {"status": "ok", "changes": [change]}, {"last_patch": 1.0}, ["done a"]),
    HostRecord("b", {"status": "installing", "before": {"bash": "5.1-1"},
                     "changes": [], "changes_unknown": True}),
])
store.commit_hosts(run_id, [HostRecord("c", {"status": "installed", "changes": [change]})])
print(run_id, flush=True)
os._exit(0)  # no flush, no close: what a SIGKILL leaves
"""


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "patchtui.json"


def _commit_and_die(db_path: Path) -> str:
    Store.open(db_path).close()
    done = subprocess.run(
        [sys.executable, "-c", _COMMIT_AND_DIE, str(db_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_committed_results_survive_a_dead_process_and_in_progress_ones_become_interrupted(
    db_path: Path,
) -> None:
    run_id = _commit_and_die(db_path)
    shard = json.loads(shard_path_for(db_path, run_id).read_text())
    assert not shard.get("results"), (
        "batching kept them out of the shard: only the journal has them"
    )
    assert len(read_journal(journal_path_for(db_path, run_id))) == 3

    with Store.open(db_path) as store:
        assert store.recovered_runs == [run_id]
        results = {r["host"]: r for r in store.host_results(run_id)}
        assert set(results) == {"a", "b", "c"}
        assert results["a"]["status"] == "ok" and results["a"]["changes"][0]["after"] == "5.1-2"
        assert results["b"]["status"] == "interrupted"
        assert results["b"]["error_kind"] == "process-ended"
        assert "before-versions" in results["b"]["error"]
        assert results["b"]["changes_unknown"] is True
        assert results["c"]["status"] == "interrupted" and results["c"]["changes"]
        assert store.host("a")["last_patch"] == 1.0  # type: ignore[index]
    assert not journal_path_for(db_path, run_id).exists()
    # Replayed once: a second open changes nothing.
    with Store.open(db_path) as store:
        assert store.recovered_runs == []
        assert {r["host"] for r in store.host_results(run_id)} == {"a", "b", "c"}


def test_a_reader_first_after_a_kill_still_sees_the_journaled_results(db_path: Path) -> None:
    """'history' opens read-only (no lock); after a kill the results are in the journal
    only, so the first open replays them as a writer rather than show the run empty."""
    run_id = _commit_and_die(db_path)
    with Store.open(db_path, readonly=True) as reader:
        assert {r["host"] for r in reader.host_results(run_id)} == {"a", "b", "c"}
    assert not journal_path_for(db_path, run_id).exists()
    with Store.open(db_path, readonly=True) as reader:  # nothing left to replay: read-only
        assert reader.readonly
        assert {r["host"] for r in reader.host_results(run_id)} == {"a", "b", "c"}


def test_a_torn_last_line_is_left_out_and_the_rest_replayed(db_path: Path) -> None:
    run_id = _commit_and_die(db_path)
    journal = journal_path_for(db_path, run_id)
    with journal.open("ab") as handle:
        handle.write(b'{"host": "d", "result": {"status": "ok"')  # a power cut mid-write
    with Store.open(db_path) as store:
        assert {r["host"] for r in store.host_results(run_id)} == {"a", "b", "c"}


def test_replay_never_overwrites_a_host_written_later_by_another_process(db_path: Path) -> None:
    run_id = _commit_and_die(db_path)
    # Another process, after the dead one: its write is newer than the journal's.
    with Store.open(db_path, batch_size=1) as other:
        other_run = other.start_run("scan", ["a"], {})
        other.update_hosts({"a": {"last_patch": 99.0}})
        other.flush()
        other.finish_run(other_run, "ok", {})
    with Store.open(db_path) as store:
        assert store.host("a")["last_patch"] == 99.0  # type: ignore[index]
        assert len(store.host_results(run_id)) == 3


def test_finishing_a_run_drops_its_journal_and_results_stay(db_path: Path) -> None:
    with Store.open(db_path) as store:
        run_id = store.start_run("scan", ["a"], {})
        store.commit_hosts(run_id, [HostRecord("a", {"status": "ok"}, {"last_scan": 5.0})])
        assert journal_path_for(db_path, run_id).exists()
        store.finish_run(run_id, "ok", {"ok": 1})
        assert not journal_path_for(db_path, run_id).exists()
    with Store.open(db_path) as store:
        assert [r["status"] for r in store.host_results(run_id)] == ["ok"]
        assert store.host("a")["last_scan"] == 5.0  # type: ignore[index]


def test_a_journal_that_is_a_symlink_is_refused_not_followed(db_path: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("KEEP\n")
    with Store.open(db_path) as store:
        run_id = store.start_run("scan", ["a"], {})
        os.symlink(victim, journal_path_for(db_path, run_id))
        with pytest.raises(StoreError, match="cannot record run"):
            store.commit_hosts(run_id, [HostRecord("a", {"status": "ok"})])
        store.finish_run(run_id, "interrupted", {})
    assert victim.read_text() == "KEEP\n"


async def test_hosts_finishing_together_share_fsyncs_and_each_is_on_disk_when_awaited(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(db_path)
    recorder = Recorder(store)
    run_id = await recorder.start_run("scan", [f"h{i}" for i in range(50)], {})
    assert run_id is not None
    calls: list[int] = []
    real_commit = store.commit_hosts

    def slow_commit(run: str, records: Sequence[HostRecord]) -> None:
        calls.append(len(records))
        time.sleep(0.02)  # a slow disk's fsync: hosts finishing meanwhile join the next group
        real_commit(run, records)

    monkeypatch.setattr(store, "commit_hosts", slow_commit)
    journal = journal_path_for(db_path, run_id)

    async def finish(host: str) -> None:
        await recorder.commit_host(run_id, host, {"status": "ok"}, hot={"last_scan": 1.0})
        assert host in {entry["host"] for entry in read_journal(journal)}

    await asyncio.gather(*(finish(f"h{i}") for i in range(50)))
    assert sum(calls) == 50 and len(calls) < 10, calls
    await recorder.finish_run(run_id, "ok", {})
    assert len(store.host_results(run_id)) == 50
    store.close()


def test_closing_a_store_mid_install_says_interrupted_and_keeps_the_before_versions(
    db_path: Path,
) -> None:
    with Store.open(db_path) as store:
        run_id = store.start_run("patch", ["a"], {})
        store.commit_hosts(
            run_id,
            [HostRecord("a", {"status": "installing", "before": {"bash": "1"}, "changes": []})],
        )
    with Store.open(db_path) as store:
        (result,) = store.host_results(run_id)
        assert store.run(run_id)["status"] == "interrupted"  # type: ignore[index]
    assert result["status"] == "interrupted" and result["before"] == {"bash": "1"}
    assert result["error_kind"] == "process-ended"


def test_a_journal_left_by_a_finished_run_is_replayed_harmlessly_and_removed(
    db_path: Path,
) -> None:
    with Store.open(db_path) as store:
        run_id = store.start_run("scan", ["a"], {})
        store.commit_hosts(run_id, [HostRecord("a", {"status": "ok"}, None, ["line one"])])
        journal = journal_path_for(db_path, run_id)
        saved = journal.read_bytes()
        store.finish_run(run_id, "ok", {})
        (before,) = store.host_results(run_id)
    journal.write_bytes(saved)  # as if the process died between finishing and deleting it
    with Store.open(db_path) as store:
        (after,) = store.host_results(run_id)
        assert store.run(run_id)["status"] == "ok"  # type: ignore[index]
    assert after == before and after["transcript_tail"]
    assert not journal.exists()


def test_a_damaged_shard_keeps_its_journal(db_path: Path) -> None:
    run_id = _commit_and_die(db_path)
    shard_path_for(db_path, run_id).write_text("{not json")
    with Store.open(db_path) as store:
        assert store.recovered_runs == [run_id]
    assert journal_path_for(db_path, run_id).exists()  # the only copy of those results


def test_db_check_reports_a_journal_waiting_for_replay(db_path: Path) -> None:
    run_id = _commit_and_die(db_path)
    findings = [f for f in check_db(db_path) if "journal" in f.message]
    assert [(f.level, f.path) for f in findings] == [
        ("warning", str(journal_path_for(db_path, run_id)))
    ]
    assert "3 host result(s) wait in its journal" in findings[0].message
    assert f"run {run_id}" in findings[0].message
    with Store.open(db_path):  # the replay
        pass
    assert not [f for f in check_db(db_path) if "journal" in f.message]
