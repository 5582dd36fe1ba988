"""dnf/yum patching: command strings, dry-run and failure parsers on real outputs, and
round trips through the lab simulator (install, rescan, rollback, faults)."""

from __future__ import annotations

import asyncio
import shlex

import pytest
from fixtures import captured
from sessions import SimulatorSession

from patchtui.drivers.base import PackageTarget, Selection
from patchtui.drivers.dnf import DnfDriver, YumDriver, split_dry_run, split_rollback
from patchtui.drivers.parsers.dnf import parse_transaction_table
from patchtui.lab.sim import dnf as sim_dnf
from patchtui.lab.state import SimHost, SimPackage, SimVersion

CHOSEN = Selection(packages=("openssl-libs", "kernel", "bash"))


def load(relative: str) -> str:
    return captured(relative)[0]


def make_host(family: str = "dnf") -> SimHost:
    host = SimHost(
        name="lab-1",
        address="127.0.0.1",
        port=2222,
        family=family,
        os_id="rocky",
        os_version="9.4",
        pretty_name="Rocky Linux 9.4",
        id_like="rhel",
        version_codename="",
        kernel="5.14.0-362.24.1.el9_3.x86_64",
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
                SimVersion("1:3.0.7-27.el9", "baseos", security=True, severity="Low"),
            ],
        ),
        "kernel": SimPackage(
            "kernel",
            "x86_64",
            "5.14.0-362.24.1.el9_3",
            [
                SimVersion("5.14.0-362.24.1.el9_3", "baseos"),
                SimVersion("5.14.0-427.16.1.el9_4", "baseos", needs_reboot=True),
            ],
        ),
        "bash": SimPackage(
            "bash",
            "x86_64",
            "5.1.8-6.el9_1",
            [SimVersion("5.1.8-6.el9_1", "baseos"), SimVersion("5.1.8-9.el9", "baseos")],
        ),
    }
    return host


def targets_of(host: SimHost, driver: DnfDriver) -> list[PackageTarget]:
    scan = asyncio.run(driver.scan(SimulatorSession(host, sim_dnf.handle), refresh=False))
    chosen, _ = CHOSEN.choose(scan.pending)
    return CHOSEN.targets(chosen)


# Command strings -------------------------------------------------------------------


def test_dnf_commands_name_exact_nevr_versions_quoted() -> None:
    driver = DnfDriver()
    targets = [
        PackageTarget("openssl-libs", "1:3.0.7-27.el9"),
        PackageTarget("bash", "5.1.8-9.el9"),
    ]
    assert driver.apply_command(targets, CHOSEN) == (
        "dnf -y --setopt=exit_on_lock=True upgrade openssl-libs-1:3.0.7-27.el9 bash-5.1.8-9.el9"
    )
    assert driver.apply_command(targets, Selection()) == "dnf -y --setopt=exit_on_lock=True upgrade"
    rollback = driver.downgrade_command([PackageTarget("openssl-libs", "1:3.0.7-24.el9")])
    assert split_rollback(rollback) == (
        "dnf -y --setopt=exit_on_lock=True downgrade openssl-libs-1:3.0.7-24.el9"
    )
    # Every word survives a shell: nothing a version contains is interpreted.
    assert shlex.split(driver.apply_command([PackageTarget("a+b", "1.0~rc1-1")], CHOSEN))[-1] == (
        "a+b-1.0~rc1-1"
    )


def test_yum_commands_use_update_to_and_exit_on_lock() -> None:
    driver = YumDriver()
    targets = [PackageTarget("bash", "4.2.46-35.el7_9")]
    assert driver.apply_command(targets, CHOSEN) == (
        "yum -y --setopt=exit_on_lock=1 update-to bash-4.2.46-35.el7_9"
    )
    assert driver.apply_command(targets, Selection()) == "yum -y --setopt=exit_on_lock=1 update"
    assert split_rollback(driver.downgrade_command(targets)) == (
        "yum -y --setopt=exit_on_lock=1 downgrade bash-4.2.46-35.el7_9"
    )


