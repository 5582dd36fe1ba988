"""Scan hosts concurrently: facts + pending updates, as a stream of events.

Used by both front ends: ``patchtui scan`` prints the events, the console
renders them. Results are written to the store as each host finishes, so a
killed process loses at most the hosts still in flight.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from patchtui.drivers.base import Facts, ScanResult
from patchtui.drivers.registry import driver_for
from patchtui.engine.events import EventSink, HostScanned, HostState, RunSummary
from patchtui.engine.fanout import FanoutJob, HostOutcome
from patchtui.engine.hostwork import Connector, host_facts, skip_reasons, summarize
from patchtui.engine.observed import ObservedSession
from patchtui.inventory.model import Host

if TYPE_CHECKING:
    from patchtui.store.db import Store

HOST_TIME_LIMIT = 600.0
"""Upper bound for one host's whole scan: refresh on a slow mirror can take minutes."""


@dataclasses.dataclass
class HostScanOutcome(HostOutcome):
    facts: Facts | None = None
    scan: ScanResult | None = None


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
            metadata_age_seconds=scan.metadata_age_seconds,
            warnings=list(scan.warnings),
        )
    return record


class ScanJob(FanoutJob[HostScanOutcome]):
    """One scan run over ``hosts``; ``run()`` once, ``cancel()`` from anywhere.

    Cancelling abandons running scans outright: a scan changes nothing.
    """

    operation = "scan"
    outcome_type = HostScanOutcome

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
        super().__init__(
            hosts,
            connector=connector,
            emit=emit,
            store=store,
            options=options,
            host_time_limit=host_time_limit,
        )
        self.refresh = refresh

    def _summary(self, duration: float) -> RunSummary:
        scans = [outcome.scan for outcome in self.outcomes.values() if outcome.scan is not None]
        return summarize(
            (outcome.state for outcome in self.outcomes.values()),
            pending=sum(len(scan.pending) for scan in scans),
            security=sum(scan.security_count for scan in scans),
            reboot_required=sum(1 for scan in scans if scan.reboot_required),
            stale=sum(1 for scan in scans if scan.metadata_stale),
            duration=duration,
            scanned=len(scans),
            skipped_reasons=skip_reasons(self.outcomes.values()),
        )

    async def _work(self, host: Host, session: ObservedSession) -> HostScanOutcome:
        self._state(host.name, HostState.SCANNING)
        facts = await host_facts(host, session)
        family = facts.package_manager
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

    def _result_record(self, outcome: HostScanOutcome) -> dict[str, object]:
        if outcome.scan is None:
            return {}
        return {
            "pending_count": len(outcome.scan.pending),
            "security_count": outcome.scan.security_count,
            "reboot_required": outcome.scan.reboot_required,
        }

    def _hot_state(self, outcome: HostScanOutcome, now: float) -> dict[str, object]:
        hot: dict[str, object] = {
            "last_state": outcome.state.value,
            "last_error": outcome.error,
            "last_error_kind": outcome.error_kind,
            "last_scan_attempt": now,
        }
        if outcome.state is HostState.OK:
            hot["last_scan"] = now
            hot.update(scan_to_record(outcome.facts, outcome.scan))
        return hot
