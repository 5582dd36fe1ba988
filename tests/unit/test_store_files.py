"""The store never reads or writes through a link, refuses unsafe directories, reads without a lock.

Each refusal is checked for what matters to a victim: the link's target is
byte-for-byte unchanged, and the user gets one line (exit 2 from the CLI).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from labhelp import run_patchtui

from patchtui.errors import StoreError
from patchtui.store import Store, check_db, repair_db
from patchtui.store import db as db_module
from patchtui.store import storage as storage_module
from patchtui.store.db import history_dir_for, live_path_for, shard_path_for
from patchtui.store.files import copy_to_new
from patchtui.store.hostfiles import host_shard_files, host_shard_path, hosts_dir_for
from patchtui.store.lock import StoreLock, lock_path_for

VICTIM_TEXT = b"KEEP: a file that belongs to someone else\n"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "patchtui.json"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file outside the data directory that a planted link points at."""
    path = tmp_path / "elsewhere" / "victim"
    path.parent.mkdir()
    path.write_bytes(VICTIM_TEXT)
    return path


def _record_runs(db_path: Path, count: int = 2) -> list[str]:
    made = []
    with Store.open(db_path) as store:
        for number in range(count):
            run_id = store.start_run("scan", ["web1", "web2"], {"n": number})
            store.append_transcript(run_id, "web1", [f"line {number}"])
            store.record_host_result(run_id, "web1", {"status": "ok"})
            store.update_hosts({"web1": {"last_scan": float(number)}})
            store.finish_run(run_id, "ok", {"ok": 1})
            made.append(run_id)
    return made


