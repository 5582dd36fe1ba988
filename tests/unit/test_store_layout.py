"""Schema v2 layout: host files sharded by name, the v1 -> v2 migration, caches, check/repair."""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from patchtui.store import Store, check_db, hostfiles, repair_db, schema
from patchtui.store.db import shard_path_for
from patchtui.store.hostfiles import (
    HostFiles,
    host_shard_files,
    host_shard_path,
    hosts_dir_for,
    shard_index,
)
from patchtui.store.storage import atomic_write_tables


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "patchtui.json"


def _inodes(paths: list[Path]) -> dict[Path, int]:
    return {path: path.stat().st_ino for path in paths}


def _write_v1(db_path: Path, hosts: int) -> tuple[bytes, str]:
    """A v1 database: hosts and the run index in the main file; (its bytes, the run id)."""
    run_id = "20250101T000000.000000Z-abcdef"
    run = {"run_id": run_id, "operation": "scan", "status": "ok", "started": 1.0}
    tables = {
        "meta": {"1": {"schema_version": 1, "created": 1.0}},
        "hosts": {
            str(i + 1): {"name": f"h{i:03d}", "last_scan": float(i), "pending": []}
            for i in range(hosts)
        },
        "runs": {"1": run},
    }
    atomic_write_tables(
        shard_path_for(db_path, run_id),
        {"run": {"1": {**run, "hosts": ["h000"]}}, "results": {"1": {"host": "h000"}}},
    )
    atomic_write_tables(db_path, tables)
    return db_path.read_bytes(), run_id


def test_v1_is_migrated_to_host_files_with_a_backup(db_path: Path) -> None:
    v1_bytes, run_id = _write_v1(db_path, 200)
    with Store.open(db_path) as store:
        hosts = store.hosts()
        assert [doc["name"] for doc in hosts] == [f"h{i:03d}" for i in range(200)]
        assert store.host("h042") == {"name": "h042", "last_scan": 42.0, "pending": []}
        assert store.run(run_id)["hosts"] == ["h000"]  # type: ignore[index]
        assert len(store.host_results(run_id)) == 1
    main = json.loads(db_path.read_text())
    assert "hosts" not in main
    assert schema.schema_version(main) == 2
    assert schema.host_shard_count(main) == schema.HOST_SHARDS
    backups = list(db_path.parent.glob("patchtui.json.pre-v2-*"))
    assert [backup.read_bytes() for backup in backups] == [v1_bytes]
    # Every host is in the file its name hashes to, exactly once.
    for path in host_shard_files(db_path):
        for doc in json.loads(path.read_text())["hosts"].values():
            assert path == host_shard_path(db_path, shard_index(doc["name"], schema.HOST_SHARDS))
    assert 1 < len(host_shard_files(db_path)) <= schema.HOST_SHARDS
    assert check_db(db_path) == []


def test_an_interrupted_migration_is_redone_from_the_v1_file(db_path: Path) -> None:
    _write_v1(db_path, 20)
    # A crash after some host files were written: stale files must not shadow v1 data.
    stale = host_shard_path(db_path, shard_index("ghost", schema.HOST_SHARDS))
    atomic_write_tables(stale, {"hosts": {"1": {"name": "ghost"}}})
    with Store.open(db_path) as store:
        assert [doc["name"] for doc in store.hosts()] == [f"h{i:03d}" for i in range(20)]


