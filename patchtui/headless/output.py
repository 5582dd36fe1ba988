"""Printing for headless commands: JSON lines for scripts, aligned tables for people."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence
from typing import IO, Any

from patchtui.engine.events import (
    Event,
    HealthProbed,
    HostFinished,
    HostScanned,
    HostStateChanged,
    HostWaitingForWindow,
    PhaseStarted,
    RunFinished,
    RunHalted,
    RunStarted,
    SwitchRan,
    WaveStarted,
)
from patchtui.textsafe import strip_control


def emit_json(obj: Mapping[str, Any], stream: IO[str] | None = None) -> None:
    """One JSON object per line, flushed so a pipe reader sees it at once."""
    out = stream or sys.stdout
    out.write(json.dumps(obj, default=_json_default, sort_keys=False) + "\n")
    out.flush()


def _json_default(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def event_to_json(event: Event, scans: Mapping[str, HostScanned]) -> dict[str, Any] | None:
    """The JSON line for an event, or None for events scripts do not need.

    ``scans`` holds each host's HostScanned so its result line carries the data.
    """
    if isinstance(event, RunStarted):
        return {
            "type": "run_started",
            "run_id": event.run_id,
            "operation": event.operation,
            "hosts": len(event.hosts),
            "at": event.at,
        }
    if isinstance(event, HostStateChanged):
        line: dict[str, Any] = {
            "type": "host_state",
            "host": event.host,
            "state": event.state.value,
        }
        if event.detail:
            line["detail"] = event.detail
        if isinstance(event, HostWaitingForWindow):
            line["waiting_until"] = event.opens
        return line
    if isinstance(event, HostFinished):
        result: dict[str, Any] = {
            "type": "host_result",
            "host": event.host,
            "state": event.state.value,
            "error_kind": event.error_kind,
            "error": event.error,
            "duration": event.duration,
        }
        if event.result is not None:
            result["result"] = event.result
            result["changes"] = [dataclasses.asdict(change) for change in event.changes]
            if event.changes_unknown:
                result["changes_unknown"] = True
            result["rebooted"] = event.rebooted
            if event.health is not None:
                result["health"] = dict(event.health)
            if event.rollback is not None:
                result["rollback"] = dict(event.rollback)
        scanned = scans.get(event.host)
        if scanned is not None:
            facts, scan = scanned.facts, scanned.scan
            result.update(
                os=facts.os_name,
                os_id=facts.os_id,
                os_version=facts.os_version,
                kernel=facts.kernel,
                package_manager=facts.package_manager,
                pending=len(scan.pending),
                security=scan.security_count if scan.security_supported else None,
                security_supported=scan.security_supported,
                reboot_required=scan.reboot_required,
                metadata_stale=scan.metadata_stale,
                metadata_age_seconds=scan.metadata_age_seconds,
                warnings=list(scan.warnings),
                updates=[dataclasses.asdict(update) for update in scan.pending],
            )
        return result
    if isinstance(event, WaveStarted):
        return {
            "type": "wave_started",
            "index": event.index,
            "label": event.label,
            "hosts": list(event.hosts),
        }
    if isinstance(event, HealthProbed):
        return {
            "type": "health_probe",
            "host": event.host,
            "attempt": event.attempt,
            "healthy": event.healthy,
            "detail": event.detail,
            "final": event.final,
        }
    if isinstance(event, PhaseStarted):
        return {
            "type": "phase_started",
            "index": event.index,
            "label": event.label,
            "hosts": list(event.hosts),
        }
    if isinstance(event, SwitchRan):
        return {
            "type": "switch",
            "command": event.command,
            "exit_status": event.exit_status,
            "output": list(event.output),
            "reason": event.reason,
        }
    if isinstance(event, RunHalted):
        return {"type": "run_halted", "reason": event.reason, "skipped": list(event.skipped)}
    if isinstance(event, RunFinished):
        return {
            "type": "summary",
            "run_id": event.run_id,
            "operation": event.operation,
            "outcome": event.outcome,
            **dataclasses.asdict(event.summary),
        }
    return None


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain aligned table; cells are stripped of control sequences."""
    cells = [[strip_control("" if cell is None else str(cell)) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    lines = ["  ".join(header.ljust(widths[i]) for i, header in enumerate(headers)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    for row in cells:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)
