"""Baselines: named sets of approved package versions per OS release, plus rules. Pure.

A baseline is made from what a (staging) patch run installed; promotion then
installs exactly those versions elsewhere, never newer. Versions are kept per
OS release (``os_id/VERSION_ID``, e.g. ``debian/12``) because the same package
has different version strings on different releases.

Rules filter what a run installed when the baseline is made, and the rejected
entries are kept with their reason so ``baseline show`` explains the gaps:
``security_only`` (only updates the OS marked as security fixes), ``reject``
(globs never approved) and ``min_age_days`` (only updates first seen pending at
least N days before the baseline was made — a cooling-off period). ``reject``
is also applied again at promotion, so a glob can never be bypassed.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, cmp_to_key
from typing import Any

from patchtui.drivers.versions import comparator
from patchtui.errors import ConfigError

DAY = 86_400.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
OK_STATUSES = frozenset({"ok", "ok-reboot-required"})
"""Host results whose changes a baseline takes: a failed or partial host was not a good test."""


def check_baseline_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(
            f"baseline name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)"
        )
    return name


def release_key(os_id: str, os_version: str) -> str:
    """``debian/12``, ``rocky/9.3``: the unit a baseline keeps versions for."""
    return f"{os_id or 'unknown'}/{os_version or 'unknown'}"


@dataclass(frozen=True)
class BaselineRules:
    security_only: bool = False
    reject: tuple[str, ...] = ()
    min_age_days: float | None = None

    def rejects_name(self, name: str) -> str | None:
        for pattern in self.reject:
            if fnmatch.fnmatchcase(name, pattern):
                return f"rejected by rule {pattern!r}"
        return None

    def judge(self, name: str, update: Mapping[str, Any] | None, *, now: float) -> str | None:
        """Why the rules refuse this update (None: approved). ``update``: what the
        run's scan knew about it (security flag, first_seen), None if nothing."""
        if reason := self.rejects_name(name):
            return reason
        if (self.security_only or self.min_age_days is not None) and update is None:
            return "the run kept no update details (security, first seen) for it"
        if self.security_only and update is not None and not update.get("security"):
            return "not a security update"
        if self.min_age_days is not None and update is not None:
            first_seen = update.get("first_seen")
            if not isinstance(first_seen, int | float):
                return "first-seen time unknown"
            age = (now - first_seen) / DAY
            if age < self.min_age_days:
                return f"first seen {age:.1f} days ago; the rule needs {self.min_age_days:g}"
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "security_only": self.security_only,
            "reject": list(self.reject),
            "min_age_days": self.min_age_days,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BaselineRules:
        age = data.get("min_age_days")
        return cls(
            security_only=bool(data.get("security_only")),
            reject=tuple(str(item) for item in data.get("reject") or ()),
            min_age_days=float(age) if isinstance(age, int | float) else None,
        )

    def describe(self) -> str:
        parts = []
        if self.security_only:
            parts.append("security updates only")
        if self.reject:
            parts.append("reject " + ", ".join(self.reject))
        if self.min_age_days is not None:
            parts.append(f"first seen at least {self.min_age_days:g} days before")
        return "; ".join(parts) or "none"


@dataclass(frozen=True)
class Rejected:
    release: str
    name: str
    version: str
    reason: str