def test_run_start_and_finish_never_rewrite_host_files(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.update_hosts({f"h{i}": {"last_scan": 1.0} for i in range(100)})
        store.flush()
        before = _inodes(host_shard_files(db_path))
        run_id = store.start_run("scan", ["h1"], {})
        store.record_host_result(run_id, "h1", {"status": "ok"})
        store.finish_run(run_id, "ok", {"ok": 1})
        assert _inodes(host_shard_files(db_path)) == before
        # One host's update rewrites only that host's file.
        store.update_hosts({"h7": {"last_scan": 2.0}})
        store.flush()
        after = _inodes(host_shard_files(db_path))
        changed = [path for path in after if after[path] != before.get(path)]
        assert changed == [host_shard_path(db_path, shard_index("h7", schema.HOST_SHARDS))]
        assert store.host("h7")["last_scan"] == 2.0  # type: ignore[index]


def test_reads_parse_only_changed_files(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[Path] = []
    real_parse = hostfiles.parse_host_file

    def counting_parse(path: Path, raw: bytes) -> schema.Tables:
        parsed.append(path)
        return real_parse(path, raw)

    monkeypatch.setattr(hostfiles, "parse_host_file", counting_parse)
    with Store.open(db_path) as writer:
        writer.update_hosts({f"h{i}": {"last_scan": 1.0} for i in range(50)})
        writer.flush()
    parsed.clear()
    reader = Store.open(db_path)
    first = reader.hosts()
    assert len(first) == 50 and len(parsed) == len(host_shard_files(db_path))
    parsed.clear()
    assert reader.hosts() == first
    assert parsed == []  # nothing changed on disk: nothing parsed
    with Store.open(db_path) as writer:
        writer.update_hosts({"h3": {"last_scan": 9.0}})
    parsed.clear()  # what the writer parsed; from here on only the reader parses
    assert reader.host("h3")["last_scan"] == 9.0  # type: ignore[index]
    assert {doc["name"]: doc["last_scan"] for doc in reader.hosts()}["h3"] == 9.0
    assert parsed == [host_shard_path(db_path, shard_index("h3", schema.HOST_SHARDS))]
    reader.close()


def test_returned_hosts_are_not_changed_by_later_writes(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.update_hosts({"a": {"last_scan": 1.0}})
        store.flush()
        seen = store.hosts()
        store.update_hosts({"a": {"last_scan": 2.0}})
        store.flush()
        assert seen[0]["last_scan"] == 1.0
        assert store.hosts()[0]["last_scan"] == 2.0


def test_writer_rereads_a_file_changed_behind_an_unchanged_stat(db_path: Path) -> None:
    """Under the lock a cached parse is used only for the very same bytes."""
    files = HostFiles(db_path)
    index = shard_index("a", schema.HOST_SHARDS)
    files.write(index, {"1": {"name": "a", "v": 1}})
    path = host_shard_path(db_path, index)
    cached = files.read_for_write(index)
    # Another writer replaces the file; pretend its stat came out identical.
    atomic_write_tables(path, {"hosts": {"1": {"name": "a", "v": 2}}})
    files._cache[index] = hostfiles.HostShard(
        hostfiles.stat_key(path), cached.digest, cached.docs, cached.by_name
    )
    assert files.read_for_write(index).docs["1"]["v"] == 2


@pytest.fixture
def unfreeze() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_big_loads_pause_then_restore_the_collector(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, unfreeze: None
) -> None:
    with Store.open(db_path) as writer:
        writer.update_hosts({f"h{i}": {"pending": [{"name": "x"}]} for i in range(30)})
    monkeypatch.setattr(hostfiles, "FREEZE_MIN_BYTES", 1)
    gc.unfreeze()
    with Store.open(db_path) as reader:
        assert len(reader.hosts()) == 30
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0  # the loaded documents are out of the collector's way


def test_check_and_repair_an_unreadable_host_file(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.update_hosts({f"h{i}": {"last_scan": 1.0} for i in range(40)})
    broken = host_shard_path(db_path, shard_index("h1", schema.HOST_SHARDS))
    lost = {doc["name"] for doc in json.loads(broken.read_text())["hosts"].values()}
    broken.write_text("{half")
    assert any(f.level == "error" and f.path == str(broken) for f in check_db(db_path))
    with pytest.raises(Exception, match="is corrupt"):
        Store.open(db_path).hosts()
    report = repair_db(db_path)
    assert report.ok, report.remaining
    assert any(b.read_text() == "{half" for b in report.backups)
    with Store.open(db_path) as store:
        names = {doc["name"] for doc in store.hosts()}
    assert names == {f"h{i}" for i in range(40)} - lost


def test_repair_merges_duplicate_and_misplaced_hosts(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.update_hosts({"a": {"v": 1}, "b": {"v": 1}})
    right = host_shard_path(db_path, shard_index("a", schema.HOST_SHARDS))
    wrong_index = (shard_index("a", schema.HOST_SHARDS) + 1) % schema.HOST_SHARDS
    if wrong_index == shard_index("b", schema.HOST_SHARDS):
        wrong_index = (wrong_index + 1) % schema.HOST_SHARDS
    wrong = host_shard_path(db_path, wrong_index)
    atomic_write_tables(wrong, {"hosts": {"1": {"name": "a", "v": 2, "updated": 9e9}}})
    findings = check_db(db_path)
    assert any("host a is recorded 2 times" in f.message for f in findings)
    assert any(f.path == str(wrong) and "wrong file" in f.message for f in findings)
    report = repair_db(db_path)
    assert report.ok and check_db(db_path) == [], report.remaining
    assert not wrong.exists() and right.exists()
    with Store.open(db_path) as store:
        assert store.host("a")["v"] == 2  # type: ignore[index]
        assert store.host("b")["v"] == 1  # type: ignore[index]


def test_repair_of_a_v1_file_moves_its_hosts(db_path: Path) -> None:
    _write_v1(db_path, 5)
    report = repair_db(db_path)
    assert report.ok, report.remaining
    assert "hosts" not in json.loads(db_path.read_text())
    assert len(host_shard_files(db_path)) >= 1
    with Store.open(db_path) as store:
        assert len(store.hosts()) == 5


def test_stray_host_temp_files_are_removed_at_open(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.update_hosts({"a": {"v": 1}})
    target = host_shard_path(db_path, shard_index("a", schema.HOST_SHARDS))
    stray = hosts_dir_for(db_path) / f".{target.name}.tmp-{os.getpid()}-dead"
    stray.write_text('{"hosts": ')
    assert any(f.path == str(stray) for f in check_db(db_path))
    Store.open(db_path).close()
    assert not stray.exists()
