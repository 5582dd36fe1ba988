"""Patch runs: scan, apply, verify, reboot — host by host, in canary and waves.

The install runs detached on the host (patchtui.transport.detached), so a lost
connection never kills a package transaction half-way; such a host is
``interrupted`` until patchtui reconnects and reads the real exit status.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import fnmatch
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from patchtui.advisories.osv import AdvisoryIndex, annotate_updates
from patchtui.baselines.model import Baseline, HostPlan, plan_host, release_key
from patchtui.drivers.base import (
    Driver,
    DriverError,
    Facts,
    PackageChange,
    PackageTarget,
    PendingUpdate,
    ScanResult,
    Selection,
)
from patchtui.drivers.registry import driver_for
from patchtui.engine.events import (
    EventSink,
    HostFinished,
    HostScanned,
    HostState,
    HostStateChanged,
    HostWaitingForWindow,
    RunFinished,
    RunHalted,
    RunStarted,
    RunSummary,
    WaveStarted,
)
from patchtui.engine.health import HealthGate
from patchtui.engine.hostwork import (
    Connector,
    LoopBound,
    classify_error,
    close_quietly,
    host_facts,
    new_run_id,
    skip_reasons,
    summarize,
)
from patchtui.engine.observed import ObservedSession
from patchtui.engine.outcome import (
    FAILURE_RESULTS,
    SKIP_CANCELLED,
    SKIP_HALTED,
    decide_outcome,
)
from patchtui.engine.reboot import reboot_and_wait, reconnect
from patchtui.engine.recorder import Recorder
from patchtui.engine.rollout import Amount, RolloutPlan, plan_rollout
from patchtui.engine.scan import scan_to_record
from patchtui.engine.transcript import HostTranscript
from patchtui.engine.windows import (
    MaintenanceWindow,
    WindowError,
    describe_windows,
    format_opening,
    host_windows,
    is_open,
    next_opening,
)
from patchtui.errors import ConfigError
from patchtui.inventory.model import Host
from patchtui.transport.base import RemoteSession, TransportError
from patchtui.transport.detached import DetachedJob, JobLost, job_id_for

if TYPE_CHECKING:
    from patchtui.engine.bluegreen import BlueGreen
    from patchtui.store.db import Store

REBOOT_POLICIES = ("if-needed", "never", "always")
OUTSIDE_WINDOW = "outside-window"
"""error_kind of a host skipped because its maintenance window is closed."""
BASELINE_UNAVAILABLE = "baseline-unavailable"
"""error_kind of a host left unchanged: its repositories no longer offer a baseline version."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


WINDOW_WAIT_STEP = 1.0
"""Seconds between checks while a host waits for its window: how soon a Ctrl+C or a
halt ends the wait."""


@dataclasses.dataclass(frozen=True)
class PatchOptions:
    selection: Selection = dataclasses.field(default_factory=Selection)
    canary: int = 0
    canary_hosts: tuple[str, ...] = ()
    """Named canaries (--canary-hosts): these go first, whatever ``canary`` says."""
    canary_fitness: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False)
    """Each host's fitness as a canary from its last scan (rollout.canary_fitness)."""
    batch: Amount | None = None
    max_failures: Amount | None = None
    reboot: str = "if-needed"
    pre: str | None = None
    post: str | None = None
    dry_run: bool = False
    install: bool = True
    """False: install nothing; scan, then reboot per the policy (the console's reboot action)."""
    baseline: Baseline | None = None
    """Install exactly this baseline's versions for each host's OS release, never newer."""
    ignore_window: bool = False
    """Work on hosts outside their maintenance window too."""
    wait_for_window: bool = False
    """A host outside its maintenance window waits for it to open instead of being skipped."""
    sleep: Callable[[float], Awaitable[None]] = dataclasses.field(default=_sleep, compare=False)
    """How waits sleep (tests pair it with a frozen ``clock`` that the sleep advances)."""
    advisories: AdvisoryIndex | None = dataclasses.field(default=None, compare=False)
    """Synced OSV advisories: give each scanned update its distribution's severity before the
    selection (``--min-severity``) chooses."""
    clock: Callable[[], dt.datetime] = dataclasses.field(default=_utc_now, compare=False)
    """Now, timezone-aware (tests freeze it to judge maintenance windows)."""
    reboot_time_limit: float = 600.0
    install_time_limit: float = 3600.0
    hook_time_limit: float = 600.0
    reconnect_time_limit: float = 300.0
    poll_interval: float = 1.0
    health: HealthGate | None = None
    """Probe each host after its patch and reboot; an unhealthy host is a failed one."""
    rollback_on_failure: bool = False
    """Restore a failed host's previous versions (from this run's change record) and verify."""
    blue_green: BlueGreen | None = None
    """Patch the idle colour, switch, then the other colour (engine/bluegreen.py)."""

    def plan(self, hosts: Sequence[Host]) -> RolloutPlan:
        """The rollout these options make of ``hosts`` (what the confirmation shows)."""
        rollout: dict[str, Any] = {
            "canary": self.canary,
            "batch": self.batch,
            "max_failures": self.max_failures,
            "canary_hosts": self.canary_hosts,
            "fitness": self.canary_fitness,
        }
        if self.blue_green is not None:
            from patchtui.engine.bluegreen import phased_plan

            return phased_plan(self.blue_green, hosts, **rollout)
        return plan_rollout(hosts, **rollout)

    def describe(self) -> dict[str, object]:
        """JSON-safe record of the options for the run history."""
        selection = self.selection
        return {
            "security_only": selection.security_only,
            "packages": list(selection.packages),
            "exclude": list(selection.exclude),
            "dist_upgrade": selection.dist_upgrade,
            "versions": dict(selection.versions),
            "min_severity": selection.min_severity,
            "canary": self.canary,
            "canary_hosts": list(self.canary_hosts),
            "batch": str(self.batch) if self.batch else None,
            "max_failures": str(self.max_failures) if self.max_failures else None,
            "reboot": self.reboot,
            "pre": self.pre,
            "post": self.post,
            "dry_run": self.dry_run,
            "install": self.install,
            "baseline": self.baseline.name if self.baseline else None,
            "ignore_window": self.ignore_window,
            "wait_for_window": self.wait_for_window,
            "health": self.health.describe() if self.health else None,
            "rollback_on_failure": self.rollback_on_failure,
            "blue_green": self.blue_green.describe() if self.blue_green else None,
        }


