"""Round trip: the apt/apk drivers' real commands through the lab's simulated shell."""

from __future__ import annotations

import shlex
import time

import pytest
from sessions import LabSession

from patchtui.drivers.apk import ApkDriver
from patchtui.drivers.apt import AptDriver
from patchtui.drivers.base import DriverError, PendingUpdate
from patchtui.drivers.facts import FACTS_COMMAND, collect_facts
from patchtui.drivers.registry import driver_for
from patchtui.lab.shell import execute, unwrap_become
from patchtui.lab.state import SimHost, SimPackage, SimVersion
from patchtui.transport.base import CommandResult


def debian_host() -> SimHost:
    host = SimHost(
        name="deb1", address="127.0.0.1", port=2222, family="apt", os_id="debian",
        os_version="12", pretty_name="Debian GNU/Linux 12 (bookworm)", id_like="",
        version_codename="bookworm", kernel="6.1.0-18-amd64", boot_id="b-1",
        hostname="deb1", booted_at=time.time() - 100,
    )  # fmt: skip
    host.packages = {
        "openssl": SimPackage(
            "openssl", "amd64", "3.0.11-1~deb12u2",
            [SimVersion("3.0.11-1~deb12u2", "bookworm"),
             SimVersion("3.0.15-1~deb12u1", "bookworm-security", security=True)],
        ),
        "tzdata": SimPackage("tzdata", "all", "2024a-0+deb12u1",
                             [SimVersion("2024b-0+deb12u1", "bookworm-updates")]),
        "bash": SimPackage("bash", "amd64", "5.2.15-2+b2", [SimVersion("5.2.15-2+b2", "bookworm")]),
    }  # fmt: skip
    return host


def alpine_host() -> SimHost:
    host = SimHost(
        name="alp1", address="127.0.0.1", port=2223, family="apk", os_id="alpine",
        os_version="3.19.1", pretty_name="Alpine Linux v3.19", id_like="",
        version_codename="", kernel="6.6.31-0-lts", boot_id="b-2",
        hostname="alp1", booted_at=time.time() - 100,
    )  # fmt: skip
    host.packages = {
        "linux-lts": SimPackage("linux-lts", "x86_64", "6.6.32-r0",
                                [SimVersion("6.6.33-r0", "main")]),
        "musl": SimPackage("musl", "x86_64", "1.2.4_git20230717-r4",
                           [SimVersion("1.2.4_git20230717-r5", "main")]),
        "busybox": SimPackage("busybox", "x86_64", "1.36.1-r15", []),
    }  # fmt: skip
    return host


def test_unwrap_become() -> None:
    inner = "LC_ALL=C apt-get update -q -o 'A=b c'"
    assert unwrap_become(f"sudo -n -u root -- sh -c {shlex.quote(inner)}") == inner
    assert unwrap_become("apk update") == "apk update"


def test_unknown_command() -> None:
    answer = execute(debian_host(), "frobnicate --all")
    assert (answer.exit_status, answer.stderr) == (127, "sh: 1: frobnicate: not found\n")


async def test_facts_round_trip() -> None:
    facts = await collect_facts(LabSession(debian_host()))
    assert (facts.os_id, facts.os_version, facts.package_manager) == ("debian", "12", "apt")
    assert facts.os_name == "Debian GNU/Linux 12 (bookworm)"
    assert (facts.kernel, facts.boot_id, facts.hostname) == ("6.1.0-18-amd64", "b-1", "deb1")
    assert facts.uptime_seconds is not None and 99 <= facts.uptime_seconds < 200
    assert execute(alpine_host(), FACTS_COMMAND).stdout.count("@@patchtui:") == 7


