"""Version drift and stale mirrors across a fleet. Pure.

Hosts of one OS release (``os_id`` + ``os_version`` from facts) should be offered the same
candidate versions. A host whose candidate for a package is older than the one its peers
are offered (most of them; the newer on a tie) is on a mirror that is behind; a host whose
newest repository metadata is older than ``stale_mirror_days``
(``ScanResult.metadata_age_seconds``) is on a mirror that stopped syncing. Both read the
hot host state the store keeps (or the same shape from ``engine.scan.scan_to_record``), so
the scan summary, the console and compliance (reason ``stale-mirror``) agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from patchtui.config import STALE_MIRROR_DAYS
from patchtui.drivers.versions import comparator

DEFAULT_STALE_MIRROR_DAYS = float(STALE_MIRROR_DAYS)
_DAY = 86_400.0


@dataclass(frozen=True)
class Behind:
    package: str
    candidate: str
    peer_candidate: str
    peer: str
    """A host of the same release that is offered ``peer_candidate``."""


@dataclass(frozen=True)
class MirrorFinding:
    host: str
    release: str
    metadata_age_days: float | None
    metadata_too_old: bool
    behind: tuple[Behind, ...]

    @property
    def stale(self) -> bool:
        return self.metadata_too_old or bool(self.behind)

    def describe(self, stale_mirror_days: float) -> str:
        """One line: why this host's mirror looks stale."""
        parts = []
        if self.metadata_too_old and self.metadata_age_days is not None:
            parts.append(
                f"repository metadata {self.metadata_age_days:.1f} days old "
                f"(limit {stale_mirror_days:g})"
            )
        if self.behind:
            first = self.behind[0]
            more = f" (+{len(self.behind) - 1} more)" if len(self.behind) > 1 else ""
            parts.append(
                f"{len(self.behind)} candidate(s) older than its {self.release} peers': "
                f"{first.package} {first.candidate} < {first.peer_candidate} on {first.peer}{more}"
            )
        return "; ".join(parts)

    def to_dict(self) -> dict[str, object]:
        return {
            "host": self.host,
            "release": self.release,
            "metadata_age_days": (
                round(self.metadata_age_days, 2) if self.metadata_age_days is not None else None
            ),
            "metadata_too_old": self.metadata_too_old,
            "behind": [
                {
                    "package": b.package,
                    "candidate": b.candidate,
                    "peer_candidate": b.peer_candidate,
                    "peer": b.peer,
                }
                for b in self.behind
            ],
        }


def _release(state: Mapping[str, Any]) -> tuple[str, str | None] | None:
    facts = state.get("facts")
    if not isinstance(facts, Mapping) or not facts.get("os_id"):
        return None
    release = f"{facts['os_id']} {facts.get('os_version') or ''}".strip()
    family = facts.get("package_manager")
    return release, str(family) if family else None


def _candidates(state: Mapping[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in state.get("pending") or ():
        if isinstance(item, Mapping) and item.get("name") and item.get("candidate"):
            found[str(item["name"])] = str(item["candidate"])
    return found


def find_stale_mirrors(
    states: Iterable[Mapping[str, Any]], stale_mirror_days: float = DEFAULT_STALE_MIRROR_DAYS
) -> dict[str, MirrorFinding]:
    """Every host with a known release -> its finding (``finding.stale`` says if it is)."""
    hosts: list[tuple[str, str, str | None, dict[str, str], float | None]] = []
    for state in states:
        known = _release(state)
        if known is None:
            continue
        age = state.get("metadata_age_seconds")
        age_days = (
            age / _DAY if isinstance(age, int | float) and not isinstance(age, bool) else None
        )
        hosts.append((str(state.get("name", "?")), *known, _candidates(state), age_days))
    # One ordering per release (its hosts share a package manager).
    families = {release: family for _, release, family, _, _ in reversed(hosts)}
    # The reference candidate per (release, package): the one most of the release's hosts
    # are offered, the newer on a tie. One host ahead (a -proposed pocket, a mirror that
    # synced minutes ago) does not make all its peers "behind"; a host under it does.
    offered: dict[tuple[str, str], dict[str, list[str]]] = {}
    for name, release, _, candidates, _ in hosts:
        for package, version in candidates.items():
            offered.setdefault((release, package), {}).setdefault(version, []).append(name)
    reference: dict[tuple[str, str], tuple[str, str]] = {}
    for (release, package), versions in offered.items():
        compare = comparator(families[release])
        best: str | None = None
        for version, names in versions.items():
            if best is None:
                best = version
                continue
            more, same = len(names), len(versions[best])
            if more > same or (more == same and compare(version, best) > 0):
                best = version
        assert best is not None
        reference[(release, package)] = (best, versions[best][0])
    findings: dict[str, MirrorFinding] = {}
    for name, release, family, candidates, age_days in hosts:
        compare = comparator(family)
        behind = tuple(
            Behind(package, version, *reference[(release, package)])
            for package, version in sorted(candidates.items())
            if compare(version, reference[(release, package)][0]) < 0
        )
        too_old = age_days is not None and age_days > stale_mirror_days
        findings[name] = MirrorFinding(name, release, age_days, too_old, behind)
    return findings