@dataclasses.dataclass
class HostPatchOutcome:
    host: str
    result: str
    """ok, ok-reboot-required, partial, failed, interrupted, skipped, unreachable, planned."""
    state: HostState
    error_kind: str | None = None
    error: str | None = None
    changes: list[PackageChange] = dataclasses.field(default_factory=list)
    before: dict[str, str | None] = dataclasses.field(default_factory=dict)
    """Installed version of every targeted package before the run: what rollback restores."""
    planned: list[PackageChange] = dataclasses.field(default_factory=list)
    rebooted: bool = False
    reboot_required: bool | None = None
    scan: ScanResult | None = None
    failed_packages: list[str] = dataclasses.field(default_factory=list)
    """Targeted packages still pending after the install."""
    os: dict[str, str] = dataclasses.field(default_factory=dict)
    """os_id, os_version and family of the host (a baseline made from the run needs them)."""
    targets: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    """What the scan knew of each targeted update (security, advisories, first seen)."""
    notes: list[str] = dataclasses.field(default_factory=list)
    """Things the operator should know that are not errors (packages ahead of a baseline)."""
    duration: float = 0.0
    install_started: bool = False
    """The package manager was started on the host: from here on it may have changed it."""
    changes_unknown: bool = False
    """What changed could not be read back: rollback restores every ``before`` version."""
    installed_before: dict[str, str] | None = None
    """Every installed package just before the install (None: not known), so that what
    the install pulled in or took away is recorded too, not only what was targeted."""
    health: dict[str, Any] | None = None
    """The health gate's result (engine/gates.py), when one ran."""
    rollback: dict[str, Any] | None = None
    """What --rollback-on-failure did for this host, when it tried."""


class HostFailure(Exception):
    """Ends one host's work with a given result and reason."""

    def __init__(
        self, result: str, kind: str, message: str, *, session: RemoteSession | None = None
    ) -> None:
        self.result = result
        self.kind = kind
        self.message = message
        self.session = session
        """The live session when the failure happened (to inspect what changed)."""
        super().__init__(message)


def _state_for(result: str) -> HostState:
    return {
        "ok": HostState.OK,
        "ok-reboot-required": HostState.OK,
        "planned": HostState.OK,
        "skipped": HostState.SKIPPED,
        "interrupted": HostState.INTERRUPTED,
        "unreachable": HostState.UNREACHABLE,
    }.get(result, HostState.FAILED)


