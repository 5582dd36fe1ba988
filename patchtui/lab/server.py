"""A real asyncssh server on loopback serving a fleet of simulated hosts.

Every ``SimHost`` gets its own listening port on a loopback address and its
own Ed25519 host key; exec requests are answered by the simulated shell
(``patchtui.lab.shell.execute``), so clients talk real SSH and the drivers'
real parsers read the answers.

Authentication is by public key only: the lab generates one client key pair
and accepts it for user ``lab`` (not root, so the transport's ``sudo -n``
wrapper is exercised). Faults, from ``SimHost.faults``:

- ``auth-refused``: every key is rejected.
- ``no-answer``: TCP is accepted but the SSH banner never comes; the socket
  is held for ``no_answer_hold`` seconds, then closed.
- ``slow``: each command's answer is delayed by ``slow_delay`` seconds.
- ``changed-hostkey``: the host presents a different key from the one
  written to ``lab_known_hosts``.
- ``dpkg-lock``, ``stale-mirror`` and the patching faults are the shell's business
  (``stale-mirror`` is set up by ``fleet.stale_mirror``: old metadata, older candidates).

Reboots: while ``time.time() < host.down_until`` new connections to the host
are reset before the SSH banner (as a host whose sshd is gone would), and a
command after which ``down_until`` lies in the future closes every open
connection of that host once its answer has been sent.

Only loopback addresses (127.0.0.0/8) can be bound; anything else is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncssh
import yaml

from patchtui.errors import ConfigError
from patchtui.lab import keys
from patchtui.lab.fleet import host_labels
from patchtui.lab.sim import ShellResult
from patchtui.lab.state import SimHost

log = logging.getLogger(__name__)

Executor = Callable[[SimHost, str], ShellResult]
"""Answers one exec request: the shell's ``execute`` or a test's stand-in."""

LAB_USER = "lab"
KNOWN_HOSTS_NAME = "lab_known_hosts"
CLIENT_KEY_NAME = "lab_client_key"
DEFAULT_SLOW_DELAY = 1.5
DEFAULT_NO_ANSWER_HOLD = 300.0
LISTEN_BACKLOG = 128
STOP_TIMEOUT = 5.0
"""Bound on waiting for listeners and connections to close in stop()."""


def check_loopback(address: str) -> None:
    """Raise ConfigError unless ``address`` is an IPv4 loopback address (127.0.0.0/8)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise ConfigError(f"lab address {address!r} is not an IP address") from None
    if parsed.version != 4 or not parsed.is_loopback:
        raise ConfigError(f"the lab only listens on loopback (127.0.0.0/8), not {address}")


def _default_executor() -> Executor:
    # Imported here so that the server module loads (and its fault handling can be
    # tested) without the simulators, and `patchtui lab --help` stays cheap.
    from patchtui.lab.shell import execute

    return execute


class _HostEndpoint:
    """One simulated host's listener and the connections it has open."""

    def __init__(self, host: SimHost) -> None:
        self.host = host
        self.listener: asyncssh.SSHAcceptor | asyncio.Server | None = None
        self.ssh_connections: set[asyncssh.SSHServerConnection] = set()
        self.silent_transports: set[asyncio.Transport] = set()


class _LabSSHServer(asyncssh.SSHServer):
    """Per-connection server object: public-key auth for the lab user only."""

    def __init__(self, lab: LabServer, endpoint: _HostEndpoint) -> None:
        self._lab = lab
        self._endpoint = endpoint
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        if time.time() < self._endpoint.host.down_until:
            # Rebooting: reset before the banner, which clients report as a lost
            # connection, the nearest a live listener gets to "connection refused".
            _reset(conn.get_extra_info("socket"))
            conn.abort()
            return
        self._conn = conn
        self._endpoint.ssh_connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._endpoint.ssh_connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True  # authentication is always required

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        if "auth-refused" in self._endpoint.host.faults:
            return False
        return username == self._lab.user and (key.public_data == self._lab.client_key.public_data)


class _SilentProtocol(asyncio.Protocol):
    """A 'no-answer' host: accepts TCP, never speaks, lets go after a while."""

    def __init__(self, endpoint: _HostEndpoint, hold: float) -> None:
        self._endpoint = endpoint
        self._hold = hold
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._endpoint.silent_transports.add(transport)
        self._timer = asyncio.get_running_loop().call_later(self._hold, transport.abort)

    def data_received(self, data: bytes) -> None:
        pass  # the client's banner and key exchange go unanswered

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._transport is not None:
            self._endpoint.silent_transports.discard(self._transport)


