"""Lab round trips via lab.shell.execute: detached installs, faults, reboots, rollbacks."""

from __future__ import annotations

import shlex
import time

import pytest

from patchtui.drivers.apk import ApkDriver
from patchtui.drivers.apt import AptDriver
from patchtui.drivers.base import PackageTarget, Selection
from patchtui.engine.reboot import BOOT_ID_COMMAND, REBOOT_COMMAND
from patchtui.lab.shell import execute
from patchtui.lab.sim import ShellResult, jobs
from patchtui.lab.state import SimHost, SimPackage, SimVersion
from patchtui.transport.detached import (
    STARTED_MARKER,
    parse_poll,
    poll_command,
    start_command,
    stop_command,
)

apt = AptDriver()
apk = ApkDriver()


@pytest.fixture(autouse=True)
def fast_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "JOB_DURATION_RANGE", (0.2, 0.2))
    monkeypatch.setattr(jobs, "REBOOT_DOWNTIME", 0.2)


def sudo(command: str) -> str:
    return f"sudo -n -u root -- sh -c {shlex.quote(command)}"


def debian_host() -> SimHost:
    host = SimHost(
        name="deb1", address="127.0.0.1", port=2222, family="apt", os_id="debian",
        os_version="12", pretty_name="Debian GNU/Linux 12 (bookworm)", id_like="",
        version_codename="bookworm", kernel="6.1.0-20-amd64", boot_id="boot-1",
        hostname="deb1", booted_at=time.time() - 100,
    )  # fmt: skip
    host.packages = {
        "openssl": SimPackage(
            "openssl", "amd64", "3.0.11-1~deb12u2",
            [SimVersion("3.0.11-1~deb12u2", "bookworm"),
             SimVersion("3.0.15-1~deb12u1", "bookworm-security", security=True)],
        ),
        "curl": SimPackage(
            "curl", "amd64", "7.88.1-10+deb12u5",
            [SimVersion("7.88.1-10+deb12u5", "bookworm"),
             SimVersion("7.88.1-10+deb12u8", "bookworm-security", security=True)],
        ),
        "linux-image-6.1.0-21-amd64": SimPackage(
            "linux-image-6.1.0-21-amd64", "amd64", "6.1.90-1",
            [SimVersion("6.1.90-1", "bookworm"),
             SimVersion("6.1.94-1", "bookworm-security", security=True, needs_reboot=True)],
        ),
    }  # fmt: skip
    return host


def alpine_host() -> SimHost:
    host = SimHost(
        name="alp1", address="127.0.0.2", port=2222, family="apk", os_id="alpine",
        os_version="3.19.1", pretty_name="Alpine Linux v3.19", id_like="",
        version_codename="", kernel="6.6.31-0-lts", boot_id="boot-a",
        hostname="alp1", booted_at=time.time() - 100,
    )  # fmt: skip
    host.packages = {
        "openssl": SimPackage(
            "openssl", "x86_64", "3.1.4-r5",
            [SimVersion("3.1.4-r5", "main"), SimVersion("3.1.5-r0", "main")],
        ),
        "linux-lts": SimPackage(
            "linux-lts", "x86_64", "6.6.31-r0",
            [SimVersion("6.6.31-r0", "main"), SimVersion("6.6.32-r0", "main", needs_reboot=True)],
        ),
    }  # fmt: skip
    return host


def run_job(
    host: SimHost, job_id: str, command: str, *, limit: float = 5.0
) -> tuple[int, list[str]]:
    """Start a job and poll it to completion (reconnecting over drops); (exit status, log)."""
    started = execute(host, sudo(start_command(job_id, command)))
    assert started.stdout.strip() == STARTED_MARKER
    log: list[str] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        answer = execute(host, sudo(poll_command(job_id, len(log) + 1)))
        if answer.drop_connection:
            continue  # what the engine does: reconnect, then poll again
        polled = parse_poll(answer.stdout)
        log.extend(polled.lines)
        if polled.state == "finished":
            assert polled.exit_status is not None
            return polled.exit_status, log
        assert polled.state == "running"
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def installed(host: SimHost, driver: AptDriver | ApkDriver, names: list[str]) -> dict[str, str]:
    answer = execute(host, driver.installed_versions_command(names))
    return driver.parse_installed_versions(answer.stdout)


