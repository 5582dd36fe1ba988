"""OSV advisories kept beside the database: ``<db stem>.advisories.json``.

One JSON file, separate from the run/result database so that a sync of tens
of thousands of records neither rewrites nor locks the database a scan is
recording into. It is written the store's way (temp file, fsync, rename:
:func:`patchtui.store.storage.atomic_write_bytes`, never through a link) under
its own lock (``<file>.lock``), so two syncs never interleave and a killed
sync leaves the old file. Records are kept in the compact form of
:meth:`Advisory.to_json`; :meth:`AdvisoryData.index` builds the lookup table.

A sync is incremental: a record replaces the stored one only when its
``modified`` is newer; a ``withdrawn`` record removes it.
"""

from __future__ import annotations

import json
import tempfile
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchtui.advisories.osv import AdvisoryIndex, RecordError, parse_record, parse_time
from patchtui.errors import AdvisoryDataError, StoreError
from patchtui.store.files import ensure_directory, read_bytes
from patchtui.store.lock import StoreLock
from patchtui.store.storage import atomic_write_bytes

ADVISORIES_SUFFIX = ".advisories.json"
FORMAT = 1
LOCK_TIMEOUT = 30.0
DOWNLOAD_TIMEOUT = 300.0
DOWNLOAD_LIMIT = 2 * 1024**3
"""osv.dev's largest per-ecosystem zip is well under this; more is not OSV data."""


def advisories_path_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.stem + ADVISORIES_SUFFIX)