class PatchJob(LoopBound):
    """One patch run: ``run()`` once; ``cancel()`` twice at most; ``pause()``/``resume()``
    (from any thread: see LoopBound)."""

    WORKING_STATE = HostState.PATCHING
    """What a host is while its packages change (a rollback says so: rolling back)."""

    @property
    def operation(self) -> str:
        """A run that installs nothing is the reboot operation (history, events)."""
        return "patch" if self.options.install else "reboot"

    def __init__(
        self,
        hosts: Sequence[Host],
        *,
        connector: Connector,
        emit: EventSink,
        options: PatchOptions,
        store: Store | None = None,
        extra_options: Mapping[str, object] | None = None,
    ) -> None:
        if options.reboot not in REBOOT_POLICIES:
            raise ValueError(f"reboot policy must be one of {REBOOT_POLICIES}")
        self.hosts = list(hosts)
        self.connector = connector
        self.emit = emit
        self.options = options
        self.store = store
        self.recorder = Recorder(store)
        self.extra_options = dict(extra_options or {})
        self.run_id = new_run_id()
        self.plan: RolloutPlan = options.plan(self.hosts)
        self.windows = windows_by_host(self.hosts)
        self.outcomes: dict[str, HostPatchOutcome] = {}
        self.failures = 0
        self.halt_reason: str | None = None
        self.phase_record: dict[str, Any] | None = None
        """Blue-green: the phases and the switch, as the summary reports them."""
        self._stopping = False
        self._aborted = False
        self._resume = asyncio.Event()
        self._resume.set()
        self._paused = False
        self._tasks: list[asyncio.Task[HostPatchOutcome]] = []
        self.transcripts: dict[str, HostTranscript] = {}
        """Each host's output in this run; a rollback on failure adds to the same one."""
        self._live: dict[str, HostPatchOutcome] = {}
        """Each working host's outcome so far: a failure keeps what the install did."""

    # Control from a front end -------------------------------------------------

    def cancel(self) -> None:
        """First call: start no more hosts. Second: stop waiting for running ones.

        Package transactions already running on hosts are never killed: they
        finish there, and their hosts are reported ``interrupted``.
        """
        if self._stopping:
            self._aborted = True
            self._on_loop(self._cancel_tasks)
        self._stopping = True
        self._paused = False
        self._on_loop(self._resume.set)

    def _cancel_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()

    def pause(self) -> None:
        self._paused = True
        self._on_loop(self._resume.clear)

    def resume(self) -> None:
        self._paused = False
        self._on_loop(self._resume.set)

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def paused(self) -> bool:
        return self._paused

    # The run -----------------------------------------------------------------

    async def run(self) -> RunSummary:
        self._bind_loop()
        started = time.monotonic()
        names = tuple(host.name for host in self.hosts)
        options = {**self.options.describe(), **self.extra_options}
        options["waves"] = [[host.name for host in wave] for wave in self.plan.waves]
        options["canaries"] = list(self.plan.canaries)
        self.run_id = await self.recorder.start_run(self.operation, names, options) or self.run_id
        self.emit(
            RunStarted(run_id=self.run_id, operation=self.operation, hosts=names, options=options)
        )
        for host in self.hosts:
            self.report_state(host.name, HostState.QUEUED)
        for index, wave in enumerate(self.plan.waves):
            if self.options.blue_green is not None:
                from patchtui.engine.bluegreen import between_phases

                await between_phases(self, index)
            if self.halt_reason is not None or self._stopping:
                break
            self.emit(
                WaveStarted(
                    run_id=self.run_id,
                    index=index,
                    label=self.plan.wave_label(index),
                    hosts=tuple(host.name for host in wave),
                )
            )
            self._tasks = [
                asyncio.create_task(self._guarded(host, canary=index < self.plan.canary_count))
                for host in wave
            ]
            results = await asyncio.gather(*self._tasks, return_exceptions=True)
            for host, result in zip(wave, results, strict=True):
                if not isinstance(result, HostPatchOutcome):
                    lost = HostPatchOutcome(host.name, "interrupted", HostState.INTERRUPTED)
                    await self._record(host, self._with_install(host, lost))
        skipped = [host for host in self.hosts if host.name not in self.outcomes]
        if skipped and self.halt_reason is not None:
            self.emit(
                RunHalted(
                    run_id=self.run_id,
                    reason=self.halt_reason,
                    skipped=tuple(host.name for host in skipped),
                )
            )
        for host in skipped:
            await self._record(host, self._never_started(host))
        summary = self._summary(time.monotonic() - started)
        outcome = decide_outcome(
            summary, interrupted=self._stopping, halted=summary.halted, dry_run=self.options.dry_run
        )
        await self.recorder.finish_run(self.run_id, outcome, dataclasses.asdict(summary))
        self.emit(
            RunFinished(
                run_id=self.run_id, operation=self.operation, outcome=outcome, summary=summary
            )
        )
        return summary

    def _summary(self, duration: float) -> RunSummary:
        results: dict[str, int] = {}
        for outcome in self.outcomes.values():
            results[outcome.result] = results.get(outcome.result, 0) + 1
        scans = [o.scan for o in self.outcomes.values() if o.scan is not None]
        base = summarize(
            (o.state for o in self.outcomes.values()),
            pending=sum(len(scan.pending) for scan in scans),
            security=sum(scan.security_count for scan in scans),
            reboot_required=sum(1 for o in self.outcomes.values() if o.reboot_required),
            stale=sum(1 for scan in scans if scan.metadata_stale),
            duration=duration,
            scanned=len(scans),
            skipped_reasons=skip_reasons(self.outcomes.values()),
        )
        # Halted means the halt stopped something: a threshold first reached by the last
        # hosts of the last wave left nothing to stop, and the run completed with failures.
        halted = self.halt_reason is not None and base.skipped_reasons.get(SKIP_HALTED, 0) > 0
        return dataclasses.replace(
            base,
            results=results,
            waves=len(self.plan.waves),
            halted=halted,
            halt_reason=self.halt_reason if halted else None,
            dry_run=self.options.dry_run,
            blue_green=self.phase_record,
        )

    def _never_started(self, host: Host) -> HostPatchOutcome:
        """A host the run will not start: the rollout halted, or the operator stopped it."""
        if self.halt_reason is not None:
            kind, reason = SKIP_HALTED, self.halt_reason
        else:
            kind, reason = SKIP_CANCELLED, "run cancelled"
        return HostPatchOutcome(
            host.name, "skipped", HostState.SKIPPED, error_kind=kind, error=reason
        )

    def report_state(self, host: str, state: HostState, detail: str = "") -> None:
        """Tell the front ends where a host is (the health gate and its rollback too)."""
        self.emit(HostStateChanged(run_id=self.run_id, host=host, state=state, detail=detail))

    async def _guarded(self, host: Host, *, canary: bool) -> HostPatchOutcome:
        started = time.monotonic()
        holder: list[RemoteSession] = []
        try:
            await self._resume.wait()
            await self._wait_for_window(host)
            async with self.connector.slot():
                await self._resume.wait()
                if self._stopping or self.halt_reason is not None:
                    outcome = self._never_started(host)
                elif closed := self._window_closed(host):
                    outcome = HostPatchOutcome(
                        host.name,
                        "skipped",
                        HostState.SKIPPED,
                        error_kind=OUTSIDE_WINDOW,
                        error=closed,
                    )
                else:
                    outcome = await self.patch_host(host, holder)
        except asyncio.CancelledError:
            if holder:
                outcome = HostPatchOutcome(
                    host.name,
                    "interrupted",
                    HostState.INTERRUPTED,
                    error_kind="cancelled",
                    error="stopped waiting; a running package transaction continues on the host",
                )
            else:  # never connected: nothing started there
                outcome = HostPatchOutcome(
                    host.name,
                    "skipped",
                    HostState.SKIPPED,
                    error_kind=SKIP_CANCELLED,
                    error="run cancelled",
                )
        except HostFailure as failure:
            outcome = HostPatchOutcome(
                host.name,
                failure.result,
                _state_for(failure.result),
                error_kind=failure.kind,
                error=failure.message,
            )
        except Exception as error:  # one host never sinks the run
            state, kind, message = classify_error(error)
            result = "unreachable" if state is HostState.UNREACHABLE else "failed"
            outcome = HostPatchOutcome(host.name, result, state, error_kind=kind, error=message)
        finally:
            for session in holder:
                await close_quietly(session)
        outcome = self._with_install(host, outcome)
        if self.options.rollback_on_failure and not self.options.dry_run:
            from patchtui.engine.gates import roll_back_failed

            outcome = await roll_back_failed(self, host, outcome)
        outcome.duration = round(time.monotonic() - started, 3)
        await self._record(host, outcome)
        if (
            canary
            and outcome.result == "skipped"
            and self.halt_reason is None
            and (outcome.error_kind not in (SKIP_HALTED, SKIP_CANCELLED))
        ):
            # A skipped canary proved nothing: going on would patch the fleet untested.
            self.halt_reason = (
                f"canary host {host.name} was skipped ({outcome.error_kind}); "
                "a canary must be patched before the rest"
            )
        if outcome.result in FAILURE_RESULTS:
            self.failures += 1
            if canary:
                self.halt_reason = self.halt_reason or f"canary host {host.name} {outcome.result}"
            elif self.failures > self.plan.max_failures:
                self.halt_reason = self.halt_reason or (
                    f"failure threshold reached: {self.failures} failed, "
                    f"{self.plan.max_failures} allowed"
                )
        return outcome

    def _with_install(self, host: Host, outcome: HostPatchOutcome) -> HostPatchOutcome:
        """``outcome`` with what the host's install did, if one started (a post hook,
        verify, reboot or lost connection after it must not lose the change record)."""
        live = self._live.pop(host.name, None)
        if live is None or live is outcome or not live.install_started:
            return outcome
        outcome.before = live.before
        outcome.changes = live.changes
        outcome.changes_unknown = live.changes_unknown
        outcome.install_started = True
        outcome.os = live.os
        outcome.targets = live.targets
        outcome.notes = live.notes
        outcome.scan = outcome.scan or live.scan
        outcome.rebooted = outcome.rebooted or live.rebooted
        outcome.reboot_required = live.reboot_required
        outcome.failed_packages = live.failed_packages
        return outcome

    async def _wait_for_window(self, host: Host) -> None:
        """``wait_for_window``: sleep until the host's window opens, holding no connection
        slot (hosts in their window go on meanwhile). Returns early when the run stops or
        halts; the caller then skips the host as it would any host not started."""
        windows = self.windows.get(host.name)
        options = self.options
        if windows is None or not options.wait_for_window or options.ignore_window:
            return
        now = options.clock()
        if is_open(windows, now):
            return
        opens = next_opening(windows, now)
        text = format_opening(opens, windows)
        self.emit(
            HostWaitingForWindow(
                run_id=self.run_id,
                host=host.name,
                state=HostState.QUEUED,
                detail=f"waiting for its maintenance window: opens {text}",
                opens=opens.timestamp(),
                opens_text=text,
            )
        )
        # Bounded by the wait itself: a clock that stops moving cannot keep the run
        # here forever (the host is then judged by _window_closed, i.e. skipped).
        steps = int((opens - now).total_seconds() / WINDOW_WAIT_STEP) + 2
        for _ in range(steps):
            if self._stopping or self.halt_reason is not None:
                return
            now = options.clock()
            if now >= opens:
                return
            await options.sleep(min(WINDOW_WAIT_STEP, (opens - now).total_seconds()))

    def _window_closed(self, host: Host) -> str | None:
        """Why the host may not start now (its window is closed), None if it may."""
        windows = self.windows.get(host.name)
        if windows is None or self.options.ignore_window:
            return None
        now = self.options.clock()
        if is_open(windows, now):
            return None
        opens = format_opening(next_opening(windows, now), windows)
        return f"outside maintenance window ({describe_windows(windows)}); next opens {opens}"

    def _observe(self, host: Host, inner: RemoteSession) -> ObservedSession:
        transcript = self.transcripts.setdefault(host.name, HostTranscript())
        return ObservedSession(
            inner, run_id=self.run_id, host=host.name, emit=self.emit, transcript=transcript
        )

    async def _connect(self, host: Host, holder: list[RemoteSession]) -> ObservedSession:
        inner = await self.connector.connect(host)
        session = self._observe(host, inner)
        holder.append(session)
        return session

    async def patch_host(self, host: Host, holder: list[RemoteSession]) -> HostPatchOutcome:
        """One host from connect to verify (a rollback on failure runs a RollbackJob's);
        the sessions it opens go in ``holder`` for the caller to close."""
        self.report_state(host.name, HostState.CONNECTING)
        session = await self._connect(host, holder)
        self.report_state(host.name, HostState.SCANNING)
        facts = await host_facts(host, session)
        family = facts.package_manager
        if family is None:
            raise HostFailure("failed", "unsupported", "no supported package manager found")
        driver = driver_for(family)

        if self.options.pre:
            await self._hook(session, host, "pre", self.options.pre, skip_on_failure=True)

        scan = await driver.scan(session, refresh=True)
        self.emit(HostScanned(run_id=self.run_id, host=host.name, facts=facts, scan=scan))
        self.store_scan(host, facts, scan)
        selection = self._selection_for(host)
        baseline_plan: HostPlan | None = None
        if self.options.baseline is not None and self.options.install:
            baseline_plan = await self._baseline_plan(session, driver, facts, selection)
            pinned = baseline_plan.targets
            selection = dataclasses.replace(selection, versions=pinned)
            chosen = [update for update in scan.pending if update.name in pinned]
            targets = [PackageTarget(name, version) for name, version in pinned.items()]
            installed_now = baseline_plan.installed
            before: dict[str, str | None] = {name: installed_now.get(name) for name in pinned}
        else:
            pending: Sequence[PendingUpdate] = scan.pending
            if self.options.advisories is not None:
                pending = annotate_updates(
                    pending, facts.os_id, facts.os_version, self.options.advisories
                )
            chosen, _excluded = selection.choose(pending)
            if not self.options.install:
                chosen = []  # a reboot-only run: the host keeps every package as it is
            targets = selection.targets(chosen)
            before = {update.name: update.installed for update in chosen}
        outcome = HostPatchOutcome(
            host.name,
            "ok",
            HostState.OK,
            before=before,
            scan=scan,
            os={"os_id": facts.os_id, "os_version": facts.os_version, "family": family},
            targets=await self._update_details(host, chosen),
        )
        self._live[host.name] = outcome
        if baseline_plan is not None:
            outcome.notes = _baseline_notes(baseline_plan)
            planned = await self._check_baseline_offered(session, driver, targets, selection)
            if self.options.dry_run:
                outcome.result = "planned"
                outcome.planned = planned or [
                    PackageChange(target.name, before.get(target.name), target.version)
                    for target in targets
                ]
                outcome.reboot_required = scan.reboot_required
                return outcome

        if self.options.dry_run:
            outcome.result = "planned"
            outcome.planned = await self._dry_run(session, driver, targets, selection, chosen)
            outcome.reboot_required = scan.reboot_required
            return outcome

        if targets:
            self.report_state(host.name, HostState.PATCHING, f"{len(targets)} packages")
            applied = await self._apply(
                host, session, holder, driver, driver.apply_command(targets, selection), outcome
            )
            if applied is None:
                return outcome
            session = applied
            after = await driver.scan(session, refresh=False)
            outcome.scan = after
            # Front ends show the post-install state at once, reboot or not.
            self.emit(HostScanned(run_id=self.run_id, host=host.name, facts=facts, scan=after))
            if baseline_plan is not None:
                # A newer version may still be pending on purpose: what counts is
                # whether each package now is at the baseline's version.
                now_at = {change.name: change.after for change in outcome.changes}
                still_pending = {
                    t.name for t in targets if now_at.get(t.name, before.get(t.name)) != t.version
                }
            else:
                still_pending = {u.name for u in after.pending} & {t.name for t in targets}
            if still_pending:
                outcome.failed_packages = sorted(still_pending)
                outcome.result = "partial" if outcome.changes else "failed"
                outcome.error_kind = "not-upgraded"
                outcome.error = "still pending after install: " + ", ".join(sorted(still_pending))
        else:
            after = scan

        outcome.reboot_required = after.reboot_required
        wants_reboot = self.options.reboot == "always" or (
            self.options.reboot == "if-needed" and bool(after.reboot_required)
        )
        if wants_reboot and outcome.result in {"ok", "partial"}:
            self.report_state(host.name, HostState.REBOOTING)
            session = await self._reboot(host, session, holder)
            outcome.rebooted = True
            facts = await host_facts(host, session)
            after = await driver.scan(session, refresh=False)
            outcome.scan = after
            outcome.reboot_required = after.reboot_required
            self.emit(HostScanned(run_id=self.run_id, host=host.name, facts=facts, scan=after))
        self.store_scan(host, facts, after)
        if outcome.result == "ok" and outcome.reboot_required:
            outcome.result = "ok-reboot-required"

        if self.options.post:
            await self._hook(session, host, "post", self.options.post, skip_on_failure=False)
        if self.options.health is not None and outcome.result in {"ok", "ok-reboot-required"}:
            from patchtui.engine.gates import health_gate

            await health_gate(self, host, session, outcome)
        return outcome

    async def _baseline_plan(
        self, session: RemoteSession, driver: Driver, facts: Facts, selection: Selection
    ) -> HostPlan:
        """The host against the baseline: which packages to bring up to which version."""
        baseline = self.options.baseline
        assert baseline is not None
        release = release_key(facts.os_id, facts.os_version)
        approved = baseline.versions_for(facts.os_id, facts.os_version)
        if approved is None:
            raise HostFailure(
                "skipped",
                "baseline-uncovered",
                f"baseline {baseline.name!r} has no versions for {release}; host left unchanged",
            )
        # --packages narrows, --exclude and inventory holds remove, as in any patch run.
        approved = {
            name: version
            for name, version in approved.items()
            if (
                not selection.packages
                or any(fnmatch.fnmatchcase(name, p) for p in selection.packages)
            )
            and not any(fnmatch.fnmatchcase(name, p) for p in selection.exclude)
        }
        installed: dict[str, str] = {}
        if approved:
            result = await session.run(driver.installed_versions_command(sorted(approved)))
            if result.exit_status is None:
                raise TransportError("disconnected", "connection lost while reading versions")
            installed = driver.parse_installed_versions(result.stdout)
        return plan_host(release, approved, installed, driver.family)

    async def _check_baseline_offered(
        self,
        session: RemoteSession,
        driver: Driver,
        targets: Sequence[PackageTarget],
        selection: Selection,
    ) -> list[PackageChange]:
        """Dry-run the pinned install first: a version the repositories no longer offer
        leaves the host untouched (skipped, with the package manager's own words)."""
        if not targets:
            return []
        result = await session.run(driver.dry_run_command(targets, selection), privileged=True)
        if result.exit_status is None:
            raise TransportError("disconnected", "connection lost during the dry-run")
        if not result.ok:
            kind, message = driver.classify_failure(
                result.exit_status, (result.stdout + result.stderr).splitlines()
            )
            if kind == "unavailable":
                baseline = self.options.baseline
                name = baseline.name if baseline else "?"
                raise HostFailure(
                    "skipped",
                    BASELINE_UNAVAILABLE,
                    f"repositories no longer offer a version of baseline {name!r} "
                    f"({message}); host left unchanged",
                )
            raise HostFailure("failed", kind, f"dry-run: {message}")
        return driver.parse_dry_run(result.stdout)

    async def _update_details(
        self, host: Host, chosen: Sequence[PendingUpdate]
    ) -> list[dict[str, Any]]:
        """What the scan knew of each targeted update, with when it was first seen
        pending (from the stored host state): baseline rules judge by these."""
        if not chosen:
            return []
        known: dict[tuple[object, object], float] = {}
        if self.store is not None:
            doc = await asyncio.to_thread(self.store.host, host.name)
            for old in (doc or {}).get("pending") or ():
                if isinstance(old, dict) and isinstance(old.get("first_seen"), int | float):
                    known[(old.get("name"), old.get("candidate"))] = old["first_seen"]
        now = time.time()
        return [
            {
                "name": update.name,
                "installed": update.installed,
                "candidate": update.candidate,
                "security": update.security,
                "severity": update.severity,
                "advisories": list(update.advisories),
                "cves": list(update.cves),
                "first_seen": known.get((update.name, update.candidate), now),
            }
            for update in chosen
        ]

    def _selection_for(self, host: Host) -> Selection:
        return selection_for(host, self.options.selection)

    async def _hook(
        self,
        session: ObservedSession,
        host: Host,
        name: str,
        command: str,
        *,
        skip_on_failure: bool,
    ) -> None:
        """Run a --pre/--post command detached, so a timeout or abort can really stop it."""
        job = DetachedJob(
            job_id_for(self.run_id, host.name, name),
            command,
            poll_interval=min(self.options.poll_interval, 0.5),
            on_line=lambda line: session.record("stdout", line),
        )
        session.record("cmd", f"{command}  [{name} hook]")
        await job.start(session.inner)
        failure = "skipped" if skip_on_failure else "failed"
        try:
            status = await job.wait(session.inner, time_limit=self.options.hook_time_limit)
        except TimeoutError:
            stopped = await job.stop(session.inner)
            await job.cleanup(session.inner)
            verdict = "stopped it" if stopped else "could NOT stop it: check the host"
            raise HostFailure(
                failure,
                f"{name}-check",
                f"{name} command timed out after {self.options.hook_time_limit:g}s; {verdict}",
            ) from None
        except asyncio.CancelledError:
            # Aborted by the operator: a hook (unlike a package transaction) is stopped.
            await asyncio.shield(job.stop(session.inner))
            raise
        await job.cleanup(session.inner)
        if status == 0:
            return
        last = next((line for line in reversed(job.log) if line.strip()), "")
        detail = f"{name} command exited {status}" + (f": {last.strip()}" if last else "")
        raise HostFailure(failure, f"{name}-check", detail)

    async def _dry_run(
        self,
        session: RemoteSession,
        driver: Driver,
        targets: Sequence[PackageTarget],
        selection: Selection,
        chosen: Sequence[PendingUpdate],
    ) -> list[PackageChange]:
        if not targets:
            return []
        result = await session.run(driver.dry_run_command(targets, selection), privileged=True)
        if result.exit_status is None:
            raise TransportError("disconnected", "connection lost during the dry-run")
        if not result.ok:
            kind, message = driver.classify_failure(
                result.exit_status, (result.stdout + result.stderr).splitlines()
            )
            raise HostFailure("failed", kind, f"dry-run: {message}")
        planned = driver.parse_dry_run(result.stdout)
        return planned or [PackageChange(u.name, u.installed, u.candidate) for u in chosen]

    async def _install(
        self,
        host: Host,
        session: ObservedSession,
        holder: list[RemoteSession],
        driver: Driver,
        command: str,
    ) -> ObservedSession:
        """Run an install command detached, surviving dropped connections; returns the session."""
        current = session

        def show(line: str) -> None:
            current.record("stdout", line)

        job = DetachedJob(
            job_id_for(self.run_id, host.name, "apply"),
            command,
            poll_interval=self.options.poll_interval,
            on_line=show,
        )
        # The operator sees the real install command; the wrapper and the
        # once-a-second polls go over the unobserved session.
        session.record("cmd", f"{command}  [detached]")
        await job.start(session.inner)
        deadline = time.monotonic() + self.options.install_time_limit
        while True:
            try:
                status = await job.wait(
                    current.inner, time_limit=max(1.0, deadline - time.monotonic())
                )
                await job.cleanup(current.inner)
                break
            except TransportError as error:
                if error.kind not in {"disconnected", "timeout", "unreachable"}:
                    raise
                # The transaction goes on detached; never call this success until we read it.
                self.report_state(
                    host.name,
                    HostState.INTERRUPTED,
                    "connection lost during install; reconnecting to learn the outcome",
                )
                try:
                    fresh = await reconnect(
                        host,
                        self.connector,
                        deadline=min(
                            deadline, time.monotonic() + self.options.reconnect_time_limit
                        ),
                    )
                except TransportError as lost:
                    raise HostFailure(
                        "interrupted",
                        "disconnected",
                        f"connection lost during install, outcome unknown: {lost.message}",
                    ) from None
                current = self._observe(host, fresh)
                holder.append(current)
                self.report_state(
                    host.name, self.WORKING_STATE, "reconnected; following the install"
                )
            except JobLost as lost:
                repair = driver.repair_command()
                hint = f"; repair with `{repair}`" if repair else ""
                raise HostFailure("failed", "job-lost", f"{lost}{hint}") from None
        if status != 0:
            kind, message = driver.classify_failure(status, job.log)
            if kind == "dpkg-interrupted" and (repair := driver.repair_command()):
                repaired = await current.run(repair, privileged=True, timeout=1800)
                message += f"; ran `{repair}` (exit {repaired.exit_status}) — check the host"
            raise HostFailure("failed", kind, message, session=current)
        return current

    async def _apply(
        self,
        host: Host,
        session: ObservedSession,
        holder: list[RemoteSession],
        driver: Driver,
        command: str,
        outcome: HostPatchOutcome,
    ) -> ObservedSession | None:
        """Install, with the change record durable on each side of the package manager.

        The before-versions are recorded before the install starts and the changes
        (read back from the host) as soon as it ends, before verify, reboot or the
        post hook: a kill or failure at any later point leaves rollback what it
        needs. Returns the session to go on with, or None when the install failed
        (``outcome`` then says how, with whatever did change).
        """
        outcome.installed_before = await self._installed_everything(session, driver)
        outcome.install_started = True
        outcome.changes_unknown = True
        await self._progress(host, outcome, "installing")
        try:
            session = await self._install(host, session, holder, driver, command)
        except HostFailure as failure:
            await self._fail_with_changes(host, holder, outcome, failure, driver)
            return None
        fresh = await self._read_changes(host, session, holder, driver, outcome)
        await self._progress(host, outcome, "installed")
        return fresh or session

    async def _read_changes(
        self,
        host: Host,
        session: RemoteSession | None,
        holder: list[RemoteSession],
        driver: Driver,
        outcome: HostPatchOutcome,
    ) -> ObservedSession | None:
        """Compare the before-versions with what the host has installed now.

        On the session the install ended on (returns None), else on a fresh
        connection (returns it); raises HostFailure (changes unknown: rollback
        falls back to ``before``) when the host cannot be asked.
        """
        problem = "no session"
        if session is not None:
            try:
                outcome.changes = await self._changes(session, driver, outcome)
                outcome.changes_unknown = False
                return None
            except (TransportError, DriverError) as error:
                problem = str(error)
        try:
            fresh = await reconnect(
                host,
                self.connector,
                deadline=time.monotonic() + self.options.reconnect_time_limit,
            )
            observed = self._observe(host, fresh)
            holder.append(observed)
            outcome.changes = await self._changes(observed, driver, outcome)
        except (TransportError, DriverError) as error:
            raise HostFailure(
                "interrupted",
                "changes-unknown",
                f"could not read back what the install changed ({problem}; then {error})",
            ) from None
        outcome.changes_unknown = False
        return observed

    async def _fail_with_changes(
        self,
        host: Host,
        holder: list[RemoteSession],
        outcome: HostPatchOutcome,
        failure: HostFailure,
        driver: Driver,
    ) -> HostPatchOutcome:
        """A failed install may have changed some packages: record them (rollback needs
        them) and call the host partial rather than failed."""
        outcome.result = failure.result
        outcome.error_kind = failure.kind
        outcome.error = failure.message
        if failure.session is not None or failure.result != "interrupted":
            # The host answered the install's end (or lost it): ask what it did. An
            # install whose connection could not come back is left to ``before``.
            try:
                await self._read_changes(host, failure.session, holder, driver, outcome)
            except HostFailure as unread:
                outcome.error = f"{failure.message}; {unread.message}"
        if outcome.changes and failure.result == "failed":
            outcome.result = "partial"
        outcome.state = _state_for(outcome.result)
        return outcome

    async def _installed_everything(
        self, session: RemoteSession, driver: Driver
    ) -> dict[str, str] | None:
        """Every installed package and its version; None when the host cannot tell.

        Asked on the unobserved session: a list of thousands of packages is not
        something the operator wants in the host's pane.
        """
        command = driver.all_installed_command()
        if command is None:
            return None
        quiet = session.inner if isinstance(session, ObservedSession) else session
        try:
            result = await quiet.run(command)
        except TransportError:
            return None
        if result.exit_status != 0:
            return None
        return driver.parse_installed_versions(result.stdout) or None

    async def _changes(
        self, session: RemoteSession, driver: Driver, outcome: HostPatchOutcome
    ) -> list[PackageChange]:
        """What the install changed: the targets, and (when the whole installed set was
        read before it) what it pulled in or removed, e.g. a new kernel image."""
        before = outcome.before
        changes: list[PackageChange] = []
        if before:
            result = await session.run(driver.installed_versions_command(sorted(before)))
            if result.exit_status is None:
                raise TransportError("disconnected", "connection lost while verifying")
            installed = driver.parse_installed_versions(result.stdout)
            changes = [
                PackageChange(name, old, installed.get(name))
                for name, old in sorted(before.items())
                if installed.get(name) != old
            ]
        if outcome.installed_before is None:
            return changes
        everything_after = await self._installed_everything(session, driver)
        if everything_after is None:
            outcome.notes.append(
                "could not list the installed packages after the install: packages it pulled"
                " in or removed beside the targeted ones are not in the change record"
            )
            return changes
        everything_before = outcome.installed_before
        others = (set(everything_before) | set(everything_after)) - set(before)
        changes += [
            PackageChange(name, everything_before.get(name), everything_after.get(name))
            for name in sorted(others)
            if everything_before.get(name) != everything_after.get(name)
        ]
        return sorted(changes, key=lambda change: change.name)

    async def _reboot(
        self, host: Host, session: RemoteSession, holder: list[RemoteSession]
    ) -> ObservedSession:
        try:
            fresh = await reboot_and_wait(
                host,
                session,
                self.connector,
                time_limit=self.options.reboot_time_limit,
                on_progress=lambda text: self.report_state(host.name, HostState.REBOOTING, text),
            )
        except TransportError as error:
            raise HostFailure(
                "failed", "reboot", f"host did not return after reboot: {error.message}"
            ) from None
        observed = self._observe(host, fresh)
        holder.append(observed)
        return observed

    def store_scan(self, host: Host, facts: Facts, scan: ScanResult) -> None:
        """Keep a scan the run made as the host's latest (a rollback's rescan too)."""
        if not self.recorder.enabled:
            return
        record = scan_to_record(facts, scan)
        record["last_scan"] = time.time()
        self.recorder.update_hosts({host.name: record})

    def _result_doc(self, outcome: HostPatchOutcome, status: str) -> dict[str, object]:
        return {
            "status": status,
            "state": outcome.state.value,
            "error_kind": outcome.error_kind,
            "error": outcome.error,
            "duration": outcome.duration,
            "finished": time.time() if status == outcome.result else None,
            "changes": [dataclasses.asdict(change) for change in outcome.changes],
            "changes_unknown": outcome.changes_unknown,
            "planned": [dataclasses.asdict(change) for change in outcome.planned],
            "before": dict(outcome.before),
            "rebooted": outcome.rebooted,
            "reboot_required": outcome.reboot_required,
            "dry_run": self.options.dry_run,
            "os": dict(outcome.os),
            "targets": list(outcome.targets),
            "notes": list(outcome.notes),
            "health": outcome.health,
            "rollback": outcome.rollback,
        }

    async def _progress(self, host: Host, outcome: HostPatchOutcome, status: str) -> None:
        """Durably record a host still at work: ``installing`` (before-versions) or
        ``installed`` (changes read back). Not reported: the final result is."""
        if self.recorder.enabled:
            doc = self._result_doc(outcome, status)
            doc["state"] = HostState.PATCHING.value
            await self.recorder.commit_host(self.run_id, host.name, doc)

    async def _record(self, host: Host, outcome: HostPatchOutcome) -> None:
        """Record the host's result durably, then report it (HostFinished)."""
        self.outcomes[host.name] = outcome
        if self.recorder.enabled:
            # A dry run changes nothing, so it leaves the host's state as the last real
            # run left it (its scan, a true reading of the host, is stored by store_scan).
            hot: dict[str, object] | None = None
            if not self.options.dry_run:
                # The kind too, as a scan records it: the console's reason column reads it
                # back after a restart (it said "error" for every failed patch).
                hot = {
                    "last_state": outcome.state.value,
                    "last_error": outcome.error,
                    "last_error_kind": outcome.error_kind if outcome.error else None,
                }
                if outcome.result not in {"skipped", "unreachable"}:
                    # Rolled back and verified (--rollback-on-failure): the host is where it
                    # was, so this run neither changed nor patched it.
                    undone = bool(outcome.rollback and outcome.rollback.get("verified"))
                    changed = [] if undone else outcome.changes
                    hot["last_changes"] = [dataclasses.asdict(change) for change in changed]
                    hot["last_failed"] = outcome.failed_packages
                    if changed:
                        hot["last_patch"] = time.time()
            transcript = self.transcripts.pop(host.name, None)
            await self.recorder.commit_host(
                self.run_id,
                host.name,
                self._result_doc(outcome, outcome.result),
                hot=hot,
                transcript=list(transcript or ()),
            )
        self.emit(
            HostFinished(
                run_id=self.run_id,
                host=host.name,
                state=outcome.state,
                error_kind=outcome.error_kind,
                error=outcome.error,
                duration=outcome.duration,
                result=outcome.result,
                changes=tuple(outcome.changes or outcome.planned),
                changes_unknown=outcome.changes_unknown,
                rebooted=outcome.rebooted,
                health=outcome.health,
                rollback=outcome.rollback,
            )
        )


