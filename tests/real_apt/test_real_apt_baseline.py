"""Baselines against real apt/dpkg over real OpenSSH: a newer version in the repository
is never installed by a promotion; a baseline version the repository lost leaves the host
unchanged and says so.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from patchtui.baselines.model import BaselineRules, baseline_from_run
from patchtui.engine.events import Event, HostFinished
from patchtui.engine.patch import PatchJob, PatchOptions
from patchtui.store.db import Store
from patchtui.transport.ssh import SshConnector

if TYPE_CHECKING:
    from conftest import RealAptHost

pytestmark = pytest.mark.real_apt

NO_REBOOT = PatchOptions(reboot="never", poll_interval=0.2)


async def patch(real: RealAptHost, options: PatchOptions, store: Store) -> HostFinished:
    events: list[Event] = []
    connector = SshConnector(concurrency=1, use_agent=False)
    job = PatchJob(
        [real.host], connector=connector, emit=events.append, options=options, store=store
    )
    try:
        await job.run()
    finally:
        await connector.close_all()
    return next(e for e in events if isinstance(e, HostFinished))


async def test_promotion_installs_the_baseline_version_not_the_newest(
    real_apt_host: RealAptHost, tmp_path: Path
) -> None:
    real = real_apt_host
    store = Store.open(tmp_path / "db.json")
    real.run_apt("apt-get", "install", "-y", f"{real.package}=1.0")

    # Run A (staging): 1.0 -> 1.1, the newest the repository offers today.
    staged = await patch(real, NO_REBOOT, store)
    assert staged.result == "ok-reboot-required", staged
    assert real.installed_version() == "1.1"
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
    assert approved == {real.package: "1.1"}

    # The repository moves on to 1.2; the host goes back to 1.0 (it is "prod" now).
    real.add_version("1.2")
    real.run_apt("apt-get", "install", "-y", "--allow-downgrades", f"{real.package}=1.0")
    assert real.installed_version() == "1.0"
    promote = dataclasses.replace(NO_REBOOT, baseline=baseline)

    plan = await patch(real, dataclasses.replace(promote, dry_run=True), store)
    assert plan.result == "planned"
    assert [(c.name, c.before, c.after) for c in plan.changes] == [(real.package, "1.0", "1.1")]
    assert real.installed_version() == "1.0"

    promoted = await patch(real, promote, store)
    assert promoted.result in {"ok", "ok-reboot-required"}, promoted
    assert [(c.name, c.before, c.after) for c in promoted.changes] == [(real.package, "1.0", "1.1")]
    assert real.installed_version() == "1.1" and real.installed_file_version() == "1.1"

    # The repository drops 1.1: a host still at 1.0 is reported and left alone.
    real.publish(("1.0", "1.2"))
    real.run_apt("apt-get", "install", "-y", "--allow-downgrades", f"{real.package}=1.0")
    refused = await patch(real, promote, store)
    assert refused.result == "skipped" and refused.error_kind == "baseline-unavailable"
    assert "1.1" in (refused.error or "") and "left unchanged" in (refused.error or "")
    assert real.installed_version() == "1.0"
    store.close()
