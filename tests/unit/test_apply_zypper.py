"""zypper patching: command strings, install-summary and failure parsers on real outputs,
and round trips through the lab simulator (install, rescan, rollback, faults)."""

from __future__ import annotations

import asyncio

from fixtures import captured
from sessions import SimulatorSession

from patchtui.drivers.base import PackageTarget, ScanResult, Selection
from patchtui.drivers.dnf import split_rollback
from patchtui.drivers.zypper import ZypperDriver, split_informational
from patchtui.lab.sim import ShellResult
from patchtui.lab.sim import zypper as sim_zypper
from patchtui.lab.state import SimHost, SimPackage, SimVersion

CHOSEN = Selection(packages=("curl", "kernel-default", "bash"))
DRIVER = ZypperDriver()


def load(relative: str) -> str:
    return captured(relative)[0]


def make_host() -> SimHost:
    host = SimHost(
        name="suse-1",
        address="127.0.0.1",
        port=2222,
        family="zypper",
        os_id="opensuse-leap",
        os_version="15.5",
        pretty_name="openSUSE Leap 15.5",
        id_like="suse opensuse",
        version_codename="",
        kernel="5.14.21-150500.55.52-default",
        boot_id="b0",
        hostname="suse-1",
        booted_at=0.0,
    )
    host.packages = {
        "curl": SimPackage(
            "curl",
            "x86_64",
            "8.0.1-150400.5.41.1",
            [
                SimVersion("8.0.1-150400.5.41.1", "repo-update"),
                SimVersion(
                    "8.0.1-150400.5.44.1",
                    "repo-update",
                    security=True,
                    severity="moderate",
                    advisory="openSUSE-SU-2024:1234-1",
                ),
            ],
        ),
        "kernel-default": SimPackage(
            "kernel-default",
            "x86_64",
            "5.14.21-150500.55.52.1",
            [
                SimVersion("5.14.21-150500.55.52.1", "repo-update"),
                SimVersion("5.14.21-150500.55.65.1", "repo-update", needs_reboot=True),
            ],
        ),
        "bash": SimPackage(
            "bash",
            "x86_64",
            "4.4-150400.25.22",
            [
                SimVersion("4.4-150400.25.22", "repo-oss"),
                SimVersion("4.4-150400.27.3.2", "repo-update"),
            ],
        ),
    }
    return host


def scan(host: SimHost) -> ScanResult:
    return asyncio.run(DRIVER.scan(SimulatorSession(host, sim_zypper.handle), refresh=False))


def targets_of(host: SimHost) -> list[PackageTarget]:
    chosen, _ = CHOSEN.choose(scan(host).pending)
    return CHOSEN.targets(chosen)


def log_of(result: ShellResult) -> list[str]:
    return (result.stdout + result.stderr).splitlines()


# Command strings -------------------------------------------------------------------


def test_commands() -> None:
    targets = [PackageTarget("curl", "8.0.1-150400.5.44.1")]
    assert split_informational(DRIVER.apply_command(targets, CHOSEN)) == (
        "zypper --non-interactive --no-refresh install --auto-agree-with-licenses "
        "curl=8.0.1-150400.5.44.1"
    )
    assert split_informational(DRIVER.apply_command(targets, Selection())) == (
        "zypper --non-interactive --no-refresh update --auto-agree-with-licenses"
    )
    assert split_informational(DRIVER.dry_run_command(targets, CHOSEN)) == (
        "zypper --non-interactive --no-refresh --xmlout install --dry-run "
        "--auto-agree-with-licenses curl=8.0.1-150400.5.44.1"
    )
    rollback = split_rollback(DRIVER.downgrade_command(targets))
    assert rollback is not None
    assert split_informational(rollback) == (
        "zypper --non-interactive --no-refresh install --oldpackage --auto-agree-with-licenses "
        "curl=8.0.1-150400.5.44.1"
    )
    assert DRIVER.installed_versions_command(["curl"]).startswith("rpm -q --qf ")


# Parsers on real outputs ---------------------------------------------------------------


def test_install_summary_packages_only() -> None:
    changes = DRIVER.parse_dry_run(load("zypper/install-summary-dup.xml"))
    assert [(c.name, c.before, c.after) for c in changes] == [
        ("bash", "5.2.32-1.1", "5.2.37-1.1"),
        ("glibc", "2.40-3.1", "2.41-1.1"),
        ("libnewdep1", None, "1.0-1.1"),
    ]


