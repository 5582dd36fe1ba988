"""``advisories sync``: directory, zip or file in; incremental by ``modified``; durable; stale."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from patchtui.advisories.osv import parse_time
from patchtui.advisories.store import (
    advisories_path_for,
    freshness,
    load,
    sync,
)
from patchtui.errors import AdvisoryDataError, StoreError

DATA = Path(__file__).resolve().parents[1] / "data" / "osv"
NOW = 1_800_000_000.0  # a fixed "now" (2027-01-15): no test reads the clock


def _target(tmp_path: Path) -> Path:
    return advisories_path_for(tmp_path / "patchtui.json")


def test_the_file_sits_beside_the_database(tmp_path: Path) -> None:
    assert _target(tmp_path) == tmp_path / "patchtui.advisories.json"


def test_sync_a_directory_then_again_changes_nothing(tmp_path: Path) -> None:
    target = _target(tmp_path)
    first = sync(target, str(DATA), now=NOW)
    assert (first.read, first.added, first.updated, first.unchanged) == (3, 3, 0, 0)
    assert first.total == 3
    # The newest record is ALSA-2024:4312, modified 2024-07-04T06:32:48Z.
    assert first.newest_modified == parse_time("2024-07-04T06:32:48Z")
    assert first.to_json(NOW)["newest_age_days"] == pytest.approx(
        (NOW - parse_time("2024-07-04T06:32:48Z")) / 86_400, abs=0.1
    )
    again = sync(target, str(DATA), now=NOW + 60)
    assert (again.added, again.updated, again.unchanged, again.total) == (0, 0, 3, 3)
    stored = load(target)
    assert set(stored.records) == {
        "UBUNTU-CVE-2024-6387",
        "UBUNTU-CVE-2023-51385",
        "ALSA-2024:4312",
    }
    assert stored.synced == NOW + 60


def test_sync_a_zip_and_one_file(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for file in sorted(DATA.rglob("*.json")):
            out.write(file, file.name)
    result = sync(_target(tmp_path), str(archive), now=NOW)
    assert (result.read, result.added) == (3, 3)
    single = sync(
        advisories_path_for(tmp_path / "other.json"),
        str(DATA / "ubuntu" / "UBUNTU-CVE-2024-6387.json"),
        now=NOW,
    )
    assert (single.read, single.total) == (1, 1)


def _record(modified: str, **extra: Any) -> dict[str, Any]:
    record = json.loads((DATA / "ubuntu" / "UBUNTU-CVE-2024-6387.json").read_text())
    record["modified"] = modified
    record.update(extra)
    return record


def test_only_a_newer_modified_replaces_and_withdrawn_removes(tmp_path: Path) -> None:
    target = _target(tmp_path)
    source = tmp_path / "in.json"
    source.write_text(json.dumps(_record("2024-07-01T00:00:00Z")))
    sync(target, str(source), now=NOW)
    # Same or older modified: kept as it was, even if the content differs.
    source.write_text(json.dumps(_record("2024-06-01T00:00:00Z", published="1999-01-01T00:00:00Z")))
    assert sync(target, str(source), now=NOW).unchanged == 1
    assert load(target).records["UBUNTU-CVE-2024-6387"]["published"] == "2024-07-01T00:00:00Z"
    source.write_text(json.dumps(_record("2024-08-01T00:00:00Z", published="2024-07-02T00:00:00Z")))
    assert sync(target, str(source), now=NOW).updated == 1
    assert load(target).records["UBUNTU-CVE-2024-6387"]["published"] == "2024-07-02T00:00:00Z"
    source.write_text(json.dumps(_record("2024-09-01T00:00:00Z", withdrawn="2024-09-01T00:00:00Z")))
    result = sync(target, str(source), now=NOW)
    assert (result.removed, result.total) == (1, 0)


def test_bad_json_names_file_and_line_and_keeps_the_stored_data(tmp_path: Path) -> None:
    target = _target(tmp_path)
    sync(target, str(DATA / "ubuntu"), now=NOW)
    before = target.read_bytes()
    source = tmp_path / "in"
    shutil.copytree(DATA / "almalinux", source)
    (source / "broken.json").write_text('{\n  "id": "X",\n  "modified": oops\n}\n')
    with pytest.raises(AdvisoryDataError) as caught:
        sync(target, str(source), now=NOW)
    assert f"{source / 'broken.json'}:3" in str(caught.value)
    assert target.read_bytes() == before


def test_a_json_document_that_is_not_a_record_is_named(tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text(json.dumps({"hello": "world"}))
    with pytest.raises(AdvisoryDataError, match=r"in\.json: not an OSV record: no .id."):
        sync(_target(tmp_path), str(source), now=NOW)


def test_missing_source_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(AdvisoryDataError, match="no such file"):
        sync(_target(tmp_path), str(tmp_path / "nope.zip"), now=NOW)
    (tmp_path / "empty").mkdir()
    with pytest.raises(AdvisoryDataError, match=r"no \.json files"):
        sync(_target(tmp_path), str(tmp_path / "empty"), now=NOW)


def test_a_damaged_store_file_is_refused_not_overwritten(tmp_path: Path) -> None:
    target = _target(tmp_path)
    target.write_text("{not json")
    with pytest.raises(StoreError, match="corrupt"):
        sync(target, str(DATA), now=NOW)
    assert target.read_text() == "{not json"


def test_freshness_says_missing_current_or_stale(tmp_path: Path) -> None:
    target = _target(tmp_path)
    empty = freshness(load(target), NOW, 7)
    assert empty.records == 0 and not empty.stale
    assert "no OSV advisory data" in (empty.message() or "")
    sync(target, str(DATA), now=NOW)
    newest = parse_time("2024-07-04T06:32:48Z")
    assert newest is not None
    current = freshness(load(target), newest + 3 * 86_400, 7)
    assert not current.stale and current.message() is None
    stale = freshness(load(target), newest + 30 * 86_400, 7)
    assert stale.stale and "30 days old" in (stale.message() or "")
    assert stale.to_json()["stale"] is True