def test_apt_exact_install_changes_state_and_logs_like_dpkg() -> None:
    host = debian_host()
    targets = [PackageTarget("openssl", "3.0.15-1~deb12u1")]
    status, log = run_job(
        host, "r1-deb1-apply", apt.apply_command(targets, Selection(security_only=True))
    )
    assert status == 0
    assert "Unpacking openssl (3.0.15-1~deb12u1) over (3.0.11-1~deb12u2) ..." in log
    assert "Setting up openssl (3.0.15-1~deb12u1) ..." in log
    assert installed(host, apt, ["openssl", "curl", "nosuch"]) == {
        "openssl": "3.0.15-1~deb12u1",
        "curl": "7.88.1-10+deb12u5",
    }
    job = host.jobs["r1-deb1-apply"]
    assert job.exit_status == 0 and job.pid == 4000 and host.next_pid == 4001
    assert not host.reboot_required


def test_apt_running_job_shows_part_of_its_log_then_all() -> None:
    host = debian_host()
    execute(host, sudo(start_command("j", apt.apply_command([], Selection()))))
    first = parse_poll(execute(host, poll_command("j", 1)).stdout)
    assert first.state == "running"
    assert len(first.lines) < len(host.jobs["j"].log)
    # the package state changed at once, like a finished dpkg run
    assert host.packages["curl"].installed == "7.88.1-10+deb12u8"
    time.sleep(0.25)
    done = parse_poll(execute(host, poll_command("j", 1)).stdout)
    assert (done.state, done.exit_status, done.lines) == ("finished", 0, host.jobs["j"].log)
    assert parse_poll(execute(host, poll_command("other", 1)).stdout).state == "lost"


def test_apt_needs_reboot_then_reboot_gives_new_boot_id() -> None:
    host = debian_host()
    status, _ = run_job(host, "up", apt.apply_command([], Selection(dist_upgrade=True)))
    assert status == 0
    assert host.reboot_required and host.reboot_packages == ["linux-image-6.1.0-21-amd64"]
    check = execute(host, "LC_ALL=C apt-get -s -q -o Debug::NoLocking=1 dist-upgrade")
    assert "0 upgraded" in check.stdout
    old = execute(host, BOOT_ID_COMMAND).stdout.strip()
    assert execute(host, sudo(REBOOT_COMMAND)).stdout == "reboot-scheduled\n"
    assert time.time() < host.down_until <= time.time() + 0.2
    new = execute(host, BOOT_ID_COMMAND).stdout.strip()
    assert new and new != old
    assert host.kernel == "6.1.0-21-amd64"
    assert not host.reboot_required and host.reboot_packages == []


def test_apt_unknown_version_is_the_real_error() -> None:
    host = debian_host()
    command = apt.apply_command(
        [PackageTarget("openssl", "9.9-1")], Selection(packages=("openssl",))
    )
    status, log = run_job(host, "bad", command)
    assert status == 100
    assert "E: Version '9.9-1' for 'openssl' was not found" in log
    kind, message = apt.classify_failure(status, log)
    assert kind == "unavailable" and "version 9.9-1 of openssl" in message
    assert host.packages["openssl"].installed == "3.0.11-1~deb12u2"


def test_apt_install_fails_leaves_a_partial_upgrade() -> None:
    host = debian_host()
    host.faults.add("install-fails")
    targets = [
        PackageTarget("curl", "7.88.1-10+deb12u8"),
        PackageTarget("openssl", "3.0.15-1~deb12u1"),
    ]
    status, log = run_job(host, "half", apt.apply_command(targets, Selection(security_only=True)))
    assert status == 100
    assert any(line.startswith("dpkg: error processing archive") for line in log)
    assert apt.classify_failure(status, log)[0] == "failed"
    assert installed(host, apt, ["curl", "openssl"]) == {
        "curl": "7.88.1-10+deb12u8",
        "openssl": "3.0.11-1~deb12u2",
    }


def test_apt_dpkg_lock_fault() -> None:
    host = debian_host()
    host.faults.add("dpkg-lock")
    status, log = run_job(host, "locked", apt.apply_command([], Selection()))
    assert status == 100
    assert apt.classify_failure(status, log)[0] == "locked"
    assert host.packages["openssl"].installed == "3.0.11-1~deb12u2"


