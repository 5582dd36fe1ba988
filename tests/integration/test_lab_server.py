"""The lab over real SSH: plain asyncssh clients against LabServer on loopback."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import socket
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from labhelp import run_patchtui

from patchtui.drivers.facts import FACTS_COMMAND
from patchtui.drivers.parsers.facts import parse_facts
from patchtui.errors import ConfigError
from patchtui.inventory.loader import load_inventory
from patchtui.lab.fleet import build_fleet
from patchtui.lab.runner import run_lab, start_lab
from patchtui.lab.server import CLIENT_KEY_NAME, KNOWN_HOSTS_NAME, LabServer
from patchtui.lab.sim import ShellResult
from patchtui.lab.state import SimHost

SLOW_DELAY = 0.4
# host index -> fault, on a 7-host fleet whose first 7 hosts are one of each OS
FAULTED = {1: "auth-refused", 2: "no-answer", 3: "changed-hostkey", 4: "slow"}


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[LabServer]:
    hosts = build_fleet(7, seed=4, faults="none")
    for index, fault in FAULTED.items():
        hosts[index].faults.add(fault)
    server = LabServer(hosts, seed=4, slow_delay=SLOW_DELAY)
    await server.start()
    server.write_inventory(tmp_path / "lab" / "inventory.yaml")
    yield server
    await server.stop()


def _connect(lab: LabServer, host: SimHost, **overrides: Any) -> Any:
    """asyncssh.connect with only the lab's files: no ~/.ssh, agent or config."""
    options: dict[str, Any] = {
        "username": "lab",
        "client_keys": [str(lab.client_key_path)],
        "known_hosts": str(lab.known_hosts_path),
        "agent_path": None,
        "config": None,
        "connect_timeout": 5,
    }
    options.update(overrides)
    return asyncssh.connect(host.address, host.port, **options)


def _healthy(lab: LabServer) -> SimHost:
    return lab.hosts[0]


async def test_inventory_key_and_known_hosts_are_usable(lab: LabServer, tmp_path: Path) -> None:
    directory = tmp_path / "lab"
    assert lab.inventory_path == directory / "inventory.yaml"
    assert lab.client_key_path == directory / CLIENT_KEY_NAME
    assert stat.S_IMODE(os.stat(directory / CLIENT_KEY_NAME).st_mode) == 0o600
    assert (directory / f"{CLIENT_KEY_NAME}.pub").read_text().startswith("ssh-ed25519 ")
    known = (directory / KNOWN_HOSTS_NAME).read_text().splitlines()
    assert len(known) == len(lab.hosts)
    assert known[0].startswith(f"[127.0.0.1]:{lab.hosts[0].port} ssh-ed25519 ")

    inventory = load_inventory(directory / "inventory.yaml")
    assert [h.name for h in inventory.hosts] == [h.name for h in lab.hosts]
    first = inventory.hosts[0]
    assert (first.address, first.port, first.user, first.become) == (
        "127.0.0.1",
        lab.hosts[0].port,
        "lab",
        True,
    )
    assert first.identity_file == str(directory / CLIENT_KEY_NAME)
    assert first.known_hosts == str(directory / KNOWN_HOSTS_NAME)
    assert first.labels["os"] == "debian" and "debian" in first.groups
    assert set(inventory.groups) >= {"debian", "ubuntu", "alpine"}


async def test_facts_through_the_sudo_wrapper_come_from_the_simulated_host(
    lab: LabServer,
) -> None:
    for host in (lab.hosts[0], lab.hosts[5], lab.hosts[6]):  # Debian, openSUSE, Alpine
        async with _connect(lab, host) as conn:
            plain = await conn.run(FACTS_COMMAND, timeout=5)
            wrapped = await conn.run(
                f"sudo -n -u root -- sh -c {shlex.quote(FACTS_COMMAND)}", timeout=5
            )
        assert plain.exit_status == 0 and wrapped.exit_status == 0
        facts = parse_facts(str(wrapped.stdout))
        assert (facts.os_id, facts.kernel, facts.hostname) == (host.os_id, host.kernel, host.name)
        assert facts.package_manager == host.family


