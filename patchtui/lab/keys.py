"""SSH keys for the lab: deterministic host keys and the one client key it accepts.

Host keys are Ed25519 keys derived from the fleet seed and the host name, so a
lab restarted with the same seed presents the same keys (known_hosts written
earlier stay valid) and generating a thousand of them takes a fraction of a
second. They protect nothing: the lab only listens on loopback and its hosts
are simulations. The client key is random per lab run.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import asyncssh
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

HOST_KEY = "host"
"""Purpose of the key a host presents and that lab_known_hosts records."""
CHANGED_HOST_KEY = "changed"
"""Purpose of the key a 'changed-hostkey' host presents instead."""


def host_key(seed: int, host_name: str, purpose: str = HOST_KEY) -> asyncssh.SSHKey:
    """The Ed25519 key of ``host_name`` in a lab built from ``seed``."""
    secret = hashlib.sha256(f"patchtui-lab:{seed}:{host_name}:{purpose}".encode()).digest()
    private = Ed25519PrivateKey.from_private_bytes(secret)
    # asyncssh has no public constructor from raw key bytes; an OpenSSH-format
    # export and import is the documented path and costs ~50 µs per key.
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    return asyncssh.import_private_key(pem)


def generate_client_key() -> asyncssh.SSHKey:
    key = asyncssh.generate_private_key("ssh-ed25519", comment="patchtui-lab-client")
    return key


def write_private_key(key: asyncssh.SSHKey, path: Path) -> None:
    """Write ``key`` in OpenSSH format, readable by its owner only, plus ``path.pub``."""
    data = key.export_private_key("openssh")
    # Create with 0600 from the start: a chmod after writing leaves a window, and
    # OpenSSH-style clients refuse private keys that others can read.
    if path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    key.write_public_key(str(path) + ".pub")


def known_hosts_line(address: str, port: int, key: asyncssh.SSHKey) -> str:
    """One OpenSSH known_hosts line: ``[addr]:port`` unless the port is 22."""
    pattern = address if port == 22 else f"[{address}]:{port}"
    public = key.export_public_key("openssh").decode().split()
    return f"{pattern} {public[0]} {public[1]}"