def _one_line_error(result: object) -> str:
    stderr = str(getattr(result, "stderr", ""))
    assert getattr(result, "returncode", None) == 2, (result, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("patchtui: error: ") and "Traceback" not in stderr
    return lines[0]


# ----------------------------------------------------------------- links at store names


def test_symlinked_lock_file_is_refused_by_every_command(db_path: Path, victim: Path) -> None:
    _record_runs(db_path, 1)
    lock = lock_path_for(db_path)
    lock.unlink()
    lock.symlink_to(victim)
    for args in (["history"], ["history", "prune", "--older-than", "1d"], ["db", "repair"]):
        line = _one_line_error(run_patchtui(*args, "--db", str(db_path), timeout=60))
        assert f"{lock} is a symbolic link" in line
        assert victim.read_bytes() == VICTIM_TEXT
    with pytest.raises(StoreError, match="is a symbolic link"):
        Store.open(db_path)
    with pytest.raises(StoreError, match="is a symbolic link"):
        StoreLock(db_path).hold(1).__enter__()
    assert [f.level for f in check_db(db_path)] == ["error"]
    assert victim.read_bytes() == VICTIM_TEXT
    assert lock.is_symlink()  # refused, not silently replaced either


def test_the_issue_reproduction_leaves_the_victim_alone(tmp_path: Path, victim: Path) -> None:
    """Issue 13: ``ln -s VICTIM p.json.lock; patchtui history --db p.json`` wrote into VICTIM."""
    directory = tmp_path / "x"
    directory.mkdir()
    (directory / "p.json.lock").symlink_to(victim)
    line = _one_line_error(run_patchtui("history", "--db", str(directory / "p.json")))
    assert "p.json.lock is a symbolic link" in line
    assert victim.read_bytes() == VICTIM_TEXT
    assert sorted(entry.name for entry in directory.iterdir()) == ["p.json.lock"]


def test_hard_linked_or_fifo_lock_file_is_refused(db_path: Path, tmp_path: Path) -> None:
    _record_runs(db_path, 1)
    lock = lock_path_for(db_path)
    lock.unlink()
    other = tmp_path / "other"
    other.write_bytes(VICTIM_TEXT)
    os.link(other, lock)
    with pytest.raises(StoreError, match="2 hard links"):
        Store.open(db_path)
    assert other.read_bytes() == VICTIM_TEXT
    lock.unlink()
    os.mkfifo(lock)
    # A FIFO would block a plain open() forever; it must be refused at once.
    with pytest.raises(StoreError, match="not a regular file"):
        Store.open(db_path, lock_timeout=1)


def test_symlinked_temp_file_is_refused(
    db_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Temp names are random (unguessable); if one exists anyway, O_EXCL refuses it."""
    _record_runs(db_path, 1)
    before = db_path.read_bytes()
    planted = db_path.with_name(storage_module.temp_name_prefix(db_path) + "guessed")
    with Store.open(db_path, lock_timeout=1) as store:
        planted.symlink_to(victim)  # after open: open removes stray temp names
        monkeypatch.setattr(storage_module, "temp_path_for", lambda path: planted)
        with pytest.raises(StoreError, match=r"already exists at that name \(a symbolic link\)"):
            store.start_run("scan", ["web1"], {})
        monkeypatch.undo()
    assert victim.read_bytes() == VICTIM_TEXT
    assert db_path.read_bytes() == before  # nothing was half-written either
    assert planted.is_symlink()


def test_symlinked_host_shard_is_refused_on_read_and_write(db_path: Path, victim: Path) -> None:
    _record_runs(db_path, 1)
    shard = host_shard_files(db_path)[0]
    shard.unlink()
    shard.symlink_to(victim)
    with Store.open(db_path) as store:
        with pytest.raises(StoreError, match="is a symbolic link"):
            store.hosts()
        store.update_hosts({"web1": {"last_scan": 9.0}})
        with pytest.raises(StoreError, match="is a symbolic link"):
            store.flush()
        store._pending_hosts.clear()  # let close() finish: the refusal was the point
    assert victim.read_bytes() == VICTIM_TEXT
    assert shard.is_symlink()
    line = _one_line_error(run_patchtui("advisories", "--db", str(db_path), timeout=60))
    assert f"{shard} is a symbolic link" in line


def test_a_new_host_shard_name_holding_a_link_is_refused(db_path: Path, victim: Path) -> None:
    """The host file does not exist yet, but a link waits at its name: not replaced, refused."""
    Store.open(db_path).close()
    hosts_dir_for(db_path).mkdir()
    with Store.open(db_path) as store:
        target = host_shard_path(db_path, store._host_files.shard_of("web1"))
        target.symlink_to(victim)
        store.update_hosts({"web1": {"last_scan": 1.0}})
        with pytest.raises(StoreError, match="is a symbolic link"):
            store.flush()
        store._pending_hosts.clear()
    assert victim.read_bytes() == VICTIM_TEXT and target.is_symlink()


def test_symlinked_history_shard_and_transcript_are_refused(db_path: Path, victim: Path) -> None:
    (run_id,) = _record_runs(db_path, 1)
    shard = shard_path_for(db_path, run_id)
    shard.unlink()
    shard.symlink_to(victim)
    with Store.open(db_path) as store, pytest.raises(StoreError, match="is a symbolic link"):
        store.host_results(run_id)
    assert victim.read_bytes() == VICTIM_TEXT

    with Store.open(db_path) as store:
        run_id = store.start_run("run", ["web1"], {})
        transcript = history_dir_for(db_path) / run_id / "web1.log"
        transcript.parent.mkdir()
        transcript.symlink_to(victim)
        store.append_transcript(run_id, "web1", ["secret output"])
        with pytest.raises(StoreError, match="is a symbolic link"):
            store.flush()
        store._transcripts.forget_run(run_id)
        store.finish_run(run_id, "failed", {})
    assert victim.read_bytes() == VICTIM_TEXT


def test_live_file_is_created_exclusively(
    db_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = live_path_for(db_path, "fixed")
    monkeypatch.setattr(db_module, "new_run_id", lambda now=None: "fixed")
    with Store.open(db_path) as store:
        planted.symlink_to(victim)  # after open: open removes live files of finished runs
        with pytest.raises(StoreError, match="is a symbolic link"):
            store.start_run("scan", [], {})
    assert victim.read_bytes() == VICTIM_TEXT and planted.is_symlink()


def test_backups_never_write_through_a_link(tmp_path: Path, victim: Path) -> None:
    source = tmp_path / "source.json"
    source.write_text('{"a": 1}')
    wanted = tmp_path / "source.json.bak-1"
    wanted.symlink_to(victim)
    used = copy_to_new(source, wanted)
    assert used == tmp_path / "source.json.bak-1.1"
    assert used.read_text() == '{"a": 1}'
    assert victim.read_bytes() == VICTIM_TEXT and wanted.is_symlink()


# ------------------------------------------------------------------- directories


def test_symlinked_history_directory_is_refused(db_path: Path, tmp_path: Path) -> None:
    _record_runs(db_path, 1)
    history = history_dir_for(db_path)
    moved = tmp_path / "moved-history"
    history.rename(moved)
    history.symlink_to(moved)
    with pytest.raises(StoreError, match="is a symbolic link"):
        Store.open(db_path)
    with pytest.raises(StoreError, match="is a symbolic link"):
        Store.open(db_path, readonly=True)


def test_world_writable_data_directory_is_refused_even_sticky(db_path: Path) -> None:
    db_path.parent.mkdir()
    for mode in (0o777, 0o1777):
        db_path.parent.chmod(mode)
        with pytest.raises(StoreError, match="writable by every user") as caught:
            Store.open(db_path)
        assert f"chmod o-w {db_path.parent}" in str(caught.value)
        assert not lock_path_for(db_path).exists()  # refused before anything was created
    db_path.parent.chmod(0o775)  # group-writable: a team's directory, accepted
    Store.open(db_path).close()


def test_directory_of_another_user_is_refused(db_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a directory to another user")
    db_path.parent.mkdir()
    os.chown(db_path.parent, 65534, 65534)
    with pytest.raises(StoreError, match=r"belongs to .*uid 65534.*not to"):
        Store.open(db_path)
    with pytest.raises(StoreError, match="belongs to"):
        repair_db(db_path)


def test_data_directory_reached_through_a_link_is_fine(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    _record_runs(tmp_path / "link" / "db.json", 1)
    assert (real / "db.json").is_file() and not (real / "db.json").is_symlink()


# ------------------------------------------------- the database path itself (item 6)


def test_symlinked_database_is_refused_and_never_split(db_path: Path, tmp_path: Path) -> None:
    made = _record_runs(db_path, 2)
    link = tmp_path / "link.json"
    link.symlink_to(db_path)
    before = db_path.read_bytes()
    for readonly in (False, True):
        with pytest.raises(StoreError, match=f"use --db {db_path}"):
            Store.open(link, readonly=readonly)
    for args in (["history"], ["history", "prune", "--older-than", "0h"], ["db", "repair"]):
        line = _one_line_error(run_patchtui(*args, "--db", str(link), timeout=60))
        assert "is a symbolic link" in line
    # Never split: the link is still a link to the one real file, which is unchanged.
    assert link.is_symlink() and link.resolve() == db_path.resolve()
    assert db_path.read_bytes() == before
    with Store.open(db_path, readonly=True) as store:
        assert sorted(run["run_id"] for run in store.runs()) == sorted(made)


def test_truncated_database_is_damage_and_repair_recovers_the_runs(db_path: Path) -> None:
    made = _record_runs(db_path, 3)
    db_path.write_bytes(b"")
    line = _one_line_error(run_patchtui("history", "--db", str(db_path), timeout=60))
    assert "is empty (0 bytes)" in line and "patchtui db repair" in line
    with pytest.raises(StoreError, match="empty"):
        Store.open(db_path)
    assert db_path.read_bytes() == b""  # reported, never taken for a new database
    report = repair_db(db_path)
    assert report.ok, report.remaining
    assert any(backup.name.startswith("patchtui.json.corrupt-") for backup in report.backups)
    listed = run_patchtui("history", "--db", str(db_path), "--json", timeout=60)
    assert listed.returncode == 0, listed.stderr
    runs = [json.loads(line) for line in listed.stdout.splitlines()][:-1]
    assert sorted(run["run_id"] for run in runs) == sorted(made)
    assert {run["status"] for run in runs} == {"completed"}  # stored 'ok', read in today's words


def test_truncated_host_file_is_damage_not_an_empty_fleet(db_path: Path) -> None:
    _record_runs(db_path, 1)
    shard = host_shard_files(db_path)[0]
    shard.write_bytes(b"")
    with Store.open(db_path) as store, pytest.raises(StoreError, match="is empty"):
        store.hosts()
    assert [f.level for f in check_db(db_path)] == ["error"]


# -------------------------------------------------------- readers need no lock (item 7)


def test_history_reads_while_the_lock_is_held(db_path: Path) -> None:
    made = _record_runs(db_path, 2)
    holder = StoreLock(db_path, command="patchtui scan")
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.hold(5):
            entered.set()
            release.wait(60)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert entered.wait(5)
        listed = run_patchtui("history", "--db", str(db_path), "--json", timeout=60)
        assert listed.returncode == 0, listed.stderr
        lines = [json.loads(line) for line in listed.stdout.splitlines()]
        assert lines[-1] == {"type": "summary", "runs": 2}
        assert sorted(line["run_id"] for line in lines[:-1]) == sorted(made)
        one = run_patchtui("history", "--db", str(db_path), "--run", made[0], "--host", "web1")
        assert one.returncode == 0, one.stderr
        assert "line 0" in one.stdout  # the transcript file, read without the lock
    finally:
        release.set()
        thread.join(10)


_START_AND_DIE = """
import os, sys
from pathlib import Path
from patchtui.store import Store
store = Store.open(Path(sys.argv[1]))
run_id = store.start_run("patch", ["a"], {})
store.record_host_result(run_id, "a", {"status": "ok"})
store.flush()
print(run_id, flush=True)
os._exit(0)
"""


def test_reader_shows_a_dead_run_interrupted_without_writing(db_path: Path) -> None:
    with Store.open(db_path) as writer:
        alive = writer.start_run("scan", [], {})
        done = subprocess.run(
            [sys.executable, "-c", _START_AND_DIE, str(db_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        dead = done.stdout.strip()
        before = db_path.read_bytes()
        with Store.open(db_path, readonly=True) as reader:
            assert reader.run(dead)["status"] == "interrupted"  # type: ignore[index]
            assert reader.run(alive)["status"] == "running"  # type: ignore[index]
            with pytest.raises(StoreError, match="opened read-only"):
                reader.start_run("scan", [], {})
        assert db_path.read_bytes() == before  # the reader recorded nothing
        writer.finish_run(alive, "ok", {})
    with Store.open(db_path) as writer:  # the next writer records it
        assert writer.recovered_runs == [dead]


def test_reader_of_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nothing" / "db.json"
    with Store.open(path, readonly=True) as store:
        assert store.runs() == [] and store.hosts() == []
    assert not path.parent.exists()


def test_directories_patchtui_creates_pass_its_own_check_under_umask_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patchtui import paths

    monkeypatch.setenv("PATCHTUI_DATA_DIR", str(tmp_path / "fresh"))
    old = os.umask(0)
    try:
        made = _record_runs(paths.default_db_path(), 1)
    finally:
        os.umask(old)
    db = paths.default_db_path()
    for directory in (db.parent, history_dir_for(db), history_dir_for(db) / made[0]):
        assert directory.stat().st_mode & 0o777 == 0o755, directory


def test_backups_keep_the_original_mode_whatever_the_umask(tmp_path: Path) -> None:
    source = tmp_path / "source.json"
    source.write_text("{}")
    source.chmod(0o640)
    old = os.umask(0o077)
    try:
        used = copy_to_new(source, tmp_path / "source.json.bak")
    finally:
        os.umask(old)
    assert used.stat().st_mode & 0o777 == 0o640


def test_a_link_swapped_in_after_open_does_not_redirect_writes(
    db_path: Path, tmp_path: Path
) -> None:
    """A console stays open for hours: the store's directories are checked at each write."""
    elsewhere = tmp_path / "elsewhere-dir"
    elsewhere.mkdir()
    with Store.open(db_path, batch_size=1000) as store:
        run_id = store.start_run("scan", ["web1"], {})
        store.update_hosts({"web1": {"last_scan": 1.0}})
        store.flush()
        for directory in (history_dir_for(db_path), hosts_dir_for(db_path)):
            directory.rename(tmp_path / f"moved-{directory.name}")
            directory.symlink_to(elsewhere)
        store.append_transcript(run_id, "web1", ["output"])
        with pytest.raises(StoreError, match="is a symbolic link"):
            store.flush()  # transcripts first
        store._transcripts.forget_run(run_id)
        store.record_host_result(run_id, "web1", {"status": "ok"})
        with pytest.raises(StoreError, match=r"history is a symbolic link"):
            store.flush()  # the run's history file
        store._pending_results.clear()
        store.update_hosts({"web1": {"last_scan": 2.0}})
        with pytest.raises(StoreError, match="hosts is a symbolic link"):
            store.flush()  # the host files
        store._pending_hosts.clear()
        store._active.clear()  # the run cannot be finished here: nothing more to write
    assert list(elsewhere.iterdir()) == []


def test_baselines_file_is_never_read_or_replaced_through_a_link(
    db_path: Path, victim: Path
) -> None:
    from patchtui.baselines.store import BaselineBook, baselines_path

    Store.open(db_path).close()
    baselines_path(db_path).symlink_to(victim)
    book = BaselineBook(db_path, lock_timeout=1)
    with pytest.raises(StoreError, match="is a symbolic link"):
        book.list()
    with pytest.raises(StoreError, match="is a symbolic link"):
        book.delete("anything")
    assert victim.read_bytes() == VICTIM_TEXT and baselines_path(db_path).is_symlink()
