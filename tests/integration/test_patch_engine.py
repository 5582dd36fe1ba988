"""The patch engine against the lab over real SSH, in one process so faults can be placed.

Lab timings are shortened (job duration, reboot downtime) so the suite stays fast;
the code paths are the ones a real fleet takes.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from patchtui.drivers.apt import APT_GET_PREFIX
from patchtui.drivers.base import Selection
from patchtui.engine import reboot as engine_reboot
from patchtui.engine.events import (
    Event,
    HostFinished,
    HostOutput,
    HostScanned,
    HostState,
    HostStateChanged,
    RunFinished,
)
from patchtui.engine.patch import PatchJob, PatchOptions
from patchtui.engine.rollback import RollbackJob, changes_from_results
from patchtui.engine.rollout import Amount
from patchtui.engine.scan import ScanJob
from patchtui.inventory.loader import load_inventory
from patchtui.inventory.model import Host
from patchtui.lab.fleet import build_fleet
from patchtui.lab.server import LabServer
from patchtui.lab.sim import ShellResult
from patchtui.lab.sim import apt as lab_apt
from patchtui.lab.sim import jobs as lab_jobs
from patchtui.lab.state import SimHost
from patchtui.store.db import Store
from patchtui.transport.ssh import SshConnector

FAST = PatchOptions(poll_interval=0.1, reboot_time_limit=30, reconnect_time_limit=30)


@pytest.fixture(autouse=True)
def quick_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lab_jobs, "JOB_DURATION_RANGE", (0.3, 0.6))
    monkeypatch.setattr(lab_jobs, "REBOOT_DOWNTIME", 0.5)
    monkeypatch.setattr(engine_reboot, "SHUTDOWN_GRACE", 0.2)


class Lab:
    def __init__(self, server: LabServer, hosts: list[Host], directory: Path) -> None:
        self.server = server
        self.hosts = hosts
        self.directory = directory

    def sim(self, name: str) -> SimHost:
        return next(host for host in self.server.hosts if host.name == name)

    def host(self, name: str) -> Host:
        return next(host for host in self.hosts if host.name == name)


def pending_count(sim: SimHost) -> int:
    return sum(1 for package in sim.packages.values() if package.candidate() is not None)


async def start(tmp_path: Path, count: int, faults: tuple[str, ...] = ()) -> Lab:
    """A lab of ``count`` hosts; each fault goes to a different host that has updates
    pending, in fleet order (so tests can find them as ``faulty[i]``)."""
    fleet = build_fleet(count, faults="none")
    with_updates = [host for host in fleet if pending_count(host) >= 2]
    for host, fault in zip(with_updates, faults, strict=False):
        host.faults.add(fault)
    server = LabServer(fleet)
    await server.start()
    inventory = server.write_inventory(tmp_path / "lab" / "inventory.yaml")
    return Lab(server, list(load_inventory(inventory).hosts), tmp_path)


def faulty(lab: Lab, fault: str) -> Host:
    return next(lab.host(sim.name) for sim in lab.server.hosts if fault in sim.faults)


def healthy_with_updates(lab: Lab) -> list[Host]:
    return [
        lab.host(sim.name) for sim in lab.server.hosts if not sim.faults and pending_count(sim) > 0
    ]


@pytest.fixture
async def lab6(tmp_path: Path) -> AsyncIterator[Lab]:
    lab = await start(tmp_path, 8, faults=("drop-during-install", "install-fails"))
    yield lab
    await lab.server.stop()


async def run(job: PatchJob | ScanJob, connector: SshConnector) -> None:
    try:
        await job.run()
    finally:
        await connector.close_all()


async def test_patch_all_then_rescan_shows_nothing_pending(lab6: Lab, tmp_path: Path) -> None:
    events: list[Event] = []
    healthy = healthy_with_updates(lab6)
    assert len(healthy) >= 3
    store = Store.open(tmp_path / "db.json")
    connector = SshConnector(concurrency=10, use_agent=False)
    job = PatchJob(healthy, connector=connector, emit=events.append, options=FAST, store=store)
    await run(job, connector)

    finished = {e.host: e for e in events if isinstance(e, HostFinished)}
    assert {e.result for e in finished.values()} <= {"ok"}, finished
    assert all(pending_count(lab6.sim(host.name)) == 0 for host in healthy)
    kernel_hosts = [name for name, e in finished.items() if e.rebooted]
    assert kernel_hosts, "some lab hosts get a kernel update and must be rebooted"
    for name in kernel_hosts:
        assert lab6.sim(name).reboot_required is False
    # Stored: per-host changes (for rollback) and the run itself.
    results = {r["host"]: r for r in store.host_results(job.run_id)}
    some = next(name for name, e in finished.items() if e.changes)
    assert results[some]["changes"] and results[some]["before"]
    assert store.run(job.run_id)["status"] == "completed"  # type: ignore[index]
    transcript = store.transcript(job.run_id, some)
    assert "[detached]" in transcript  # the real install command, shown once
    assert any(change["name"] in transcript for change in results[some]["changes"])
    assert "@@patchtui-job" not in transcript  # polling stays out of the operator's view
    store.close()

    rescan_events: list[Event] = []
    connector = SshConnector(concurrency=10, use_agent=False)
    await run(ScanJob(healthy, connector=connector, emit=rescan_events.append), connector)
    summary = next(e for e in rescan_events if isinstance(e, RunFinished)).summary
    assert summary.ok == len(healthy) and summary.pending == 0


async def test_dropped_connection_during_install_is_interrupted_until_the_truth_is_read(
    lab6: Lab,
) -> None:
    host = faulty(lab6, "drop-during-install")
    events: list[Event] = []
    connector = SshConnector(concurrency=2, use_agent=False)
    job = PatchJob([host], connector=connector, emit=events.append, options=FAST)
    await run(job, connector)

    states = [e.state for e in events if isinstance(e, HostStateChanged)]
    finished = next(e for e in events if isinstance(e, HostFinished))
    assert HostState.INTERRUPTED in states  # while the connection was gone
    patching_after = states[states.index(HostState.INTERRUPTED) :]
    assert HostState.PATCHING in patching_after  # reconnected and followed the job
    assert finished.result == "ok" and finished.changes
    # Never reported ok before the reconnect read the real status:
    first_ok = next(
        (i for i, e in enumerate(events) if isinstance(e, HostFinished) and e.result == "ok"), None
    )
    first_interrupt = next(
        i
        for i, e in enumerate(events)
        if isinstance(e, HostStateChanged) and e.state is HostState.INTERRUPTED
    )
    assert first_ok is not None and first_ok > first_interrupt
    assert pending_count(lab6.sim(host.name)) == 0


async def test_install_failing_midway_is_partial_and_rollback_restores(
    lab6: Lab, tmp_path: Path
) -> None:
    host = faulty(lab6, "install-fails")
    sim = lab6.sim(host.name)
    before = {name: package.installed for name, package in sim.packages.items()}
    store = Store.open(tmp_path / "db.json")
    events: list[Event] = []
    connector = SshConnector(concurrency=2, use_agent=False)
    job = PatchJob([host], connector=connector, emit=events.append, options=FAST, store=store)
    await run(job, connector)

    finished = next(e for e in events if isinstance(e, HostFinished))
    assert finished.result == "partial", finished
    assert finished.changes and finished.error
    changed = {change.name for change in finished.changes}
    assert all(sim.packages[name].installed != before[name] for name in changed)

    # The kind of failure is kept with the host, as a scan keeps it: the console's reason
    # column reads it back after a restart (it said "error" for every failed patch).
    kept = store.host(host.name)
    assert kept is not None and finished.error_kind
    assert kept["last_error_kind"] == finished.error_kind
    changes = changes_from_results(store.host_results(job.run_id))
    connector = SshConnector(concurrency=2, use_agent=False)
    sim.faults.discard("install-fails")
    rollback_events: list[Event] = []
    rollback = RollbackJob(
        [host],
        source_run=job.run_id,
        changes_by_host=changes,
        connector=connector,
        emit=rollback_events.append,
        options=FAST,
        store=store,
    )
    await run(rollback, connector)
    store.close()

    restored = next(e for e in rollback_events if isinstance(e, HostFinished))
    assert restored.result in {"ok", "ok-reboot-required"}, restored
    # A host whose versions are being restored is rolling back, not patching (issue 16).
    states = [e.state for e in rollback_events if isinstance(e, HostStateChanged)]
    assert HostState.ROLLING_BACK in states and HostState.PATCHING not in states, states
    assert {name: sim.packages[name].installed for name in changed} == {
        name: before[name] for name in changed
    }


async def test_dry_run_changes_nothing(lab6: Lab) -> None:
    host = healthy_with_updates(lab6)[0]
    sim = lab6.sim(host.name)
    before = {name: package.installed for name, package in sim.packages.items()}
    events: list[Event] = []
    connector = SshConnector(concurrency=2, use_agent=False)
    options = PatchOptions(dry_run=True, poll_interval=0.1)
    await run(PatchJob([host], connector=connector, emit=events.append, options=options), connector)

    finished = next(e for e in events if isinstance(e, HostFinished))
    assert finished.result == "planned" and finished.changes
    assert {name: package.installed for name, package in sim.packages.items()} == before
    assert all(change.after != change.before for change in finished.changes)


async def test_failing_pre_check_skips_the_host_and_security_only_installs_only_security(
    lab6: Lab,
) -> None:
    candidates = healthy_with_updates(lab6)
    skipped_host = candidates[0]
    secure_host = next(
        host
        for host in candidates[1:]
        if len(
            {
                bool(c.security)
                for p in lab6.sim(host.name).packages.values()
                if (c := p.candidate())
            }
        )
        == 2
    )
    events: list[Event] = []
    connector = SshConnector(concurrency=2, use_agent=False)
    options = PatchOptions(pre="false", poll_interval=0.1)
    await run(
        PatchJob([skipped_host], connector=connector, emit=events.append, options=options),
        connector,
    )
    finished = next(e for e in events if isinstance(e, HostFinished))
    assert finished.result == "skipped" and finished.error_kind == "pre-check"

    sim = lab6.sim(secure_host.name)
    security = {n for n, p in sim.packages.items() if (c := p.candidate()) and c.security}
    other = {n for n, p in sim.packages.items() if (c := p.candidate()) and not c.security}
    assert security and other
    events = []
    connector = SshConnector(concurrency=2, use_agent=False)
    options = PatchOptions(
        selection=Selection(security_only=True), poll_interval=0.1, reboot="never"
    )
    await run(
        PatchJob([secure_host], connector=connector, emit=events.append, options=options), connector
    )
    finished = next(e for e in events if isinstance(e, HostFinished))
    assert {change.name for change in finished.changes} == security
    assert all(sim.packages[name].candidate() is not None for name in other)


async def test_failure_threshold_halts_and_skips_the_rest(tmp_path: Path) -> None:
    lab = await start(tmp_path, 8)
    for sim in lab.server.hosts[2:4]:  # the second wave of two
        sim.faults.add("auth-refused")
    try:
        events: list[Event] = []
        connector = SshConnector(concurrency=4, use_agent=False)
        options = PatchOptions(
            batch=Amount.parse("2", flag="--batch"),
            max_failures=Amount.parse("1", flag="--max-failures"),
            poll_interval=0.1,
            reboot="never",
        )
        job = PatchJob(lab.hosts, connector=connector, emit=events.append, options=options)
        await run(job, connector)
    finally:
        await lab.server.stop()
    summary = next(e for e in events if isinstance(e, RunFinished)).summary
    assert summary.halted and "threshold" in str(summary.halt_reason)
    # reboot="never": hosts that got a new kernel are ok but still need their reboot.
    assert summary.ok == 2 and summary.results.get("failed") == 2
    assert summary.results.get("skipped") == 4


async def test_a_hook_that_hangs_is_stopped_on_the_host_not_just_abandoned(
    lab6: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lab_jobs, "JOB_DURATION_RANGE", (60.0, 60.0))  # a hook that never ends
    host = healthy_with_updates(lab6)[0]
    sim = lab6.sim(host.name)
    events: list[Event] = []
    connector = SshConnector(concurrency=1, use_agent=False)
    options = PatchOptions(pre="wait-for-drain", hook_time_limit=1.0, poll_interval=0.1)
    await run(PatchJob([host], connector=connector, emit=events.append, options=options), connector)

    finished = next(e for e in events if isinstance(e, HostFinished))
    assert finished.result == "skipped" and finished.error_kind == "pre-check"
    assert "timed out" in str(finished.error) and "stopped it" in str(finished.error)
    assert not sim.jobs, "the hook job was stopped and its files removed"


async def test_second_cancel_marks_hosts_that_never_started_skipped(lab6: Lab) -> None:
    hosts = healthy_with_updates(lab6)[:3]
    events: list[Event] = []
    connector = SshConnector(concurrency=1, use_agent=False)  # the others wait for a slot
    job = PatchJob(hosts, connector=connector, emit=events.append, options=FAST)

    def cancel_twice_once_patching(event: Event) -> None:
        events.append(event)
        if isinstance(event, HostStateChanged) and event.state is HostState.PATCHING:
            job.cancel()
            job.cancel()

    job.emit = cancel_twice_once_patching
    await run(job, connector)
    results = {e.host: e for e in events if isinstance(e, HostFinished)}
    assert len(results) == 3
    assert results[hosts[0].name].result == "interrupted"
    assert {results[h.name].result for h in hosts[1:]} == {"skipped"}


async def test_an_interrupted_dpkg_is_repaired_once_and_flagged_not_looped(
    lab6: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """apt refuses with 'dpkg was interrupted': patchtui runs dpkg --configure -a once, says so."""
    sim = next(h for h in lab6.server.hosts if h.family == "apt" and pending_count(h) > 0)
    sim.faults.clear()
    host = lab6.host(sim.name)
    repairs: list[str] = []
    real_handle = lab_apt.handle

    def apt_after_a_killed_dpkg(sim: SimHost, command: str) -> ShellResult | None:
        if sim.name == host.name and "dpkg --configure -a" in command:
            repairs.append(command)
            return ShellResult(stdout="Setting up openssl (3.0.13-1~deb12u1) ...\n")
        if sim.name == host.name and command.startswith(APT_GET_PREFIX) and " -s " not in command:
            return ShellResult(
                stderr="E: dpkg was interrupted, you must manually run 'dpkg --configure -a' "
                "to correct the problem.\n",
                exit_status=100,
            )
        return real_handle(sim, command)

    monkeypatch.setattr(lab_apt, "handle", apt_after_a_killed_dpkg)
    events: list[Event] = []
    connector = SshConnector(concurrency=1, use_agent=False)
    await run(PatchJob([host], connector=connector, emit=events.append, options=FAST), connector)

    finished = next(e for e in events if isinstance(e, HostFinished))
    assert finished.result == "failed" and finished.error_kind == "dpkg-interrupted"
    assert "dpkg --configure -a" in str(finished.error) and "check the host" in str(finished.error)
    assert len(repairs) == 1  # once, flagged to the operator: never a loop


async def test_a_skipped_canary_halts_the_run_instead_of_passing(tmp_path: Path) -> None:
    """Seen: 'a canary skipped by its pre-check did not halt the run': it proved nothing."""
    lab = await start(tmp_path, 6)
    try:
        events: list[Event] = []
        connector = SshConnector(concurrency=2, use_agent=False)
        options = PatchOptions(pre="false", canary=1, poll_interval=0.1)
        job = PatchJob(lab.hosts, connector=connector, emit=events.append, options=options)
        await run(job, connector)
        final = next(e for e in events if isinstance(e, RunFinished))
        summary = final.summary
        canary = job.plan.canaries[0]
        assert job.outcomes[canary].error_kind == "pre-check"
        assert summary.halted and summary.halt_reason is not None
        assert f"canary host {canary} was skipped (pre-check)" in summary.halt_reason
        # Nothing after the canary was started, and every host is counted, with why.
        assert summary.skipped_reasons == {"pre-check": 1, "halted": 5}
        assert final.outcome == "halted"
    finally:
        await lab.server.stop()


async def test_whatever_fails_after_the_install_the_changes_are_kept_for_rollback(
    lab6: Lab, tmp_path: Path
) -> None:
    """A failing post hook (issue 14) and an operator who stops waiting mid-install: both
    hosts keep a change record, and rolling the run back restores every old version."""
    hosts = healthy_with_updates(lab6)[:3]
    before = {h.name: {n: p.installed for n, p in lab6.sim(h.name).packages.items()} for h in hosts}
    store = Store.open(tmp_path / "db.json")
    events: list[Event] = []
    connector = SshConnector(concurrency=3, use_agent=False)
    options = dataclasses.replace(FAST, post="false", reboot="never")
    job = PatchJob(hosts, connector=connector, emit=events.append, options=options, store=store)
    await run(job, connector)
    finished = {e.host: e for e in events if isinstance(e, HostFinished)}
    assert {e.result for e in finished.values()} == {"failed"}, finished
    stored = {r["host"]: r for r in store.host_results(job.run_id)}
    for host in hosts:
        event = finished[host.name]
        assert event.error_kind == "post-check" and event.changes
        changed = {c.name for c in event.changes}
        now = lab6.sim(host.name).packages
        assert changed == {n for n, v in before[host.name].items() if now[n].installed != v}
        assert [c["name"] for c in stored[host.name]["changes"]] == sorted(changed)
        assert stored[host.name]["status"] == "failed"

    rollback = RollbackJob(
        hosts,
        source_run=job.run_id,
        changes_by_host=changes_from_results(store.host_results(job.run_id)),
        connector=(connector := SshConnector(concurrency=3, use_agent=False)),
        emit=events.append,
        options=dataclasses.replace(FAST, reboot="never"),
        store=store,
    )
    await run(rollback, connector)
    store.close()
    for host in hosts:
        now = lab6.sim(host.name).packages
        assert {n: p.installed for n, p in now.items() if n in before[host.name]} == before[
            host.name
        ]


async def test_stopping_waiting_mid_install_records_before_versions_rollback_restores(
    lab6: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lab_jobs, "JOB_DURATION_RANGE", (3.0, 3.0))  # still running at cancel
    host = healthy_with_updates(lab6)[0]
    sim = lab6.sim(host.name)
    before = {n: p.installed for n, p in sim.packages.items()}
    store = Store.open(tmp_path / "db.json")
    events: list[Event] = []
    connector = SshConnector(concurrency=1, use_agent=False)
    job = PatchJob([host], connector=connector, emit=events.append, options=FAST, store=store)

    def cancel_twice(event: Event) -> None:
        events.append(event)
        if isinstance(event, HostOutput) and event.stream == "cmd" and "[detached]" in event.line:
            # Once the job has started on the host (state changed), stop waiting for it.
            asyncio.get_running_loop().call_later(0.5, lambda: (job.cancel(), job.cancel()))

    job.emit = cancel_twice
    await run(job, connector)
    finished = next(e for e in events if isinstance(e, HostFinished))
    assert finished.result == "interrupted" and finished.error_kind == "cancelled"
    assert finished.changes_unknown and not finished.changes
    (result,) = store.host_results(job.run_id)
    assert result["changes_unknown"] is True and result["before"]
    plan = changes_from_results([result])
    changed = {n for n, v in before.items() if sim.packages[n].installed != v}
    assert changed and changed <= {str(c["name"]) for c in plan[host.name]}

    rollback = RollbackJob(
        [host],
        source_run=job.run_id,
        changes_by_host=plan,
        connector=(connector := SshConnector(concurrency=1, use_agent=False)),
        emit=events.append,
        options=dataclasses.replace(FAST, reboot="never"),
        store=store,
    )
    await run(rollback, connector)
    store.close()
    assert {n: sim.packages[n].installed for n in before} == before


async def test_a_reboot_that_fails_after_the_install_keeps_the_changes(
    lab6: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lab_jobs, "REBOOT_DOWNTIME", 30.0)  # never back within the limit
    host = healthy_with_updates(lab6)[0]
    sim = lab6.sim(host.name)
    before = {n: p.installed for n, p in sim.packages.items()}
    store = Store.open(tmp_path / "db.json")
    events: list[Event] = []
    connector = SshConnector(concurrency=1, use_agent=False)
    options = dataclasses.replace(FAST, reboot="always", reboot_time_limit=1.0)
    job = PatchJob([host], connector=connector, emit=events.append, options=options, store=store)
    await run(job, connector)
    store.close()
    finished = next(e for e in events if isinstance(e, HostFinished))
    assert finished.result == "failed" and finished.error_kind == "reboot", finished
    changed = {n for n, v in before.items() if sim.packages[n].installed != v}
    assert changed and {c.name for c in finished.changes} == changed
    with Store.open(tmp_path / "db.json") as reopened:
        (result,) = reopened.host_results(job.run_id)
    assert {c["name"] for c in result["changes"]} == changed and not result["changes_unknown"]


async def test_scan_reports_the_package_manager_the_inventory_chose(tmp_path: Path) -> None:
    """The JSON and the store showed the detected family ('apt') for a host whose
    inventory said otherwise; they now show the one patchtui used."""
    lab = await start(tmp_path, 8)
    try:
        rhel = next(host for host in lab.hosts if host.name.startswith("lab-rhel"))
        chosen = dataclasses.replace(rhel, package_manager="yum")
        events: list[Event] = []
        connector = SshConnector(concurrency=2, use_agent=False)
        await run(ScanJob([chosen], connector=connector, emit=events.append), connector)
        scanned = [e for e in events if isinstance(e, HostScanned)]
        assert scanned and scanned[0].facts.package_manager == "yum"
    finally:
        await lab.server.stop()
