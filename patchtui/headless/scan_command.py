"""``patchtui scan``: scan the selected hosts concurrently and report what is pending."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from patchtui.compliance.drift import DEFAULT_STALE_MIRROR_DAYS, MirrorFinding, find_stale_mirrors
from patchtui.config import load_config
from patchtui.engine.events import (
    Event,
    HostFinished,
    HostScanned,
    HostState,
    RunFinished,
    RunSummary,
)
from patchtui.engine.outcome import INTERRUPTED, describe_outcome, pending_text, skipped_text
from patchtui.engine.scan import ScanJob, scan_to_record
from patchtui.exit_codes import ExitCode
from patchtui.headless import alerts
from patchtui.headless.common import make_connector, open_store, run_interruptible, selected_hosts
from patchtui.headless.output import emit_json, event_to_json, render_table

if TYPE_CHECKING:
    from patchtui.advisories.osv import AdvisoryIndex


class ScanPrinter:
    """Turns the engine's events into JSON lines or a progress line and a final table."""

    def __init__(
        self,
        *,
        as_json: bool,
        total: int,
        advisories: AdvisoryIndex | None = None,
        stale_mirror_days: float = DEFAULT_STALE_MIRROR_DAYS,
    ) -> None:
        self.as_json = as_json
        self.advisories = advisories
        """Synced OSV data: each pending update's JSON line also lists the advisories it
        fixes (``osv``). The package manager's own fields and every count stay as the
        scan found them, so this line and the run summary agree."""
        self.total = total
        self.done = 0
        self.scans: dict[str, HostScanned] = {}
        self.finished: dict[str, HostFinished] = {}
        self.summary: RunFinished | None = None
        self.progress = (not as_json) and sys.stderr.isatty()
        self.stale_mirror_days = stale_mirror_days

    def __call__(self, event: Event) -> None:
        if isinstance(event, HostScanned):
            self.scans[event.host] = event
        elif isinstance(event, HostFinished):
            self.finished[event.host] = event
            self.done += 1
            if self.progress:
                sys.stderr.write(f"\rscanned {self.done}/{self.total}")
                sys.stderr.flush()
        elif isinstance(event, RunFinished):
            self.summary = event
        if self.as_json:
            line = event_to_json(event, self.scans)
            if line is not None:
                if isinstance(event, HostFinished):
                    self._add_osv(event.host, line)
                if isinstance(event, RunFinished):
                    # Before the summary, which stays the last line.
                    stale = self.stale_mirrors()
                    for finding in stale:
                        emit_json({"type": "stale-mirror", **finding.to_dict()})
                    line["stale_mirrors"] = len(stale)
                emit_json(line)

    def stale_mirrors(self) -> list[MirrorFinding]:
        """Hosts on a stale mirror, judged against this scan's other hosts."""
        records = [
            {"name": name, **scan_to_record(event.facts, event.scan)}
            for name, event in sorted(self.scans.items())
        ]
        findings = find_stale_mirrors(records, self.stale_mirror_days)
        return [finding for finding in findings.values() if finding.stale]

    def _add_osv(self, host: str, line: dict[str, Any]) -> None:
        scanned = self.scans.get(host)
        if self.advisories is None or scanned is None:
            return
        from patchtui.advisories.osv import host_ecosystems

        ecosystems = host_ecosystems(scanned.facts.os_id, scanned.facts.os_version)
        if not ecosystems:
            return
        for update in line.get("updates") or ():
            if not isinstance(update, dict) or not isinstance(update.get("name"), str):
                continue
            matches = self.advisories.match(
                ecosystems,
                update["name"],
                update.get("installed"),
                str(update.get("candidate")),
                [str(cve) for cve in update.get("cves") or ()],
            )
            if matches:
                update["osv"] = [match.to_json() for match in matches]

    def print_report(self) -> None:
        if self.as_json:
            return
        if self.progress:
            sys.stderr.write("\r\x1b[K")
        rows: list[list[object]] = []
        stale = {finding.host: finding for finding in self.stale_mirrors()}
        for name in sorted(self.finished):
            finished = self.finished[name]
            scanned = self.scans.get(name)
            if scanned is None:
                rows.append([name, "", finished.state.value, "", "", "", _note(finished)])
                continue
            scan = scanned.scan
            security = scan.security_count if scan.security_supported else "n/a"
            reboot = {True: "yes", False: "no", None: "?"}[scan.reboot_required]
            note = "metadata stale: " + "; ".join(scan.warnings[:1]) if scan.metadata_stale else ""
            if name in stale:
                mirror = "stale mirror: " + stale[name].describe(self.stale_mirror_days)
                note = f"{note}; {mirror}" if note else mirror
            rows.append(
                [
                    name,
                    f"{scanned.facts.os_id} {scanned.facts.os_version}",
                    finished.state.value,
                    len(scan.pending),
                    security,
                    reboot,
                    note,
                ]
            )
        headers = ["HOST", "OS", "STATE", "PENDING", "SECURITY", "REBOOT", "NOTE"]
        print(render_table(headers, rows))
        if self.summary is not None:
            line = summary_line(self.summary.summary, self.summary.outcome)
            if stale:
                # Before the duration, with the other data-quality counts.
                head, _, duration = line.rpartition(" | ")
                line = f"{head}, {len(stale)} on a stale mirror | {duration}"
            print(line)


