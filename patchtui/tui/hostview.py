"""What the console knows about each host, and how it is shown: pure, no Textual.

``HostRow`` gathers the inventory entry, the store's last known state and the
live events of a run into one record; the formatting and filter functions here
turn it into table text. Keeping this free of widgets lets the tests check the
rules (what ``3/12`` means, which hosts a filter keeps, the sort order)
without starting an app.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from patchtui.compliance.drift import find_stale_mirrors
from patchtui.config import load_config
from patchtui.drivers.base import SEVERITIES, Facts, ScanResult
from patchtui.engine.events import HostState
from patchtui.engine.windows import (
    MaintenanceWindow,
    WindowError,
    describe_windows,
    format_opening,
    host_windows,
    is_open,
    next_opening,
)
from patchtui.inventory.model import Host

ACTIVE_STATES = frozenset(
    {
        HostState.QUEUED,
        HostState.CONNECTING,
        HostState.SCANNING,
        HostState.PATCHING,
        HostState.REBOOTING,
        HostState.HEALTH,
        HostState.ROLLING_BACK,
    }
)

STATE_ORDER: dict[HostState, int] = {
    # Most in need of attention first when sorting by state.
    HostState.FAILED: 0,
    HostState.UNREACHABLE: 1,
    HostState.INTERRUPTED: 2,
    HostState.ROLLING_BACK: 3,
    HostState.HEALTH: 3,
    HostState.PATCHING: 3,
    HostState.REBOOTING: 4,
    HostState.SCANNING: 5,
    HostState.CONNECTING: 6,
    HostState.QUEUED: 7,
    HostState.SKIPPED: 8,
    HostState.OK: 9,
    HostState.IDLE: 10,
}

STATE_VARIABLES: dict[HostState, str] = {
    # Variables every Textual theme defines (so built-in themes colour states too); the
    # text-* variants are tuned by Textual for contrast against the theme's background.
    HostState.IDLE: "foreground-muted",
    HostState.QUEUED: "text-secondary",
    HostState.CONNECTING: "text-accent",
    HostState.SCANNING: "text-accent",
    HostState.PATCHING: "text-warning",
    HostState.REBOOTING: "text-warning",
    HostState.HEALTH: "text-accent",
    HostState.ROLLING_BACK: "text-warning",
    HostState.OK: "text-success",
    HostState.FAILED: "text-error",
    HostState.UNREACHABLE: "text-error",
    HostState.INTERRUPTED: "text-warning",
    HostState.SKIPPED: "foreground-muted",
}

SEVERITY_VARIABLES: dict[str, str] = {
    "critical": "text-error",
    "important": "text-warning",
    "moderate": "text-accent",
    "low": "foreground-muted",
    "unknown": "foreground-muted",
}


@dataclass
class HostRow:
    """One host as the console shows it; changed in place as events arrive."""

    name: str
    groups: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    address: str = ""
    state: HostState = HostState.IDLE
    detail: str = ""
    os: str = ""
    pending: int | None = None
    security: int | None = None
    security_supported: bool = True
    reboot_required: bool | None = None
    metadata_stale: bool = False
    metadata_age_seconds: float | None = None
    stale_mirror: str = ""
    """Why the host looks on a stale mirror (``compliance.drift``), set by ``filter_rows``."""
    last_scan: float | None = None
    error_kind: str | None = None
    error: str | None = None
    facts: dict[str, Any] | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    windows: tuple[MaintenanceWindow, ...] | None = None
    """The host's maintenance windows (inventory vars); None: no window, always open."""
    window_error: str | None = None
    resting: tuple[HostState, str] | None = None
    """The state and detail a dry run or command found the row in, put back after it."""
    command: str = ""
    """The last ad-hoc command's result this session (exit 0, exit 3, unreachable, ...)."""

    @classmethod
    def from_host(cls, host: Host) -> HostRow:
        row = cls(
            name=host.name,
            groups=host.groups,
            labels=dict(host.labels),
            address=f"{host.address}:{host.port}",
        )
        try:
            row.windows = host_windows(host.vars)
        except WindowError as error:
            # Shown on the row; a patch run refuses the host with the same message.
            row.window_error = str(error)
        return row

    def apply_store_record(self, record: Mapping[str, Any]) -> None:
        """Fill in what the store remembers from earlier runs (``ScanJob`` writes it)."""
        state = _parse_state(record.get("last_state"))
        if state is not None:
            self.state = state
        self.error = _optional_str(record.get("last_error"))
        self.error_kind = _optional_str(record.get("last_error_kind"))
        last_scan = record.get("last_scan")
        if isinstance(last_scan, int | float):
            self.last_scan = float(last_scan)
        facts = record.get("facts")
        if isinstance(facts, Mapping):
            self._set_facts(dict(facts))
        if "pending_count" in record or "pending" in record:
            pending = record.get("pending")
            self.updates = [dict(item) for item in pending or [] if isinstance(item, Mapping)]
            count = record.get("pending_count")
            self.pending = int(count) if isinstance(count, int) else len(self.updates)
            security = record.get("security_count")
            self.security = int(security) if isinstance(security, int) else None
            self.security_supported = bool(record.get("security_supported", True))
            reboot = record.get("reboot_required")
            self.reboot_required = reboot if isinstance(reboot, bool) else None
            self.metadata_stale = bool(record.get("metadata_stale", False))
            age = record.get("metadata_age_seconds")
            self.metadata_age_seconds = float(age) if isinstance(age, int | float) else None
            self.warnings = [str(each) for each in record.get("warnings") or []]

    def apply_scan(self, facts: Facts, scan: ScanResult) -> None:
        self._set_facts(dataclasses.asdict(facts))
        self.updates = [dataclasses.asdict(update) for update in scan.pending]
        self.pending = len(scan.pending)
        self.security = scan.security_count
        self.security_supported = scan.security_supported
        self.reboot_required = scan.reboot_required
        self.metadata_stale = scan.metadata_stale
        self.metadata_age_seconds = scan.metadata_age_seconds
        self.warnings = list(scan.warnings)

    def _set_facts(self, facts: dict[str, Any]) -> None:
        self.facts = facts
        os_id = str(facts.get("os_id") or "")
        version = str(facts.get("os_version") or "")
        self.os = f"{os_id} {version}".strip()


