"""A small real asyncssh server for transport tests (in the spirit of asyncssh's tests/server.py).

It listens on 127.0.0.1, port 0, with a freshly generated host key and one
authorized client key, and answers a handful of commands:

==========================  ====================================================
``echo WORDS...``           prints the words
``lines N``                 N lines on stdout and N on stderr, interleaved
``slow N SECONDS``          N lines on stdout, pausing between them
``sleep SECONDS``           sleeps, prints nothing
``busy SECONDS``            sleeps while counting concurrent ``busy`` commands
``exit N``                  prints to stderr, exits N
``cat``                     echoes stdin until EOF
``partial``                 prints a last line without a newline
``badutf8``                 prints bytes that are not valid UTF-8
``drop``                    prints a line, then aborts the whole connection
``whoami``                  prints the login user
``freeze``                  prints a line, then stops reading from the client
``flood [WIDTH]``           lines of WIDTH characters (default 100) until the client goes
                            away, like ``yes`` (at most ``FLOOD_LIMIT`` seconds)
==========================  ====================================================

``sudo -n -u USER -- sh -c CMD`` is unwrapped (and recorded as received), so
tests can see what the client actually sent. ``sudo -S -p PROMPT -u USER -- sh
-c CMD`` behaves like sudo with a password: it prints PROMPT on stderr, reads
one line of stdin and compares it with ``SshTestServer.sudo_password``.
Anything else exits 127.
"""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
from asyncssh.connection import SSHConnection

LOOPBACK = "127.0.0.1"
FLOOD_LIMIT = 120.0


@dataclass(frozen=True)
class KeyFiles:
    """A private key on disk and its public half in OpenSSH text form."""

    private_path: Path
    public_line: str
    """``type base64`` (no comment)."""

    @classmethod
    def generate(cls, directory: Path, name: str) -> KeyFiles:
        key = asyncssh.generate_private_key("ssh-ed25519")
        private_path = directory / name
        key.write_private_key(str(private_path))
        private_path.chmod(0o600)
        public_line = " ".join(key.export_public_key("openssh").decode().split()[:2])
        (directory / f"{name}.pub").write_text(public_line + "\n")
        return cls(private_path=private_path, public_line=public_line)


@dataclass
class ServerStats:
    """What the server saw; tests assert on it."""

    commands: list[tuple[str, str]] = field(default_factory=list)
    """(login user, command exactly as received)."""
    connections: int = 0
    forwarded: list[tuple[str, int]] = field(default_factory=list)
    """direct-tcpip destinations this server opened (it acting as a jump host)."""
    busy_now: int = 0
    busy_max: int = 0


class _Server(asyncssh.SSHServer):
    def __init__(self, stats: ServerStats) -> None:
        self._stats = stats

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._stats.connections += 1

    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> bool:
        # Forward for jump-host tests, but never off the loopback.
        if dest_host not in (LOOPBACK, "localhost"):
            return False
        self._stats.forwarded.append((dest_host, dest_port))
        return True


