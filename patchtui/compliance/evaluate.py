"""Evaluate hosts against a compliance policy: pure functions over the store's hot host state.

Each host is ``compliant``, ``non-compliant`` or ``unknown``, with reasons (a
machine ``code`` and a human message), the age of its oldest missing security
fix (counted from the advisory's publication where OSV data gives it, else
from the first scan that saw the update), the missing security fixes with
their versions and CVE ids, and counts like the cloud patch tools report. The
result also carries what a Prometheus exporter or a baseline check needs later:
pending updates by class, reboot state, seconds since the last successful scan
and patch.

Status precedence: a known violation makes a host non-compliant even if other
data is doubtful; otherwise doubt (never scanned, stale metadata, no security
classification with updates pending) makes it unknown; otherwise compliant.

Speed matters (10,000 hosts well under a second): one pass over each host's
pending list, globs compiled once per policy, no copies of the input.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from patchtui.baselines.model import Baseline, below_baseline, release_key
from patchtui.compliance.drift import (
    DEFAULT_STALE_MIRROR_DAYS,
    MirrorFinding,
    find_stale_mirrors,
)
from patchtui.compliance.policy import SEVERITIES, Policy, PolicyException, policy_to_dict

COMPLIANT = "compliant"
NON_COMPLIANT = "non-compliant"
UNKNOWN = "unknown"
STATUSES: tuple[str, ...] = (COMPLIANT, NON_COMPLIANT, UNKNOWN)

# What a reason does to the status; "note" only informs.
EFFECT_NON_COMPLIANT = NON_COMPLIANT
EFFECT_UNKNOWN = UNKNOWN
EFFECT_NOTE = "note"

REASON_CODES: tuple[str, ...] = (
    "security-pending",
    "update-pending",
    "reboot-pending",
    "scan-too-old",
    "never-scanned",
    "scan-failed",
    "stale-metadata",
    "stale-mirror",
    "no-security-data",
    "reboot-unknown",
    "first-seen-estimated",
)
"""Every ``Reason.code`` this module emits (documented for scripts that branch on them)."""

_SEVERITY_SET = frozenset(SEVERITIES)
_DAY = 86400.0
_HOUR = 3600.0
_NAMES_SHOWN = 5


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    effect: str
    """non-compliant, unknown or note."""
    packages: tuple[str, ...] = ()
    waived_by: PolicyException | None = None
    """Set when an active exception covers this reason: it no longer counts against the host."""

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "code": self.code,
            "message": self.message,
            "effect": self.effect,
        }
        if self.packages:
            data["packages"] = list(self.packages)
        if self.waived_by is not None:
            data["waived_by"] = self.waived_by.to_dict()
        return data


@dataclass(frozen=True)
class Counts:
    """Patch counts in the cloud tools' terms (AWS SSM / Azure Update Manager)."""

    installed: int = 0
    """Packages changed by the last patch run (0 when the store has no record of it)."""
    installed_pending_reboot: int = 0
    """Of those, how many wait for a reboot (all of them while the host needs a reboot)."""
    missing: int = 0
    missing_security: int = 0
    failed: int = 0
    """Packages the last patch run failed to install (0 when the store has no record)."""

    def to_dict(self) -> dict[str, int]:
        return {
            "installed": self.installed,
            "installed_pending_reboot": self.installed_pending_reboot,
            "missing": self.missing,
            "missing_security": self.missing_security,
            "failed": self.failed,
        }


@dataclass(frozen=True)
class MissingFix:
    """A pending security update: what an auditor asks for by CVE id and version."""

    package: str
    installed: str | None
    candidate: str | None
    severity: str
    ids: tuple[str, ...]
    """CVE ids first, then advisory ids (USN-, DSA-, RLSA-...)."""

    def to_dict(self) -> dict[str, object]:
        return {
            "package": self.package,
            "installed": self.installed,
            "candidate": self.candidate,
            "severity": self.severity,
            "ids": list(self.ids),
        }


