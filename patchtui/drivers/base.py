"""The interface every package-manager driver implements, and its result types.

Drivers build commands and hand their output to pure parsers
(``patchtui.drivers.parsers``); they never touch sockets themselves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from patchtui.transport.base import LineCallback, RemoteSession

SEVERITIES: tuple[str, ...] = ("critical", "important", "moderate", "low", "unknown")
"""Normalised severities, most urgent first (apt/Ubuntu 'high' -> important, etc.)."""


@dataclass(frozen=True)
class Facts:
    """What a host is, from /etc/os-release, uname and /proc."""

    os_id: str
    os_version: str
    os_name: str
    os_like: tuple[str, ...]
    kernel: str
    uptime_seconds: float | None
    boot_id: str | None
    hostname: str | None
    package_manager: str | None
    """Detected family: apt, dnf, yum, zypper or apk (None if none found)."""


@dataclass(frozen=True)
class PendingUpdate:
    name: str
    installed: str | None
    candidate: str
    arch: str | None = None
    repository: str | None = None
    security: bool = False
    severity: str | None = None
    """One of SEVERITIES, or None where the OS gives no severity."""
    advisories: tuple[str, ...] = ()
    cves: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScanResult:
    pending: tuple[PendingUpdate, ...]
    reboot_required: bool | None
    """None: the host gives no way to tell."""
    security_supported: bool = True
    """False where the OS does not classify updates (apk): 'security' counts mean nothing."""
    metadata_stale: bool = False
    """Refreshing package metadata failed or warned: the pending list may be old."""
    warnings: tuple[str, ...] = field(default=())

    @property
    def security_count(self) -> int:
        return sum(1 for update in self.pending if update.security)


class DriverError(Exception):
    """A package-manager command failed in a way the driver recognises.

    ``kind``: ``locked`` (package manager lock held), ``failed``,
    ``unknown`` (connection lost mid-command), ``unsupported``.
    """

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        self.message = message
        super().__init__(message)


class Driver(ABC):
    """One package-manager family (apt, dnf, yum, zypper, apk)."""

    family: ClassVar[str]

    @abstractmethod
    async def scan(
        self,
        session: RemoteSession,
        *,
        refresh: bool = True,
        on_line: LineCallback | None = None,
    ) -> ScanResult:
        """Refresh metadata (unless ``refresh`` is False) and list pending updates."""
