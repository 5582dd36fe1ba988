"""Round trips: the dnf/yum/zypper drivers against the lab simulators, and their error paths."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from fixtures import captured

from patchtui.drivers.base import DriverError, PendingUpdate, ScanResult
from patchtui.drivers.dnf import DnfDriver, YumDriver
from patchtui.drivers.parsers.metadata import DNF_METADATA_COMMAND, ZYPPER_METADATA_COMMAND
from patchtui.drivers.registry import driver_for
from patchtui.drivers.zypper import ZypperDriver
from patchtui.lab.shell import execute
from patchtui.lab.sim import ShellResult
from patchtui.lab.sim import dnf as sim_dnf
from patchtui.lab.sim import zypper as sim_zypper
from patchtui.lab.state import SimHost, SimPackage, SimVersion
from patchtui.transport.base import CommandResult, LineCallback

Handler = Callable[[SimHost, str], ShellResult | None]


class SimSession:
    """A RemoteSession that answers from a simulator; no sudo wrapping, no SSH."""

    def __init__(self, host: SimHost, handler: Handler) -> None:
        self.host = host
        self.handler = handler
        self.commands: list[tuple[str, bool]] = []
        self.overrides: dict[str, CommandResult] = {}

    async def run(
        self,
        command: str,
        *,
        privileged: bool = False,
        on_line: LineCallback | None = None,
        timeout: float | None = None,
        input: str | None = None,
    ) -> CommandResult:
        self.commands.append((command, privileged))
        for prefix, result in self.overrides.items():
            if command.startswith(prefix):
                return result
        answer = self.handler(self.host, command)
        if answer is None:
            return CommandResult(command, 127, "", f"sh: {command.split()[0]}: not found\n")
        if on_line is not None:
            for line in answer.stdout.splitlines():
                on_line("stdout", line)
        return CommandResult(command, answer.exit_status, answer.stdout, answer.stderr)

    async def close(self) -> None:
        return None


def make_host(family: str, severity_case: Callable[[str], str]) -> SimHost:
    host = SimHost(
        name="lab-1",
        address="127.0.0.1",
        port=2222,
        family=family,
        os_id="rocky" if family != "zypper" else "opensuse-leap",
        os_version="9.4",
        pretty_name="Lab host",
        id_like="rhel",
        version_codename="",
        kernel="5.14.0-427.13.1.el9_4.x86_64",
        boot_id="b0",
        hostname="lab-1",
        booted_at=0.0,
    )
    host.packages = {
        "openssl-libs": SimPackage(
            "openssl-libs",
            "x86_64",
            "1:3.0.7-24.el9",
            [
                SimVersion("1:3.0.7-24.el9", "baseos"),
                SimVersion(
                    "1:3.0.7-27.el9",
                    "baseos",
                    security=True,
                    severity=severity_case("Important"),
                    advisory="RLSA-2024:2447",
                    cves=("CVE-2023-5678", "CVE-2024-0727"),
                ),
            ],
        ),
        "kernel": SimPackage(
            "kernel",
            "x86_64",
            "5.14.0-427.13.1.el9_4",
            [
                SimVersion(
                    "5.14.0-427.16.1.el9_4",
                    "baseos",
                    security=True,
                    severity=severity_case("Critical"),
                    advisory="RLSA-2024:3306",
                    cves=("CVE-2024-26642",),
                    needs_reboot=True,
                )
            ],
        ),
        "tzdata": SimPackage(
            "tzdata", "noarch", "2024a-1.el9", [SimVersion("2024b-2.el9", "appstream")]
        ),
        "a-very-long-package-name-for-the-column-test": SimPackage(
            "a-very-long-package-name-for-the-column-test",
            "x86_64",
            "1.0-1.el9",
            [SimVersion("1.1-1.el9", "appstream", advisory="RLBA-2024:0001")],
        ),
        "bash": SimPackage("bash", "x86_64", "5.1.8-9.el9", [SimVersion("5.1.8-9.el9", "baseos")]),
    }
    host.reboot_required = True
    host.reboot_packages = ["kernel"]
    return host


EXPECTED = {
    "a-very-long-package-name-for-the-column-test": PendingUpdate(
        name="a-very-long-package-name-for-the-column-test",
        installed="1.0-1.el9",
        candidate="1.1-1.el9",
        arch="x86_64",
        repository="appstream",
    ),
    "kernel": PendingUpdate(
        name="kernel",
        installed="5.14.0-427.13.1.el9_4",
        candidate="5.14.0-427.16.1.el9_4",
        arch="x86_64",
        repository="baseos",
        security=True,
        severity="critical",
        advisories=("RLSA-2024:3306",),
        cves=("CVE-2024-26642",),
    ),
    "openssl-libs": PendingUpdate(
        name="openssl-libs",
        installed="1:3.0.7-24.el9",
        candidate="1:3.0.7-27.el9",
        arch="x86_64",
        repository="baseos",
        security=True,
        severity="important",
        advisories=("RLSA-2024:2447",),
        cves=("CVE-2023-5678", "CVE-2024-0727"),
    ),
    "tzdata": PendingUpdate(
        name="tzdata",
        installed="2024a-1.el9",
        candidate="2024b-2.el9",
        arch="noarch",
        repository="appstream",
    ),
}


def by_name(result: ScanResult) -> dict[str, PendingUpdate]:
    return {update.name: update for update in result.pending}


@pytest.mark.parametrize("driver_class", [DnfDriver, YumDriver])
async def test_dnf_family_round_trip(driver_class: type[DnfDriver]) -> None:
    host = make_host(driver_class.family, str)
    session = SimSession(host, sim_dnf.handle)
    lines: list[str] = []
    result = await driver_class().scan(session, on_line=lambda _stream, line: lines.append(line))
    # updateinfo also lists bugfix advisories; zypper's driver asks for security patches only.
    long_name = "a-very-long-package-name-for-the-column-test"
    expected = dict(EXPECTED)
    expected[long_name] = replace(EXPECTED[long_name], advisories=("RLBA-2024:0001",))
    assert by_name(result) == expected
    assert result.security_count == 2
    assert result.reboot_required is True
    assert result.metadata_stale is False
    assert result.security_supported is True
    assert result.warnings == ()
    assert host.metadata_refreshed
    assert any("openssl-libs.x86_64" in line for line in lines)
    # The package managers run privileged; rpm -q and the metadata age check do not need to.
    privileged = dict(session.commands)
    assert privileged[DNF_METADATA_COMMAND] is False
    assert all(
        flag
        for command, flag in privileged.items()
        if not command.startswith("rpm ") and command != DNF_METADATA_COMMAND
    )
    assert next(flag for command, flag in privileged.items() if command.startswith("rpm ")) is False


async def test_zypper_round_trip() -> None:
    host = make_host("zypper", str.lower)
    session = SimSession(host, sim_zypper.handle)
    result = await ZypperDriver().scan(session)
    assert by_name(result) == EXPECTED
    assert result.reboot_required is True
    assert result.warnings == ()
    assert host.metadata_refreshed
    commands = [command for command, _ in session.commands]
    assert commands[0] == "zypper --non-interactive --quiet refresh"
    assert commands[-2:] == ["zypper --non-interactive needs-rebooting", ZYPPER_METADATA_COMMAND]
    assert any(
        command.startswith("zypper --non-interactive --no-refresh info -t patch")
        for command in commands
    )


async def test_no_updates_no_reboot() -> None:
    for family, handler, driver in (
        ("dnf", sim_dnf.handle, DnfDriver()),
        ("zypper", sim_zypper.handle, ZypperDriver()),
    ):
        host = make_host(family, str)
        host.packages = {"bash": host.packages["bash"]}
        host.reboot_required = False
        session = SimSession(host, handler)
        result = await driver.scan(session, refresh=False)
        assert result.pending == ()
        assert result.reboot_required is False
        assert not host.metadata_refreshed
        # Nothing pending: no rpm/updateinfo/list-patches queries are needed (the
        # list, the reboot check, the metadata age check).
        assert len(session.commands) == 3


@pytest.mark.parametrize(
    ("family", "handler", "driver"),
    [
        ("dnf", sim_dnf.handle, DnfDriver()),
        ("yum", sim_dnf.handle, YumDriver()),
        ("zypper", sim_zypper.handle, ZypperDriver()),
    ],
)
async def test_held_lock_is_a_locked_error(family: str, handler: Handler, driver: object) -> None:
    host = make_host(family, str)
    host.faults.add("dpkg-lock")
    with pytest.raises(DriverError) as caught:
        await driver.scan(SimSession(host, handler))  # type: ignore[attr-defined]
    assert caught.value.kind == "locked"


async def test_zypper_lock_message_from_xml_names_the_holder() -> None:
    host = make_host("zypper", str.lower)
    host.faults.add("dpkg-lock")
    with pytest.raises(DriverError) as caught:
        await ZypperDriver().scan(SimSession(host, sim_zypper.handle), refresh=False)
    assert caught.value.message.startswith(
        "System management is locked by the application with pid 4242 (zypper)."
    )


@pytest.mark.parametrize("refresh", [True, False])
async def test_real_dnf4_exit_on_lock_output_is_locked(refresh: bool) -> None:
    # dnf 4 with the metadata lock held and exit_on_lock: exit 200 and this stderr, at once.
    stderr, exit_status = captured("dnf/lock-exit-on-lock-dnf4-debian12.txt")
    assert exit_status == 200
    session = SimSession(make_host("dnf", str), sim_dnf.handle)
    for command in (DnfDriver.refresh_command, DnfDriver.check_update_command):
        session.overrides[command] = CommandResult(command, exit_status, "", stderr)
    with pytest.raises(DriverError) as caught:
        await DnfDriver().scan(session, refresh=refresh)
    assert caught.value.kind == "locked"
    assert "metadata already locked by 15101" in caught.value.message


def test_every_dnf_command_that_locks_exits_on_a_held_lock() -> None:
    # Without the option dnf 4 waits silently for the lock; only the SSH time limit ends it.
    driver = DnfDriver()
    commands = [
        driver.refresh_command,
        driver.check_update_command,
        driver.updateinfo_command,
        driver.updateinfo_cve_command,
        driver.install_prefix,
        driver.dry_run_prefix,
    ]
    assert all("--setopt=exit_on_lock=True" in command.split() for command in commands)


async def test_connection_lost_is_unknown() -> None:
    host = make_host("dnf", str)
    session = SimSession(host, sim_dnf.handle)
    session.overrides[DnfDriver.check_update_command] = CommandResult(
        DnfDriver.check_update_command, None, "", ""
    )
    with pytest.raises(DriverError) as caught:
        await DnfDriver().scan(session)
    assert caught.value.kind == "unknown"


async def test_dnf_check_update_error_exit_fails() -> None:
    host = make_host("dnf", str)
    session = SimSession(host, sim_dnf.handle)
    session.overrides[DnfDriver.check_update_command] = CommandResult(
        DnfDriver.check_update_command,
        1,
        "",
        "Error: Failed to download metadata for repo 'baseos'\n",
    )
    with pytest.raises(DriverError) as caught:
        await DnfDriver().scan(session)
    assert caught.value.kind == "failed"
    assert "Failed to download metadata" in caught.value.message


async def test_dnf_refresh_failure_marks_stale_and_goes_on() -> None:
    host = make_host("dnf", str)
    session = SimSession(host, sim_dnf.handle)
    session.overrides[DnfDriver.refresh_command] = CommandResult(
        DnfDriver.refresh_command,
        1,
        "",
        "Error: Failed to download metadata for repo 'baseos'\n",
    )
    result = await DnfDriver().scan(session)
    assert result.metadata_stale is True
    assert "Failed to download metadata" in result.warnings[0]
    assert len(result.pending) == 4


async def test_missing_needs_restarting_and_no_updateinfo() -> None:
    """CentOS 7: no updateinfo in the repositories, yum-utils not installed."""
    host = make_host("yum", str)
    for package in host.packages.values():
        for version in package.available:
            version.security, version.advisory, version.cves = False, None, ()
    session = SimSession(host, sim_dnf.handle)
    session.overrides[YumDriver.needs_restarting_command] = CommandResult(
        YumDriver.needs_restarting_command, 127, "", "bash: needs-restarting: command not found\n"
    )
    result = await YumDriver().scan(session)
    assert result.reboot_required is None
    assert result.security_supported is False
    assert result.security_count == 0
    assert any("updateinfo" in warning for warning in result.warnings)
    assert any("needs-restarting" in warning for warning in result.warnings)


async def test_zypper_skipped_repository_is_stale_not_fatal() -> None:
    host = make_host("zypper", str.lower)
    session = SimSession(host, sim_zypper.handle)
    broken = (
        "<?xml version='1.0'?>\n<stream>\n"
        '<message type="error">Repository &apos;g03repo&apos; is invalid.</message>\n'
        '<update-status version="0.6">\n<update-list>\n'
        '<update kind="package" name="tzdata" edition="2024b-2.el9" arch="noarch" '
        'edition-old="2024a-1.el9"><source alias="appstream"/></update>\n'
        "</update-list>\n</update-status>\n</stream>\n"
    )
    session.overrides["zypper --non-interactive --no-refresh --xmlout list-updates"] = (
        CommandResult("zypper ... list-updates", 106, broken, "")
    )
    session.overrides["zypper --non-interactive --quiet refresh"] = CommandResult(
        "zypper --non-interactive --quiet refresh",
        4,
        "",
        "Repository 'g03repo' is invalid.\n",
    )
    result = await ZypperDriver().scan(session)
    assert result.metadata_stale is True
    assert [update.name for update in result.pending] == ["tzdata"]
    assert any("repositories were skipped" in warning for warning in result.warnings)


async def test_zypper_without_needs_rebooting() -> None:
    host = make_host("zypper", str.lower)
    session = SimSession(host, sim_zypper.handle)
    session.overrides["zypper --non-interactive needs-rebooting"] = CommandResult(
        "zypper --non-interactive needs-rebooting", 1, "", "Unknown command 'needs-rebooting'\n"
    )
    result = await ZypperDriver().scan(session)
    assert result.reboot_required is None
    assert any("needs-rebooting" in warning for warning in result.warnings)


def test_simulators_ignore_foreign_commands() -> None:
    host = make_host("dnf", str)
    assert sim_dnf.handle(host, "apt-get update") is None
    assert sim_zypper.handle(host, "dnf -q check-update") is None
    assert sim_zypper.handle(host, "zypper --non-interactive dist-upgrade") is None


def test_dnf_simulator_exit_codes() -> None:
    host = make_host("dnf", str)
    checked = sim_dnf.handle(host, "dnf -q check-update")
    assert checked is not None and checked.exit_status == 100
    host.packages = {}
    checked = sim_dnf.handle(host, "dnf -q check-update")
    assert checked is not None and checked.exit_status == 0 and checked.stdout == ""
    rpm = sim_dnf.handle(host, "rpm -q --qf '%{NAME}' nothere")
    assert rpm is not None and rpm.exit_status == 1
    assert rpm.stdout == "package nothere is not installed\n"


def test_zypper_simulator_patch_exit_codes() -> None:
    host = make_host("zypper", str.lower)
    listed = sim_zypper.handle(host, "zypper -n --xmlout list-patches --category security")
    assert listed is not None and listed.exit_status == 101
    rebooting = sim_zypper.handle(host, "zypper needs-rebooting")
    assert rebooting is not None and rebooting.exit_status == 102


@pytest.mark.parametrize("family", ["dnf", "yum", "zypper"])
def test_the_whole_installed_set_round_trips(family: str) -> None:
    # rpm -qa: what a patch reads before and after the install to record pulled-in packages.
    host = make_host(family, str.upper)
    driver = driver_for(family)
    command = driver.all_installed_command()
    assert command is not None and command.startswith("rpm -qa ")
    answer = execute(host, command)
    assert answer.exit_status == 0
    expected = {name: package.installed for name, package in host.packages.items()}
    assert driver.parse_installed_versions(answer.stdout) == expected
