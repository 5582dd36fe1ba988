"""apt patch interface: command building, parsers and failure classes on real captures."""

from __future__ import annotations

import shlex

import pytest
from fixtures import captured

from patchtui.drivers.apt import APT_GET_PREFIX, REPAIR_COMMAND, AptDriver
from patchtui.drivers.base import (
    DriverError,
    PackageChange,
    PackageTarget,
    PendingUpdate,
    Selection,
)
from patchtui.drivers.parsers import apt as parse
from patchtui.drivers.parsers.metadata import APT_METADATA_COMMAND
from patchtui.transport.base import CommandResult, LineCallback


def fixture(name: str) -> tuple[str, int]:
    text, status = captured(f"apt/{name}")
    return text, status or 0


driver = AptDriver()
TARGETS = [PackageTarget("openssl", "3.0.15-1~deb12u1"), PackageTarget("git", "1:2.39.5-0+deb12u1")]


def test_everything_is_upgrade_or_dist_upgrade() -> None:
    assert driver.apply_command(TARGETS, Selection()) == f"{APT_GET_PREFIX} upgrade"
    assert (
        driver.apply_command(TARGETS, Selection(dist_upgrade=True))
        == f"{APT_GET_PREFIX} dist-upgrade"
    )


def test_prefix_never_prompts() -> None:
    words = shlex.split(APT_GET_PREFIX)
    assert words[:3] == ["DEBIAN_FRONTEND=noninteractive", "NEEDRESTART_MODE=a", "LC_ALL=C"]
    assert "-y" in words and "DPkg::Lock::Timeout=120" in words
    assert "Dpkg::Options::=--force-confdef" in words
    assert "Dpkg::Options::=--force-confold" in words


def test_selection_installs_exact_quoted_versions() -> None:
    command = driver.apply_command(TARGETS, Selection(security_only=True))
    assert command == (
        f"{APT_GET_PREFIX} install --only-upgrade 'openssl=3.0.15-1~deb12u1' git=1:2.39.5-0+deb12u1"
    )
    assert shlex.split(command)[-2:] == ["openssl=3.0.15-1~deb12u1", "git=1:2.39.5-0+deb12u1"]
    pinned = Selection(versions={"openssl": "3.0.11-1~deb12u2"})
    assert not pinned.is_everything
    assert "install --only-upgrade" in driver.apply_command(TARGETS, pinned)


def test_dry_run_is_the_same_command_simulated() -> None:
    selection = Selection(packages=("openssl",))
    command = driver.dry_run_command(TARGETS[:1], selection)
    assert command.startswith(APT_GET_PREFIX + " -s ")
    assert command.endswith("install --only-upgrade 'openssl=3.0.15-1~deb12u1'")


def test_unsafe_names_never_reach_the_shell() -> None:
    with pytest.raises(ValueError):
        PackageTarget("x; rm -rf /", "1")
    with pytest.raises(ValueError):
        driver.installed_versions_command(["ok", "$(reboot)"])


def test_downgrade_and_repair() -> None:
    command = driver.downgrade_command([PackageTarget("openssl", "3.0.11-1~deb12u2")])
    assert command == f"{APT_GET_PREFIX} install --allow-downgrades 'openssl=3.0.11-1~deb12u2'"
    with pytest.raises(DriverError):
        driver.downgrade_command([PackageTarget("openssl")])
    assert (
        driver.repair_command()
        == REPAIR_COMMAND
        == ("DEBIAN_FRONTEND=noninteractive dpkg --configure -a")
    )


def test_installed_versions_command_and_parse() -> None:
    command = driver.installed_versions_command(["openssl", "libc6"])
    assert shlex.split(command) == [
        "dpkg-query",
        "-W",
        "-f=${Package}\\t${Version}\\t${db:Status-Abbrev}\\n",
        "openssl",
        "libc6",
    ]
    output = (
        "openssl\t3.0.15-1~deb12u1\tii \n"
        "libc6\t2.36-9+deb12u10\tii \n"
        "libc6\t2.36-9+deb12u10\tii \n"  # a second architecture
        "oldpkg\t1.0-1\trc \n"  # removed, config files left
        "brokenpkg\t2.0-1\tiF \n"  # half-configured
        "trig\t1.1\tiW \n"
    )
    assert driver.parse_installed_versions(output) == {
        "openssl": "3.0.15-1~deb12u1",
        "libc6": "2.36-9+deb12u10",
        "trig": "1.1",
    }


