"""The asyncssh transport: connect with patchtui's host-key policy, run commands, stream lines.

``SshConnector`` opens one ``SshSession`` per host and run; the session is
reused for every command on that host. Every failure to connect becomes a
``TransportError`` with a fixed ``kind`` and a one-line message naming the
host and its address:port, so front ends can show it as is.

Host-key trust is decided here, not by asyncssh defaults:

* asyncssh is always given an explicit ``known_hosts`` callable, so no ssh
  config (``UserKnownHostsFile none``) can switch checking off;
* the callable matches the config-resolved host name against the user's
  known_hosts, patchtui's own file and the host's extra file, and remembers
  what it found, so a refused key can be reported as *unknown* or *changed*
  with the file and line of the old key;
* asyncssh only asks ``validate_host_public_key`` about a key that matched
  nothing; that is where ``accept-new`` records a first-seen key. A host that
  already has a different key on file is refused there, whatever the policy.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import getpass
import secrets
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import asyncssh
from asyncssh.config import SSHClientConfig

from patchtui import paths
from patchtui.inventory.model import Host
from patchtui.transport.base import (
    MAX_CAPTURED_CHARS,
    CommandResult,
    LineCallback,
    Stream,
    TransportError,
)
from patchtui.transport.known_hosts import (
    KnownHostEntry,
    KnownHostsWriter,
    host_key_name,
    match_entries,
    read_known_hosts_files,
)

DEFAULT_CONCURRENCY = 50
MAX_JUMP_HOPS = 5
"""Bound on ProxyJump chains (config files can point jump hosts at further jump hosts)."""
CLOSE_WAIT_SECONDS = 5.0
"""How long close() waits for a polite SSH disconnect before giving up on it."""


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _label(name: str, address: str, port: int) -> str:
    return f"{name} ({address}:{port})"


def parse_jump_spec(spec: str) -> tuple[str | None, str, int | None]:
    """Split ``[user@]host[:port]`` (also ``[v6addr]:port``) into its parts."""
    user: str | None = None
    if "@" in spec:
        user, spec = spec.rsplit("@", 1)
    port: int | None = None
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif spec.count(":") == 1:
        host, port_text = spec.split(":")
        port = int(port_text)
    else:
        host = spec
    if not host:
        raise ValueError(f"bad jump host {spec!r}")
    return user, host, port


class _HostKeyVerifier:
    """Host-key decisions for one connection attempt; remembers why it refused."""

    def __init__(
        self,
        *,
        policy: str,
        known_hosts_files: Sequence[Path],
        writer: KnownHostsWriter,
    ) -> None:
        self.policy = policy
        self.known_hosts_files = tuple(known_hosts_files)
        self.writer = writer
        self.host: str | None = None
        self.port: int | None = None
        self.matched: list[KnownHostEntry] = []
        self.offered_key: asyncssh.SSHKey | None = None
        self.decision: str | None = None
        """None (not asked), 'unknown', 'changed' or 'recorded'."""
        self.conflict: KnownHostEntry | None = None

    @property
    def name(self) -> str:
        return host_key_name(self.host or "?", self.port)

    def known_hosts(
        self, host: str, addr: str, port: int | None
    ) -> tuple[list[asyncssh.SSHKey], list[asyncssh.SSHKey], list[asyncssh.SSHKey]]:
        """asyncssh's known_hosts callable: trusted keys, CA keys, revoked keys.

        ``host`` is what asyncssh connects to after ssh-config resolution;
        ``port`` is None for 22. ``addr`` is deliberately not matched (see
        known_hosts.py).
        """
        self.host, self.port = host, port
        self.matched = match_entries(read_known_hosts_files(self.known_hosts_files), host, port)
        trusted: list[asyncssh.SSHKey] = []
        ca_keys: list[asyncssh.SSHKey] = []
        revoked: list[asyncssh.SSHKey] = []
        for entry in self.matched:
            try:
                key = asyncssh.import_public_key(entry.openssh_public_key)
            except (asyncssh.KeyImportError, ValueError):
                # A key type asyncssh cannot read is not trusted; it still
                # counts as "a key is on file" for the changed-key check.
                continue
            if entry.marker == "revoked":
                revoked.append(key)
            elif entry.marker == "cert-authority":
                ca_keys.append(key)
            else:
                trusted.append(key)
        return trusted, ca_keys, revoked

    def validate(self, key: asyncssh.SSHKey) -> bool:
        """Called by asyncssh only for a key that matched no trusted entry."""
        self.offered_key = key
        on_file = [entry for entry in self.matched if entry.marker is None]
        if on_file:
            # Always refused, accept-new included: this is the MITM case.
            self.decision, self.conflict = "changed", on_file[0]
            return False
        if self.policy != "accept-new" or self.host is None:
            self.decision = "unknown"
            return False
        key_type = key.get_algorithm()
        # public_data is the SSH wire blob: exactly what known_hosts stores.
        key_base64 = base64.b64encode(key.public_data).decode()
        conflict = self.writer.record_if_absent(self.host, self.port, key_type, key_base64)
        if conflict is not None:
            # Another patchtui run recorded a different key for this host
            # between our read and the lock.
            self.decision, self.conflict = "changed", conflict
            return False
        self.decision = "recorded"
        return True


class _VerifyingClient(asyncssh.SSHClient):
    def __init__(self, verifier: _HostKeyVerifier) -> None:
        self._verifier = verifier

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        return self._verifier.validate(key)


class SshSession:
    """One open SSH connection to a host (implements ``RemoteSession``)."""

    def __init__(
        self,
        host: Host,
        connection: asyncssh.SSHClientConnection,
        *,
        jump_connections: Sequence[asyncssh.SSHClientConnection] = (),
        become_password: str | None = None,
        on_close: Callable[[SshSession], None] | None = None,
    ) -> None:
        self.host = host
        self._conn = connection
        self._jumps = list(jump_connections)
        # Reserved for password sudo (``sudo -S -p <marker>`` with the
        # password on stdin); see _become_wrap. Never logged or shown.
        self._become_password = become_password
        self._sudo_marker = f"[patchtui-sudo-{secrets.token_hex(6)}]"
        self._on_close = on_close
        self._closed = False
        peer = connection.get_extra_info("peername")
        self.address = str(peer[0]) if peer else host.address
        self.port = int(peer[1]) if peer else host.port
        self.login_user: str = str(connection.get_extra_info("username") or "")

    @property
    def label(self) -> str:
        return _label(self.host.name, self.host.address, self.host.port)

    @property
    def is_connected(self) -> bool:
        return not self._closed and not self._conn.is_closed()

    def _become_wrap(self, command: str) -> tuple[str, str]:
        """The privileged form of ``command`` and any stdin that must precede the input.

        Without a password: ``sudo -n`` (fail instead of prompting). With one:
        ``sudo -S -p <random marker>`` and the password as the first stdin
        line, so it never appears in argv, the environment or a log; the
        marker is removed from stderr before anyone sees it.
        """
        user = shlex.quote(self.host.become_user)
        if self._become_password is None:
            return f"sudo -n -u {user} -- sh -c {shlex.quote(command)}", ""
        prompt = shlex.quote(self._sudo_marker)
        return (
            f"sudo -S -p {prompt} -u {user} -- sh -c {shlex.quote(command)}",
            self._become_password + "\n",
        )

    def remote_command(self, command: str, privileged: bool) -> tuple[str, str]:
        """What is actually sent for ``command``, and the stdin prefix it needs."""
        if privileged and self.host.become and self.login_user != "root":
            return self._become_wrap(command)
        return command, ""

    async def run(
        self,
        command: str,
        *,
        privileged: bool = False,
        on_line: LineCallback | None = None,
        timeout: float | None = None,
        input: str | None = None,
        capture: bool = True,
    ) -> CommandResult:
        """Run ``command`` and stream its output; see ``RemoteSession.run``."""
        remote_command, stdin_prefix = self.remote_command(command, privileged)
        stdin_data = stdin_prefix + (input or "")
        if stdin_prefix:
            on_line = self._without_sudo_prompt(on_line)
        limit = MAX_CAPTURED_CHARS if capture else 0
        stdout_lines = _Captured(limit)
        stderr_lines = _Captured(limit)
        process: asyncssh.SSHClientProcess[bytes] | None = None
        pumps: list[asyncio.Task[None]] = []
        finished = False
        try:
            async with asyncio.timeout(timeout):
                try:
                    process = await self._conn.create_process(remote_command, encoding=None)
                except (asyncssh.Error, OSError) as exc:
                    raise TransportError(
                        "disconnected",
                        f"{self.label}: cannot start command: {_one_line(exc)}",
                    ) from None
                pumps = [
                    asyncio.create_task(
                        _pump_lines(process.stdout, "stdout", stdout_lines, on_line)
                    ),
                    asyncio.create_task(
                        _pump_lines(process.stderr, "stderr", stderr_lines, on_line)
                    ),
                ]
                _feed_stdin(process, stdin_data)
                await asyncio.gather(*pumps)
                await process.wait_closed()
                finished = True
        except TimeoutError:
            raise TransportError(
                "timeout", f"{self.label}: command timed out after {timeout:g}s: {command}"
            ) from None
        finally:
            if not finished:
                # Timeout, cancellation or a failing on_line: stop the remote
                # command now rather than let it run on unobserved.
                for pump in pumps:
                    pump.cancel()
                if process is not None:
                    process.close()
        stderr = "".join(stderr_lines)
        if stdin_prefix:
            stderr = stderr.replace(self._sudo_marker, "")
        return CommandResult(
            command=command,
            # None when the connection dropped before exit-status arrived.
            exit_status=process.exit_status,
            stdout="".join(stdout_lines),
            stderr=stderr,
            output_truncated=capture and (stdout_lines.truncated or stderr_lines.truncated),
        )

    def _without_sudo_prompt(self, on_line: LineCallback | None) -> LineCallback | None:
        """sudo prints its prompt (our marker) on stderr without a newline: drop it."""
        if on_line is None:
            return None
        marker = self._sudo_marker
        forward = on_line

        def strip(stream: Stream, line: str) -> None:
            if stream == "stderr" and marker in line:
                line = line.replace(marker, "")
                if not line:
                    return
            forward(stream, line)

        return strip

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for conn in [self._conn, *reversed(self._jumps)]:
            conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), CLOSE_WAIT_SECONDS)
        if self._on_close is not None:
            self._on_close(self)


def _feed_stdin(process: asyncssh.SSHClientProcess[bytes], data: str) -> None:
    """Send ``data`` then EOF, so a command that reads stdin never waits forever."""
    try:
        if data:
            process.stdin.write(data.encode())
        process.stdin.write_eof()
    except (asyncssh.Error, OSError):
        # The channel is already gone; the pumps see EOF and the result
        # reports exit_status None.
        pass


class _Captured(list[str]):
    """The lines of one stream kept for ``CommandResult``: at most ``limit`` characters."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.room = limit
        self.truncated = False

    def keep(self, text: str) -> None:
        if len(text) <= self.room:
            self.append(text)
            self.room -= len(text)
        else:
            self.room = 0
            self.truncated = True


