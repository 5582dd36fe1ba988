"""Scan hosts concurrently: facts + pending updates, as a stream of events.

Used by both front ends: ``patchtui scan`` prints the events, the console
renders them. Results are written to the store as each host finishes, so a
killed process loses at most the hosts still in flight.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from patchtui.drivers.base import Facts, ScanResult
from patchtui.drivers.facts import collect_facts
from patchtui.drivers.registry import driver_for
from patchtui.engine.events import (
    EventSink,
    HostFinished,
    HostScanned,
    HostState,
    HostStateChanged,
    RunFinished,
    RunStarted,
    RunSummary,
)
from patchtui.engine.hostwork import Connector, classify_error, new_run_id, summarize
from patchtui.engine.observed import ObservedSession
from patchtui.engine.recorder import Recorder
from patchtui.inventory.model import Host

if TYPE_CHECKING:
    from patchtui.store.db import Store

HOST_TIME_LIMIT = 600.0
"""Upper bound for one host's whole scan: refresh on a slow mirror can take minutes."""


@dataclasses.dataclass
class HostScanOutcome:
    host: str
    state: HostState
    facts: Facts | None = None
    scan: ScanResult | None = None
    error_kind: str | None = None
    error: str | None = None
    duration: float = 0.0


def scan_to_record(facts: Facts | None, scan: ScanResult | None) -> dict[str, object]:
    """The host's hot state as the store keeps it (JSON-safe)."""
    record: dict[str, object] = {}
    if facts is not None:
        record["facts"] = dataclasses.asdict(facts)
    if scan is not None:
        record.update(
            pending=[dataclasses.asdict(update) for update in scan.pending],
            pending_count=len(scan.pending),
            security_count=scan.security_count,
            security_supported=scan.security_supported,
            reboot_required=scan.reboot_required,
            metadata_stale=scan.metadata_stale,
            warnings=list(scan.warnings),
        )
    return record