async def test_interactive_shell_is_refused(lab: LabServer) -> None:
    async with _connect(lab, _healthy(lab)) as conn:
        process = await conn.create_process()
        process.stdin.write_eof()
        result = await asyncio.wait_for(process.wait(), 5)
    assert result.exit_status == 1 and "not simulated" in str(result.stderr)


async def test_wrong_key_or_user_is_refused(lab: LabServer) -> None:
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    with pytest.raises(asyncssh.PermissionDenied):
        async with _connect(lab, _healthy(lab), client_keys=[stranger]):
            pass
    with pytest.raises(asyncssh.PermissionDenied):
        async with _connect(lab, _healthy(lab), username="root"):
            pass


async def test_auth_refused_host_rejects_the_lab_key(lab: LabServer) -> None:
    with pytest.raises(asyncssh.PermissionDenied):
        async with _connect(lab, lab.hosts[1]):
            pass


async def test_changed_hostkey_fails_verification(lab: LabServer) -> None:
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        async with _connect(lab, lab.hosts[3]):
            pass
    # Without checking, the session works: only the key differs.
    async with _connect(lab, lab.hosts[3], known_hosts=None) as conn:
        presented = conn.get_server_host_key()
    host = lab.hosts[3]
    assert presented.public_data == lab.presented_host_key(host).public_data
    assert presented.public_data != lab.known_host_key(host).public_data


async def test_no_answer_host_times_out(lab: LabServer) -> None:
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        async with _connect(lab, lab.hosts[2], connect_timeout=0.5):
            pass
    assert time.monotonic() - started < 3


async def test_slow_host_answers_late(lab: LabServer) -> None:
    async with _connect(lab, lab.hosts[4]) as conn:
        started = time.monotonic()
        result = await conn.run(FACTS_COMMAND, timeout=5)
        elapsed = time.monotonic() - started
    assert result.exit_status == 0 and elapsed >= SLOW_DELAY


async def test_stop_releases_every_port_and_drops_open_connections(tmp_path: Path) -> None:
    hosts = build_fleet(5, seed=1, faults="none")
    hosts[2].faults.add("no-answer")
    lab = LabServer(hosts, seed=1)
    await lab.start()
    lab.write_inventory(tmp_path / "inventory.yaml")
    ports = list(lab.ports)
    # stop() must not wait for clients to leave: one SSH session and one raw
    # socket held by the silent host stay open across it.
    async with _connect(lab, hosts[0]) as conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", hosts[2].port)
        await asyncio.wait_for(lab.stop(), 6)
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()
        await asyncio.wait_for(conn.wait_closed(), 2)
    for port in ports:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))  # fails if a listener were left behind


def _test_executor(host: SimHost, command: str) -> ShellResult:
    """Stand-in shell for server mechanics: echo, a crash and a reboot."""
    if command.startswith("echo "):
        return ShellResult(stdout=command[5:] + "\n")
    if command == "crash":
        raise RuntimeError("simulator bug")
    if command == "reboot":
        host.down_until = time.time() + 1.0
        return ShellResult()
    return ShellResult(stderr=f"sh: {command}: not found\n", exit_status=127)


