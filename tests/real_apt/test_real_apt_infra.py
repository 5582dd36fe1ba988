"""The real_apt infrastructure itself, proved with real tools and plain asyncssh.

No patchtui code runs here apart from the ``Host`` model: these tests show that the private
sshd, the APT sandbox and the local repository behave as patchtui's own real_apt tests assume
(apt over SSH sees only the test repository, the upgrade carries a ``-security`` suite, dpkg
really installs, upgrades, asks for a reboot, downgrades, and the teardown purges).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import asyncssh
import pytest
from apt_sandbox import AptSandbox, SandboxLeak
from debs import (
    REBOOT_REQUIRED,
    REBOOT_REQUIRED_PKGS,
    build_deb,
    purge_test_package,
    version_file,
)
from sshd import sshd_available, start_sshd

if TYPE_CHECKING:
    from conftest import RealAptHost

pytestmark = pytest.mark.real_apt

_COMMAND_TIMEOUT_S = 120.0
_CONNECT_TIMEOUT_S = 10.0


@contextlib.asynccontextmanager
async def ssh_to(real: RealAptHost) -> AsyncIterator[asyncssh.SSHClientConnection]:
    """Plain asyncssh with the generated key and strict known_hosts, nothing from ~/.ssh."""
    async with asyncssh.connect(
        real.host.address,
        port=real.host.port,
        username="root",
        client_keys=[str(real.client_key)],
        known_hosts=str(real.known_hosts),
        agent_path=None,
        config=[],
        connect_timeout=_CONNECT_TIMEOUT_S,
    ) as connection:
        yield connection


async def run(
    connection: asyncssh.SSHClientConnection, command: str, *, check: bool = True
) -> asyncssh.SSHCompletedProcess:
    result = await connection.run(command, check=False, timeout=_COMMAND_TIMEOUT_S)
    if check and result.exit_status != 0:
        output = f"{result.stdout!s}\n{result.stderr!s}"
        pytest.fail(f"{command!r} exited {result.exit_status}:\n{output}")
    return result


def inst_line(simulation: str, package: str) -> str:
    """The ``Inst <package> ...`` line of an ``apt-get -s`` run (fails the test if none)."""
    for line in simulation.splitlines():
        if line.startswith(f"Inst {package} "):
            return line
    pytest.fail(f"no Inst line for {package} in:\n{simulation}")


async def test_sshd_sessions_get_the_private_apt_config(real_apt_host: RealAptHost) -> None:
    async with ssh_to(real_apt_host) as connection:
        echoed = await run(connection, "echo $APT_CONFIG")
        dump = await run(connection, "apt-config dump | grep -i sourcelist")
        whoami = await run(connection, "id -u")
    assert str(echoed.stdout).strip() == str(real_apt_host.sandbox.config_file)
    assert str(whoami.stdout).strip() == "0"
    sandbox_root = str(real_apt_host.sandbox.root)
    assert f'Dir::Etc::sourcelist "{real_apt_host.sandbox.sources_list}";' in str(dump.stdout)
    assert sandbox_root in str(dump.stdout)


async def test_apt_over_ssh_sees_only_the_local_repository(real_apt_host: RealAptHost) -> None:
    package = real_apt_host.package
    async with ssh_to(real_apt_host) as connection:
        update = await run(connection, "LC_ALL=C apt-get update")
        policy = await run(connection, f"LC_ALL=C apt-cache policy {package}")
        # Every package file apt knows about: only our repository and dpkg's status.
        sources = await run(connection, "LC_ALL=C apt-cache policy")
    repo_uri = f"file:{real_apt_host.repo.directory}"
    assert repo_uri in str(update.stdout)
    assert "http" not in str(update.stdout)
    assert f"500 {repo_uri} ./ Packages" in str(policy.stdout)
    assert "Candidate: 1.1" in str(policy.stdout)
    origins = [
        line.strip() for line in str(sources.stdout).splitlines() if re.match(r"^\s+\d+ ", line)
    ]
    assert origins, sources.stdout
    assert all(
        origin.endswith("/var/lib/dpkg/status") or repo_uri in origin for origin in origins
    ), origins


async def test_install_upgrade_reboot_and_downgrade_over_ssh(real_apt_host: RealAptHost) -> None:
    package = real_apt_host.package
    assert real_apt_host.installed_version() is None
    pkgs_before = real_apt_host.reboot_required_packages()
    apt = "DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get"
    async with ssh_to(real_apt_host) as connection:
        await run(connection, f"{apt} update")
        await run(connection, f"{apt} install -y {package}=1.0")
        assert real_apt_host.installed_version() == "1.0"
        assert real_apt_host.installed_file_version() == "1.0"
        # 1.0 has no postinst: installing it asks for no reboot.
        assert real_apt_host.reboot_required_packages() == pkgs_before

        simulation = await run(connection, f"{apt} -s dist-upgrade")
        line = inst_line(str(simulation.stdout), package)
        # apt prints the Release fields as Label:Version/Suite; the suite ends in -security.
        assert line == f"Inst {package} [1.0] (1.1 patchtui-test:1/patchtui-test-security [all])"

        await run(connection, f"{apt} install -y {package}")
        assert real_apt_host.installed_version() == "1.1"
        assert version_file(package).read_text().strip() == "1.1"
        assert REBOOT_REQUIRED.exists()
        assert real_apt_host.reboot_required_packages() == [*pkgs_before, package]

        nothing_left = await run(connection, f"{apt} -s dist-upgrade")
        assert f"Inst {package}" not in str(nothing_left.stdout)

        refused = await run(connection, f"{apt} install -y {package}=1.0", check=False)
        assert refused.exit_status != 0, "apt downgraded without --allow-downgrades"
        await run(connection, f"{apt} install -y --allow-downgrades {package}=1.0")
        assert real_apt_host.installed_version() == "1.0"
        assert real_apt_host.installed_file_version() == "1.0"


async def test_a_version_added_mid_test_becomes_the_upgrade(real_apt_host: RealAptHost) -> None:
    package = real_apt_host.package
    real_apt_host.run_apt("apt-get", "install", "-y", f"{package}=1.0")
    assert real_apt_host.installed_version() == "1.0"

    real_apt_host.add_version("1.2", refresh_lists=False)
    assert real_apt_host.repo.versions == ("1.0", "1.1", "1.2")
    async with ssh_to(real_apt_host) as connection:
        stale = await run(connection, f"LC_ALL=C apt-get -s dist-upgrade {package}")
        # The lists still know only 1.1 until someone runs apt-get update.
        assert "(1.1 " in inst_line(str(stale.stdout), package)
        await run(connection, "LC_ALL=C apt-get update")
        fresh = await run(connection, f"LC_ALL=C apt-get -s dist-upgrade {package}")
    assert inst_line(str(fresh.stdout), package).startswith(f"Inst {package} [1.0] (1.2 ")


def test_teardown_purges_and_removes_only_its_reboot_files(
    real_apt_host_context: Callable[[], contextlib.AbstractContextManager[RealAptHost]],
) -> None:
    flag_existed = REBOOT_REQUIRED.exists()
    pkgs_before = REBOOT_REQUIRED_PKGS.read_bytes() if REBOOT_REQUIRED_PKGS.exists() else None
    with real_apt_host_context() as real:
        real.run_apt("apt-get", "install", "-y", real.package)
        assert real.installed_version() == "1.1"
        assert real.reboot_required()
    assert real.installed_version() is None
    assert not version_file(real.package).exists()
    assert REBOOT_REQUIRED.exists() == flag_existed
    after = REBOOT_REQUIRED_PKGS.read_bytes() if REBOOT_REQUIRED_PKGS.exists() else None
    assert after == pkgs_before


def test_teardown_runs_when_the_test_body_fails(
    real_apt_host_context: Callable[[], contextlib.AbstractContextManager[RealAptHost]],
) -> None:
    with pytest.raises(RuntimeError, match="test body failed"), real_apt_host_context() as real:
        real.run_apt("apt-get", "install", "-y", f"{real.package}=1.0")
        assert real.installed_version() == "1.0"
        raise RuntimeError("test body failed")
    assert real.installed_version() is None


_no_apt_config = pytest.mark.skipif(shutil.which("apt-config") is None, reason="no apt-config")


@_no_apt_config
def test_sandbox_check_refuses_a_config_that_reads_real_sources(tmp_path: Path) -> None:
    sandbox = AptSandbox(tmp_path / "apt")
    sandbox.write("deb [trusted=yes] file:/nonexistent ./\n")
    sandbox.verify()
    # Drop the sourcelist redirection: apt would fall back to /etc/apt/sources.list.
    text = sandbox.config_file.read_text()
    sandbox.config_file.write_text(
        "\n".join(line for line in text.splitlines() if "Dir::Etc::sourcelist" not in line)
    )
    with pytest.raises(SandboxLeak, match="sourcelist"):
        sandbox.verify()


@_no_apt_config
def test_sandbox_check_refuses_a_fragment_in_its_parts_dir(tmp_path: Path) -> None:
    sandbox = AptSandbox(tmp_path / "apt")
    sandbox.write("deb [trusted=yes] file:/nonexistent ./\n")
    (sandbox.root / "etc" / "apt.conf.d" / "99leak").write_text(
        'Dir::Etc::sourcelist "/etc/apt/sources.list";\n'
    )
    with pytest.raises(SandboxLeak):
        sandbox.verify()


def test_purge_and_build_refuse_any_other_package(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="refusing to purge"):
        purge_test_package("bash")
    with pytest.raises(ValueError, match="refusing to build"):
        build_deb("bash", "99", tmp_path, reboot_required=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(sshd_available() is not None, reason=str(sshd_available()))
def test_a_private_sshd_stops_by_its_pid(tmp_path: Path) -> None:
    server = start_sshd(tmp_path / "sshd", {"APT_CONFIG": "/nonexistent"})
    try:
        assert int((tmp_path / "sshd" / "sshd.pid").read_text()) == server.pid
        assert server.known_hosts.read_text().startswith(f"[127.0.0.1]:{server.port} ssh-ed25519 ")
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as probe:
            assert probe.recv(64).startswith(b"SSH-2.0-OpenSSH_")
    finally:
        server.stop()
    assert server.process.returncode is not None
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass
    server.stop()  # a second stop is harmless