class ScanJob:
    """One scan run over ``hosts``; ``run()`` once, ``cancel()`` from anywhere."""

    operation = "scan"

    def __init__(
        self,
        hosts: Sequence[Host],
        *,
        connector: Connector,
        emit: EventSink,
        store: Store | None = None,
        refresh: bool = True,
        options: Mapping[str, object] | None = None,
        host_time_limit: float = HOST_TIME_LIMIT,
    ) -> None:
        self.hosts = list(hosts)
        self.connector = connector
        self.emit = emit
        self.store = store
        self.recorder = Recorder(store)
        self.refresh = refresh
        self.options = dict(options or {})
        self.host_time_limit = host_time_limit
        self.run_id = new_run_id()
        self.outcomes: dict[str, HostScanOutcome] = {}
        self._cancelled = False
        self._tasks: list[asyncio.Task[HostScanOutcome]] = []

    def cancel(self) -> None:
        """Stop starting hosts and abandon running scans (scans change nothing)."""
        self._cancelled = True
        for task in self._tasks:
            task.cancel()

    async def run(self) -> RunSummary:
        started = time.monotonic()
        names = tuple(host.name for host in self.hosts)
        self.run_id = (
            await self.recorder.start_run(self.operation, names, self.options) or self.run_id
        )
        self.emit(
            RunStarted(
                run_id=self.run_id, operation=self.operation, hosts=names, options=self.options
            )
        )
        for host in self.hosts:
            self._state(host.name, HostState.QUEUED)
        self._tasks = [asyncio.create_task(self._guarded(host)) for host in self.hosts]
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        for host, result in zip(self.hosts, results, strict=True):
            if isinstance(result, HostScanOutcome):
                self.outcomes[host.name] = result
            else:  # cancelled before _guarded could record anything
                self.outcomes[host.name] = HostScanOutcome(host.name, HostState.SKIPPED)
        summary = self._summary(time.monotonic() - started)
        outcome = (
            "interrupted"
            if self._cancelled
            else ("ok" if summary.ok == summary.hosts else "failed")
        )
        await self.recorder.finish_run(self.run_id, outcome, dataclasses.asdict(summary))
        self.emit(
            RunFinished(
                run_id=self.run_id, operation=self.operation, outcome=outcome, summary=summary
            )
        )
        return summary

    def _summary(self, duration: float) -> RunSummary:
        scans = [outcome.scan for outcome in self.outcomes.values() if outcome.scan is not None]
        return summarize(
            (outcome.state for outcome in self.outcomes.values()),
            pending=sum(len(scan.pending) for scan in scans),
            security=sum(scan.security_count for scan in scans),
            reboot_required=sum(1 for scan in scans if scan.reboot_required),
            stale=sum(1 for scan in scans if scan.metadata_stale),
            duration=duration,
        )

    def _state(self, host: str, state: HostState, detail: str = "") -> None:
        self.emit(HostStateChanged(run_id=self.run_id, host=host, state=state, detail=detail))

    async def _guarded(self, host: Host) -> HostScanOutcome:
        started = time.monotonic()
        session: ObservedSession | None = None
        outcome: HostScanOutcome
        try:
            async with self.connector.slot():
                if self._cancelled:
                    outcome = HostScanOutcome(host.name, HostState.SKIPPED, error="run cancelled")
                else:
                    async with asyncio.timeout(self.host_time_limit):
                        self._state(host.name, HostState.CONNECTING)
                        inner = await self.connector.connect(host)
                        session = ObservedSession(
                            inner, run_id=self.run_id, host=host.name, emit=self.emit
                        )
                        outcome = await self._scan(host, session)
        except asyncio.CancelledError:
            state = HostState.INTERRUPTED if session is not None else HostState.SKIPPED
            outcome = HostScanOutcome(host.name, state, error="run cancelled")
        except Exception as error:  # one host never sinks the run
            state, kind, message = classify_error(error)
            outcome = HostScanOutcome(host.name, state, error_kind=kind, error=message)
        finally:
            if session is not None:
                await _close_quietly(session)
        outcome.duration = round(time.monotonic() - started, 3)
        self._finish(host, outcome, session)
        return outcome

    async def _scan(self, host: Host, session: ObservedSession) -> HostScanOutcome:
        self._state(host.name, HostState.SCANNING)
        facts = await collect_facts(session)
        family = host.package_manager or facts.package_manager
        if family is None:
            return HostScanOutcome(
                host.name,
                HostState.FAILED,
                facts=facts,
                error_kind="unsupported",
                error="no supported package manager found (apt, dnf, yum, zypper, apk)",
            )
        scan = await driver_for(family).scan(session, refresh=self.refresh)
        self.emit(HostScanned(run_id=self.run_id, host=host.name, facts=facts, scan=scan))
        return HostScanOutcome(host.name, HostState.OK, facts=facts, scan=scan)

    def _finish(
        self, host: Host, outcome: HostScanOutcome, session: ObservedSession | None
    ) -> None:
        if self.recorder.enabled:
            now = time.time()
            result: dict[str, object] = {
                "status": outcome.state.value,
                "error_kind": outcome.error_kind,
                "error": outcome.error,
                "duration": outcome.duration,
                "finished": now,
            }
            if outcome.scan is not None:
                result.update(
                    pending_count=len(outcome.scan.pending),
                    security_count=outcome.scan.security_count,
                    reboot_required=outcome.scan.reboot_required,
                )
            self.recorder.record_host_result(self.run_id, host.name, result)
            hot: dict[str, object] = {
                "last_state": outcome.state.value,
                "last_error": outcome.error,
                "last_error_kind": outcome.error_kind,
                "last_scan_attempt": now,
            }
            if outcome.state is HostState.OK:
                hot["last_scan"] = now
                hot.update(scan_to_record(outcome.facts, outcome.scan))
            self.recorder.update_hosts({host.name: hot})
            if session is not None and session.transcript:
                self.recorder.append_transcript(self.run_id, host.name, list(session.transcript))
        self.emit(
            HostFinished(
                run_id=self.run_id,
                host=host.name,
                state=outcome.state,
                error_kind=outcome.error_kind,
                error=outcome.error,
                duration=outcome.duration,
            )
        )


async def _close_quietly(session: ObservedSession) -> None:
    try:
        async with asyncio.timeout(5):
            await session.close()
    except (Exception, asyncio.CancelledError):  # closing is best effort
        pass