def selection_for(host: Host, selection: Selection) -> Selection:
    """The run's selection for one host: its inventory ``holds`` are excluded too."""
    holds = host.vars.get("holds")
    if isinstance(holds, list) and holds:
        return dataclasses.replace(
            selection, exclude=tuple(selection.exclude) + tuple(str(h) for h in holds)
        )
    return selection


def _baseline_notes(plan: HostPlan) -> list[str]:
    notes: list[str] = []
    if plan.ahead:
        ahead = ", ".join(f"{n} {have} (baseline {want})" for n, (have, want) in plan.ahead.items())
        notes.append(f"newer than the baseline, left as is: {ahead}")
    if plan.not_installed:
        notes.append("in the baseline but not installed here: " + ", ".join(plan.not_installed))
    return notes


def windows_by_host(hosts: Sequence[Host]) -> dict[str, tuple[MaintenanceWindow, ...]]:
    """Every host's maintenance window, checked before a run starts.

    Raises ConfigError naming the host and the problem: a typo in a window must
    stop the run up front, not silently leave a host unpatched (or patched).
    """
    found: dict[str, tuple[MaintenanceWindow, ...]] = {}
    for host in hosts:
        try:
            windows = host_windows(host.vars)
        except WindowError as error:
            raise ConfigError(f"host {host.name}: maintenance_window: {error}") from None
        if windows is not None:
            found[host.name] = windows
    return found


def closed_windows(hosts: Sequence[Host], now: dt.datetime) -> dict[str, tuple[dt.datetime, str]]:
    """Hosts whose maintenance window is closed at ``now``, with when it next opens (the
    moment, and as text in the window's zone): what a confirmation must say before a
    run skips them (or, ignoring windows, does not)."""
    closed: dict[str, tuple[dt.datetime, str]] = {}
    for name, windows in windows_by_host(hosts).items():
        if not is_open(windows, now):
            opens = next_opening(windows, now)
            closed[name] = (opens, format_opening(opens, windows))
    return closed
