"""Pending advisories of a fleet: one row per CVE or advisory id, most severe first.

Built from the store's hot host state (each host's last scan): every pending
update's CVE ids, advisory ids (dnf/yum updateinfo, zypper patches) and
severity, plus the OSV matches ``annotate_states`` adds from the synced
records. An apt/apk security update without ids is listed under its
repository and package, so Debian/Ubuntu security fixes still show up without
OSV data. ``patchtui advisories`` and the console's advisories screen both
list these rows, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from patchtui.drivers.base import SEVERITIES as SEVERITY_ORDER

if TYPE_CHECKING:
    from patchtui.advisories.store import AdvisoryData


@dataclass
class AdvisoryRow:
    id: str
    severity: str
    hosts: set[str] = field(default_factory=set)
    packages: set[str] = field(default_factory=set)
    oldest_first_seen: float | None = None
    published: float | None = None
    """When the advisory was published (OSV), if known."""
    words: set[str] = field(default_factory=set)
    """The distributions' own severity words (``high``, ``Important``)."""
    cvss: float | None = None
    cves: set[str] = field(default_factory=set)
    """The CVE ids it covers: itself for a CVE, the OSV record's or the update's for an
    advisory (USN-, RLSA-...)."""
    updates: list[dict[str, Any]] = field(default_factory=list)
    """Each pending update it is on: host, package, installed, candidate, fixed."""

    @property
    def since(self) -> float | None:
        """How long the hole has been known: the advisory's publication, else patchtui's
        first scan that saw the update."""
        return self.published if self.published is not None else self.oldest_first_seen

    @property
    def fixed_versions(self) -> list[str]:
        """The versions that fix it: the OSV record's fixed version where matched, else
        the candidate the package manager offers."""
        found = {
            str(version)
            for update in self.updates
            if (version := update.get("fixed") or update.get("candidate"))
        }
        return sorted(found)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "advisory",
            "id": self.id,
            "severity": self.severity,
            "severity_words": sorted(self.words),
            "cvss": self.cvss,
            "published": self.published,
            "cves": sorted(self.cves),
            "hosts": sorted(self.hosts),
            "host_count": len(self.hosts),
            "packages": sorted(self.packages),
            "oldest_first_seen": self.oldest_first_seen,
            "updates": self.updates,
        }


def _severity(update: Mapping[str, Any]) -> str:
    value = update.get("severity")
    if isinstance(value, str) and value.lower() in SEVERITY_ORDER:
        return value.lower()
    return "unknown"


def _is_cve(ident: str) -> bool:
    return ident.upper().startswith("CVE-")


def _ids(update: Mapping[str, Any], *, cve_rows: bool = True) -> list[str]:
    # Both: an auditor asks "which hosts still miss DSA-5678-1", another "CVE-2024-1234".
    cves = [str(each) for each in update.get("cves") or ()]
    advisories = [str(each) for each in update.get("advisories") or () if str(each) not in cves]
    if advisories and not cve_rows:
        return advisories  # its CVEs are named in the advisories' rows
    ids = cves + advisories
    if ids:
        return ids
    if update.get("security"):
        origin = update.get("repository") or "security"
        return [f"{origin}:{update.get('name')}"]
    return []


def _osv_by_id(update: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Each id (CVE or advisory) of the update's OSV matches -> that match."""
    found: dict[str, Mapping[str, Any]] = {}
    for match in update.get("osv") or ():
        if isinstance(match, Mapping):
            for ident in [*(match.get("cves") or ()), *(match.get("ids") or ())]:
                found.setdefault(str(ident), match)
    return found


def advisory_rows(
    states: Iterable[Mapping[str, Any]],
    *,
    cve: str | None = None,
    severity: str | None = None,
    cve_rows: bool = True,
) -> list[AdvisoryRow]:
    """One row per CVE/advisory pending anywhere: most severe first, then oldest first.

    ``cve_rows=False``: an update that names an advisory (USN-, RLSA-, an OSV record)
    is listed under its advisories only, each naming its CVEs; a CVE gets a row of its
    own only where no advisory covers it (the console's view: one row per fix).
    """
    from patchtui.advisories.osv import parse_time

    rows: dict[str, AdvisoryRow] = {}
    wanted = cve.lower() if cve else None
    for state in states:
        host = str(state.get("name"))
        for update in state.get("pending") or ():
            if not isinstance(update, Mapping):
                continue
            osv = _osv_by_id(update)
            for ident in _ids(update, cve_rows=cve_rows):
                if wanted is not None and ident.lower() != wanted:
                    continue
                match = osv.get(ident)
                level = _severity(match) if match is not None else _severity(update)
                if severity is not None and level != severity:
                    continue
                row = rows.setdefault(ident, AdvisoryRow(ident, level))
                # Several packages can carry one CVE with different severities: keep the worst.
                if SEVERITY_ORDER.index(level) < SEVERITY_ORDER.index(row.severity):
                    row.severity = level
                row.hosts.add(host)
                row.packages.add(str(update.get("name")))
                if _is_cve(ident):
                    row.cves.add(ident)
                else:
                    related = match.get("cves") if match is not None else update.get("cves")
                    row.cves.update(str(each) for each in related or () if _is_cve(str(each)))
                seen = update.get("first_seen")
                if isinstance(seen, int | float) and (
                    row.oldest_first_seen is None or seen < row.oldest_first_seen
                ):
                    row.oldest_first_seen = float(seen)
                detail: dict[str, Any] = {
                    "host": host,
                    "package": update.get("name"),
                    "installed": update.get("installed"),
                    "candidate": update.get("candidate"),
                }
                if match is not None:
                    detail["fixed"] = match.get("fixed")
                    detail["source"] = match.get("id")
                    if match.get("severity_word"):
                        row.words.add(str(match["severity_word"]))
                    score = match.get("cvss")
                    if isinstance(score, int | float) and (row.cvss is None or score > row.cvss):
                        row.cvss = float(score)
                    published = parse_time(match.get("published"))
                    if published is not None and (
                        row.published is None or published < row.published
                    ):
                        row.published = published
                row.updates.append(detail)
    return sorted(
        rows.values(),
        key=lambda row: (
            SEVERITY_ORDER.index(row.severity),
            row.since is None,
            row.since or 0.0,
            row.id,
        ),
    )


def pending_advisories(
    states: Iterable[Mapping[str, Any]],
    data: AdvisoryData | None = None,
    *,
    cve: str | None = None,
    severity: str | None = None,
    cve_rows: bool = True,
) -> list[AdvisoryRow]:
    """The rows for ``states`` with the synced OSV ``data`` (if any) matched in first."""
    from patchtui.advisories.osv import annotate_states

    if data is not None and data.records:
        states = annotate_states(states, data.index())
    return advisory_rows(states, cve=cve, severity=severity, cve_rows=cve_rows)
