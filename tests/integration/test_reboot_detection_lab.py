"""Issue 15's "must show", over real SSH on the lab: a plain Debian host (no update-notifier,
so no /run/reboot-required) that installed a newer kernel is reported as needing a reboot,
whether it has needrestart or not; the patch that installs the kernel says so, and the
reboot it triggers boots the new kernel and clears it."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from labhelp import json_lines, patchtui_command

from patchtui.engine import reboot as engine_reboot
from patchtui.engine.events import Event, HostFinished
from patchtui.engine.patch import PatchJob, PatchOptions
from patchtui.engine.rollback import rollback_targets
from patchtui.inventory.loader import load_inventory
from patchtui.inventory.patterns import select_hosts
from patchtui.lab.server import LabServer
from patchtui.lab.sim import jobs as lab_jobs
from patchtui.lab.state import SimHost, SimPackage, SimVersion
from patchtui.transport.ssh import SshConnector


def plain_debian(name: str, kernel: str, *, needrestart: bool = False) -> SimHost:
    host = SimHost(
        name=name, address="127.0.0.1", port=0, family="apt", os_id="debian", os_version="12",
        pretty_name="Debian GNU/Linux 12 (bookworm)", id_like="", version_codename="bookworm",
        kernel=kernel, boot_id=f"boot-{name}", hostname=name, booted_at=time.time() - 3600,
        update_notifier=False, needrestart=needrestart,
    )  # fmt: skip
    host.packages = {
        "linux-image-6.1.0-21-amd64": SimPackage(
            "linux-image-6.1.0-21-amd64", "amd64", "6.1.90-1", [SimVersion("6.1.90-1", "bookworm")]
        ),
        "linux-image-amd64": SimPackage(
            "linux-image-amd64", "amd64", "6.1.90-1", [SimVersion("6.1.90-1", "bookworm")]
        ),
    }
    return host


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[tuple[LabServer, Path]]:
    newer_installed = plain_debian("deb-newer", "6.1.0-20-amd64")
    with_needrestart = plain_debian("deb-needrestart", "6.1.0-20-amd64", needrestart=True)
    current = plain_debian("deb-current", "6.1.0-21-amd64", needrestart=True)
    container = plain_debian("deb-container", "6.18.44-fc-v1300")
    container.packages = {}  # no kernel packages, no needrestart, no update-notifier
    patched = plain_debian("deb-patch", "6.1.0-21-amd64")
    patched.packages["linux-image-amd64"].available.append(
        SimVersion("6.1.94-1", "bookworm-security", security=True, needs_reboot=True)
    )
    hosts = [newer_installed, with_needrestart, current, container, patched]
    server = LabServer(hosts)
    await server.start()
    inventory = server.write_inventory(tmp_path / "lab" / "inventory.yaml")
    yield server, inventory
    await server.stop()


async def test_scan_reports_a_newer_installed_kernel_without_the_flag_file(
    lab: tuple[LabServer, Path], tmp_path: Path
) -> None:
    server, inventory = lab
    # The user's command line, in its own process, while the lab serves from this loop.
    process = await asyncio.create_subprocess_exec(
        *patchtui_command("scan", "-i", str(inventory), "--json", "--db", str(tmp_path / "db")),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PATCHTUI_DATA_DIR": str(tmp_path / "data")},
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()
    results = {
        line["host"]: line for line in json_lines(stdout.decode()) if line["type"] == "host_result"
    }
    verdicts = {name: line["reboot_required"] for name, line in results.items()}
    assert verdicts == {
        "deb-newer": True,  # installed linux-image-6.1.0-21 while running 6.1.0-20
        "deb-needrestart": True,  # needrestart -b: KSTA 3
        "deb-current": False,
        "deb-container": None,  # nothing can tell: unknown, never "no"
        "deb-patch": False,
    }
    # Not the flag file: the lab's plain Debian hosts never have one.
    assert not any(host.update_notifier for host in server.hosts)
    summary = json_lines(stdout.decode())[-1]
    assert summary["type"] == "summary" and summary["reboot_required"] == 2


async def test_patching_a_kernel_on_plain_debian_needs_and_gets_a_reboot(
    lab: tuple[LabServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lab_jobs, "JOB_DURATION_RANGE", (0.2, 0.4))
    monkeypatch.setattr(lab_jobs, "REBOOT_DOWNTIME", 0.5)
    monkeypatch.setattr(engine_reboot, "SHUTDOWN_GRACE", 0.2)
    server, inventory_path = lab
    hosts = select_hosts(load_inventory(inventory_path), "deb-patch")
    sim = next(host for host in server.hosts if host.name == "deb-patch")

    async def patch(reboot: str) -> HostFinished:
        events: list[Event] = []
        options = PatchOptions(
            poll_interval=0.1, reboot_time_limit=30, reconnect_time_limit=30, reboot=reboot
        )
        connector = SshConnector(concurrency=2, use_agent=False)
        job = PatchJob(hosts, connector=connector, emit=events.append, options=options)
        try:
            await asyncio.wait_for(job.run(), timeout=120)
        finally:
            await connector.close_all()
        return next(e for e in events if isinstance(e, HostFinished))

    finished = await patch("never")
    assert finished.result == "ok-reboot-required", finished
    assert sim.packages["linux-image-amd64"].installed == "6.1.94-1"
    assert "linux-image-6.1.0-22-amd64" in sim.packages  # the new ABI, pulled in
    assert sim.kernel == "6.1.0-21-amd64"
    # The record holds what was pulled in too, not only the targeted metapackage: the
    # kernel the next boot runs is something an auditor and rollback must see.
    changes = {(c.name, c.before, c.after) for c in finished.changes}
    assert changes == {
        ("linux-image-amd64", "6.1.90-1", "6.1.94-1"),
        ("linux-image-6.1.0-22-amd64", None, "6.1.94-1"),
    }
    targets, new_installs = rollback_targets([c.__dict__ for c in finished.changes])
    assert [t.name for t in targets] == ["linux-image-amd64"]
    assert new_installs == ["linux-image-6.1.0-22-amd64"]

    finished = await patch("if-needed")  # nothing left to install: reboots because it must
    assert finished.rebooted and finished.result == "ok", finished
    assert sim.kernel == "6.1.0-22-amd64"