def _note(finished: HostFinished) -> str:
    if finished.error:
        return f"{finished.error_kind}: {finished.error}" if finished.error_kind else finished.error
    return ""


def summary_line(summary: RunSummary, outcome: str) -> str:
    counts = [f"{summary.ok} ok", f"{summary.failed} failed", f"{summary.unreachable} unreachable"]
    if summary.interrupted:
        counts.append(f"{summary.interrupted} interrupted")
    if skipped := skipped_text(summary):
        counts.append(skipped)
    return (
        f"scan {describe_outcome(outcome)}: {summary.hosts} hosts: "
        + ", ".join(counts)
        + f" | {pending_text(summary)}, {summary.reboot_required} need a reboot"
        + (f", {summary.stale} with stale metadata" if summary.stale else "")
        + f" | {summary.duration:.1f}s"
    )


def scan_exit_code(outcome: str, summary: RunSummary) -> ExitCode:
    if outcome == INTERRUPTED:
        return ExitCode.INTERRUPTED
    return ExitCode.OK if summary.ok == summary.hosts else ExitCode.HOST_FAILURES


def run_scan_command(args: argparse.Namespace) -> int:
    _, hosts = selected_hosts(args)
    notifier = alerts.notifier_for(args)
    store = open_store(args)
    try:
        printer = ScanPrinter(
            as_json=args.json,
            total=len(hosts),
            advisories=_advisories(args) if args.json else None,
            stale_mirror_days=load_config().stale_mirror_limit,
        )
        connector = make_connector(args)
        job = ScanJob(
            hosts,
            connector=connector,
            emit=notifier.sink(printer),
            store=store,
            refresh=not args.no_refresh,
            options={"limit": args.limit, "concurrency": args.concurrency},
        )

        summary = run_interruptible(job.run, job.cancel, connector=connector)
        deliveries = alerts.finish(notifier, store, job.run_id, warn_now=False)
    finally:
        store.close()
    printer.print_report()
    alerts.warn_failures(deliveries)
    outcome = printer.summary.outcome if printer.summary else INTERRUPTED
    code = scan_exit_code(outcome, summary)
    return int(code)


def _advisories(args: argparse.Namespace) -> AdvisoryIndex | None:
    """The synced OSV data, if any; a line on stderr when it is stale."""
    from patchtui.advisories.store import advisories_path_for, freshness, load
    from patchtui.headless.cmd_advisories import max_age_days
    from patchtui.headless.common import db_path

    data = load(advisories_path_for(db_path(args)))
    if not data.records:
        return None
    fresh = freshness(data, time.time(), max_age_days(args))
    if fresh.stale:
        sys.stderr.write(f"warning: {fresh.message()}\n")
    return data.index()


__all__ = ["HostState", "run_scan_command"]
