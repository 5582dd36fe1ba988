"""Baselines on disk: one small JSON file next to the database, ``<db stem>.baselines.json``.

Why not a TinyDB table in the main file: baselines are few, written rarely and
by hand, and read by every promotion; keeping them apart means a baseline
never rides along in the main file's rewrite on every scan batch, and a
baseline file can be reviewed, diffed and copied between machines on its own.

Writes take the store's inter-process lock (``patchtui.store.lock``) and
replace the file atomically (``patchtui.store.storage.atomic_write_bytes``),
so a baseline written while a scan records results never interleaves with
another writer and a crash leaves the old or the new file, never half of one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from patchtui.baselines.model import Baseline, check_baseline_name
from patchtui.errors import ConfigError, StoreError
from patchtui.store.files import read_bytes
from patchtui.store.lock import StoreLock
from patchtui.store.storage import atomic_write_bytes

FILE_SUFFIX = ".baselines.json"
FORMAT_VERSION = 1


def baselines_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.stem + FILE_SUFFIX)


class BaselineBook:
    """The baselines of one database."""

    def __init__(self, db_path: Path, *, lock_timeout: float = 10.0) -> None:
        self.db_path = Path(db_path)
        self.path = baselines_path(self.db_path)
        self.lock_timeout = lock_timeout

    def _read(self) -> dict[str, dict[str, Any]]:
        raw = read_bytes(self.path)  # never through a link, like every store file
        if raw is None:
            return {}
        try:
            data = json.loads(raw.decode("utf-8"))
        except ValueError as error:
            reason = str(error).split(";")[0]  # no advice about set_int_max_str_digits
            raise StoreError(
                f"{self.path} is not valid JSON ({reason}); fix or remove it"
            ) from None
        except RecursionError:
            raise StoreError(f"{self.path} is nested too deeply; fix or remove it") from None
        if not isinstance(data, dict) or not isinstance(data.get("baselines"), dict):
            raise StoreError(f"{self.path} is not a patchtui baselines file")
        version = data.get("version")
        if isinstance(version, int) and version > FORMAT_VERSION:
            raise StoreError(f"{self.path} was written by a newer patchtui (format {version})")
        return {str(k): v for k, v in data["baselines"].items() if isinstance(v, dict)}

    def _write(self, baselines: dict[str, dict[str, Any]]) -> None:
        payload = {"version": FORMAT_VERSION, "baselines": dict(sorted(baselines.items()))}
        text = json.dumps(payload, indent=1, ensure_ascii=False) + "\n"
        atomic_write_bytes(self.path, text.encode("utf-8"))

    def list(self) -> list[Baseline]:
        return [self._parse(name, data) for name, data in sorted(self._read().items())]

    def get(self, name: str) -> Baseline | None:
        data = self._read().get(name)
        return self._parse(name, data) if data is not None else None

    def _parse(self, name: str, data: dict[str, Any]) -> Baseline:
        # The file is patchtui's, but people edit it: a wrong shape is their mistake to
        # fix, named, not a traceback.
        try:
            return Baseline.from_json(data)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
            problem = f"missing {error}" if isinstance(error, KeyError) else str(error)
            raise StoreError(
                f"{self.path}: baseline {name!r} is malformed ({problem.split(';')[0]}); "
                "fix or delete it"
            ) from None

    def require(self, name: str) -> Baseline:
        found = self.get(name)
        if found is None:
            known = ", ".join(sorted(self._read())) or "none yet"
            raise ConfigError(f"no baseline {name!r} (known: {known})")
        return found

    def save(self, baseline: Baseline, *, replace: bool = False) -> None:
        check_baseline_name(baseline.name)
        with StoreLock(self.db_path, command="patchtui baseline").hold(self.lock_timeout):
            current = self._read()
            if baseline.name in current and not replace:
                raise ConfigError(
                    f"baseline {baseline.name!r} exists; delete it first or pass --replace"
                )
            current[baseline.name] = baseline.to_json()
            self._write(current)

    def delete(self, name: str) -> bool:
        with StoreLock(self.db_path, command="patchtui baseline").hold(self.lock_timeout):
            current = self._read()
            if current.pop(name, None) is None:
                return False
            self._write(current)
            return True
