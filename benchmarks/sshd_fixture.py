"""A private OpenSSH sshd on 127.0.0.1 for benchmarks, stopped by the PID we started.

Everything lives in one directory: config, host key, a client key authorized
for root, a known_hosts line for strict checking, the daemon's log.
``MaxStartups``/``MaxSessions`` are raised so a benchmark's concurrency is
measured, not sshd's default throttle of 10 unauthenticated connections.
Needs root (to log in as root) and /usr/sbin/sshd.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def unavailable_reason() -> str | None:
    """None if a private sshd can run here, else why not."""
    if not SSHD.exists():
        return f"{SSHD} is not installed"
    if os.geteuid() != 0:
        return "the private sshd must run as root to log in as root"
    return None


@dataclass
class Sshd:
    directory: Path
    port: int
    process: subprocess.Popen[bytes]
    client_key: Path
    known_hosts: Path
    log_file: Path

    def stop(self) -> None:
        """SIGTERM the daemon we started (its children die with their connections)."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)


def _keygen(path: Path, comment: str) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path.with_name(path.name + ".pub").read_text().strip()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_sshd(directory: Path, *, max_startups: int = 1000) -> Sshd:
    """Start sshd -D on a free loopback port; raise RuntimeError if it does not come up."""
    directory.mkdir(parents=True, exist_ok=True)
    # sshd refuses to start without its privilege-separation directory.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    host_key = directory / "ssh_host_ed25519_key"
    host_public = _keygen(host_key, "patchtui-bench-host")
    client_key = directory / "client_ed25519"
    authorized = directory / "authorized_keys"
    authorized.write_text(_keygen(client_key, "patchtui-bench-client") + "\n")
    authorized.chmod(0o600)
    port = _free_port()
    config = directory / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"PidFile {directory / 'sshd.pid'}",
                f"AuthorizedKeysFile {authorized}",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",  # the tmp dir is under world-writable /tmp
                "PrintMotd no",
                "PrintLastLog no",
                "UseDNS no",
                # start:rate:full: never drop a connection below max_startups pending.
                f"MaxStartups {max_startups}:30:{max_startups}",
                "MaxSessions 100",
                "LogLevel ERROR",
            ]
        )
        + "\n"
    )
    log_file = directory / "sshd.log"
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    known_hosts = directory / "known_hosts"
    key_type, key_base64 = host_public.split()[:2]
    known_hosts.write_text(f"[127.0.0.1]:{port} {key_type} {key_base64}\n")
    server = Sshd(directory, port, process, client_key, known_hosts, log_file)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with socket.socket() as probe, contextlib.suppress(OSError):
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"sshd did not start: {log_file.read_text(errors='replace')[-1000:]}")