@dataclass(frozen=True)
class HostCompliance:
    host: str
    status: str
    reasons: tuple[Reason, ...]
    counts: Counts
    oldest_missing_security_days: float | None
    pending_by_class: Mapping[str, int]
    """security / other / unclassified (unclassified: the OS gives no security data, e.g. apk)."""
    pending_security_by_severity: Mapping[str, int]
    security_supported: bool
    reboot_required: bool | None
    metadata_stale: bool
    last_scan: float | None
    last_patch: float | None
    seconds_since_scan: float | None
    seconds_since_patch: float | None
    os_name: str | None
    exceptions_applied: tuple[PolicyException, ...]
    exceptions_expired: tuple[PolicyException, ...]
    missing_security_fixes: tuple[MissingFix, ...] = ()

    @property
    def compliant(self) -> bool:
        return self.status == COMPLIANT

    @property
    def active_reasons(self) -> tuple[Reason, ...]:
        """Reasons that count: not waived and not mere notes."""
        return tuple(r for r in self.reasons if r.waived_by is None and r.effect != EFFECT_NOTE)

    def to_dict(self) -> dict[str, object]:
        return {
            "host": self.host,
            "status": self.status,
            "reasons": [reason.to_dict() for reason in self.reasons],
            "counts": self.counts.to_dict(),
            "oldest_missing_security_days": self.oldest_missing_security_days,
            "pending_by_class": dict(self.pending_by_class),
            "pending_security_by_severity": dict(self.pending_security_by_severity),
            "security_supported": self.security_supported,
            "reboot_required": self.reboot_required,
            "metadata_stale": self.metadata_stale,
            "last_scan": self.last_scan,
            "last_patch": self.last_patch,
            "seconds_since_scan": self.seconds_since_scan,
            "seconds_since_patch": self.seconds_since_patch,
            "os_name": self.os_name,
            "exceptions_applied": [e.to_dict() for e in self.exceptions_applied],
            "exceptions_expired": [e.to_dict() for e in self.exceptions_expired],
            "missing_security_fixes": [fix.to_dict() for fix in self.missing_security_fixes],
        }


@dataclass(frozen=True)
class ComplianceReport:
    generated_at: float
    policy: Policy
    hosts: tuple[HostCompliance, ...]
    data_oldest_scan: float | None
    data_newest_scan: float | None
    source: str = ""
    """What data the report was made from (e.g. the database path), shown to auditors."""
    summary: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    """About the data as a whole, for every format (e.g. "the OSV advisory data is stale")."""

    @property
    def all_compliant(self) -> bool:
        """True when every host complies: the exit-code question (0 vs 3)."""
        return all(host.status == COMPLIANT for host in self.hosts)

    @property
    def exceptions_expired(self) -> tuple[PolicyException, ...]:
        """Policy exceptions whose expiry date is past at ``generated_at``."""
        today = _utc_date(self.generated_at)
        return tuple(e for e in self.policy.exceptions if not e.active_on(today))

    def summary_dict(self) -> dict[str, object]:
        return {
            "generated_at": self.generated_at,
            "data_oldest_scan": self.data_oldest_scan,
            "data_newest_scan": self.data_newest_scan,
            "source": self.source,
            "policy": policy_to_dict(self.policy),
            "notes": list(self.notes),
            **self.summary,
        }


# --- the one place that knows the store's field names ------------------------------------------


_Pending = tuple[str, bool, str, float | None]
"""(name, security, severity, first_seen): plain tuples, as 200,000 objects must be cheap."""

_NUMBER_TYPES = (int, float)  # exact types: bool is excluded, and no slow ABC checks per item


@dataclass(frozen=True, slots=True)
class _HostData:
    name: str
    os_name: str | None
    last_scan: float | None
    last_scan_attempt: float | None
    last_state: str | None
    last_error: str | None
    last_patch: float | None
    pending: list[_Pending]
    security_supported: bool
    reboot_required: bool | None
    reboot_required_since: float | None
    reboot_since_estimated: bool
    metadata_stale: bool
    installed: int
    failed: int
    security_fixes: list[MissingFix]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _length_or_count(value: object) -> int:
    if isinstance(value, list | tuple):
        return len(value)
    number = _number(value)
    return int(number) if number is not None and number > 0 else 0