def test_parse_dry_run_on_real_simulation() -> None:
    text, _ = fixture("simulate_debian12.txt")
    changes = driver.parse_dry_run(text)
    simulation = parse.parse_simulation(text)
    assert [c.name for c in changes if c.after is not None] == [u.name for u in simulation.pending]
    first = simulation.pending[0]
    assert changes[0] == PackageChange(first.name, first.installed, first.candidate)
    assert driver.parse_dry_run("Remv libold1 [1.2-3]\n") == [
        PackageChange("libold1", "1.2-3", None)
    ]


@pytest.mark.parametrize(
    ("name", "kind", "needle"),
    [
        ("lock_frontend.txt", "locked", "held by process 2448"),
        ("lock_frontend_old.txt", "locked", "lock-frontend"),
        ("install_conffile_eof.txt", "conffile", "of base-files"),
        ("install_conffile_eof_old.txt", "conffile", "of gearman-job-server"),
        ("install_dpkg_interrupted.txt", "dpkg-interrupted", "dpkg --configure -a"),
        (
            "install_version_not_found.txt",
            "unavailable",
            "version 20.1.7 of esl-erlang is no longer available from the host's repositories",
        ),
        ("install_version_not_found_epoch.txt", "unavailable", "1:2.17.1-1ubuntu0.7 of git"),
    ],
)
def test_classify_real_failures(name: str, kind: str, needle: str) -> None:
    text, status = fixture(name)
    assert status == 100
    got_kind, message = driver.classify_failure(status, text.splitlines())
    assert got_kind == kind
    assert needle in message


def test_classify_other_failure_uses_last_e_line() -> None:
    log = ["Setting up x (2) ...", "E: Sub-process /usr/bin/dpkg returned an error code (1)", ""]
    assert driver.classify_failure(100, log) == (
        "failed",
        "exit status 100: E: Sub-process /usr/bin/dpkg returned an error code (1)",
    )


class ScriptedSession:
    """Answers the scan's commands from a table (exact command -> stdout)."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    async def run(
        self,
        command: str,
        *,
        privileged: bool = False,
        on_line: LineCallback | None = None,
        timeout: float | None = None,
        input: str | None = None,
    ) -> CommandResult:
        return CommandResult(command, 0, self.answers[command], "")

    async def close(self) -> None:
        return None


async def test_scan_drops_held_packages_and_says_so() -> None:
    from patchtui.drivers import apt

    simulation = (
        "Inst openssl [3.0.11-1~deb12u2] (3.0.15-1~deb12u1 Debian-Security:12/stable-security"
        " [amd64])\n"
        "Inst linux-image-amd64 [6.1.90-1] (6.1.94-1 Debian:12.6/stable [amd64])\n"
    )
    session = ScriptedSession(
        {
            apt.SIMULATE_COMMAND: simulation,
            apt.HOLDS_COMMAND: "linux-image-amd64\n",
            apt.REBOOT_CHECK_COMMAND: "no-reboot-required\n",
            APT_METADATA_COMMAND: captured("metadata/apt-lists-debian12.txt")[0],
            # The security update's changelog: unreadable here, which is only a warning.
            apt.changelog_command(
                [PendingUpdate("openssl", "3.0.11-1~deb12u2", "3.0.15-1~deb12u1", security=True)]
            ): "",
        }
    )
    result = await driver.scan(session, refresh=False)  # type: ignore[arg-type]
    assert [u.name for u in result.pending] == ["openssl"]
    assert "held (never installed by patchtui): linux-image-amd64" in result.warnings
    assert result.metadata_age_seconds == 1796663477 - 1796653007  # the newest list's age
