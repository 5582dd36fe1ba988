"""The apt driver's reboot check through the lab's simulated shell: plain Debian (no flag
file), needrestart, kernels pulled in by a metapackage upgrade, and the unknown case."""

from __future__ import annotations

import time

from sessions import LabSession

from patchtui.drivers.apt import REBOOT_CHECK_COMMAND, AptDriver
from patchtui.lab.sim import apt as sim_apt
from patchtui.lab.state import SimHost, SimPackage, SimVersion


def plain_debian(kernel: str = "6.1.0-21-amd64", **flags: bool) -> SimHost:
    host = SimHost(
        name="deb1", address="127.0.0.1", port=2222, family="apt", os_id="debian",
        os_version="12", pretty_name="Debian GNU/Linux 12 (bookworm)", id_like="",
        version_codename="bookworm", kernel=kernel, boot_id="b-1", hostname="deb1",
        booted_at=time.time() - 100, update_notifier=False, **flags,
    )  # fmt: skip
    host.packages = {
        "linux-image-6.1.0-21-amd64": SimPackage(
            "linux-image-6.1.0-21-amd64", "amd64", "6.1.90-1", [SimVersion("6.1.90-1", "bookworm")]
        ),
        "linux-image-amd64": SimPackage(
            "linux-image-amd64", "amd64", "6.1.90-1",
            [SimVersion("6.1.90-1", "bookworm"),
             SimVersion("6.1.94-1", "bookworm-security", security=True, needs_reboot=True)],
        ),
    }  # fmt: skip
    return host


async def test_newer_kernel_without_flag_file_needs_a_reboot() -> None:
    host = plain_debian(kernel="6.1.0-20-amd64")
    result = await AptDriver().scan(LabSession(host), refresh=False)
    assert result.reboot_required is True
    assert "newer kernel installed: 6.1.0-21-amd64 (running 6.1.0-20-amd64)" in result.warnings


async def test_needrestart_reports_the_same() -> None:
    host = plain_debian(kernel="6.1.0-20-amd64", needrestart=True)
    answer = sim_apt.handle(host, REBOOT_CHECK_COMMAND)
    assert answer is not None and "NEEDRESTART-KSTA: 3\n" in answer.stdout
    result = await AptDriver().scan(LabSession(host), refresh=False)
    assert result.reboot_required is True


async def test_running_the_newest_kernel_needs_none() -> None:
    result = await AptDriver().scan(LabSession(plain_debian()), refresh=False)
    assert result.reboot_required is False


async def test_nothing_to_tell_by_is_unknown_with_a_reason() -> None:
    host = plain_debian(kernel="6.18.44-fc-v1300")
    host.packages = {}
    result = await AptDriver().scan(LabSession(host), refresh=False)
    assert result.reboot_required is None
    assert any(w.startswith("reboot status unknown: ") for w in result.warnings), result.warnings


def test_metapackage_upgrade_pulls_in_one_kernel_per_version() -> None:
    host = plain_debian()
    meta = host.packages["linux-image-amd64"]
    sim_apt._install(host, [(meta, "6.1.94-1")])
    assert host.packages["linux-image-6.1.0-22-amd64"].installed == "6.1.94-1"
    assert host.reboot_required
    # Rolled back and upgraded again: the same kernel, not yet another ABI.
    sim_apt._install(host, [(meta, "6.1.90-1")])
    sim_apt._install(host, [(meta, "6.1.94-1")])
    kernels = [name for name in host.packages if name != "linux-image-amd64"]
    assert sorted(kernels) == [
        "linux-image-6.1.0-21-amd64",
        "linux-image-6.1.0-22-amd64",
    ]
