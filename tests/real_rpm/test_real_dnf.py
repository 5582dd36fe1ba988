"""patchtui itself against Debian's real dnf 4 over real OpenSSH: scan with severity, patch
exactly the scanned version, verify, a held lock, rollback, baseline promotion.

The host is a private dnf root behind a private sshd whose sessions find wrappers pointing dnf
and rpm at that root (see roots.py); the inventory's ``package_manager: dnf`` chooses the driver
on this Debian machine. ``reboot="never"``: real dnf gives no reboot verdict here (no
needs-restarting), and the tests must never act on one.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from realjobs import LOCK_BOUND_S, NO_REBOOT, changes, patch, rollback, scan
from rpms import ADVISORY, CVE, PACKAGE, evr

from patchtui.baselines.model import BaselineRules, baseline_from_run
from patchtui.drivers.base import Selection
from patchtui.engine.events import HostFinished, HostState
from patchtui.store.db import Store

if TYPE_CHECKING:
    from conftest import RealRpmHost

pytestmark = pytest.mark.real_dnf


async def test_scan_patch_verify_and_rollback_with_real_dnf(
    real_dnf_host: RealRpmHost, tmp_path: Path
) -> None:
    real = real_dnf_host
    real.root.install(evr("1.0"))
    # Real dnf says "updates available" with exit 100, which the driver must take as success.
    assert real.root.run("dnf", "-q", "check-update", check=False).returncode == 100
    store = Store.open(tmp_path / "db.json")

    # Patch the package by name. The patch job's own scan sees the security update with its
    # severity, advisory and CVE from updateinfo; dnf is then asked for exactly the scanned
    # NEVR, rpm really moves to 1.1, and the verifying rescan finds nothing pending.
    by_name = dataclasses.replace(NO_REBOOT, selection=Selection(packages=(PACKAGE,)))
    run = await patch(real, by_name, store)
    assert run.finished.result == "ok", run.finished
    before, after = run.scans
    assert [dataclasses.astuple(u) for u in before.pending] == [
        (PACKAGE, evr("1.0"), evr("1.1"), "noarch", "demo", True, "important", (ADVISORY,), (CVE,))
    ]
    # No needs-restarting on Debian: the reboot status is unknown, and said so.
    assert before.reboot_required is None
    assert any("needs-restarting not installed" in w for w in before.warnings)
    assert f" upgrade {PACKAGE}-{evr('1.1')} " in f"{run.install_command} "
    assert changes(run.finished) == [(PACKAGE, evr("1.0"), evr("1.1"))]
    assert real.root.installed() == evr("1.1") and real.root.installed_file_version() == "1.1"
    assert after.pending == ()
    stored = store.host("real-dnf")
    assert stored is not None and stored["pending_count"] == 0 and stored["security_count"] == 0

    # Rollback: dnf downgrade brings the recorded 1.0 back.
    restored = await rollback(real, run.job, store)
    store.close()
    assert restored.result == "ok", restored
    assert changes(restored) == [(PACKAGE, evr("1.1"), evr("1.0"))]
    assert real.root.installed() == evr("1.0") and real.root.installed_file_version() == "1.0"


async def test_held_lock_is_reported_locked_at_once(
    real_dnf_host: RealRpmHost, tmp_path: Path
) -> None:
    real = real_dnf_host
    real.root.install(evr("1.0"))
    store = Store.open(tmp_path / "db.json")
    with real.root.lock_held() as holder:
        # Without exit_on_lock real dnf would print nothing and wait for the holder (300 s);
        # the bound would then cancel the job and wait_for raise TimeoutError here.
        events = await scan(real, store, bound=LOCK_BOUND_S)
    store.close()
    finished = next(e for e in events if isinstance(e, HostFinished))
    assert (finished.state, finished.error_kind) == (HostState.FAILED, "locked"), finished
    assert f"already locked by {holder}" in (finished.error or "")
    assert real.root.installed() == evr("1.0")


async def test_promotion_installs_the_baseline_version_not_the_newest(
    real_dnf_host: RealRpmHost, tmp_path: Path
) -> None:
    real = real_dnf_host
    store = Store.open(tmp_path / "db.json")
    real.root.install(evr("1.0"))

    # Run A (staging): 1.0 -> 1.1, the newest the repository offers today.
    staged = (await patch(real, NO_REBOOT, store)).finished
    assert staged.result == "ok", staged
    run_a = next(run for run in store.runs() if run["operation"] == "patch")
    baseline = baseline_from_run(
        "staging-ok",
        run=run_a,
        results=store.host_results(str(run_a["run_id"])),
        host_states={doc["name"]: doc for doc in store.hosts()},
        rules=BaselineRules(),
        now=time.time(),
    )
    (approved,) = baseline.releases.values()
    assert approved == {PACKAGE: evr("1.1")}

    # The repository moves on to 1.2; the host goes back to 1.0 (it is "prod" now).
    real.add_version("1.2")
    real.root.install(evr("1.0"))
    promote = dataclasses.replace(NO_REBOOT, baseline=baseline)

    plan = (await patch(real, dataclasses.replace(promote, dry_run=True), store)).finished
    assert plan.result == "planned", plan
    assert changes(plan) == [(PACKAGE, evr("1.0"), evr("1.1"))]
    assert real.root.installed() == evr("1.0")

    promoted = (await patch(real, promote, store)).finished
    assert promoted.result == "ok", promoted
    assert changes(promoted) == [(PACKAGE, evr("1.0"), evr("1.1"))]
    assert real.root.installed() == evr("1.1") and real.root.installed_file_version() == "1.1"
    store.close()
