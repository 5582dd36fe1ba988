"""Per-family simulators: answer a driver's real commands in the tool's real output format.

Each module (apt, dnf, zypper, apk) exposes
``handle(host: SimHost, command: str) -> ShellResult | None`` returning None
for a command it does not know.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ShellResult:
    stdout: str = ""
    stderr: str = ""
    exit_status: int = 0
    drop_connection: bool = False
    """The lab server drops the SSH connection instead of answering (fault simulation)."""