def test_no_provider_is_unavailable() -> None:
    kind, message = DRIVER.classify_failure(104, load("zypper/update-no-provider.txt").splitlines())
    assert (kind, message) == (
        "unavailable",
        "zypperoni is not available from the host's repositories",
    )


def test_lock_exit_7() -> None:
    log = [
        "System management is locked by the application with pid 4242 (zypper).",
        "Close this application before trying again.",
    ]
    kind, message = DRIVER.classify_failure(7, log)
    assert kind == "locked" and "pid 4242" in message


# Round trips through the simulator --------------------------------------------------------


def test_install_chosen_targets_then_nothing_pending() -> None:
    host = make_host()
    targets = targets_of(host)
    assert {t.name for t in targets} == {"curl", "kernel-default", "bash"}

    planned = sim_zypper.handle(host, DRIVER.dry_run_command(targets, CHOSEN))
    assert planned is not None and planned.exit_status == 0
    assert {(c.name, c.before, c.after) for c in DRIVER.parse_dry_run(planned.stdout)} == {
        ("curl", "8.0.1-150400.5.41.1", "8.0.1-150400.5.44.1"),
        ("kernel-default", "5.14.21-150500.55.52.1", "5.14.21-150500.55.65.1"),
        ("bash", "4.4-150400.25.22", "4.4-150400.27.3.2"),
    }
    assert host.packages["curl"].installed == "8.0.1-150400.5.41.1"

    result = sim_zypper.handle(host, DRIVER.apply_command(targets, CHOSEN))
    assert result is not None
    # zypper says 102 (reboot advised) after the kernel; the wrapper makes that success.
    assert result.exit_status == 0
    assert "(3/3) Installing: " in result.stdout
    query = sim_zypper.handle(host, DRIVER.installed_versions_command([t.name for t in targets]))
    assert query is not None
    assert DRIVER.parse_installed_versions(query.stdout) == {t.name: t.version for t in targets}
    after = scan(host)
    assert after.pending == () and after.reboot_required is True


def test_downgrade_restores() -> None:
    host = make_host()
    sim_zypper.handle(host, DRIVER.apply_command(targets_of(host), CHOSEN))
    result = sim_zypper.handle(
        host, DRIVER.downgrade_command([PackageTarget("curl", "8.0.1-150400.5.41.1")])
    )
    assert result is not None and result.exit_status == 0, result
    assert "going to be downgraded" in result.stdout
    assert host.packages["curl"].installed == "8.0.1-150400.5.41.1"
    assert [u.name for u in scan(host).pending] == ["curl"]


def test_unknown_old_version_is_unavailable_for_rollback() -> None:
    host = make_host()
    result = sim_zypper.handle(
        host, DRIVER.downgrade_command([PackageTarget("curl", "7.79.1-1.1")])
    )
    assert result is not None and result.exit_status == 104
    kind, message = DRIVER.classify_failure(result.exit_status, log_of(result))
    assert (kind, message) == (
        "unavailable",
        "old version 7.79.1-1.1 of curl is no longer available from the host's repositories",
    )


def test_unknown_version_install() -> None:
    host = make_host()
    result = sim_zypper.handle(host, DRIVER.apply_command([PackageTarget("curl", "9-1")], CHOSEN))
    assert result is not None and result.exit_status == 104
    assert "No provider of 'curl=9-1' found." in result.stdout
    assert DRIVER.classify_failure(104, log_of(result)) == (
        "unavailable",
        "version 9-1 of curl is not available from the host's repositories",
    )


def test_install_fails_exit_8_partial() -> None:
    host = make_host()
    targets = targets_of(host)
    host.faults.add("install-fails")
    result = sim_zypper.handle(host, DRIVER.apply_command(targets, CHOSEN))
    assert result is not None and result.exit_status == 8
    upgraded = [t.name for t in targets if host.packages[t.name].installed == t.version]
    assert len(upgraded) == 1
    kind, message = DRIVER.classify_failure(8, log_of(result))
    assert kind == "failed"
    assert message.startswith("commit failed: Installation of ") and message.endswith("failed:")


def test_lock_fault() -> None:
    host = make_host()
    targets = targets_of(host)
    host.faults.add("dpkg-lock")
    result = sim_zypper.handle(host, DRIVER.apply_command(targets, CHOSEN))
    assert result is not None and result.exit_status == 7
    assert DRIVER.classify_failure(7, log_of(result))[0] == "locked"
    assert host.packages["curl"].installed == "8.0.1-150400.5.41.1"
