"""patchtui itself against real apt/dpkg over real OpenSSH: scan, patch, reboot-required, rollback.

The host is this machine behind a private sshd whose sessions use a private APT
config (only the test's local repository). ``reboot="never"`` everywhere: the
test must see reboot-required reported, never act on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from patchtui.engine.events import Event, HostFinished, HostScanned
from patchtui.engine.patch import PatchJob, PatchOptions
from patchtui.engine.rollback import RollbackJob, changes_from_results
from patchtui.engine.scan import ScanJob
from patchtui.store.db import Store
from patchtui.transport.ssh import SshConnector

if TYPE_CHECKING:
    from conftest import RealAptHost

pytestmark = pytest.mark.real_apt

NO_REBOOT = PatchOptions(reboot="never", poll_interval=0.2)


async def run_job(job: ScanJob | PatchJob, connector: SshConnector) -> None:
    try:
        await job.run()
    finally:
        await connector.close_all()


def connector() -> SshConnector:
    return SshConnector(concurrency=1, use_agent=False)


async def test_scan_patch_and_rollback_with_real_apt(
    real_apt_host: RealAptHost, tmp_path: Path
) -> None:
    real = real_apt_host
    real.run_apt("apt-get", "install", "-y", f"{real.package}=1.0")
    assert real.installed_version() == "1.0"
    assert not real.reboot_required()
    store = Store.open(tmp_path / "db.json")

    # Scan: the upgrade is seen, from a -security suite, with its versions.
    events: list[Event] = []
    conn = connector()
    await run_job(ScanJob([real.host], connector=conn, emit=events.append, store=store), conn)
    scanned = next(e for e in events if isinstance(e, HostScanned))
    assert scanned.facts.package_manager == "apt"
    update = next(u for u in scanned.scan.pending if u.name == real.package)
    assert (update.installed, update.candidate, update.security) == ("1.0", "1.1", True)
    assert [u.name for u in scanned.scan.pending] == [real.package]  # only the sandbox repo

    # Patch: dpkg really moves to 1.1, whose postinst asks for a reboot.
    events = []
    conn = connector()
    patch = PatchJob(
        [real.host], connector=conn, emit=events.append, options=NO_REBOOT, store=store
    )
    await run_job(patch, conn)
    finished = next(e for e in events if isinstance(e, HostFinished))
    assert finished.result == "ok-reboot-required", finished
    assert [(c.name, c.before, c.after) for c in finished.changes] == [(real.package, "1.0", "1.1")]
    assert real.installed_version() == "1.1" and real.installed_file_version() == "1.1"
    assert real.reboot_required() and real.package in real.reboot_required_packages()
    assert not finished.rebooted
    stored = store.host("real-apt")
    assert stored is not None and stored["reboot_required"] is True and stored["pending_count"] == 0

    # Rollback: the recorded 1.0 comes back.
    events = []
    conn = connector()
    rollback = RollbackJob(
        [real.host],
        source_run=patch.run_id,
        changes_by_host=changes_from_results(store.host_results(patch.run_id)),
        connector=conn,
        emit=events.append,
        options=NO_REBOOT,
        store=store,
    )
    await run_job(rollback, conn)
    store.close()
    restored = next(e for e in events if isinstance(e, HostFinished))
    assert restored.result in {"ok", "ok-reboot-required"}, restored
    assert real.installed_version() == "1.0" and real.installed_file_version() == "1.0"


async def test_rollback_says_when_the_old_version_is_gone(
    real_apt_host: RealAptHost, tmp_path: Path
) -> None:
    real = real_apt_host
    real.run_apt("apt-get", "install", "-y", f"{real.package}=1.0")
    store = Store.open(tmp_path / "db.json")
    conn = connector()
    patch = PatchJob(
        [real.host], connector=conn, emit=lambda _e: None, options=NO_REBOOT, store=store
    )
    await run_job(patch, conn)
    assert real.installed_version() == "1.1"

    real.publish(["1.1"])  # the mirror dropped 1.0
    events: list[Event] = []
    conn = connector()
    rollback = RollbackJob(
        [real.host],
        source_run=patch.run_id,
        changes_by_host=changes_from_results(store.host_results(patch.run_id)),
        connector=conn,
        emit=events.append,
        options=NO_REBOOT,
        store=store,
    )
    await run_job(rollback, conn)
    store.close()
    finished = next(e for e in events if isinstance(e, HostFinished))
    assert finished.result == "failed" and finished.error_kind == "unavailable", finished
    assert "1.0" in str(finished.error) and "no longer available" in str(finished.error)
    assert real.installed_version() == "1.1"  # left unchanged


async def test_a_failing_post_hook_keeps_the_change_record_and_rollback_restores(
    real_apt_host: RealAptHost, tmp_path: Path
) -> None:
    """dpkg really moves 1.0 -> 1.1, then ``--post false`` fails the host: the change is
    stored anyway (issue 14 stored ``changes: []``), and rolling the run back restores 1.0."""
    real = real_apt_host
    real.run_apt("apt-get", "install", "-y", f"{real.package}=1.0")
    store = Store.open(tmp_path / "db.json")
    events: list[Event] = []
    conn = connector()
    options = PatchOptions(reboot="never", poll_interval=0.2, post="false")
    patch = PatchJob([real.host], connector=conn, emit=events.append, options=options, store=store)
    await run_job(patch, conn)
    finished = next(e for e in events if isinstance(e, HostFinished))
    assert finished.result == "failed" and finished.error_kind == "post-check", finished
    assert real.installed_version() == "1.1"
    (stored,) = store.host_results(patch.run_id)
    assert stored["status"] == "failed"
    assert [(c["name"], c["before"], c["after"]) for c in stored["changes"]] == [
        (real.package, "1.0", "1.1")
    ]

    events = []
    conn = connector()
    rollback = RollbackJob(
        [real.host],
        source_run=patch.run_id,
        changes_by_host=changes_from_results(store.host_results(patch.run_id)),
        connector=conn,
        emit=events.append,
        options=NO_REBOOT,
        store=store,
    )
    await run_job(rollback, conn)
    store.close()
    restored = next(e for e in events if isinstance(e, HostFinished))
    assert restored.result in {"ok", "ok-reboot-required"}, restored
    assert real.installed_version() == "1.0" and real.installed_file_version() == "1.0"
