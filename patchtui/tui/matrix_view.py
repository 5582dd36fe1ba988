"""The package-by-host preview in the console's patch review, from the hosts' last scan.

The grouping and the choice of packages are the engine's (patchtui.engine.matrix with
the run's own selection: holds, --packages, --exclude); this module only turns the
console's rows into its input and keeps the text to one dialog.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from patchtui.drivers.base import PendingUpdate
from patchtui.engine.matrix import Release, matrix_from_scans, matrix_lines
from patchtui.engine.patch import PatchOptions
from patchtui.inventory.model import Host
from patchtui.tui.hostview import HostRow

MAX_ROWS = 5
MAX_PACKAGES = 8


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _update(item: Mapping[str, Any]) -> PendingUpdate | None:
    """A row's stored update (a dict from the scan or the database) as the engine's type."""
    name, candidate = item.get("name"), item.get("candidate")
    if not isinstance(name, str) or not isinstance(candidate, str):
        return None
    return PendingUpdate(
        name,
        _text(item.get("installed")),
        candidate,
        arch=_text(item.get("arch")),
        repository=_text(item.get("repository")),
        security=bool(item.get("security")),
        severity=_text(item.get("severity")),
        advisories=tuple(str(each) for each in item.get("advisories") or ()),
        cves=tuple(str(each) for each in item.get("cves") or ()),
    )


def _release(row: HostRow) -> Release | None:
    facts = row.facts or {}
    os_id, version = facts.get("os_id"), facts.get("os_version")
    return (os_id, version) if isinstance(os_id, str) and isinstance(version, str) else None


def review_lines(
    hosts: Sequence[Host], rows: Mapping[str, HostRow], options: PatchOptions
) -> list[str]:
    """What the review says about which package goes to which hosts."""
    if not options.install:
        return []
    scans: dict[str, tuple[list[PendingUpdate], Release | None] | None] = {}
    for host in hosts:
        row = rows.get(host.name)
        if row is None or row.pending is None:
            scans[host.name] = None
            continue
        updates = [update for item in row.updates if (update := _update(item)) is not None]
        scans[host.name] = (updates, _release(row))
    if all(scan is None for scan in scans.values()):
        return ["What goes where: scan these hosts first (s) to see it here."]
    matrix = matrix_from_scans(hosts, scans, options)
    if matrix is None:
        return ["What goes where: a baseline's versions per host are known after a dry run."]
    lines = matrix_lines(matrix, shown_hosts=4, max_rows=MAX_ROWS, max_packages=MAX_PACKAGES)
    return [f"What goes where (from the last scan): {lines[0]}", *lines[1:]]