def host_view(state: Mapping[str, Any]) -> _HostData:
    """Adapt one hot host-state document (``Store.hosts()``) to what evaluation reads.

    Store layout (patchtui/store/db.py, engine/scan.py, engine/patch.py): each
    pending entry carries its own ``first_seen``; the host document's top-level
    ``first_seen`` is when the *host* was first seen, so a mapping there
    ("name=candidate" -> epoch) is accepted only as a fallback. Patch runs keep
    ``last_patch`` but no change list in hot state yet; ``last_changes`` /
    ``last_failed`` are read if a later store version adds them.
    """
    facts = state.get("facts")
    os_name = None
    if isinstance(facts, Mapping):
        found = facts.get("os_name") or facts.get("os_id")
        os_name = str(found) if found else None
    legacy_first_seen = state.get("first_seen")
    first_seen_map = legacy_first_seen if isinstance(legacy_first_seen, Mapping) else None
    pending: list[_Pending] = []
    fixes: list[MissingFix] = []
    raw_pending = state.get("pending")
    if isinstance(raw_pending, list):
        append = pending.append
        for item in raw_pending:
            if type(item) is not dict:
                continue
            name = item.get("name")
            name = name if type(name) is str else str(name)
            # An OSV advisory's publication date (set by patchtui.advisories.osv) is when
            # the hole became known: the fix has been missing since then, not since the
            # first scan that happened to see it.
            seen = item.get("published")
            if type(seen) not in _NUMBER_TYPES:
                seen = item.get("first_seen")
            if type(seen) not in _NUMBER_TYPES:
                seen = None
                if first_seen_map is not None:
                    found = first_seen_map.get(f"{name}={item.get('candidate', '')}")
                    seen = found if type(found) in _NUMBER_TYPES else None
            severity = item.get("severity")
            level = severity if severity in _SEVERITY_SET else "unknown"
            security = bool(item.get("security"))
            append((name, security, level, seen))
            if security:
                fixes.append(_missing_fix(name, item, level))
    reboot = state.get("reboot_required")
    reboot_required = reboot if isinstance(reboot, bool) else None
    last_patch = _number(state.get("last_patch"))
    reboot_since = _number(state.get("reboot_required_since"))
    estimated = False
    if reboot_required and reboot_since is None and last_patch is not None:
        # A pending reboot usually comes from the last patch run; better than "just now".
        reboot_since, estimated = last_patch, True
    error = state.get("last_error")
    return _HostData(
        name=str(state.get("name", "?")),
        os_name=os_name,
        last_scan=_number(state.get("last_scan")),
        last_scan_attempt=_number(state.get("last_scan_attempt")),
        last_state=str(state["last_state"]) if state.get("last_state") else None,
        last_error=str(error) if error else None,
        last_patch=last_patch,
        pending=pending,
        security_supported=state.get("security_supported", True) is not False,
        reboot_required=reboot_required,
        reboot_required_since=reboot_since,
        reboot_since_estimated=estimated,
        metadata_stale=bool(state.get("metadata_stale")),
        installed=_length_or_count(state.get("last_changes", state.get("last_installed"))),
        failed=_length_or_count(state.get("last_failed")),
        security_fixes=fixes,
    )


def _missing_fix(name: str, item: Mapping[str, Any], severity: str) -> MissingFix:
    cves = [str(each) for each in item.get("cves") or ()]
    others = [str(each) for each in item.get("advisories") or () if str(each) not in cves]
    installed, candidate = item.get("installed"), item.get("candidate")
    return MissingFix(
        package=name,
        installed=str(installed) if installed is not None else None,
        candidate=str(candidate) if candidate is not None else None,
        severity=severity,
        ids=tuple(cves + others),
    )


# --- evaluation ---------------------------------------------------------------------------------


def _utc_date(epoch: float) -> dt.date:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).date()


def _over(age_seconds: float, grace_days: float) -> bool:
    """Grace 0 = not allowed at all; grace N = allowed while pending no longer than N days."""
    return grace_days <= 0 or age_seconds > grace_days * _DAY


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_NAMES_SHOWN])
    more = len(names) - _NAMES_SHOWN
    return f"{shown} (+{more} more)" if more > 0 else shown


def _days(seconds: float) -> str:
    """An age as an auditor reads it: hours under a day ('0.0 days' said nothing)."""
    if seconds < _HOUR:
        return "under an hour"
    if seconds < _DAY:
        return _hours(seconds)
    days = seconds / _DAY
    return f"{days:.1f} days" if days < 10 else f"{days:.0f} days"


def _hours(seconds: float) -> str:
    return f"{seconds / _HOUR:.1f} h"