async def test_exec_answers_errors_and_reboots_with_a_stand_in_shell(tmp_path: Path) -> None:
    hosts = build_fleet(2, seed=1, faults="none")
    async with LabServer(hosts, seed=1, executor=_test_executor) as lab:
        lab.write_inventory(tmp_path / "inventory.yaml")
        async with _connect(lab, hosts[0]) as conn:
            echoed = await conn.run("echo hello lab", timeout=5)
            crashed = await conn.run("crash", timeout=5)
            missing = await conn.run("frobnicate", timeout=5)
        assert (echoed.exit_status, echoed.stdout) == (0, "hello lab\n")
        assert crashed.exit_status == 70 and "simulator bug" in str(crashed.stderr)
        assert missing.exit_status == 127

        async with _connect(lab, hosts[1]) as conn:
            await conn.run("reboot", timeout=5)
            # The reboot ends the session...
            await asyncio.wait_for(conn.wait_closed(), 5)
        # ...and the host refuses connections until it is back.
        with pytest.raises((OSError, asyncssh.Error)):
            async with _connect(lab, hosts[1]):
                pass
        await asyncio.sleep(max(0.0, hosts[1].down_until - time.time()) + 0.05)
        async with _connect(lab, hosts[1]) as conn:
            assert (await conn.run("echo back", timeout=5)).stdout == "back\n"


async def test_only_loopback_can_be_bound() -> None:
    for address in ("0.0.0.0", "10.1.2.3", "::1", "localhost"):
        host = build_fleet(1, faults="none")[0]
        host.address = address
        with pytest.raises(ConfigError):
            LabServer([host])
    with pytest.raises(ConfigError, match="loopback"):
        await start_lab(2, address="192.168.0.1")


async def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        hosts = build_fleet(3, faults="none")
        hosts[2].port = port
        lab = LabServer(hosts)
        with pytest.raises(ConfigError, match="cannot listen"):
            await lab.start()
        assert not lab.started


async def test_three_hundred_hosts_fifty_concurrent_sessions(tmp_path: Path) -> None:
    started = time.monotonic()
    lab = await start_lab(300, seed=9, faults="none", inventory_path=tmp_path / "inv.yaml")
    try:
        assert time.monotonic() - started < 5
        assert len(set(lab.ports)) == 300
        client_key = asyncssh.read_private_key(str(lab.client_key_path))
        known_hosts = asyncssh.read_known_hosts(str(lab.known_hosts_path))

        async def facts_of(host: SimHost) -> str:
            async with _connect(lab, host, client_keys=[client_key], known_hosts=known_hosts) as c:
                result = await c.run(FACTS_COMMAND, timeout=10)
            return parse_facts(str(result.stdout)).os_id

        chosen = lab.hosts[::6][:50]
        os_ids = await asyncio.wait_for(asyncio.gather(*(facts_of(h) for h in chosen)), 30)
        assert os_ids == [host.os_id for host in chosen]
    finally:
        await lab.stop()


def test_run_lab_serves_until_sigterm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[int] = []

    def ready(lab: LabServer) -> None:
        seen.extend(lab.ports)
        os.kill(os.getpid(), signal.SIGTERM)  # handled by the lab's loop: a clean stop

    inventory = tmp_path / "inv.yaml"
    assert run_lab(3, 1, "some", inventory, ready) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"lab: 3 hosts on 127.0.0.1 ports {min(seen)}-{max(seen)}")
    assert line.endswith(f"inventory written to {inventory}")
    assert inventory.exists()


def test_run_lab_serves_the_slow_delay_it_is_given(tmp_path: Path) -> None:
    delays: list[float] = []

    def ready(lab: LabServer) -> None:
        delays.append(lab.slow_delay)
        os.kill(os.getpid(), signal.SIGTERM)

    assert run_lab(2, 1, "some", tmp_path / "inv.yaml", ready, slow_delay=0.25) == 0
    assert delays == [0.25]


@pytest.mark.parametrize("delay", ["-1", "61", "nan"])
def test_lab_refuses_a_slow_delay_out_of_range_in_one_line(tmp_path: Path, delay: str) -> None:
    inventory = tmp_path / "inv.yaml"
    result = run_patchtui(
        "lab", "--hosts", "2", "--slow-delay", delay, "--write-inventory", str(inventory),
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr.count("\n") == 1 and "--slow-delay must be 0 to 60 seconds" in result.stderr
    )
    assert not inventory.exists()