@dataclass
class AdvisoryData:
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    synced: float | None = None
    """When the last sync finished (epoch seconds)."""
    sources: list[str] = field(default_factory=list)

    def newest_modified(self) -> float | None:
        """The newest record's ``modified``: how current the data is, whatever the sync time."""
        times = [parse_time(record.get("modified")) for record in self.records.values()]
        known = [moment for moment in times if moment is not None]
        return max(known) if known else None

    def index(self) -> AdvisoryIndex:
        return AdvisoryIndex.from_records(self.records)

    def to_bytes(self) -> bytes:
        payload = {
            "format": FORMAT,
            "synced": self.synced,
            "sources": self.sources,
            "records": self.records,
        }
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def load(path: Path) -> AdvisoryData:
    """The stored advisories; empty if there are none yet. StoreError if the file is damaged."""
    raw = read_bytes(path)
    if raw is None:
        return AdvisoryData()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise StoreError(
            f"{path} is corrupt ({error}); run `patchtui advisories sync` again to rebuild it"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StoreError(f"{path} is not a patchtui advisory file (format {FORMAT})")
    records = data.get("records")
    if not isinstance(records, dict):
        raise StoreError(f"{path} is corrupt: no records; run `patchtui advisories sync` again")
    synced = data.get("synced")
    return AdvisoryData(
        records=records,
        synced=float(synced) if isinstance(synced, int | float) else None,
        sources=[str(each) for each in data.get("sources") or ()],
    )


@dataclass(frozen=True)
class SyncResult:
    read: int
    added: int
    updated: int
    unchanged: int
    removed: int
    total: int
    newest_modified: float | None
    synced: float

    def to_json(self, now: float) -> dict[str, Any]:
        age = None if self.newest_modified is None else max(0.0, now - self.newest_modified)
        return {
            "type": "advisories-sync",
            "read": self.read,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "records": self.total,
            "newest_modified": self.newest_modified,
            "newest_age_days": None if age is None else round(age / 86_400, 1),
        }


def sync(path: Path, source: str, *, now: float) -> SyncResult:
    """Import the OSV records of ``source`` (directory, zip, JSON file or http(s) URL)."""
    ensure_directory(path.parent, what="data directory", follow=True)
    with StoreLock(path, command="patchtui advisories sync").hold(LOCK_TIMEOUT):
        data = load(path)
        read = added = updated = unchanged = removed = 0
        for where, document in read_source(source):
            records = document if isinstance(document, list) else [document]
            for record in records:
                read += 1
                try:
                    advisory = parse_record(record)
                except RecordError as error:
                    raise AdvisoryDataError(str(error), where=where) from None
                old = data.records.get(advisory.id)
                if isinstance(record, dict) and record.get("withdrawn"):
                    if old is not None:
                        del data.records[advisory.id]
                        removed += 1
                    continue
                if old is not None:
                    old_time = parse_time(old.get("modified"))
                    new_time = parse_time(advisory.modified)
                    if old_time is not None and new_time is not None and new_time <= old_time:
                        unchanged += 1
                        continue
                    updated += 1
                else:
                    added += 1
                data.records[advisory.id] = advisory.to_json()
        data.synced = now
        if source not in data.sources:
            data.sources.append(source)
        # Written only after every record parsed: a bad record leaves the old file whole.
        atomic_write_bytes(path, data.to_bytes())
    return SyncResult(
        read=read,
        added=added,
        updated=updated,
        unchanged=unchanged,
        removed=removed,
        total=len(data.records),
        newest_modified=data.newest_modified(),
        synced=now,
    )


def _is_url(source: str) -> bool:
    return urllib.parse.urlparse(source).scheme in ("http", "https")


def read_source(source: str) -> Iterator[tuple[str, Any]]:
    """(where, parsed JSON) for every ``.json`` document of a directory, zip or file."""
    if _is_url(source):
        yield from _read_url(source)
        return
    path = Path(source)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*.json") if p.is_file())
        if not found:
            raise AdvisoryDataError(f"no .json files in directory {path}")
        for file in found:
            yield str(file), _parse(_read(file), str(file))
        return
    if not path.exists():
        raise AdvisoryDataError(f"{path}: no such file or directory")
    yield from _read_file(path, str(path))


def _read_file(path: Path, where: str) -> Iterator[tuple[str, Any]]:
    # Opened by path, not read whole: a distribution's zip is hundreds of megabytes.
    if zipfile.is_zipfile(path):
        yield from _read_zip(path, where)
    else:
        yield where, _parse(_read(path), where)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise AdvisoryDataError(f"cannot read {path}: {error.strerror or error}") from None


def _read_zip(path: Path, where: str) -> Iterator[tuple[str, Any]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise AdvisoryDataError(f"{where}: not a readable zip ({error})") from None
    with archive:
        names = sorted(name for name in archive.namelist() if name.endswith(".json"))
        if not names:
            raise AdvisoryDataError(f"{where}: the zip holds no .json files")
        for name in names:
            member = f"{where}!{name}"
            try:
                content = archive.read(name)
            except (zipfile.BadZipFile, OSError) as error:
                raise AdvisoryDataError(f"{member}: cannot read ({error})") from None
            yield member, _parse(content, member)


def _parse(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise AdvisoryDataError(
            f"not JSON: {error.msg} (column {error.colno})", where=f"{where}:{error.lineno}"
        ) from None
    except UnicodeDecodeError as error:
        raise AdvisoryDataError(f"not UTF-8 text ({error.reason})", where=where) from None


def _read_url(url: str) -> Iterator[tuple[str, Any]]:
    """Download to a temp file (bounded in size and time), then read it as a zip or JSON."""
    with tempfile.TemporaryDirectory(prefix="patchtui-osv-") as directory:
        target = Path(directory) / "download"
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
                size = 0
                with open(target, "wb") as out:
                    while chunk := response.read(1 << 20):
                        size += len(chunk)
                        if size > DOWNLOAD_LIMIT:
                            raise AdvisoryDataError(f"{url}: more than {DOWNLOAD_LIMIT} bytes")
                        out.write(chunk)
        except AdvisoryDataError:
            raise
        except (OSError, ValueError) as error:
            raise AdvisoryDataError(f"cannot download {url}: {error}") from None
        yield from _read_file(target, url)


DEFAULT_MAX_AGE_DAYS = 7
"""Days: OSV data whose newest record is older is stale (config advisories_max_age_days)."""


@dataclass(frozen=True)
class Freshness:
    """How current the stored OSV data is, for every report that uses it."""

    records: int
    newest_modified: float | None
    synced: float | None
    age_days: float | None
    max_age_days: float

    @property
    def stale(self) -> bool:
        return self.age_days is not None and self.age_days > self.max_age_days

    def message(self) -> str | None:
        """One line for a report when the data is missing or stale; None when it is current."""
        if self.records == 0:
            return (
                "no OSV advisory data: severities and CVEs come from the package managers only "
                "(run `patchtui advisories sync --from PATH|URL`)"
            )
        if self.stale:
            return (
                f"OSV advisory data is stale: its newest record is {self.age_days:.0f} days old "
                f"(limit {self.max_age_days:g}); run `patchtui advisories sync` to update it"
            )
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "newest_modified": self.newest_modified,
            "synced": self.synced,
            "age_days": None if self.age_days is None else round(self.age_days, 1),
            "max_age_days": self.max_age_days,
            "stale": self.stale,
        }


def freshness(data: AdvisoryData, now: float, max_age_days: float) -> Freshness:
    newest = data.newest_modified()
    age = None if newest is None else max(0.0, now - newest) / 86_400
    return Freshness(
        records=len(data.records),
        newest_modified=newest,
        synced=data.synced,
        age_days=age,
        max_age_days=max_age_days,
    )