class _Collector:
    """Groups violating packages per (code, waiving exception) into one reason each."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, PolicyException | None], list[str]] = {}
        self.oldest: dict[tuple[str, PolicyException | None], float] = {}

    def add(self, code: str, waiver: PolicyException | None, name: str, age: float) -> None:
        key = (code, waiver)
        self.groups.setdefault(key, []).append(name)
        if age > self.oldest.get(key, -1.0):
            self.oldest[key] = age


def _waiver(
    host_waiver: PolicyException | None,
    package_waivers: Sequence[PolicyException],
    package: str,
) -> PolicyException | None:
    if host_waiver is not None:
        return host_waiver
    for exception in package_waivers:
        if exception.matches_package(package):
            return exception
    return None


def evaluate_host(state: Mapping[str, Any], policy: Policy, now: float) -> HostCompliance:
    """Judge one host's hot state against ``policy`` at epoch ``now``."""
    return _evaluate(host_view(state), policy, now, _utc_date(now))


def _evaluate(
    host: _HostData,
    policy: Policy,
    now: float,
    today: dt.date,
    extra: Sequence[Reason] = (),
) -> HostCompliance:
    reasons: list[Reason] = []
    # Exceptions relevant to this host, split by whether they still apply today.
    host_waiver: PolicyException | None = None
    package_waivers: list[PolicyException] = []
    expired_candidates: list[PolicyException] = []
    for exception in policy.exceptions:
        if not exception.matches_host(host.name):
            continue
        if not exception.active_on(today):
            expired_candidates.append(exception)
        elif exception.whole_host:
            host_waiver = host_waiver or exception
        else:
            package_waivers.append(exception)

    security_ok = host.security_supported
    pending_by_class = {"security": 0, "other": 0, "unclassified": 0}
    by_severity = dict.fromkeys(SEVERITIES, 0)
    oldest_security: float | None = None
    collector = _Collector()
    estimated_first_seen = 0
    reference = host.last_scan if host.last_scan is not None else now
    any_grace = policy.any_update_grace_days

    for name, security, severity, first_seen in host.pending:
        if first_seen is None:
            first_seen = reference
            estimated_first_seen += 1
        age = max(0.0, now - first_seen)
        if not security_ok:
            pending_by_class["unclassified"] += 1
        elif security:
            pending_by_class["security"] += 1
            by_severity[severity] += 1
            if oldest_security is None or age > oldest_security:
                oldest_security = age
        else:
            pending_by_class["other"] += 1
        security_over = security_ok and security and _over(age, policy.security_grace(severity))
        any_over = any_grace is not None and _over(age, any_grace)
        if security_over or any_over:
            code = "security-pending" if security_over else "update-pending"
            waiver = _waiver(host_waiver, package_waivers, name)
            collector.add(code, waiver, name, age)
        elif not security_ok and _over(age, policy.security_grace(None)):
            # No classification: it may be a security fix (of unknown severity) past its grace.
            waiver = _waiver(host_waiver, package_waivers, name)
            collector.add("no-security-data", waiver, name, age)

    for (code, waiver), names in collector.groups.items():
        age = collector.oldest[(code, waiver)]
        if code == "security-pending":
            message = (
                f"{len(names)} security update(s) missing beyond the grace period "
                f"(oldest pending {_days(age)}): {_names(names)}"
            )
            effect = EFFECT_NON_COMPLIANT
        elif code == "update-pending":
            message = (
                f"{len(names)} update(s) pending longer than {any_grace:g} days "
                f"(oldest {_days(age)}): {_names(names)}"
            )
            effect = EFFECT_NON_COMPLIANT
        else:
            message = (
                f"{len(names)} pending update(s) cannot be classified: this package manager "
                f"gives no security data, so missing security fixes cannot be ruled out: "
                f"{_names(names)}"
            )
            effect = EFFECT_UNKNOWN
        reasons.append(Reason(code, message, effect, tuple(names), waiver))
    if (
        not security_ok
        and host.last_scan is not None
        and not any(code == "no-security-data" for code, _ in collector.groups)
    ):
        detail = (
            "nothing is pending, so nothing is missing"
            if not host.pending
            else "pending updates are treated as security fixes of unknown severity"
        )
        reasons.append(
            Reason(
                "no-security-data",
                f"this package manager gives no security classification; {detail}",
                EFFECT_NOTE,
            )
        )
    if estimated_first_seen:
        reasons.append(
            Reason(
                "first-seen-estimated",
                f"{estimated_first_seen} pending update(s) have no first-seen time; "
                "their age is counted from the last scan",
                EFFECT_NOTE,
            )
        )

    # Reboot.
    if host.reboot_required:
        since = host.reboot_required_since
        age = max(0.0, now - since) if since is not None else 0.0
        if _over(age, policy.reboot_grace_days):
            if since is None:
                detail = "since an unknown time"
            elif host.reboot_since_estimated:
                detail = f"since the last patch run, {_days(age)} ago"
            else:
                detail = f"for {_days(age)}"
            reasons.append(
                Reason(
                    "reboot-pending",
                    f"reboot required {detail} (grace {policy.reboot_grace_days:g} days)",
                    EFFECT_NON_COMPLIANT,
                    waived_by=host_waiver,
                )
            )
    elif host.reboot_required is None and host.last_scan is not None:
        reasons.append(
            Reason(
                "reboot-unknown", "the host gives no way to tell if a reboot is needed", EFFECT_NOTE
            )
        )

    # Scan age and data quality.
    seconds_since_scan = max(0.0, now - host.last_scan) if host.last_scan is not None else None
    if host.last_scan is None:
        if host.last_scan_attempt is not None:
            error = f": {host.last_error}" if host.last_error else ""
            reasons.append(
                Reason(
                    "scan-failed",
                    f"never scanned successfully; the last attempt failed{error}",
                    EFFECT_UNKNOWN,
                    waived_by=host_waiver,
                )
            )
        else:
            reasons.append(
                Reason("never-scanned", "never scanned", EFFECT_UNKNOWN, waived_by=host_waiver)
            )
    else:
        max_age = policy.scan_max_age_hours
        if (
            max_age is not None
            and seconds_since_scan is not None
            and seconds_since_scan > max_age * _HOUR
        ):
            reasons.append(
                Reason(
                    "scan-too-old",
                    f"last successful scan {_hours(seconds_since_scan)} ago (limit {max_age:g} h)",
                    EFFECT_NON_COMPLIANT,
                    waived_by=host_waiver,
                )
            )
        if host.last_scan_attempt is not None and host.last_scan_attempt > host.last_scan:
            error = f": {host.last_error}" if host.last_error else ""
            reasons.append(
                Reason(
                    "scan-failed",
                    f"the latest scan attempt failed{error}; using data from the last good scan",
                    EFFECT_NOTE,
                )
            )
        if host.metadata_stale:
            reasons.append(
                Reason(
                    "stale-metadata",
                    "package metadata could not be refreshed: the pending list may be out of date",
                    EFFECT_UNKNOWN,
                    waived_by=host_waiver,
                )
            )

    reasons.extend(
        dataclasses.replace(reason, waived_by=host_waiver)
        if reason.effect != EFFECT_NOTE and host_waiver is not None
        else reason
        for reason in extra
    )

    status = COMPLIANT
    for reason in reasons:
        if reason.waived_by is not None or reason.effect == EFFECT_NOTE:
            continue
        if reason.effect == EFFECT_NON_COMPLIANT:
            status = NON_COMPLIANT
            break
        status = UNKNOWN

    applied: list[PolicyException] = []
    for reason in reasons:
        if reason.waived_by is not None and reason.waived_by not in applied:
            applied.append(reason.waived_by)
    expired = tuple(
        exception
        for exception in expired_candidates
        if exception.whole_host
        or any(exception.matches_package(update[0]) for update in host.pending)
    )
    missing_security = pending_by_class["security"]
    installed_pending_reboot = host.installed if host.reboot_required else 0
    return HostCompliance(
        host=host.name,
        status=status,
        reasons=tuple(reasons),
        counts=Counts(
            installed=host.installed,
            installed_pending_reboot=installed_pending_reboot,
            missing=len(host.pending),
            missing_security=missing_security,
            failed=host.failed,
        ),
        oldest_missing_security_days=(
            round(oldest_security / _DAY, 2) if oldest_security is not None else None
        ),
        pending_by_class=pending_by_class,
        pending_security_by_severity=by_severity,
        security_supported=security_ok,
        reboot_required=host.reboot_required,
        metadata_stale=host.metadata_stale,
        last_scan=host.last_scan,
        last_patch=host.last_patch,
        seconds_since_scan=seconds_since_scan,
        seconds_since_patch=max(0.0, now - host.last_patch)
        if host.last_patch is not None
        else None,
        os_name=host.os_name,
        exceptions_applied=tuple(applied),
        exceptions_expired=expired,
        missing_security_fixes=tuple(host.security_fixes) if security_ok else (),
    )