def test_dry_run_command_queries_rpm_then_answers_no() -> None:
    command = DnfDriver().dry_run_command([PackageTarget("bash", "5.1.8-9.el9")], CHOSEN)
    parts = split_dry_run(command)
    assert parts is not None
    query, inner = parts
    assert query.startswith("rpm -q --qf ") and query.endswith(" bash")
    assert inner == "dnf --assumeno --setopt=exit_on_lock=True upgrade bash-5.1.8-9.el9"
    assert "-y" not in inner.split()


def test_installed_versions_use_scan_spelling() -> None:
    driver = DnfDriver()
    assert driver.installed_versions_command(["bash", "bash"]).endswith(" bash")
    stdout = (
        "openssl-libs.x86_64 1:3.0.7-27.el9\n"
        "glibc.i686 2.34-83.el9\nglibc.x86_64 2.34-100.el9_4.2\n"
        "package nosuch is not installed\n"
    )
    assert driver.parse_installed_versions(stdout) == {
        "openssl-libs": "1:3.0.7-27.el9",
        "glibc": "2.34-100.el9_4.2",
    }


# Parsers on real outputs ---------------------------------------------------------------


def test_transaction_table_with_wrapped_rows() -> None:
    rows, replaced = parse_transaction_table(load("dnf/upgrade-table-wrapped.txt"))
    assert [(r.action, r.name, r.arch, r.version) for r in rows] == [
        ("upgrade", "VirtualBox-4.3", "x86_64", "4.3.28_100309_fedora18-1"),
        ("upgrade", "acpi", "x86_64", "1.7-1.fc19"),
        ("upgrade", "bjnplugin", "x86_64", "2.100.85.8-1"),
        ("upgrade", "google-chrome-stable", "x86_64", "43.0.2357.132-1"),
        ("upgrade", "rbjnplugin", "x86_64", "2.90.616.8-1"),
        ("upgrade", "sqlite", "i686", "3.8.3-1.fc19"),
    ]
    assert replaced == {}


def test_dnf4_replacing_lines_followed_by_a_row_and_by_a_header() -> None:
    # Real dnf 4.14: the first "replacing" line is followed by another row of the same
    # section, the second by the "Upgrading:" header. Neither may swallow what follows.
    text, exit_status = captured("dnf/upgrade-replacing-dnf4-debian12.txt")
    assert exit_status == 1
    rows, replaced = parse_transaction_table(text)
    assert [(r.action, r.name, r.arch, r.version) for r in rows] == [
        ("install", "patchtui-new-a", "noarch", "1.0-1"),
        ("install", "patchtui-new-b", "noarch", "1.0-1"),
        ("upgrade", "patchtui-demo", "noarch", "1.1-1"),
    ]
    assert replaced == {"patchtui-legacy-a": "1.0-1", "patchtui-legacy-b": "1.0-1"}


def test_dnf4_replacing_line_last_in_the_table() -> None:
    # The same real table without its Upgrading section: a "replacing" line is the last
    # one before the blank line and "Transaction Summary".
    text, _ = captured("dnf/upgrade-replacing-dnf4-debian12.txt")
    lines = text.splitlines()
    upgrading = lines.index("Upgrading:")
    rows, replaced = parse_transaction_table("\n".join(lines[:upgrading] + lines[upgrading + 2 :]))
    assert [(r.action, r.name) for r in rows] == [
        ("install", "patchtui-new-a"),
        ("install", "patchtui-new-b"),
    ]
    assert replaced == {"patchtui-legacy-a": "1.0-1", "patchtui-legacy-b": "1.0-1"}


def test_dnf5_replacing_line_still_gives_the_old_version() -> None:
    # dnf 5's longer form (name, arch, version, repository, size) under an upgrade row.
    table = (
        "Upgrading:\n"
        " bash    x86_64 5.2.26-3.fc40 updates 8.1 MiB\n"
        "   replacing bash x86_64 5.2.26-1.fc40 updates 8.1 MiB\n"
        " curl    x86_64 8.6.0-8.fc40  updates 793.5 KiB\n"
    )
    rows, replaced = parse_transaction_table(table)
    assert [(r.name, r.version) for r in rows] == [
        ("bash", "5.2.26-3.fc40"),
        ("curl", "8.6.0-8.fc40"),
    ]
    assert replaced == {"bash": "5.2.26-1.fc40"}