def _parse_state(value: object) -> HostState | None:
    try:
        return HostState(str(value)) if value else None
    except ValueError:
        return None


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


# ---------------------------------------------------------------- formatting


def format_pending(row: HostRow) -> str:
    """``security/total``; ``-/total`` where the OS does not classify updates (apk)."""
    if row.pending is None:
        return ""
    if not row.security_supported or row.security is None:
        return f"-/{row.pending}"
    return f"{row.security}/{row.pending}"


REASON_STATES = frozenset(
    {HostState.FAILED, HostState.UNREACHABLE, HostState.INTERRUPTED, HostState.SKIPPED}
)


def format_reason(row: HostRow) -> str:
    """Why a host is not ok, in a word (auth, hostkey-changed, locked, timeout, pre-check,
    outside-window, halted...): the full error and its fix are in the host detail."""
    if row.state not in REASON_STATES:
        return ""
    return row.error_kind or ("error" if row.error else "")


def format_reboot(row: HostRow) -> str:
    if row.pending is None and row.reboot_required is None:
        return ""
    return {True: "yes", False: "no", None: "?"}[row.reboot_required]


def format_age(timestamp: float | None, now: float) -> str:
    """A short relative time ("12s ago", "3h ago"); exact dates belong in the detail view."""
    if timestamp is None:
        return "never"
    seconds = max(0.0, now - timestamp)
    if seconds < 60:
        return f"{int(seconds)}s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)}m ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h ago"
    return f"{int(seconds // 86400)}d ago"