def baseline_reasons(state: Mapping[str, Any], baseline: Baseline) -> list[Reason]:
    """``baseline-missing`` when the last scan saw packages below the approved versions.

    As in SSM patch baselines, an approved version that is not installed makes
    the host non-compliant. A host whose OS release the baseline does not cover
    gets a note, not a verdict.
    """
    facts = state.get("facts")
    if not isinstance(facts, Mapping) or not facts.get("os_id"):
        return []
    os_id, os_version = str(facts["os_id"]), str(facts.get("os_version") or "")
    approved = baseline.versions_for(os_id, os_version)
    if approved is None:
        release = release_key(os_id, os_version)
        message = f"baseline {baseline.name} has no versions for {release}"
        return [Reason("baseline-uncovered", message, EFFECT_NOTE)]
    pending = [item for item in state.get("pending") or () if isinstance(item, Mapping)]
    family = str(facts.get("package_manager") or "") or baseline.families.get(
        release_key(os_id, os_version)
    )
    below = below_baseline(approved, pending, family)
    if not below:
        return []
    listed = [f"{name} {have} < {want}" for name, have, want in below]
    message = (
        f"{len(below)} package(s) below baseline {baseline.name}'s approved versions: "
        + _names(listed)
    )
    names = tuple(name for name, _, _ in below)
    return [Reason("baseline-missing", message, EFFECT_NON_COMPLIANT, names)]