def test_drop_during_install_drops_first_poll_only() -> None:
    host = debian_host()
    host.faults.add("drop-during-install")
    execute(host, sudo(start_command("d", apt.apply_command([], Selection()))))
    assert execute(host, sudo(poll_command("d", 1))) == ShellResult(drop_connection=True)
    again = parse_poll(execute(host, sudo(poll_command("d", 1))).stdout)
    assert again.state == "running"
    time.sleep(0.25)
    final = parse_poll(execute(host, sudo(poll_command("d", 1))).stdout)
    assert (final.state, final.exit_status) == ("finished", 0)


def test_apt_rollback_restores_recorded_versions() -> None:
    host = debian_host()
    run_job(host, "up", apt.apply_command([], Selection()))
    before = {"openssl": "3.0.11-1~deb12u2", "curl": "7.88.1-10+deb12u5"}
    targets = [PackageTarget(name, version) for name, version in sorted(before.items())]
    dry = execute(host, sudo(apt.dry_run_command(targets, Selection(versions=before))))
    assert dry.exit_status == 100  # --only-upgrade refuses a downgrade
    status, log = run_job(host, "rb", apt.downgrade_command(targets))
    assert status == 0, log
    assert "dpkg: warning: downgrading openssl from 3.0.15-1~deb12u1 to 3.0.11-1~deb12u2" in log
    assert installed(host, apt, sorted(before)) == before
    # the newer version is still offered: the next scan sees it pending again
    assert host.packages["openssl"].candidate() is not None


def test_stop_command_ends_the_wait() -> None:
    host = debian_host()
    execute(host, sudo(start_command("s", apt.apply_command([], Selection()))))
    assert execute(host, sudo(stop_command("s"))).exit_status == 0
    polled = parse_poll(execute(host, poll_command("s", 1)).stdout)
    assert (polled.state, polled.exit_status) == ("finished", jobs.STOPPED_EXIT_STATUS)


def test_apk_install_reboot_and_rollback() -> None:
    host = alpine_host()
    dry = execute(
        host,
        apk.dry_run_command(
            [PackageTarget("openssl", "3.1.5-r0")], Selection(packages=("openssl",))
        ),
    )
    assert apk.parse_dry_run(dry.stdout)[0].after == "3.1.5-r0"
    assert host.packages["openssl"].installed == "3.1.4-r5"
    status, log = run_job(host, "a1", apk.apply_command([], Selection()))
    assert status == 0 and "(2/2) Upgrading openssl (3.1.4-r5 -> 3.1.5-r0)" in log
    assert installed(host, apk, ["openssl", "linux-lts"]) == {
        "openssl": "3.1.5-r0",
        "linux-lts": "6.6.32-r0",
    }
    execute(host, sudo(REBOOT_COMMAND))
    assert host.kernel == "6.6.32-0-lts" and host.boot_id != "boot-a"
    status, log = run_job(host, "a2", apk.downgrade_command([PackageTarget("openssl", "3.1.4-r5")]))
    assert status == 0 and "(1/1) Downgrading openssl (3.1.5-r0 -> 3.1.4-r5)" in log
    assert installed(host, apk, ["openssl"]) == {"openssl": "3.1.4-r5"}


def test_apk_unavailable_pin_and_install_fails() -> None:
    host = alpine_host()
    command = apk.apply_command(
        [PackageTarget("openssl", "3.0.0-r0")], Selection(packages=("openssl",))
    )
    status, log = run_job(host, "p", command)
    assert status == 1
    assert apk.classify_failure(status, log) == (
        "unavailable",
        "version 3.0.0-r0 of openssl is not available from the host's repositories",
    )
    host.faults.add("install-fails")
    status, log = run_job(host, "f", apk.apply_command([], Selection()))
    assert status == 1 and apk.classify_failure(status, log)[0] == "failed"
    assert installed(host, apk, ["linux-lts", "openssl"]) == {
        "linux-lts": "6.6.32-r0",
        "openssl": "3.1.4-r5",
    }


def test_non_job_commands_pass_through() -> None:
    host = debian_host()
    assert jobs.handle(host, "echo hi", execute) is None
    # echo and uptime are among the shell's few plain commands; free is not simulated.
    assert execute(host, "free -m").exit_status == 127