def format_time(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def format_state(row: HostRow) -> str:
    return row.state.value


def format_window(row: HostRow, now: float) -> str:
    """The table's window cell: '' (no window), 'open', or when it next opens."""
    if row.window_error is not None:
        return "invalid"
    if row.windows is None:
        return ""
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    if is_open(row.windows, moment):
        return "open"
    opens = next_opening(row.windows, moment).astimezone(row.windows[0].zone)
    return f"opens {opens:%a %H:%M}"


def describe_window(row: HostRow, now: float) -> str:
    """The detail screen's window line: the window itself and whether it is open."""
    if row.window_error is not None:
        return f"maintenance window invalid: {row.window_error}"
    if row.windows is None:
        return "maintenance window: none (patching allowed at any time)"
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    state = (
        "open now"
        if is_open(row.windows, moment)
        else "next opens " + format_opening(next_opening(row.windows, moment), row.windows)
    )
    return f"maintenance window: {describe_windows(row.windows)} · {state}"


def normalise_severity(update: Mapping[str, Any]) -> str:
    severity = update.get("severity")
    if isinstance(severity, str) and severity in SEVERITIES:
        return severity
    return "unknown" if update.get("security") else ""


# ---------------------------------------------------------------- sorting

SORT_COLUMNS: tuple[str, ...] = (
    "name",
    "groups",
    "os",
    "state",
    "pending",
    "reboot",
    "last_scan",
    "severity",
)


SORT_ASCENDING = "▲"
SORT_DESCENDING = "▼"
"""A header's sort arrow means one thing in every table: ▲ ascending (A→Z, fewest
first, oldest first, least severe first), ▼ descending (the reverse)."""
DESCENDING_FIRST = frozenset({"pending", "reboot", "last_scan", "severity"})
"""Columns whose first sort is descending: most updates, needs a reboot, newest scan,
most severe on top (what one wants to see first); choosing them again is ascending."""


def sort_arrow(column: str, reverse: bool) -> str:
    """The arrow for the hosts table sorted by ``column`` (``reverse``: chosen again)."""
    descending = (column in DESCENDING_FIRST) != reverse
    return SORT_DESCENDING if descending else SORT_ASCENDING


def severity_rank(row: HostRow) -> tuple[int, int]:
    """(index in SEVERITIES of the most urgent pending security update, minus how many
    updates have it): sorting by it puts hosts with critical fixes first."""
    ranks = [
        SEVERITIES.index(level)
        for update in row.updates
        if (level := normalise_severity(update)) in SEVERITIES
    ]
    if not ranks:
        return (len(SEVERITIES), 0)
    worst = min(ranks)
    return (worst, -ranks.count(worst))


def sort_key(row: HostRow, column: str) -> tuple[Any, ...]:
    """Key for ordering rows by ``column``; ties fall back to the host name."""
    if column == "groups":
        return (",".join(row.groups), row.name)
    if column == "os":
        return (row.os == "", row.os, row.name)
    if column == "state":
        return (STATE_ORDER.get(row.state, 99), row.name)
    if column == "pending":
        # Most security updates first, then most updates; unknown counts last.
        security = row.security if row.security_supported and row.security is not None else -1
        pending = row.pending if row.pending is not None else -1
        return (-security, -pending, row.name)
    if column == "reboot":
        order = {True: 0, None: 1, False: 2}
        return (order[row.reboot_required], row.name)
    if column == "last_scan":
        return (-(row.last_scan or 0.0), row.name)
    if column == "severity":
        return (*severity_rank(row), row.name)
    return (row.name,)


# ---------------------------------------------------------------- filtering


FILTER_FORMS: tuple[tuple[str, str], ...] = (
    ("web db-01", "name, group, label value, state or OS contains each word"),
    ("env=prod", "label equals value"),
    ("state:failed", "state is exactly (ok, failed, unreachable, skipped, idle, ...)"),
    ("reboot", "needs a reboot (reboot:no, reboot:? for the others)"),
    ("stale", "stale mirror (old metadata, candidates behind same-OS peers) or failed refresh"),
    ("CVE-2024-6387 DSA-5724", "a pending update fixes it (a prefix works: CVE-2024-)"),
)
"""The filter's forms, for the placeholder and the help screen."""

_REBOOT_WORDS = {"yes": True, "no": False, "?": None}


def filter_rows(rows: Mapping[str, HostRow], query: str) -> list[HostRow]:
    """The rows ``matches`` keeps; a ``stale`` term first judges mirrors fleet-wide (a
    host is behind only next to its peers), with config.toml's ``stale_mirror_days``."""
    if "stale" in query.lower().split():
        mark_stale_mirrors(rows.values(), load_config().stale_mirror_limit)
    return [row for row in rows.values() if matches(row, query)]


def mark_stale_mirrors(rows: Iterable[HostRow], stale_mirror_days: float) -> None:
    rows = list(rows)
    states = [
        {
            "name": row.name,
            "facts": row.facts,
            "pending": row.updates,
            "metadata_age_seconds": row.metadata_age_seconds,
        }
        for row in rows
    ]
    findings = find_stale_mirrors(states, stale_mirror_days)
    for row in rows:
        finding = findings.get(row.name)
        stale = finding is not None and finding.stale
        row.stale_mirror = finding.describe(stale_mirror_days) if finding and stale else ""


def matches(row: HostRow, query: str) -> bool:
    """Does ``row`` match every whitespace-separated term of ``query`` (``FILTER_FORMS``)?

    ``key=value`` matches a label exactly (case-insensitive); ``state:S`` the state;
    ``stale`` a stale mirror (``filter_rows`` judges it) or a failed metadata refresh;
    ``reboot`` (``reboot:yes|no|?``) whether a reboot is needed; ``cve:ID`` only
    hosts with a pending update fixing that CVE or advisory (a prefix works); any
    other term is a case-insensitive substring of the name, a group, a label value,
    the state or the OS, or the start of a pending fix's CVE or advisory id. An
    empty query matches everything.
    """
    for term in query.lower().split():
        if term.startswith("cve:"):
            if not _fixes(row, term[4:]):
                return False
            continue
        if term.startswith("state:"):
            if row.state.value != term[6:]:
                return False
            continue
        if term == "stale":
            if not (row.stale_mirror or row.metadata_stale):
                return False
            continue
        if term == "reboot" or term.startswith("reboot:"):
            wanted = _REBOOT_WORDS.get(term[7:] or "yes", True)
            if row.reboot_required is not wanted:
                return False
            continue
        if "=" in term:
            key, _, value = term.partition("=")
            labels = {k.lower(): str(v).lower() for k, v in row.labels.items()}
            if labels.get(key) != value:
                return False
            continue
        haystack: Sequence[str] = (
            row.name,
            *row.groups,
            *(str(value) for value in row.labels.values()),
            row.state.value,
            row.os,
        )
        if not any(term in text.lower() for text in haystack) and not _fixes(row, term):
            return False
    return True


def _fixes(row: HostRow, wanted: str) -> bool:
    """Has ``row`` a pending update whose CVE or advisory ids start with ``wanted``?"""
    for update in row.updates:
        ids = [*(update.get("cves") or ()), *(update.get("advisories") or ())]
        if any(str(each).lower().startswith(wanted) for each in ids):
            return True
    return False