class SshTestServer:
    """Start with ``await SshTestServer.start(tmp_path)``; stop with ``await server.stop()``."""

    def __init__(self, directory: Path, host_key: asyncssh.SSHKey, client_public_line: str):
        self.directory = directory
        self.host_key = host_key
        self.client_public_line = client_public_line
        self.stats = ServerStats()
        self.port = 0
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._frozen: list[SSHConnection] = []
        self.sudo_password = "correct horse"

    @classmethod
    async def start(
        cls,
        directory: Path,
        client_key: KeyFiles,
        host_key: asyncssh.SSHKey | None = None,
    ) -> SshTestServer:
        directory.mkdir(parents=True, exist_ok=True)
        server = cls(
            directory,
            host_key or asyncssh.generate_private_key("ssh-ed25519"),
            client_key.public_line,
        )
        authorized = directory / "authorized_keys"
        authorized.write_text(client_key.public_line + "\n")
        stats = server.stats
        server._acceptor = await asyncssh.create_server(
            lambda: _Server(stats),
            LOOPBACK,
            0,
            server_host_keys=[server.host_key],
            authorized_client_keys=str(authorized),
            process_factory=server._handle,
            encoding=None,
            allow_scp=False,
        )
        server.port = server._acceptor.sockets[0].getsockname()[1]
        return server

    @property
    def host_key_base64(self) -> str:
        return self.host_key.export_public_key("openssh").decode().split()[1]

    def known_hosts_line(self, name: str = LOOPBACK) -> str:
        """This server's entry as OpenSSH writes it for a non-default port."""
        key_type = self.host_key.get_algorithm()
        return f"[{name}]:{self.port} {key_type} {self.host_key_base64}"

    async def stop(self) -> None:
        for conn in self._frozen:
            conn.abort()
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
            self._acceptor = None

    async def _handle(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        user = process.get_extra_info("username") or ""
        command = process.command or ""
        self.stats.commands.append((user, command))
        try:
            prompt = _sudo_password_prompt(command)
            if prompt is not None:
                process.stderr.write(prompt.encode())
                given = (await process.stdin.readline()).decode().rstrip("\n")
                if given != self.sudo_password:
                    process.stderr.write(b"Sorry, try again.\nsudo: 1 incorrect password attempt\n")
                    process.exit(1)
                    return
            status = await self._dispatch(process, user, _unwrap_sudo(command))
        except (asyncssh.Error, OSError, BrokenPipeError):
            return
        if status is not None:
            process.exit(status)

    async def _dispatch(
        self, process: asyncssh.SSHServerProcess[bytes], user: str, command: str
    ) -> int | None:
        out, err = process.stdout, process.stderr
        words = shlex.split(command)
        name, args = (words[0], words[1:]) if words else ("", [])
        if name == "echo":
            out.write((" ".join(args) + "\n").encode())
        elif name == "whoami":
            out.write(f"{user}\n".encode())
        elif name == "lines":
            for number in range(int(args[0])):
                out.write(f"out {number}\n".encode())
                err.write(f"err {number}\n".encode())
                await out.drain()
        elif name == "slow":
            for number in range(int(args[0])):
                out.write(f"tick {number}\n".encode())
                await out.drain()
                await asyncio.sleep(float(args[1]))
        elif name == "flood":
            # `yes` with longer lines: prints until the client goes away (or
            # FLOOD_LIMIT seconds, so a test that forgets to stop it still ends).
            width = int(args[0]) if args else 100
            chunk = (("y" * (width - 1) + "\n") * max(1, 65536 // width)).encode()
            ends = asyncio.get_running_loop().time() + FLOOD_LIMIT
            while asyncio.get_running_loop().time() < ends:
                out.write(chunk)
                await out.drain()
        elif name == "sleep":
            await asyncio.sleep(float(args[0]))
        elif name == "busy":
            self.stats.busy_now += 1
            self.stats.busy_max = max(self.stats.busy_max, self.stats.busy_now)
            try:
                await asyncio.sleep(float(args[0]))
            finally:
                self.stats.busy_now -= 1
        elif name == "exit":
            err.write(f"exiting with {args[0]}\n".encode())
            return int(args[0])
        elif name == "cat":
            data = await process.stdin.read()
            out.write(data)
        elif name == "partial":
            out.write(b"first\nno newline at end")
        elif name == "badutf8":
            out.write(b"caf\xc3\xa9 \xff\xfe end\n")
        elif name == "freeze":
            out.write(b"frozen\n")
            await out.drain()
            conn = process.channel.get_connection()
            self._frozen.append(conn)
            # A hung host: the socket stays open but nothing is read or
            # answered, keepalives included. asyncssh has no public handle
            # for this, hence the private transport.
            transport = conn._transport
            assert transport is not None
            transport.pause_reading()
            await asyncio.sleep(3600)
        elif name == "drop":
            out.write(b"before drop\n")
            await out.drain()
            await asyncio.sleep(0.05)
            # No exit status, no channel close: the connection just dies.
            process.channel.get_connection().abort()
            return None
        else:
            err.write(f"unknown command: {command}\n".encode())
            return 127
        return 0


def _unwrap_sudo(command: str) -> str:
    """``sudo -n -u USER -- sh -c CMD`` -> CMD; anything else unchanged."""
    try:
        words = shlex.split(command)
    except ValueError:
        return command
    if len(words) == 8 and words[:3] == ["sudo", "-n", "-u"] and words[4:7] == ["--", "sh", "-c"]:
        return words[7]
    if len(words) == 10 and words[:2] == ["sudo", "-S"] and words[6:9] == ["--", "sh", "-c"]:
        return words[9]
    return command


def _sudo_password_prompt(command: str) -> str | None:
    """The -p prompt of a ``sudo -S -p PROMPT ...`` command, else None."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if len(words) == 10 and words[:3] == ["sudo", "-S", "-p"]:
        return words[3]
    return None


class SilentServer:
    """Accepts TCP connections and never sends an SSH banner (a frozen host)."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> SilentServer:
        async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.append(writer)

        self._server = await asyncio.start_server(hold, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
