"""Schema versions, migrations, and `db check` / `db repair`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from patchtui.errors import StoreError
from patchtui.store import Store, check_db, repair_db, schema
from patchtui.store.db import shard_path_for
from patchtui.store.storage import temp_name_prefix


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "patchtui.json"


def _record_runs(db_path: Path, count: int) -> list[str]:
    ids = []
    with Store.open(db_path) as store:
        for index in range(count):
            run_id = store.start_run("scan", [f"h{index}"], {})
            store.record_host_result(run_id, f"h{index}", {"status": "ok"})
            store.update_hosts({f"h{index}": {"last_scan": 1.0}})
            store.finish_run(run_id, "ok", {"ok": 1})
            ids.append(run_id)
    return ids


def test_new_db_has_current_schema_version(db_path: Path) -> None:
    Store.open(db_path).close()
    meta = json.loads(db_path.read_text())["meta"]
    assert next(iter(meta.values()))["schema_version"] == schema.SCHEMA_VERSION


def test_unversioned_file_is_migrated_with_backup(db_path: Path) -> None:
    db_path.write_text(json.dumps({"hosts": {"1": {"name": "a"}}}))
    with Store.open(db_path) as store:
        assert store.host("a") == {"name": "a"}
    assert schema.schema_version(json.loads(db_path.read_text())) == schema.SCHEMA_VERSION
    backups = list(db_path.parent.glob(f"patchtui.json.pre-v{schema.SCHEMA_VERSION}-*"))
    assert len(backups) == 1
    assert json.loads(backups[0].read_text()) == {"hosts": {"1": {"name": "a"}}}


def test_migrations_run_in_order(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Store.open(db_path).close()

    def add_flag(tables: schema.Tables) -> None:
        for doc in tables.get(schema.RUNS, {}).values():
            doc["migrated"] = True

    current = schema.SCHEMA_VERSION
    monkeypatch.setattr(schema, "SCHEMA_VERSION", current + 1)
    monkeypatch.setitem(schema.MIGRATIONS, current, add_flag)
    text = db_path.read_text()
    tables = json.loads(text)
    tables["runs"] = {"1": {"run_id": "r1", "status": "ok"}}
    db_path.write_text(json.dumps(tables))
    with Store.open(db_path) as store:
        assert store.run("r1") == {"run_id": "r1", "status": "ok", "migrated": True, "hosts": []}
    assert schema.schema_version(json.loads(db_path.read_text())) == current + 1


def test_newer_schema_is_refused_untouched(db_path: Path) -> None:
    text = json.dumps({"meta": {"1": {"schema_version": 99}}})
    db_path.write_text(text)
    with pytest.raises(StoreError, match="newer than this patchtui"):
        Store.open(db_path)
    assert db_path.read_text() == text


def test_check_healthy_db_finds_nothing(db_path: Path) -> None:
    _record_runs(db_path, 2)
    assert check_db(db_path) == []


def test_repair_restores_from_a_complete_temp_file(db_path: Path) -> None:
    _record_runs(db_path, 2)
    good = db_path.read_bytes()
    db_path.write_bytes(good[: len(good) // 2])
    db_path.with_name(temp_name_prefix(db_path) + "123-abcd").write_bytes(good)
    findings = check_db(db_path)
    assert any(f.level == "error" and "is corrupt" in f.message for f in findings)
    report = repair_db(db_path)
    assert report.ok, report.remaining
    assert db_path.read_bytes() != good[: len(good) // 2]
    assert any("temp file" in action for action in report.actions)
    corrupt_copy = [b for b in report.backups if ".corrupt-" in b.name]
    assert corrupt_copy and corrupt_copy[0].read_bytes() == good[: len(good) // 2]
    with Store.open(db_path) as store:
        assert len(store.runs()) == 2
        assert len(store.hosts()) == 2


def test_repair_rebuilds_the_run_index_from_history(db_path: Path) -> None:
    ids = _record_runs(db_path, 3)
    db_path.write_text("garbage{")
    report = repair_db(db_path)
    assert report.ok, report.remaining
    assert any(b.read_text() == "garbage{" for b in report.backups)
    with Store.open(db_path) as store:
        assert sorted(run["run_id"] for run in store.runs()) == sorted(ids)
        assert all(run["status"] == "ok" for run in store.runs())
        assert len(store.host_results(ids[0])) == 1


def test_repair_moves_an_unreadable_shard_aside(db_path: Path) -> None:
    ids = _record_runs(db_path, 2)
    shard = shard_path_for(db_path, ids[0])
    shard.write_text("{nope")
    assert any(f.level == "error" and f.path == str(shard) for f in check_db(db_path))
    before = db_path.read_bytes()
    report = repair_db(db_path)
    assert report.ok, report.remaining
    assert not shard.exists()
    assert any(b.read_text() == "{nope" for b in report.backups)
    assert any(b.read_bytes() == before for b in report.backups)  # the main file's copy
    with Store.open(db_path) as store:
        assert store.run(ids[0])["history_lost"] is True  # type: ignore[index]
        assert store.host_results(ids[0]) == []
        assert len(store.host_results(ids[1])) == 1


def test_check_reports_runs_left_running(db_path: Path) -> None:
    _record_runs(db_path, 1)
    tables = json.loads(db_path.read_text())
    next(iter(tables["runs"].values()))["status"] = "running"
    db_path.write_text(json.dumps(tables))
    assert any("left running" in f.message for f in check_db(db_path))
    report = repair_db(db_path)
    assert any("interrupted" in action for action in report.actions)
    assert check_db(db_path) == []
