"""patchtui itself against Debian's real zypper 1.14 over real OpenSSH: scan with the patch's
category, severity and CVE, a dry run, patch exactly the scanned version, verify, a held lock,
rollback.

The host is a private zypper root behind a private sshd whose sessions find wrappers pointing
zypper and rpm at that root (see roots.py); the inventory's ``package_manager: zypper`` chooses
the driver on this Debian machine.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from realjobs import LOCK_BOUND_S, NO_REBOOT, changes, patch, rollback, scan
from rpms import ADVISORY, CVE, PACKAGE, evr

from patchtui.drivers.base import Selection
from patchtui.engine.events import HostFinished, HostState
from patchtui.store.db import Store

if TYPE_CHECKING:
    from conftest import RealRpmHost

pytestmark = pytest.mark.real_zypper


async def test_scan_patch_verify_and_rollback_with_real_zypper(
    real_zypper_host: RealRpmHost, tmp_path: Path
) -> None:
    real = real_zypper_host
    real.root.install(evr("1.0"))
    store = Store.open(tmp_path / "db.json")

    # A dry run: zypper's --dry-run install summary (XML) gives the plan; nothing changes.
    by_name = dataclasses.replace(NO_REBOOT, selection=Selection(packages=(PACKAGE,)))
    plan = (await patch(real, dataclasses.replace(by_name, dry_run=True), store)).finished
    assert plan.result == "planned", plan
    assert changes(plan) == [(PACKAGE, evr("1.0"), evr("1.1"))]
    assert real.root.installed() == evr("1.0")

    # Patch the package by name. The patch job's own scan: list-updates gives the versions,
    # list-patches the security patch's severity and CVE, `info -t patch` (its Conflicts on
    # one line: one package) ties the two. zypper is then asked for exactly the scanned
    # edition, rpm really moves to 1.1, and the verifying rescan finds nothing pending.
    run = await patch(real, by_name, store)
    assert run.finished.result == "ok", run.finished
    before, after = run.scans
    assert [dataclasses.astuple(u) for u in before.pending] == [
        (PACKAGE, evr("1.0"), evr("1.1"), "noarch", "demo", True, "important", (ADVISORY,), (CVE,))
    ]
    assert before.warnings == () and before.reboot_required is False
    assert f" {PACKAGE}={evr('1.1')};" in run.install_command
    assert changes(run.finished) == [(PACKAGE, evr("1.0"), evr("1.1"))]
    assert real.root.installed() == evr("1.1") and real.root.installed_file_version() == "1.1"
    assert after.pending == ()
    stored = store.host("real-zypper")
    assert stored is not None and stored["pending_count"] == 0 and stored["security_count"] == 0

    # Rollback: install --oldpackage brings the recorded 1.0 back.
    restored = await rollback(real, run.job, store)
    store.close()
    assert restored.result == "ok", restored
    assert changes(restored) == [(PACKAGE, evr("1.1"), evr("1.0"))]
    assert real.root.installed() == evr("1.0") and real.root.installed_file_version() == "1.0"


async def test_held_lock_is_reported_locked_at_once(
    real_zypper_host: RealRpmHost, tmp_path: Path
) -> None:
    real = real_zypper_host
    store = Store.open(tmp_path / "db.json")
    with real.root.lock_held() as holder:
        events = await scan(real, store, bound=LOCK_BOUND_S)
    store.close()
    finished = next(e for e in events if isinstance(e, HostFinished))
    assert (finished.state, finished.error_kind) == (HostState.FAILED, "locked"), finished
    assert f"locked by the application with pid {holder}" in (finished.error or "")