def _reset(sock: Any) -> None:
    """Make the coming close send a TCP RST instead of a FIN."""
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class LabServer:
    """Serve ``hosts`` over SSH on loopback until ``stop()``.

    Use as ``async with LabServer(hosts) as lab:`` or call ``start()`` and
    ``stop()``. Hosts with port 0 get an ephemeral port at start; their
    ``port`` attribute is updated, so ``write_inventory`` (after start) writes
    the real ones.
    """

    def __init__(
        self,
        hosts: list[SimHost],
        *,
        seed: int = 1,
        user: str = LAB_USER,
        executor: Executor | None = None,
        slow_delay: float = DEFAULT_SLOW_DELAY,
        no_answer_hold: float = DEFAULT_NO_ANSWER_HOLD,
        login_timeout: float = 30.0,
    ) -> None:
        names = [host.name for host in hosts]
        if len(set(names)) != len(names):
            raise ConfigError("lab host names must be unique")
        for host in hosts:
            check_loopback(host.address)
        self.hosts = hosts
        self.seed = seed
        self.user = user
        self.slow_delay = slow_delay
        self.no_answer_hold = no_answer_hold
        self.login_timeout = login_timeout
        self.client_key = keys.generate_client_key()
        self._executor = executor
        self._endpoints = [_HostEndpoint(host) for host in hosts]
        self._handler_tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self._inventory_path: Path | None = None

    # -- lifecycle ---------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._started

    async def start(self) -> None:
        """Bind every host's port and start serving; on any failure nothing stays open."""
        if self._started:
            raise RuntimeError("lab already started")
        if self._executor is None:
            self._executor = _default_executor()
        _raise_open_files_limit(needed=len(self.hosts) * 3 + 256)
        self._started = True
        try:
            for endpoint in self._endpoints:
                await self._listen(endpoint)
        except BaseException:
            await self.stop()
            raise
        log.info("lab serving %d hosts", len(self.hosts))

    async def stop(self) -> None:
        """Close every listener and connection; returns within about STOP_TIMEOUT seconds."""
        if not self._started:
            return
        self._started = False
        for task in list(self._handler_tasks):
            task.cancel()
        waiters = []
        for endpoint in self._endpoints:
            if endpoint.listener is not None:
                endpoint.listener.close()
                waiters.append(endpoint.listener.wait_closed())
                endpoint.listener = None
            for conn in list(endpoint.ssh_connections):
                conn.abort()
            for transport in list(endpoint.silent_transports):
                transport.abort()
        pending = list(self._handler_tasks)
        try:
            await asyncio.wait_for(
                asyncio.gather(*waiters, *pending, return_exceptions=True), STOP_TIMEOUT
            )
        except TimeoutError:
            log.warning("lab: some listeners did not close within %.0f s", STOP_TIMEOUT)

    async def __aenter__(self) -> LabServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _listen(self, endpoint: _HostEndpoint) -> None:
        host = endpoint.host
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host.address, host.port))
            sock.listen(LISTEN_BACKLOG)
            sock.setblocking(False)
        except OSError as error:
            sock.close()
            raise ConfigError(
                f"lab cannot listen on {host.address}:{host.port} for {host.name}: "
                f"{error.strerror or error}"
            ) from None
        host.port = sock.getsockname()[1]

        if "no-answer" in host.faults:
            loop = asyncio.get_running_loop()
            endpoint.listener = await loop.create_server(
                lambda: _SilentProtocol(endpoint, self.no_answer_hold), sock=sock
            )
            return

        async def handle(process: asyncssh.SSHServerProcess[str]) -> None:
            await self._handle_process(endpoint, process)

        endpoint.listener = await asyncssh.listen(
            sock=sock,
            server_factory=lambda: _LabSSHServer(self, endpoint),
            server_host_keys=[self.presented_host_key(host)],
            process_factory=handle,
            # No GSSAPI, agent or scp: less work per connection, nothing the
            # drivers use, and no lookups of this machine's Kerberos setup.
            gss_host=None,
            agent_forwarding=False,
            allow_scp=False,
            login_timeout=self.login_timeout,
        )

    # -- exec requests -----------------------------------------------------------

    async def _handle_process(
        self, endpoint: _HostEndpoint, process: asyncssh.SSHServerProcess[str]
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handler_tasks.add(task)
        host = endpoint.host
        try:
            command = process.command
            if command is None:
                process.stderr.write("lab: interactive shells are not simulated\n")
                process.exit(1)
                return
            if "slow" in host.faults:
                await asyncio.sleep(self.slow_delay)
            result = self._run(host, command)
            if result.drop_connection:
                # Fault simulation: the link dies mid-command, no exit status is sent.
                for conn in list(endpoint.ssh_connections):
                    conn.abort()
                return
            process.stdout.write(result.stdout)
            process.stderr.write(result.stderr)
            process.exit(result.exit_status)
            if time.time() < host.down_until:
                self._drop_connections(endpoint)
        except (OSError, asyncssh.Error):
            # The client went away mid-answer: nothing to tell anyone.
            pass
        finally:
            if task is not None:
                self._handler_tasks.discard(task)

    def _run(self, host: SimHost, command: str) -> ShellResult:
        assert self._executor is not None
        try:
            return self._executor(host, command)
        except Exception as error:
            # One simulator bug must not take the lab (and the other hosts) down;
            # 70 is EX_SOFTWARE, an "internal error" exit status.
            log.exception("lab: simulated shell failed on %s for %r", host.name, command)
            return ShellResult(stderr=f"lab: internal simulator error: {error}\n", exit_status=70)

    def _drop_connections(self, endpoint: _HostEndpoint) -> None:
        """The host went down for a reboot: every session of it ends."""
        for conn in list(endpoint.ssh_connections):
            conn.close()

    # -- keys, files and facts for clients -----------------------------------------

    def known_host_key(self, host: SimHost) -> asyncssh.SSHKey:
        """The key lab_known_hosts records for ``host``."""
        return keys.host_key(self.seed, host.name)

    def presented_host_key(self, host: SimHost) -> asyncssh.SSHKey:
        """The key ``host`` actually presents (differs for 'changed-hostkey')."""
        purpose = keys.CHANGED_HOST_KEY if "changed-hostkey" in host.faults else keys.HOST_KEY
        return keys.host_key(self.seed, host.name, purpose)

    @property
    def ports(self) -> list[int]:
        return [host.port for host in self.hosts]

    @property
    def inventory_path(self) -> Path | None:
        return self._inventory_path

    @property
    def known_hosts_path(self) -> Path | None:
        return self._inventory_path.parent / KNOWN_HOSTS_NAME if self._inventory_path else None

    @property
    def client_key_path(self) -> Path | None:
        return self._inventory_path.parent / CLIENT_KEY_NAME if self._inventory_path else None

    def write_inventory(self, path: Path, *, connect_timeout: float = 5.0) -> Path:
        """Write the inventory YAML at ``path`` and, next to it, lab_known_hosts,
        lab_client_key (0600) and lab_client_key.pub. Needs the real ports: call after start().
        """
        if any(host.port == 0 for host in self.hosts):
            raise RuntimeError("write_inventory needs bound ports: call start() first")
        path = Path(path)
        directory = path.parent
        directory.mkdir(parents=True, exist_ok=True)
        keys.write_private_key(self.client_key, directory / CLIENT_KEY_NAME)
        known_hosts = "".join(
            keys.known_hosts_line(host.address, host.port, self.known_host_key(host)) + "\n"
            for host in self.hosts
        )
        (directory / KNOWN_HOSTS_NAME).write_text(known_hosts)
        path.write_text(render_inventory(self.hosts, user=self.user, timeout=connect_timeout))
        self._inventory_path = path
        return path


def render_inventory(hosts: list[SimHost], *, user: str = LAB_USER, timeout: float = 5.0) -> str:
    """The lab inventory as YAML (the one place that knows the inventory schema)."""
    host_entries: dict[str, dict[str, object]] = {}
    group_names: list[str] = []
    for host in hosts:
        labels = host_labels(host)
        groups = [labels[key] for key in ("os", "env", "role") if key in labels]
        for group in groups:
            if group not in group_names:
                group_names.append(group)
        host_entries[host.name] = {
            "address": host.address,
            "port": host.port,
            "labels": labels,
            "groups": groups,
        }
    document = {
        "defaults": {
            "user": user,
            # become: the lab user is not root, so privileged commands go through
            # the transport's sudo wrapper, as on real hosts.
            "become": True,
            "identity_file": CLIENT_KEY_NAME,
            "known_hosts": KNOWN_HOSTS_NAME,
            "connect_timeout": int(timeout) if float(timeout).is_integer() else timeout,
        },
        "hosts": host_entries,
        "groups": {name: {} for name in group_names},
    }
    header = "# Written by `patchtui lab`: simulated hosts on loopback; rewritten on each start.\n"
    return header + yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=120)


def _raise_open_files_limit(needed: int) -> None:
    """Each host needs a listening socket plus one per connection: lift the soft limit."""
    try:
        import resource
    except ImportError:  # not on POSIX: nothing to adjust
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
