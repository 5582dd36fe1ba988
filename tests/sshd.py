"""A private OpenSSH sshd on 127.0.0.1 for the tests against real package managers (``real_apt``,
``real_dnf``, ``real_zypper``) and benchmarks/adhoc.py.

The daemon runs in the foreground (``-D``) with its own config, host key, authorized key and PID
file, all in a tmp directory, listening only on loopback at a free port. ``SetEnv`` in its config
(OpenSSH >= 8.7) gives every session the variables the caller names: ``APT_CONFIG`` pointing at
the real_apt tests' private APT config, so whatever command a client sends, apt on this machine
sees only the local test repository; a ``PATH`` whose first directory holds wrappers that point
dnf, rpm and zypper at a private root for the real_dnf/real_zypper tests.

It is stopped by the PID of the process this module started (SIGTERM, then SIGKILL after a
bound), never by name.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")
MIN_OPENSSH_FOR_SETENV = (8, 7)
_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 5.0
_KEYGEN_TIMEOUT_S = 30.0


class SshdError(RuntimeError):
    """The private sshd could not be configured or started."""


def openssh_version() -> tuple[int, int] | None:
    """(major, minor) of the installed sshd, from ``sshd -V`` (printed on stderr)."""
    if not SSHD.exists():
        return None
    result = subprocess.run(
        [str(SSHD), "-V"], capture_output=True, text=True, check=False, timeout=_KEYGEN_TIMEOUT_S
    )
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", result.stderr + result.stdout)
    return (int(match.group(1)), int(match.group(2))) if match else None


def free_loopback_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (sshd cannot be told to pick one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def generate_ed25519_key(path: Path, comment: str) -> str:
    """Write an unencrypted ed25519 key pair at ``path``(.pub); return the public line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=_KEYGEN_TIMEOUT_S,
    )
    return path.with_name(path.name + ".pub").read_text().strip()


@dataclass
class PrivateSshd:
    """One running private sshd; build it with :func:`start_sshd`."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes]
    client_key: Path
    """Private key the server accepts for root."""
    known_hosts: Path
    """``[127.0.0.1]:PORT ssh-ed25519 ...``: the server's host key, for strict checking."""
    log_file: Path
    """sshd's own ``-e`` log, for diagnosing a failed login."""

    address: str = "127.0.0.1"

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        """Stop the daemon we started, by PID; safe to call twice.

        Connection children first: sshd starts each one in a session of its own, so one still
        alive when the listener dies is re-parented to PID 1 and may linger there as a zombie.
        Stopped while the listener lives, they are reaped by it. Then SIGTERM the listener and
        SIGKILL it after a bound.
        """
        if self.process.poll() is not None:
            return
        children = _child_pids(self.process.pid)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        while children and time.monotonic() < deadline:
            children = [child for child in children if child in _child_pids(self.process.pid)]
            time.sleep(0.02)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=_STOP_TIMEOUT_S)


def _child_pids(parent: int) -> list[int]:
    """PIDs whose parent is ``parent``, from /proc (a zombie not yet reaped still counts)."""
    children: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The command name in parentheses may hold spaces: split after its closing ")".
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[1]) == parent:
                children.append(int(stat.parent.name))
    return children


@dataclass(frozen=True)
class Limits:
    """Connection limits and logging: the tests' defaults; a benchmark raises the limits
    so that its concurrency is measured, not sshd's throttle."""

    max_startups: str = "50:30:100"
    max_sessions: int | None = None
    log_level: str = "VERBOSE"


def _write_config(
    directory: Path,
    port: int,
    host_key: Path,
    authorized_keys: Path,
    env: dict[str, str],
    limits: Limits,
) -> Path:
    set_env = " ".join(f'"{name}={value}"' for name, value in env.items())
    lines = [
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {host_key}",
        f"PidFile {directory / 'sshd.pid'}",
        f"AuthorizedKeysFile {authorized_keys}",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        # The tmp dir sits under world-writable /tmp, which StrictModes would reject for the
        # authorized_keys path; the file itself is 0600 and this daemon is loopback-only.
        "StrictModes no",
        "PrintMotd no",
        "PrintLastLog no",
        "UseDNS no",
        "X11Forwarding no",
        "AllowTcpForwarding no",
        "PermitTunnel no",
        f"MaxStartups {limits.max_startups}",
        f"LogLevel {limits.log_level}",
        "Subsystem sftp internal-sftp",
    ]
    if limits.max_sessions is not None:
        lines.append(f"MaxSessions {limits.max_sessions}")
    if set_env:
        lines.append(f"SetEnv {set_env}")
    config = directory / "sshd_config"
    config.write_text("\n".join(lines) + "\n")
    config.chmod(0o600)
    return config