def test_dry_run_reports_the_obsoleted_package_as_removed() -> None:
    text, _ = captured("dnf/upgrade-replacing-dnf4-debian12.txt")
    rpm_rows = "patchtui-demo.noarch 1.0-1\npackage patchtui-new-a is not installed\n"
    changes = {c.name: (c.before, c.after) for c in DnfDriver().parse_dry_run(rpm_rows + text)}
    assert changes == {
        "patchtui-new-a": (None, "1.0-1"),
        "patchtui-new-b": (None, "1.0-1"),
        "patchtui-demo": ("1.0-1", "1.1-1"),
        "patchtui-legacy-a": ("1.0-1", None),
        "patchtui-legacy-b": ("1.0-1", None),
    }


def test_dry_run_joins_rpm_rows_with_the_table() -> None:
    stdout = "acpi.x86_64 1.6-3.fc19\npackage sqlite is not installed\n" + load(
        "dnf/upgrade-table-wrapped.txt"
    )
    changes = {c.name: c for c in DnfDriver().parse_dry_run(stdout)}
    assert changes["acpi"].before == "1.6-3.fc19" and changes["acpi"].after == "1.7-1.fc19"
    assert changes["sqlite"].before is None and changes["sqlite"].after == "3.8.3-1.fc19"


def test_classify_no_match_as_unavailable() -> None:
    lines = load("dnf/upgrade-no-match.txt").splitlines()
    kind, message = DnfDriver().classify_failure(1, lines)
    assert kind == "unavailable"
    assert message == "bla is not available from the host's repositories"


def test_classify_yum_missing_package_as_unavailable() -> None:
    kind, message = YumDriver().classify_failure(1, load("yum/install-no-package.txt").splitlines())
    assert (kind, message) == (
        "unavailable",
        "update is not available from the host's repositories",
    )


def test_classify_lock() -> None:
    lines = load("yum/lock-makecache.txt").splitlines()
    kind, message = YumDriver().classify_failure(200, lines)
    assert kind == "locked" and "pid 2322" in message


def test_classify_real_dnf4_exit_on_lock() -> None:
    text, exit_status = captured("dnf/lock-exit-on-lock-dnf4-debian12.txt")
    assert exit_status == 200
    kind, message = DnfDriver().classify_failure(exit_status, text.splitlines())
    assert kind == "locked"
    assert message.endswith("metadata already locked by 15101"), message
    # The text alone says so too (a wrapper that loses the exit status).
    assert DnfDriver().classify_failure(1, text.splitlines())[0] == "locked"


# Round trips through the simulator --------------------------------------------------------


@pytest.mark.parametrize("driver", [DnfDriver(), YumDriver()], ids=["dnf", "yum"])
def test_install_chosen_targets_then_nothing_pending(driver: DnfDriver) -> None:
    host = make_host(driver.family)
    targets = targets_of(host, driver)
    assert {t.name for t in targets} == {"openssl-libs", "kernel", "bash"}

    planned = sim_dnf.handle(host, driver.dry_run_command(targets, CHOSEN))
    assert planned is not None and planned.exit_status == 0
    assert {(c.name, c.before, c.after) for c in driver.parse_dry_run(planned.stdout)} == {
        ("openssl-libs", "1:3.0.7-24.el9", "1:3.0.7-27.el9"),
        ("kernel", "5.14.0-362.24.1.el9_3", "5.14.0-427.16.1.el9_4"),
        ("bash", "5.1.8-6.el9_1", "5.1.8-9.el9"),
    }
    assert host.packages["bash"].installed == "5.1.8-6.el9_1"  # a dry run changes nothing

    result = sim_dnf.handle(host, driver.apply_command(targets, CHOSEN))
    assert result is not None and result.exit_status == 0
    assert "Complete!" in result.stdout
    query = sim_dnf.handle(host, driver.installed_versions_command([t.name for t in targets]))
    assert query is not None
    assert driver.parse_installed_versions(query.stdout) == {t.name: t.version for t in targets}
    after = asyncio.run(driver.scan(SimulatorSession(host, sim_dnf.handle), refresh=False))
    assert after.pending == ()
    assert after.reboot_required is True  # the kernel asked for it