@dataclass(frozen=True)
class Baseline:
    name: str
    created: float
    releases: Mapping[str, Mapping[str, str]]
    """release key -> package name -> approved version."""
    families: Mapping[str, str] = field(default_factory=dict)
    """release key -> package-manager family (apt, dnf, ...), for display."""
    rules: BaselineRules = field(default_factory=BaselineRules)
    source_run: str | None = None
    rejected: tuple[Rejected, ...] = ()
    notes: tuple[str, ...] = ()
    """What the maker should know: conflicting versions, hosts left out."""

    def versions_for(self, os_id: str, os_version: str) -> dict[str, str] | None:
        """Approved versions for a host's release (reject globs applied), None if not covered."""
        approved = self._approved_by_release.get(release_key(os_id, os_version))
        return dict(approved) if approved is not None else None

    @cached_property
    def _approved_by_release(self) -> dict[str, dict[str, str]]:
        # Matching every package against the reject globs, once per baseline and not
        # once per host: a compliance report judges thousands of hosts of a few releases.
        return {
            release: {
                name: version
                for name, version in approved.items()
                if self.rules.rejects_name(name) is None
            }
            for release, approved in self.releases.items()
        }

    @property
    def package_count(self) -> int:
        return sum(len(packages) for packages in self.releases.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "created": self.created,
            "source_run": self.source_run,
            "rules": self.rules.to_json(),
            "releases": {key: dict(sorted(pkgs.items())) for key, pkgs in self.releases.items()},
            "families": dict(self.families),
            "rejected": [
                {"release": r.release, "name": r.name, "version": r.version, "reason": r.reason}
                for r in self.rejected
            ],
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Baseline:
        releases = data.get("releases") or {}
        return cls(
            name=str(data["name"]),
            created=float(data.get("created") or 0.0),
            source_run=data.get("source_run"),
            rules=BaselineRules.from_json(data.get("rules") or {}),
            releases={
                str(key): {str(n): str(v) for n, v in (pkgs or {}).items()}
                for key, pkgs in releases.items()
            },
            families={str(k): str(v) for k, v in (data.get("families") or {}).items()},
            rejected=tuple(
                Rejected(str(r["release"]), str(r["name"]), str(r["version"]), str(r["reason"]))
                for r in data.get("rejected") or ()
            ),
            notes=tuple(str(note) for note in data.get("notes") or ()),
        )


def _host_release(
    result: Mapping[str, Any], state: Mapping[str, Any] | None
) -> tuple[str, str] | None:
    """(release key, family) of the host in a run: from the result, else its hot state."""
    recorded = result.get("os")
    if isinstance(recorded, Mapping) and recorded.get("os_id"):
        return (
            release_key(str(recorded["os_id"]), str(recorded.get("os_version") or "")),
            str(recorded.get("family") or ""),
        )
    facts = (state or {}).get("facts")
    if isinstance(facts, Mapping) and facts.get("os_id"):
        return (
            release_key(str(facts["os_id"]), str(facts.get("os_version") or "")),
            str(facts.get("package_manager") or ""),
        )
    return None


def baseline_from_run(
    name: str,
    *,
    run: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    host_states: Mapping[str, Mapping[str, Any]],
    rules: BaselineRules,
    now: float,
) -> Baseline:
    """What the run's successful hosts installed, per OS release, filtered by ``rules``.

    Two hosts of one release that ended at different versions of a package
    (say one had a newer mirror) are a conflict: the older one is approved,
    because both were tested and "never newer than tested" is the promise.
    """
    check_baseline_name(name)
    run_id = str(run.get("run_id"))
    if run.get("operation") != "patch":
        raise ConfigError(f"run {run_id} is a {run.get('operation')} run, not a patch run")
    options = run.get("options")
    if isinstance(options, Mapping) and options.get("dry_run"):
        raise ConfigError(f"run {run_id} was a dry-run: it installed nothing")
    releases: dict[str, dict[str, str]] = {}
    families: dict[str, str] = {}
    rejected: list[Rejected] = []
    notes: list[str] = []
    for result in sorted(results, key=lambda doc: str(doc.get("host"))):
        host = str(result.get("host"))
        status = str(result.get("status"))
        changes = [c for c in result.get("changes") or () if isinstance(c, Mapping)]
        if status not in OK_STATUSES:
            if changes:
                notes.append(f"{host}: left out ({status})")
            continue
        where = _host_release(result, host_states.get(host))
        if where is None:
            notes.append(f"{host}: left out (its OS release is unknown)")
            continue
        key, family = where
        if family:
            families.setdefault(key, family)
        updates = {
            str(item.get("name")): item
            for item in result.get("targets") or ()
            if isinstance(item, Mapping)
        }
        approved = releases.setdefault(key, {})
        for change in changes:
            package, after = str(change.get("name")), change.get("after")
            if not isinstance(after, str):
                continue  # removed by the run: nothing to approve
            if reason := rules.judge(package, updates.get(package), now=now):
                if not any(r.release == key and r.name == package for r in rejected):
                    rejected.append(Rejected(key, package, after, reason))
                continue
            known = approved.get(package)
            if known is not None and known != after:
                # rpm and apk order versions differently from dpkg (e.g. 1.0~rc1, 1.0_rc1).
                older = min(known, after, key=cmp_to_key(comparator(family)))
                notes.append(
                    f"{key} {package}: hosts ended at {known} and {after}; approved {older}"
                )
                after = older
            approved[package] = after
    for key in [k for k, packages in releases.items() if not packages]:
        del releases[key]
    if not releases:
        reasons = "; ".join(notes[:3]) or "no host of the run changed a package"
        if rejected:
            reasons = f"the rules rejected every change ({len(rejected)})"
        raise ConfigError(f"run {run_id} gives nothing to approve: {reasons}")
    return Baseline(
        name=name,
        created=now,
        releases=releases,
        families=families,
        rules=rules,
        source_run=run_id,
        rejected=tuple(rejected),
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class HostPlan:
    """How one host stands against its release's approved versions."""

    release: str
    targets: dict[str, str] = field(default_factory=dict)
    """Installed older than approved: name -> the approved version to install."""
    ahead: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Installed newer than approved, left alone (never downgraded): name -> (have, approved)."""
    current: tuple[str, ...] = ()
    """Already at the approved version."""
    not_installed: tuple[str, ...] = ()
    """Approved but not installed here: a baseline never installs new packages."""
    installed: dict[str, str] = field(default_factory=dict)
    """Installed version of each approved package the host has."""


def plan_host(
    release: str,
    approved: Mapping[str, str],
    installed: Mapping[str, str],
    family: str | None = None,
) -> HostPlan:
    """``family`` (apt, dnf, zypper, apk, ...) picks the version ordering; dpkg's if None."""
    compare = comparator(family)
    targets: dict[str, str] = {}
    ahead: dict[str, tuple[str, str]] = {}
    current: list[str] = []
    missing: list[str] = []
    for package, version in sorted(approved.items()):
        have = installed.get(package)
        if have is None:
            missing.append(package)
        elif have == version:
            current.append(package)
        elif compare(have, version) < 0:
            targets[package] = version
        else:
            ahead[package] = (have, version)
    have_approved = {name: installed[name] for name in approved if name in installed}
    return HostPlan(release, targets, ahead, tuple(current), tuple(missing), have_approved)


@dataclass(frozen=True)
class DiffRow:
    release: str
    name: str
    left: str | None
    right: str | None


def diff_baselines(left: Baseline, right: Baseline) -> list[DiffRow]:
    """Every (release, package) whose approved version differs (None: not in that baseline)."""
    rows: list[DiffRow] = []
    for key in sorted(set(left.releases) | set(right.releases)):
        a, b = left.releases.get(key, {}), right.releases.get(key, {})
        for package in sorted(set(a) | set(b)):
            if a.get(package) != b.get(package):
                rows.append(DiffRow(key, package, a.get(package), b.get(package)))
    return rows


def below_baseline(
    approved: Mapping[str, str],
    pending: Iterable[Mapping[str, Any]],
    family: str | None = None,
) -> list[tuple[str, str, str]]:
    """(name, installed, approved) for packages a scan saw installed older than approved.

    A scan lists installed versions only for packages with an update pending,
    which every package below an approved (hence published) version has.
    """
    compare = comparator(family)
    found: list[tuple[str, str, str]] = []
    for update in pending:
        package, installed = update.get("name"), update.get("installed")
        if not isinstance(package, str) or not isinstance(installed, str):
            continue
        version = approved.get(package)
        if version is not None and compare(installed, version) < 0:
            found.append((package, installed, version))
    return sorted(found)
