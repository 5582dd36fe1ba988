"""SshConnector / SshSession against a real asyncssh server on loopback (no mocked transport)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import asyncssh
import pytest
from sshserver import LOOPBACK, KeyFiles, SilentServer, SshTestServer

from patchtui import paths
from patchtui.inventory.model import Host
from patchtui.transport.base import TransportError
from patchtui.transport.ssh import SshConnector, SshSession

ConnectorFactory = Callable[..., SshConnector]


def trusting_host(server: SshTestServer, directory: Path, **fields: object) -> Host:
    """A Host whose extra known_hosts file (as the lab writes one) trusts ``server``."""
    known = directory / f"known_hosts_{server.port}"
    known.write_text(server.known_hosts_line() + "\n")
    values: dict[str, object] = {
        "name": "web1",
        "address": LOOPBACK,
        "port": server.port,
        "user": "deploy",
        "known_hosts": str(known),
    }
    values.update(fields)
    return Host(**values)  # type: ignore[arg-type]


async def connect(factory: ConnectorFactory, host: Host, **connector_options: object) -> SshSession:
    return await factory(**connector_options).connect(host)


# --- running commands --------------------------------------------------------


async def test_run_streams_both_streams_line_by_line_in_order(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    session = await connect(transport_connector, trusting_host(transport_server, tmp_path))
    seen: list[tuple[str, str]] = []

    result = await session.run(
        "lines 200", on_line=lambda stream, line: seen.append((stream, line))
    )

    assert result.ok and result.exit_status == 0
    assert [line for stream, line in seen if stream == "stdout"] == [f"out {n}" for n in range(200)]
    assert [line for stream, line in seen if stream == "stderr"] == [f"err {n}" for n in range(200)]
    assert result.stdout == "".join(f"out {n}\n" for n in range(200))
    assert result.stderr == "".join(f"err {n}\n" for n in range(200))
    # The same connection serves many commands.
    echoed = await session.run("echo hello world")
    assert echoed.stdout == "hello world\n"
    assert transport_server.stats.connections == 1


async def test_lines_arrive_while_the_command_is_still_running(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    session = await connect(transport_connector, trusting_host(transport_server, tmp_path))
    arrivals: list[float] = []
    started = time.monotonic()

    await session.run(
        "slow 3 0.3", on_line=lambda _stream, _line: arrivals.append(time.monotonic())
    )
    finished = time.monotonic()

    assert len(arrivals) == 3
    # The first line is delivered long before the command ends (~0.9 s).
    assert arrivals[0] - started < 0.5
    assert finished - arrivals[0] > 0.5


async def test_exit_status_is_reported(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    session = await connect(transport_connector, trusting_host(transport_server, tmp_path))

    failed = await session.run("exit 3")
    unknown = await session.run("no-such-command")

    assert failed.exit_status == 3 and not failed.ok and not failed.outcome_unknown
    assert failed.stderr == "exiting with 3\n"
    assert unknown.exit_status == 127


async def test_last_line_without_newline_and_invalid_utf8(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    session = await connect(transport_connector, trusting_host(transport_server, tmp_path))
    lines: list[str] = []

    partial = await session.run("partial", on_line=lambda _s, line: lines.append(line))
    garbled = await session.run("badutf8", on_line=lambda _s, line: lines.append(line))

    assert partial.stdout == "first\nno newline at end"
    assert lines == ["first", "no newline at end", "café \ufffd\ufffd end"]
    assert garbled.ok


async def test_input_goes_to_stdin(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    session = await connect(transport_connector, trusting_host(transport_server, tmp_path))

    result = await session.run("cat", input="line one\nline two\n")
    no_input = await session.run("cat")  # must get EOF, not hang

    assert result.stdout == "line one\nline two\n"
    assert no_input.ok and no_input.stdout == ""


async def test_privileged_command_is_wrapped_in_sudo_for_non_root_user(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    host = trusting_host(transport_server, tmp_path, become=True, become_user="root")
    session = await connect(transport_connector, host)

    result = await session.run("echo 'a b' \"$HOME\"", privileged=True)
    await session.run("echo plain")

    assert result.ok
    assert transport_server.stats.commands == [
        ("deploy", "sudo -n -u root -- sh -c 'echo '\"'\"'a b'\"'\"' \"$HOME\"'"),
        ("deploy", "echo plain"),
    ]
    assert result.stdout == "a b $HOME\n"  # the test server does not expand variables


async def test_sudo_password_goes_on_stdin_never_in_argv_and_prompt_is_hidden(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    password = transport_server.sudo_password
    host = trusting_host(transport_server, tmp_path, become=True, become_user="root")
    session = await transport_connector(become_password=password).connect(host)
    seen: list[tuple[str, str]] = []

    result = await session.run(
        "lines 2", privileged=True, on_line=lambda stream, line: seen.append((stream, line))
    )

    assert result.ok
    sent = transport_server.stats.commands[-1][1]
    assert sent.startswith("sudo -S -p ")
    assert password not in sent
    assert "patchtui-sudo" not in result.stderr
    assert result.stderr == "err 0\nerr 1\n"
    assert ("stderr", "err 0") in seen
    assert all("patchtui-sudo" not in line for _stream, line in seen)


async def test_wrong_sudo_password_fails_without_echoing_it(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    host = trusting_host(transport_server, tmp_path, become=True, become_user="root")
    session = await transport_connector(become_password="wrong guess").connect(host)

    result = await session.run("whoami", privileged=True)

    assert result.exit_status == 1
    assert "incorrect password" in result.stderr
    assert "wrong guess" not in result.stderr + result.stdout


async def test_no_sudo_for_root_or_without_become(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    as_root = await connect(
        transport_connector, trusting_host(transport_server, tmp_path, user="root", become=True)
    )
    no_become = await connect(
        transport_connector, trusting_host(transport_server, tmp_path, become=False)
    )

    await as_root.run("whoami", privileged=True)
    await no_become.run("whoami", privileged=True)

    assert transport_server.stats.commands == [("root", "whoami"), ("deploy", "whoami")]


async def test_dropped_connection_returns_unknown_outcome(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    session = await connect(transport_connector, trusting_host(transport_server, tmp_path))
    lines: list[str] = []

    result = await asyncio.wait_for(
        session.run("drop", on_line=lambda _s, line: lines.append(line)), 5
    )

    assert result.exit_status is None
    assert result.outcome_unknown and not result.ok
    assert lines == ["before drop"]
    with pytest.raises(TransportError) as caught:
        await session.run("echo again")
    assert caught.value.kind == "disconnected"
    assert not session.is_connected


async def test_keepalive_detects_a_host_that_stops_answering(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    host = trusting_host(transport_server, tmp_path)
    session = await connect(
        transport_connector, host, keepalive_interval=0.2, keepalive_count_max=2
    )
    started = time.monotonic()

    # No command timeout: only the keepalive can end this.
    result = await asyncio.wait_for(session.run("freeze"), 5)

    assert result.outcome_unknown
    assert result.stdout == "frozen\n"
    assert time.monotonic() - started < 2
    assert not session.is_connected


async def test_command_timeout_raises_and_session_stays_usable(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    session = await connect(transport_connector, trusting_host(transport_server, tmp_path))
    started = time.monotonic()

    with pytest.raises(TransportError) as caught:
        await session.run("sleep 30", timeout=0.3)

    assert caught.value.kind == "timeout"
    assert "web1" in caught.value.message and f"{LOOPBACK}:{transport_server.port}" in str(
        caught.value
    )
    assert time.monotonic() - started < 3
    assert (await session.run("echo still here")).stdout == "still here\n"


async def test_cancellation_closes_the_channel_promptly(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    session = await connect(transport_connector, trusting_host(transport_server, tmp_path))
    lines: list[str] = []
    task = asyncio.create_task(
        session.run("slow 100 0.1", on_line=lambda _s, line: lines.append(line))
    )
    while not lines:
        await asyncio.sleep(0.02)

    task.cancel()
    started = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert time.monotonic() - started < 1
    seen_at_cancel = len(lines)
    await asyncio.sleep(0.3)
    assert len(lines) == seen_at_cancel  # nothing more is read after cancellation
    assert (await session.run("echo after")).ok


# --- host keys ---------------------------------------------------------------


async def test_unknown_host_key_is_refused_by_default(
    transport_server: SshTestServer, transport_connector: ConnectorFactory
) -> None:
    host = Host(name="web1", address=LOOPBACK, port=transport_server.port, user="deploy")

    with pytest.raises(TransportError) as caught:
        await connect(transport_connector, host)

    assert caught.value.kind == "hostkey-unknown"
    message = caught.value.message
    assert f"web1 ({LOOPBACK}:{transport_server.port})" in message
    assert "accept-new" in message and "\n" not in message
    assert transport_server.stats.commands == []
    assert not paths.own_known_hosts_path().exists()


async def test_key_in_users_known_hosts_is_trusted_even_when_hashed(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, transport_env: Path
) -> None:
    import base64
    import hashlib
    import hmac

    salt = b"0123456789abcdef0123"
    name = f"[{LOOPBACK}]:{transport_server.port}"
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    hashed = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
    key_type = transport_server.host_key.get_algorithm()
    (transport_env / ".ssh" / "known_hosts").write_text(
        f"# comment\n{hashed} {key_type} {transport_server.host_key_base64}\n"
    )
    host = Host(name="web1", address=LOOPBACK, port=transport_server.port, user="deploy")

    session = await connect(transport_connector, host)

    assert (await session.run("echo ok")).ok


async def test_accept_new_records_key_then_strict_connection_uses_it(
    transport_server: SshTestServer, transport_connector: ConnectorFactory
) -> None:
    first_host = Host(
        name="web1",
        address=LOOPBACK,
        port=transport_server.port,
        user="deploy",
        host_key_policy="accept-new",
    )

    first = await connect(transport_connector, first_host)
    await first.close()

    recorded = paths.own_known_hosts_path().read_text()
    assert recorded == transport_server.known_hosts_line() + "\n"
    strict_host = Host(name="web1", address=LOOPBACK, port=transport_server.port, user="deploy")
    second = await connect(transport_connector, strict_host)
    assert (await second.run("echo trusted")).ok
    # A second accept-new connection does not append a duplicate.
    third = await connect(transport_connector, first_host)
    await third.close()
    assert paths.own_known_hosts_path().read_text() == recorded


async def test_changed_host_key_is_refused_even_with_accept_new(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    old_key = asyncssh.generate_private_key("ssh-ed25519")
    old_base64 = old_key.export_public_key("openssh").decode().split()[1]
    known = tmp_path / "lab_known_hosts"
    known.write_text(
        f"[other]:22 ssh-ed25519 {old_base64}\n"
        f"[{LOOPBACK}]:{transport_server.port} ssh-ed25519 {old_base64}\n"
    )
    before = known.read_bytes()
    host = Host(
        name="web1",
        address=LOOPBACK,
        port=transport_server.port,
        user="deploy",
        host_key_policy="accept-new",
        known_hosts=str(known),
    )

    with pytest.raises(TransportError) as caught:
        await connect(transport_connector, host)

    assert caught.value.kind == "hostkey-changed"
    assert f"{known}:2" in caught.value.message
    assert "web1" in caught.value.message
    assert known.read_bytes() == before
    assert not paths.own_known_hosts_path().exists()
    assert transport_server.stats.commands == []


async def test_host_that_now_offers_another_key_type_is_refused_as_changed(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    old_key = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    known = tmp_path / "lab_known_hosts"
    known.write_text(
        f"[{LOOPBACK}]:{transport_server.port} "
        + old_key.export_public_key("openssh").decode().split()[0]
        + " "
        + old_key.export_public_key("openssh").decode().split()[1]
        + "\n"
    )
    host = replace(
        trusting_host(transport_server, tmp_path, host_key_policy="accept-new"),
        known_hosts=str(known),
    )

    with pytest.raises(TransportError) as caught:
        await connect(transport_connector, host)

    assert caught.value.kind == "hostkey-changed"
    assert f"{known}:1" in caught.value.message
    assert not paths.own_known_hosts_path().exists()


async def test_own_known_hosts_can_be_overridden(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    own = tmp_path / "elsewhere" / "known_hosts"
    host = Host(
        name="web1",
        address=LOOPBACK,
        port=transport_server.port,
        user="deploy",
        host_key_policy="accept-new",
    )

    await connect(transport_connector, host, own_known_hosts=own)

    assert own.read_text() == transport_server.known_hosts_line() + "\n"
    assert not paths.own_known_hosts_path().exists()


# --- failures ----------------------------------------------------------------


async def test_wrong_client_key_is_an_auth_error(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    stranger = KeyFiles.generate(tmp_path, "stranger")
    host = trusting_host(transport_server, tmp_path)

    with pytest.raises(TransportError) as caught:
        await connect(transport_connector, host, client_keys=[str(stranger.private_path)])

    assert caught.value.kind == "auth"
    assert f"{LOOPBACK}:{transport_server.port}" in caught.value.message


async def test_refused_port_is_unreachable(
    transport_env: Path, transport_connector: ConnectorFactory
) -> None:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        free_port = probe.getsockname()[1]
    host = Host(name="gone", address=LOOPBACK, port=free_port)

    with pytest.raises(TransportError) as caught:
        await connect(transport_connector, host)

    assert caught.value.kind == "unreachable"
    assert caught.value.message.startswith(f"gone ({LOOPBACK}:{free_port})")


async def test_server_that_never_sends_a_banner_times_out(
    transport_env: Path, transport_connector: ConnectorFactory
) -> None:
    silent = await SilentServer().start()
    host = Host(name="frozen", address=LOOPBACK, port=silent.port, connect_timeout=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(TransportError) as caught:
            await connect(transport_connector, host, connect_timeout=None)
    finally:
        await silent.stop()

    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 3
    assert "frozen" in caught.value.message


# --- concurrency and lifecycle ----------------------------------------------


async def test_slot_limits_concurrent_host_sessions(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    connector = transport_connector(concurrency=2)
    host = trusting_host(transport_server, tmp_path)

    async def work_on_host() -> None:
        async with connector.slot():
            session = await connector.connect(host)
            await session.run("busy 0.2")
            await session.close()

    await asyncio.wait_for(asyncio.gather(*(work_on_host() for _ in range(6))), 10)

    assert transport_server.stats.busy_max == 2
    assert transport_server.stats.connections == 6


async def test_close_all_closes_open_sessions(
    transport_server: SshTestServer, transport_connector: ConnectorFactory, tmp_path: Path
) -> None:
    connector = transport_connector()
    sessions = [
        await connector.connect(trusting_host(transport_server, tmp_path)) for _ in range(3)
    ]

    await connector.close_all()

    assert not any(session.is_connected for session in sessions)


# --- ssh config and jump hosts -------------------------------------------------


async def test_ssh_config_alias_supplies_hostname_port_user_and_key(
    transport_server: SshTestServer,
    transport_connector: ConnectorFactory,
    transport_client_key: KeyFiles,
    tmp_path: Path,
) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(
        "Host webalias\n"
        f"    HostName {LOOPBACK}\n"
        f"    Port {transport_server.port}\n"
        "    User aliasuser\n"
        f"    IdentityFile {transport_client_key.private_path}\n"
    )
    known = tmp_path / "known"
    known.write_text(transport_server.known_hosts_line() + "\n")
    host = Host(name="web", address="webalias", known_hosts=str(known))

    session = await connect(transport_connector, host, ssh_config=config, client_keys=None)
    result = await session.run("whoami")

    assert result.stdout == "aliasuser\n"


async def test_jump_host_tunnels_and_verifies_both_keys(
    transport_server: SshTestServer,
    transport_connector: ConnectorFactory,
    transport_client_key: KeyFiles,
    tmp_path: Path,
) -> None:
    jump = await SshTestServer.start(tmp_path / "jump", transport_client_key)
    try:
        host = trusting_host(transport_server, tmp_path, jump_host=f"hop@{LOOPBACK}:{jump.port}")
        # The target's key alone is not enough: the jump host is verified too.
        with pytest.raises(TransportError) as caught:
            await connect(transport_connector, host)
        assert caught.value.kind == "hostkey-unknown"
        assert f"jump host {LOOPBACK}:{jump.port}" in caught.value.message

        Path(str(host.known_hosts)).write_text(
            transport_server.known_hosts_line() + "\n" + jump.known_hosts_line() + "\n"
        )
        session = await connect(transport_connector, host)
        result = await session.run("whoami")
        await session.close()
    finally:
        await jump.stop()

    assert result.stdout == "deploy\n"
    assert jump.stats.forwarded == [(LOOPBACK, transport_server.port)]
    assert jump.stats.commands == []


async def test_proxy_jump_from_ssh_config_uses_our_host_key_checks(
    transport_server: SshTestServer,
    transport_connector: ConnectorFactory,
    transport_client_key: KeyFiles,
    tmp_path: Path,
) -> None:
    jump = await SshTestServer.start(tmp_path / "jump", transport_client_key)
    config = tmp_path / "ssh_config"
    # UserKnownHostsFile none would make asyncssh skip checks for the hop;
    # the connector must open the hop itself with its own policy.
    config.write_text(
        f"Host behind-jump\n    HostName {LOOPBACK}\n    ProxyJump hop@{LOOPBACK}:{jump.port}\n"
        "    UserKnownHostsFile none\n"
    )
    try:
        host = trusting_host(transport_server, tmp_path, address="behind-jump")
        with pytest.raises(TransportError) as caught:
            await connect(transport_connector, host, ssh_config=config)
        assert caught.value.kind == "hostkey-unknown"
        assert f"jump host {LOOPBACK}:{jump.port}" in caught.value.message

        Path(str(host.known_hosts)).write_text(
            transport_server.known_hosts_line() + "\n" + jump.known_hosts_line() + "\n"
        )
        session = await connect(transport_connector, host, ssh_config=config)
        assert (await session.run("echo via config")).ok
        await session.close()
    finally:
        await jump.stop()

    assert jump.stats.forwarded == [(LOOPBACK, transport_server.port)]


async def test_captured_output_is_capped_and_every_line_still_streams(
    transport_server: SshTestServer,
    transport_connector: ConnectorFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The real cap is 32 MiB a stream; 16 KiB shows the same behaviour quickly.
    monkeypatch.setattr("patchtui.transport.ssh.MAX_CAPTURED_CHARS", 16 * 1024)
    session = await connect(transport_connector, trusting_host(transport_server, tmp_path))
    streamed = 0

    def count(stream: str, line: str) -> None:
        nonlocal streamed
        streamed += 1

    result = await session.run("lines 8000", on_line=count)
    assert result.ok and result.output_truncated
    assert streamed == 16_000
    # The first lines are kept, whole, up to the cap.
    assert result.stdout.startswith("out 0\nout 1\n") and result.stdout.endswith("\n")
    assert 15 * 1024 < len(result.stdout) <= 16 * 1024
    assert len(result.stderr) <= 16 * 1024

    # capture=False (ad-hoc commands): nothing is kept at all, and that is no truncation.
    quiet = await session.run("lines 8000", on_line=count, capture=False)
    assert quiet.ok and quiet.stdout == "" and quiet.stderr == ""
    assert not quiet.output_truncated
    assert streamed == 32_000