def _wait_until_accepting(process: subprocess.Popen[bytes], port: int) -> bool:
    """Poll the port until sshd accepts, the process dies, or the bound passes."""
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def start_sshd(
    directory: Path,
    env: dict[str, str],
    *,
    attempts: int = 3,
    limits: Limits = Limits(),  # frozen: one shared default is safe
) -> PrivateSshd:
    """Configure and start a private sshd in ``directory`` that sets ``env`` for each session.

    A free port can be taken by someone else between probing and sshd binding it, so a start
    that dies early is retried on a new port, a bounded number of times.
    """
    version = openssh_version()
    if version is None:
        raise SshdError(f"{SSHD} is missing or does not report its version")
    if env and version < MIN_OPENSSH_FOR_SETENV:
        raise SshdError(f"OpenSSH {version} is too old for SetEnv in sshd_config (needs 8.7)")
    directory.mkdir(parents=True, exist_ok=True)
    # sshd refuses to start without its privilege-separation directory; a machine where the
    # system service never ran has none. Same owner and mode as the package's tmpfiles entry.
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)

    host_key = directory / "ssh_host_ed25519_key"
    host_public = generate_ed25519_key(host_key, "patchtui-real-apt-host")
    client_key = directory / "client_ed25519"
    client_public = generate_ed25519_key(client_key, "patchtui-real-apt-client")
    authorized_keys = directory / "authorized_keys"
    authorized_keys.write_text(client_public + "\n")
    authorized_keys.chmod(0o600)
    key_type, key_base64 = host_public.split()[:2]
    log_file = directory / "sshd.log"

    last_log = ""
    for _ in range(attempts):
        port = free_loopback_port()
        config = _write_config(directory, port, host_key, authorized_keys, env, limits)
        # Validate the config first: a typo shows as a clear error instead of a dead daemon.
        check = subprocess.run(
            [str(SSHD), "-t", "-f", str(config)],
            capture_output=True,
            text=True,
            check=False,
            timeout=_KEYGEN_TIMEOUT_S,
        )
        if check.returncode != 0:
            raise SshdError(f"sshd -t rejected {config}: {check.stderr.strip()}")
        with log_file.open("ab") as log:
            process = subprocess.Popen(
                # Absolute path: sshd re-executes itself and refuses a relative argv[0].
                [str(SSHD), "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                # Own process group: a Ctrl-C aimed at pytest does not race our orderly stop.
                start_new_session=True,
            )
        server = PrivateSshd(
            directory=directory,
            port=port,
            process=process,
            client_key=client_key,
            known_hosts=directory / "known_hosts",
            log_file=log_file,
        )
        if _wait_until_accepting(process, port):
            server.known_hosts.write_text(f"[127.0.0.1]:{port} {key_type} {key_base64}\n")
            return server
        server.stop()
        last_log = server.log_tail()
    raise SshdError(f"sshd did not start after {attempts} attempts; log:\n{last_log}")


def sshd_available(*, setenv: bool = True) -> str | None:
    """None when a private sshd can run here, else the reason it cannot (for a skip).

    ``setenv``: sessions need ``SetEnv`` (the tests' APT_CONFIG or PATH); a benchmark does not.
    """
    if not SSHD.exists():
        return f"{SSHD} not installed (run .ci/setup-real-apt.sh)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen not installed"
    version = openssh_version()
    if version is None:
        return f"{SSHD} does not report its version"
    if setenv and version < MIN_OPENSSH_FOR_SETENV:
        return f"OpenSSH {version} lacks SetEnv in sshd_config (needs >= 8.7)"
    if os.geteuid() != 0:
        return "the private sshd must run as root to log in as root"
    return None
