"""``patchtui advisories``: which CVEs and advisories are still open, on how many hosts.

Read from the store's hot host state (the last scan of each host): every
pending update's CVE ids, advisory ids (dnf/yum updateinfo, zypper patches)
and severity. An apt/apk security update without ids is listed under its
repository and package, so Debian/Ubuntu security fixes still show up.
Rows are oldest first: what has waited longest is what an auditor asks about.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from patchtui.drivers.base import SEVERITIES as SEVERITY_ORDER


@dataclass
class AdvisoryRow:
    id: str
    severity: str
    hosts: set[str] = field(default_factory=set)
    packages: set[str] = field(default_factory=set)
    oldest_first_seen: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "advisory",
            "id": self.id,
            "severity": self.severity,
            "hosts": sorted(self.hosts),
            "host_count": len(self.hosts),
            "packages": sorted(self.packages),
            "oldest_first_seen": self.oldest_first_seen,
        }


def _severity(update: Mapping[str, Any]) -> str:
    value = update.get("severity")
    if isinstance(value, str) and value.lower() in SEVERITY_ORDER:
        return value.lower()
    return "unknown"


def _ids(update: Mapping[str, Any]) -> list[str]:
    # Both: an auditor asks "which hosts still miss DSA-5678-1", another "CVE-2024-1234".
    ids = [str(each) for each in update.get("cves") or ()]
    ids += [str(each) for each in update.get("advisories") or () if str(each) not in ids]
    if ids:
        return ids
    if update.get("security"):
        origin = update.get("repository") or "security"
        return [f"{origin}:{update.get('name')}"]
    return []


def advisory_rows(
    states: Iterable[Mapping[str, Any]],
    *,
    cve: str | None = None,
    severity: str | None = None,
) -> list[AdvisoryRow]:
    """One row per CVE/advisory pending anywhere, oldest first seen first."""
    rows: dict[str, AdvisoryRow] = {}
    wanted = cve.lower() if cve else None
    for state in states:
        host = str(state.get("name"))
        for update in state.get("pending") or ():
            if not isinstance(update, Mapping):
                continue
            level = _severity(update)
            if severity is not None and level != severity:
                continue
            for ident in _ids(update):
                if wanted is not None and ident.lower() != wanted:
                    continue
                row = rows.setdefault(ident, AdvisoryRow(ident, level))
                # Several packages can carry one CVE with different severities: keep the worst.
                if SEVERITY_ORDER.index(level) < SEVERITY_ORDER.index(row.severity):
                    row.severity = level
                row.hosts.add(host)
                row.packages.add(str(update.get("name")))
                seen = update.get("first_seen")
                if isinstance(seen, int | float) and (
                    row.oldest_first_seen is None or seen < row.oldest_first_seen
                ):
                    row.oldest_first_seen = float(seen)
    return sorted(
        rows.values(),
        key=lambda row: (
            row.oldest_first_seen is None,
            row.oldest_first_seen or 0.0,
            SEVERITY_ORDER.index(row.severity),
            row.id,
        ),
    )


def register(commands: Any, kit: Any) -> None:
    advisories = commands.add_parser(
        "advisories",
        help="pending CVEs and advisories from the last scans, hosts affected, oldest first",
        epilog=kit.epilog,
        formatter_class=kit.formatter,
    )
    kit.add_selection(advisories, required=False)
    kit.add_db(advisories)
    advisories.add_argument("--cve", metavar="ID", help="only this CVE or advisory id")
    advisories.add_argument("--severity", choices=SEVERITY_ORDER, help="only this severity")
    advisories.add_argument("--json", action="store_true", help="one JSON object per line")
    advisories.set_defaults(handler=_handler)


def _handler(args: argparse.Namespace) -> int:
    import time

    from patchtui.exit_codes import ExitCode
    from patchtui.headless.common import open_store, selected_hosts
    from patchtui.headless.output import emit_json, render_table

    store = open_store(args, readonly=True)
    try:
        states = store.hosts()
    finally:
        store.close()
    if args.inventory:
        _, hosts = selected_hosts(args)
        names = {host.name for host in hosts}
        states = [state for state in states if state.get("name") in names]
    rows = advisory_rows(states, cve=args.cve, severity=args.severity)
    affected = set().union(*(row.hosts for row in rows)) if rows else set()
    if args.json:
        for row in rows:
            emit_json(row.to_json())
        emit_json({"type": "summary", "advisories": len(rows), "hosts": len(affected)})
        return int(ExitCode.OK)
    now = time.time()
    table = [
        [
            row.id,
            row.severity,
            len(row.hosts),
            _age(row.oldest_first_seen, now),
            ", ".join(sorted(row.packages)[:3]) + (", …" if len(row.packages) > 3 else ""),
            ", ".join(sorted(row.hosts)[:3]) + (", …" if len(row.hosts) > 3 else ""),
        ]
        for row in rows
    ]
    if table:
        headers = ["CVE/ADVISORY", "SEVERITY", "HOSTS", "FIRST SEEN", "PACKAGES", "E.G."]
        print(render_table(headers, table))
    print(f"{len(rows)} advisories pending on {len(affected)} hosts")
    return int(ExitCode.OK)


def _age(moment: float | None, now: float) -> str:
    if moment is None:
        return "?"
    days = max(0.0, now - moment) / 86_400
    return f"{days:.0f}d ago" if days >= 1 else f"{days * 24:.0f}h ago"