def _mirror_reasons(finding: MirrorFinding | None, stale_mirror_days: float) -> list[Reason]:
    """``stale-mirror``: the host's updates come from a mirror that is behind, so its
    pending list (and so every other reason) understates what it is missing."""
    if finding is None or not finding.stale:
        return []
    names = tuple(behind.package for behind in finding.behind)
    message = "stale mirror: " + finding.describe(stale_mirror_days)
    return [Reason("stale-mirror", message, EFFECT_NON_COMPLIANT, names)]


def evaluate_fleet(
    states: Iterable[Mapping[str, Any]],
    policy: Policy,
    now: float,
    *,
    source: str = "",
    baseline: Baseline | None = None,
    notes: Sequence[str] = (),
    stale_mirror_days: float = DEFAULT_STALE_MIRROR_DAYS,
) -> ComplianceReport:
    """Judge every host; the report carries the summary, data time range and the policy.

    With ``baseline``, a host is also judged against its approved versions
    (reason ``baseline-missing``).
    """
    today = _utc_date(now)
    states = list(states)
    # A stale mirror shows only against the host's peers: judged over the whole fleet.
    mirrors = find_stale_mirrors(states, stale_mirror_days)
    results = tuple(
        _evaluate(
            host_view(state),
            policy,
            now,
            today,
            [
                *(baseline_reasons(state, baseline) if baseline is not None else ()),
                *_mirror_reasons(mirrors.get(str(state.get("name", "?"))), stale_mirror_days),
            ],
        )
        for state in states
    )
    by_status = dict.fromkeys(STATUSES, 0)
    by_reason: dict[str, int] = {}
    waived = 0
    oldest: float | None = None
    newest: float | None = None
    for result in results:
        by_status[result.status] += 1
        for reason in result.reasons:
            if reason.effect == EFFECT_NOTE:
                continue
            if reason.waived_by is not None:
                waived += 1
                continue
            by_reason[reason.code] = by_reason.get(reason.code, 0) + 1
        if result.last_scan is not None:
            oldest = result.last_scan if oldest is None else min(oldest, result.last_scan)
            newest = result.last_scan if newest is None else max(newest, result.last_scan)
    summary = {
        "hosts": len(results),
        "compliant": by_status[COMPLIANT],
        "non_compliant": by_status[NON_COMPLIANT],
        "unknown": by_status[UNKNOWN],
        "hosts_by_reason": dict(sorted(by_reason.items())),
        "waived_reasons": waived,
        "missing": sum(r.counts.missing for r in results),
        "missing_security": sum(r.counts.missing_security for r in results),
        "reboot_required": sum(1 for r in results if r.reboot_required),
        "exceptions_expired": sum(
            1 for exception in policy.exceptions if not exception.active_on(today)
        ),
    }
    return ComplianceReport(
        generated_at=now,
        policy=policy,
        hosts=results,
        data_oldest_scan=oldest,
        data_newest_scan=newest,
        source=source,
        summary=summary,
        notes=tuple(notes),
    )
