"""The typed events the engine emits while it works.

Front ends (console and headless CLI) consume these; the engine never calls
into a widget. Every event is a frozen dataclass so it can cross task
boundaries and be queued without copying.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from patchtui.drivers.base import Facts, PackageChange, ScanResult


class HostState(StrEnum):
    IDLE = "idle"
    QUEUED = "queued"
    CONNECTING = "connecting"
    SCANNING = "scanning"
    PATCHING = "patching"
    REBOOTING = "rebooting"
    HEALTH = "health"
    """The host's health gate is probing it (after its patch and reboot)."""
    ROLLING_BACK = "rolling-back"
    """--rollback-on-failure is restoring a failed host's previous versions."""
    OK = "ok"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    INTERRUPTED = "interrupted"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset(
    {
        HostState.OK,
        HostState.FAILED,
        HostState.UNREACHABLE,
        HostState.INTERRUPTED,
        HostState.SKIPPED,
    }
)


def _now() -> float:
    return time.time()


@dataclass(frozen=True, kw_only=True)
class Event:
    run_id: str
    at: float = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    operation: str
    hosts: tuple[str, ...]
    options: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class HostStateChanged(Event):
    host: str
    state: HostState
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class HostOutput(Event):
    host: str
    stream: str
    """stdout, stderr, or 'cmd' for the command line patchtui sent."""
    line: str


@dataclass(frozen=True, kw_only=True)
class HostScanned(Event):
    host: str
    facts: Facts
    scan: ScanResult


@dataclass(frozen=True, kw_only=True)
class HostFinished(Event):
    host: str
    state: HostState
    error_kind: str | None = None
    """unreachable, timeout, auth, hostkey-changed, hostkey-unknown, locked, failed, ..."""
    error: str | None = None
    duration: float = 0.0
    result: str | None = None
    """Patch runs: ok, ok-reboot-required, partial, failed, interrupted, skipped, unreachable."""
    changes: tuple[PackageChange, ...] = ()
    """Patch runs: what changed on the host (name, before, after)."""
    changes_unknown: bool = False
    """Patch runs: the install started but what it changed could not be read back
    (rollback restores the recorded before-versions)."""
    rebooted: bool = False


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    hosts: int
    ok: int
    failed: int
    unreachable: int
    interrupted: int
    skipped: int
    pending: int
    security: int
    reboot_required: int
    stale: int
    duration: float
    results: Mapping[str, int] = field(default_factory=dict)
    """Patch runs: hosts per result (ok, ok-reboot-required, partial, ...)."""
    waves: int = 0
    halted: bool = False
    halt_reason: str | None = None
    skipped_reasons: Mapping[str, int] = field(default_factory=dict)
    """Skipped hosts per reason (halted, cancelled, outside-window, pre-check, ...):
    ``sum(values) == skipped``, so every host is accounted for."""
    scanned: int = 0
    """Hosts this run scanned: ``pending`` and ``security`` count updates on these only."""
    dry_run: bool = False
    """Nothing was changed: results are what would happen."""


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    operation: str
    outcome: str
    """completed, completed-with-failures, halted, interrupted, dry-run (engine/outcome.py)."""
    summary: RunSummary


@dataclass(frozen=True, kw_only=True)
class WaveStarted(Event):
    index: int
    label: str
    """canary, or wave N/M."""
    hosts: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class RunHalted(Event):
    reason: str
    skipped: tuple[str, ...]


EventSink = Callable[[Event], None]
"""Where the engine sends events; must not block (front ends queue or buffer)."""