async def _pump_lines(
    reader: asyncssh.SSHReader[bytes],
    stream: Stream,
    sink: _Captured,
    on_line: LineCallback | None,
) -> None:
    """Read one stream line by line until EOF, forwarding each line as it arrives."""
    while True:
        try:
            raw = await reader.readline()
        except (asyncssh.Error, OSError):
            # Connection lost mid-output (or a signal/break marker): stop
            # reading; the missing exit status tells the caller.
            return
        if not raw:
            return
        # Splitting bytes on b"\n" never cuts a UTF-8 sequence in two, so
        # per-line decoding is exact.
        text = raw.decode("utf-8", errors="replace")
        sink.keep(text)
        if on_line is not None:
            line = text[:-1] if text.endswith("\n") else text
            if line.endswith("\r"):
                line = line[:-1]
            on_line(stream, line)


class SshConnector:
    """Opens SSH sessions with patchtui's host-key policy and a global concurrency limit."""

    def __init__(
        self,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        known_hosts_files: Sequence[Path] | None = None,
        own_known_hosts: Path | None = None,
        ssh_config: Path | None = None,
        client_keys: Sequence[str] | None = None,
        use_agent: bool = True,
        connect_timeout: float | None = None,
        keepalive_interval: float = 15.0,
        keepalive_count_max: int = 3,
        become_password: str | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self._own_known_hosts = own_known_hosts or paths.own_known_hosts_path()
        # Trust sources in lookup order; patchtui's own file is always one,
        # since that is where accept-new writes.
        base_files = (
            list(known_hosts_files)
            if known_hosts_files is not None
            else [paths.user_known_hosts_path()]
        )
        self._known_hosts_files = [*base_files, self._own_known_hosts]
        config_path = ssh_config if ssh_config is not None else paths.user_ssh_config_path()
        self._ssh_config: Path | None = config_path if config_path.is_file() else None
        self._client_keys = [str(Path(key).expanduser()) for key in client_keys or ()]
        self._use_agent = use_agent
        self._connect_timeout = connect_timeout
        self._keepalive_interval = keepalive_interval
        self._keepalive_count_max = keepalive_count_max
        self._become_password = become_password
        self._writer = KnownHostsWriter(self._own_known_hosts)
        self._slots = asyncio.Semaphore(concurrency)
        self._sessions: set[SshSession] = set()

    @property
    def own_known_hosts(self) -> Path:
        return self._own_known_hosts

    def slot(self) -> asyncio.Semaphore:
        """``async with connector.slot():`` around all work on one host."""
        return self._slots

    async def connect(self, host: Host) -> SshSession:
        """Open a session to ``host`` (via its jump hosts, if any) or raise TransportError."""
        timeout = host.connect_timeout
        if self._connect_timeout is not None:
            timeout = self._connect_timeout
        known_files = list(self._known_hosts_files)
        if host.known_hosts:
            known_files.append(Path(host.known_hosts).expanduser())
        target_label = _label(host.name, host.address, host.port)
        jumps: list[asyncssh.SSHClientConnection] = []
        try:
            jump_spec = host.jump_host or self._config_proxy_jump(
                host.address, host.port, host.user
            )
            if jump_spec:
                jumps = await self._open_jump_chain(jump_spec, host, known_files, timeout, depth=0)
            conn = await self._open(
                target_label,
                host.address,
                host.port,
                host.user,
                policy=host.host_key_policy,
                known_files=known_files,
                identity_file=host.identity_file,
                tunnel=jumps[-1] if jumps else None,
                timeout=timeout,
            )
        except BaseException:
            for jump in reversed(jumps):
                jump.close()
            raise
        session = SshSession(
            host,
            conn,
            jump_connections=jumps,
            become_password=self._become_password,
            on_close=self._sessions.discard,
        )
        self._sessions.add(session)
        return session

    async def close_all(self) -> None:
        """Close every session this connector opened and has not closed yet."""
        sessions = list(self._sessions)
        await asyncio.gather(*(session.close() for session in sessions), return_exceptions=True)
        self._sessions.clear()

    # --- internals ----------------------------------------------------------

    def _config_proxy_jump(self, address: str, port: int, user: str | None) -> str | None:
        """ProxyJump from the ssh config for this host, so we open the hops ourselves.

        Left to asyncssh, jump connections would be made with the config's
        known_hosts settings (possibly ``none``) instead of our policy.
        """
        if self._ssh_config is None:
            return None
        config = SSHClientConfig.load(
            None,
            [str(self._ssh_config)],
            False,
            False,
            False,
            getpass.getuser(),
            user if user is not None else (),
            address,
            port if port != 22 else (),
        )
        value = config.get("ProxyJump")
        return str(value) if value else None

    async def _open_jump_chain(
        self,
        spec: str,
        host: Host,
        known_files: Sequence[Path],
        timeout: float,
        depth: int,
    ) -> list[asyncssh.SSHClientConnection]:
        """Open each hop of ``spec`` (comma list), each tunnelled through the previous."""
        hops = [hop.strip() for hop in spec.split(",") if hop.strip()]
        if depth + len(hops) > MAX_JUMP_HOPS:
            raise TransportError(
                "error",
                f"{_label(host.name, host.address, host.port)}: more than "
                f"{MAX_JUMP_HOPS} jump hosts (ProxyJump loop?)",
            )
        connections: list[asyncssh.SSHClientConnection] = []
        try:
            for hop in hops:
                try:
                    user, address, port = parse_jump_spec(hop)
                except ValueError:
                    raise TransportError(
                        "error",
                        f"{_label(host.name, host.address, host.port)}: "
                        f"bad jump host {hop!r} (want user@host:port)",
                    ) from None
                if not connections:
                    # The first hop may itself need a ProxyJump from config.
                    nested = self._config_proxy_jump(address, port or 22, user)
                    if nested:
                        connections.extend(
                            await self._open_jump_chain(
                                nested, host, known_files, timeout, depth + len(hops)
                            )
                        )
                label = f"{host.name}: jump host {address}:{port or 22}"
                connections.append(
                    await self._open(
                        label,
                        address,
                        port or 22,
                        user,
                        policy=host.host_key_policy,
                        known_files=known_files,
                        identity_file=host.identity_file,
                        tunnel=connections[-1] if connections else None,
                        timeout=timeout,
                    )
                )
        except BaseException:
            for conn in reversed(connections):
                conn.close()
            raise
        return connections

    async def _open(
        self,
        label: str,
        address: str,
        port: int,
        user: str | None,
        *,
        policy: str,
        known_files: Sequence[Path],
        identity_file: str | None,
        tunnel: asyncssh.SSHClientConnection | None,
        timeout: float,
    ) -> asyncssh.SSHClientConnection:
        verifier = _HostKeyVerifier(
            policy=policy, known_hosts_files=known_files, writer=self._writer
        )
        client_keys = [*([str(Path(identity_file).expanduser())] if identity_file else [])]
        client_keys += self._client_keys
        options: dict[str, Any] = {
            # Explicit callable: never None (which would disable checking),
            # never taken from the ssh config.
            "known_hosts": verifier.known_hosts,
            "client_factory": lambda: _VerifyingClient(verifier),
            "config": [str(self._ssh_config)] if self._ssh_config else None,
            "connect_timeout": timeout,
            "login_timeout": timeout,
            # asyncssh's default is no keepalive: a frozen host would hang forever.
            "keepalive_interval": self._keepalive_interval,
            "keepalive_count_max": self._keepalive_count_max,
        }
        # Port 22 and no user are left unset so an ssh config alias can supply them.
        if port != 22:
            options["port"] = port
        if user is not None:
            options["username"] = user
        if client_keys:
            options["client_keys"] = client_keys
        if not self._use_agent:
            options["agent_path"] = None
        # Always explicit: left unset, asyncssh would open a config ProxyJump
        # itself, with the config's known_hosts settings instead of ours.
        options["tunnel"] = tunnel
        try:
            return await asyncssh.connect(address, **options)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise _transport_error(exc, label, verifier, self._own_known_hosts) from None


def _transport_error(
    exc: Exception, label: str, verifier: _HostKeyVerifier, own_known_hosts: Path
) -> TransportError:
    """Map an asyncssh/OS failure to a TransportError kind with a one-line message."""
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return _host_key_error(exc, label, verifier, own_known_hosts)
    on_file = [entry for entry in verifier.matched if entry.marker is None]
    if isinstance(exc, asyncssh.KeyExchangeFailed) and on_file and verifier.offered_key is None:
        # asyncssh only negotiates the key types on file for a known host, so
        # a host that now has only another type fails key exchange: that is
        # a changed key, not a generic error.
        types = ", ".join(sorted({entry.key_type for entry in on_file}))
        return TransportError(
            "hostkey-changed",
            f"{label}: HOST KEY CHANGED for {verifier.name}: server offers no {types} key "
            f"as recorded at {on_file[0].location}; refusing to connect. "
            "If the change is expected, remove that line.",
        )
    if isinstance(exc, asyncssh.PermissionDenied):
        return TransportError("auth", f"{label}: authentication failed: {_one_line(exc)}")
    if isinstance(exc, asyncssh.DisconnectError):  # ConnectionLost included
        return TransportError("disconnected", f"{label}: connection closed: {_one_line(exc)}")
    if isinstance(exc, asyncssh.ChannelOpenError):
        # A jump host could not open the tunnel to the next hop.
        return TransportError(
            "unreachable", f"{label}: unreachable via jump host: {_one_line(exc)}"
        )
    if isinstance(exc, asyncssh.KeyImportError):
        return TransportError("auth", f"{label}: cannot load client key: {_one_line(exc)}")
    if isinstance(exc, asyncssh.Error):
        return TransportError("error", f"{label}: SSH error: {_one_line(exc)}")
    # TimeoutError is an OSError subclass: test it first.
    if isinstance(exc, TimeoutError):
        return TransportError("timeout", f"{label}: timed out connecting or logging in")
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
        return TransportError("unreachable", f"{label}: unreachable: {_one_line(reason)}")
    return TransportError("error", f"{label}: {type(exc).__name__}: {_one_line(exc)}")


def _host_key_error(
    exc: Exception, label: str, verifier: _HostKeyVerifier, own_known_hosts: Path
) -> TransportError:
    key = verifier.offered_key
    fingerprint = f"{key.get_algorithm()} {key.get_fingerprint()}" if key else "unknown key"
    if verifier.decision == "changed" and verifier.conflict is not None:
        return TransportError(
            "hostkey-changed",
            f"{label}: HOST KEY CHANGED for {verifier.name}: server offers {fingerprint}, "
            f"but {verifier.conflict.location} holds a different key; refusing to connect "
            "(possible man-in-the-middle). If the change is expected, remove that line.",
        )
    if verifier.decision == "unknown":
        return TransportError(
            "hostkey-unknown",
            f"{label}: unknown host key for {verifier.name} ({fingerprint}); verify it and add it "
            f"to {own_known_hosts} or ~/.ssh/known_hosts (ssh-keyscan), "
            "or set host_key_policy: accept-new for this host.",
        )
    reason = _one_line(exc)
    if "revoked" in reason.lower():
        return TransportError(
            "hostkey-changed", f"{label}: host key for {verifier.name} is revoked: {reason}"
        )
    return TransportError(
        "hostkey-unknown", f"{label}: host key for {verifier.name} not verifiable: {reason}"
    )