def test_downgrade_restores_and_old_versions_stay_offered() -> None:
    driver = DnfDriver()
    host = make_host()
    sim_dnf.handle(host, driver.apply_command(targets_of(host, driver), CHOSEN))
    back = [PackageTarget("openssl-libs", "1:3.0.7-24.el9"), PackageTarget("bash", "5.1.8-6.el9_1")]
    result = sim_dnf.handle(host, driver.downgrade_command(back))
    assert result is not None and result.exit_status == 0, result
    assert "Downgrading:" in result.stdout
    assert host.packages["openssl-libs"].installed == "1:3.0.7-24.el9"
    assert host.packages["bash"].installed == "5.1.8-6.el9_1"
    # Both rolled-back packages are pending again; the kernel stays patched.
    after = asyncio.run(driver.scan(SimulatorSession(host, sim_dnf.handle), refresh=False))
    assert {u.name for u in after.pending} == {"openssl-libs", "bash"}


def test_unknown_old_version_is_unavailable_for_rollback() -> None:
    driver = DnfDriver()
    host = make_host()
    result = sim_dnf.handle(host, driver.downgrade_command([PackageTarget("bash", "5.1.8-2.el9")]))
    assert result is not None and result.exit_status == 1
    kind, message = driver.classify_failure(
        result.exit_status, (result.stdout + result.stderr).splitlines()
    )
    assert kind == "unavailable"
    assert message == (
        "old version 5.1.8-2.el9 of bash is no longer available from the host's repositories"
    )
    assert host.packages["bash"].installed == "5.1.8-6.el9_1"


def test_unknown_version_upgrade_changes_nothing() -> None:
    driver = DnfDriver()
    host = make_host()
    command = driver.apply_command([PackageTarget("bash", "9.9-1.el9")], CHOSEN)
    result = sim_dnf.handle(host, command)
    assert result is not None and result.exit_status == 1
    assert "No match for argument: bash-9.9-1.el9" in result.stdout
    kind, message = driver.classify_failure(1, (result.stdout + result.stderr).splitlines())
    assert (kind, message) == (
        "unavailable",
        "version 9.9-1.el9 of bash is not available from the host's repositories",
    )


def test_install_fails_leaves_a_partly_patched_host() -> None:
    driver = DnfDriver()
    host = make_host()
    targets = targets_of(host, driver)
    host.faults.add("install-fails")
    result = sim_dnf.handle(host, driver.apply_command(targets, CHOSEN))
    assert result is not None and result.exit_status == 1
    upgraded = [t.name for t in targets if host.packages[t.name].installed == t.version]
    assert len(upgraded) == 1  # half of three
    kind, message = driver.classify_failure(1, (result.stdout + result.stderr).splitlines())
    assert kind == "failed"
    assert "Transaction failed" in message and "No space left on device" in message


@pytest.mark.parametrize("driver", [DnfDriver(), YumDriver()], ids=["dnf", "yum"])
def test_lock_fault_refuses_the_install(driver: DnfDriver) -> None:
    host = make_host(driver.family)
    targets = targets_of(host, driver)
    host.faults.add("dpkg-lock")
    result = sim_dnf.handle(host, driver.apply_command(targets, CHOSEN))
    assert result is not None and result.exit_status == 200
    kind, _ = driver.classify_failure(200, (result.stdout + result.stderr).splitlines())
    assert kind == "locked"
    assert host.packages["bash"].installed == "5.1.8-6.el9_1"