async def test_apt_scan_round_trip() -> None:
    host = debian_host()
    host.reboot_required, host.reboot_packages = True, ["linux-image-6.1.0-30-amd64"]
    lines: list[str] = []
    session = LabSession(host)
    result = await driver_for("apt").scan(session, on_line=lambda _s, line: lines.append(line))
    assert host.metadata_refreshed
    assert session.commands[0].startswith("sudo -n -u root -- sh -c ")
    assert result.pending == (
        PendingUpdate("openssl", "3.0.11-1~deb12u2", "3.0.15-1~deb12u1", "amd64",
                      "Debian-Security:12/stable-security", security=True),
        PendingUpdate("tzdata", "2024a-0+deb12u1", "2024b-0+deb12u1", "all", "Debian:12/stable"),
    )  # fmt: skip
    assert result.security_count == 1
    assert result.reboot_required is True
    assert not result.metadata_stale
    assert any(line.startswith("Inst openssl") for line in lines)


async def test_apt_ubuntu_security_suite() -> None:
    host = debian_host()
    host.os_id, host.os_version, host.version_codename = "ubuntu", "22.04", "jammy"
    result = await AptDriver().scan(LabSession(host), refresh=False)
    assert result.pending[0].repository == "Ubuntu:22.04/jammy-security"
    assert result.pending[1].repository == "Ubuntu:22.04/jammy-updates"
    assert result.reboot_required is False


async def test_apt_lock_fault() -> None:
    host = debian_host()
    host.faults.add("dpkg-lock")
    with pytest.raises(DriverError) as caught:
        await AptDriver().scan(LabSession(host))
    assert caught.value.kind == "locked"
    assert "It is held by process 1234" in caught.value.message
    assert not host.metadata_refreshed


async def test_apk_scan_round_trip() -> None:
    host = alpine_host()
    result = await ApkDriver().scan(LabSession(host))
    assert host.metadata_refreshed
    assert result.pending == (
        PendingUpdate("linux-lts", "6.6.32-r0", "6.6.33-r0"),
        PendingUpdate("musl", "1.2.4_git20230717-r4", "1.2.4_git20230717-r5"),
    )
    assert result.security_supported is False
    assert result.security_count == 0
    # Running 6.6.31-0-lts while linux-lts 6.6.32-r0 is installed.
    assert result.reboot_required is True
    assert any("does not classify" in warning for warning in result.warnings)


async def test_apk_lock_fault() -> None:
    host = alpine_host()
    host.faults.add("dpkg-lock")
    with pytest.raises(DriverError) as caught:
        await ApkDriver().scan(LabSession(host))
    assert caught.value.kind == "locked"


async def test_lost_connection_is_unknown() -> None:
    class Dropping(LabSession):
        async def run(self, command: str, **_: object) -> CommandResult:
            return CommandResult(command, None, "", "")

    with pytest.raises(DriverError) as caught:
        await AptDriver().scan(Dropping(debian_host()))
    assert caught.value.kind == "unknown"


def test_registry() -> None:
    assert isinstance(driver_for("apt"), AptDriver)
    assert isinstance(driver_for("apk"), ApkDriver)
    with pytest.raises(DriverError) as caught:
        driver_for("pacman")
    assert caught.value.kind == "unsupported"


def test_thousand_hosts_each_answer() -> None:
    """A 1,000-host lab answers every host (how fast is benchmarks/scan_fleet.py's to say:
    a timed unit test fails on a busy shared machine)."""
    hosts = [debian_host() for _ in range(1000)]
    for host in hosts:
        assert execute(host, FACTS_COMMAND).exit_status == 0
        upgrade = execute(host, "LC_ALL=C apt-get -s -q -o Debug::NoLocking=1 dist-upgrade")
        assert upgrade.exit_status == 0 and "Inst " in upgrade.stdout


@pytest.mark.parametrize("make", [debian_host, alpine_host])
def test_the_whole_installed_set_round_trips(make: object) -> None:
    # A patch reads every installed package before and after the install, so that what
    # it pulled in (a new kernel) is recorded as well as what it targeted.
    assert callable(make)
    host = make()
    driver = driver_for(host.family)
    command = driver.all_installed_command()
    assert command is not None
    answer = execute(host, command)
    assert answer.exit_status == 0
    expected = {name: package.installed for name, package in host.packages.items()}
    assert driver.parse_installed_versions(answer.stdout) == expected
