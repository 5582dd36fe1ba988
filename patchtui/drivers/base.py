"""The interface every package-manager driver implements, and its result types.

Drivers build commands and hand their output to pure parsers
(``patchtui.drivers.parsers``); they never touch sockets themselves.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
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
    metadata_age_seconds: float | None = None
    """Age of the newest repository metadata file, on the host's clock (see
    ``parsers.metadata``); None where the host does not tell."""
    warnings: tuple[str, ...] = field(default=())

    @property
    def security_count(self) -> int:
        return sum(1 for update in self.pending if update.security)


_PACKAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._~-]{0,199}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+.:_~-]{0,199}$")


def check_package_name(name: str) -> str:
    """Package names reach a remote shell: accept only what can be a package name."""
    if not _PACKAGE_NAME.match(name):
        raise ValueError(f"not a package name: {name!r}")
    return name


def check_version(version: str) -> str:
    if not _VERSION.match(version):
        raise ValueError(f"not a package version: {version!r}")
    return version


@dataclass(frozen=True)
class PackageTarget:
    """A package to install: at ``version`` exactly, or the newest when None."""

    name: str
    version: str | None = None

    def __post_init__(self) -> None:
        check_package_name(self.name)
        if self.version is not None:
            check_version(self.version)


def pin_words(targets: Sequence[PackageTarget]) -> str:
    """Shell-quoted ``name=version`` words (a bare ``name`` means the newest): the pin
    syntax apt, apk and zypper share."""
    return " ".join(
        shlex.quote(t.name if t.version is None else f"{t.name}={t.version}") for t in targets
    )


def require_exact_versions(targets: Sequence[PackageTarget]) -> None:
    """A rollback restores recorded versions: refuse an empty or unpinned list."""
    if not targets or any(target.version is None for target in targets):
        raise DriverError("failed", "a rollback needs an exact version for every package")


@dataclass(frozen=True)
class PackageChange:
    name: str
    before: str | None
    """None: newly installed."""
    after: str | None
    """None: removed."""


@dataclass(frozen=True)
class Selection:
    """Which pending updates a patch run installs."""

    security_only: bool = False
    packages: tuple[str, ...] = ()
    """Only these names (globs allowed); empty = every pending update."""
    exclude: tuple[str, ...] = ()
    """Globs never installed (inventory holds are added here too)."""
    dist_upgrade: bool = False
    """apt: allow new dependencies and removals (dist-upgrade) instead of upgrade."""
    versions: Mapping[str, str] = field(default_factory=dict)
    """Exact versions to install (baselines, rollback); overrides the candidate."""
    min_severity: str | None = None
    """Only updates of at least this severity (one of SEVERITIES, not ``unknown``); an
    update whose severity is unknown is left out: nothing says it is that urgent."""

    @property
    def is_everything(self) -> bool:
        return not (self.security_only or self.packages or self.exclude or self.versions) and (
            self.min_severity is None
        )

    def choose(self, pending: Sequence[PendingUpdate]) -> tuple[list[PendingUpdate], list[str]]:
        """(updates to install, names left out by excludes) from a scan's pending list."""
        chosen: list[PendingUpdate] = []
        excluded: list[str] = []
        for update in pending:
            if self.security_only and not update.security:
                continue
            if self.min_severity is not None and not at_least(update.severity, self.min_severity):
                continue
            if self.packages and not any(
                fnmatch.fnmatchcase(update.name, pattern) for pattern in self.packages
            ):
                continue
            if any(fnmatch.fnmatchcase(update.name, pattern) for pattern in self.exclude):
                excluded.append(update.name)
                continue
            chosen.append(update)
        return chosen, excluded

    def targets(self, chosen: Sequence[PendingUpdate]) -> list[PackageTarget]:
        """Install exactly what the scan saw (or the pinned version), never a newer surprise."""
        return [
            PackageTarget(update.name, self.versions.get(update.name, update.candidate))
            for update in chosen
        ]


def at_least(severity: str | None, minimum: str) -> bool:
    """``severity`` is ``minimum`` or more urgent (unknown and None never are)."""
    if severity not in SEVERITIES or severity == "unknown":
        return False
    return SEVERITIES.index(severity) <= SEVERITIES.index(minimum)


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

    # Patching. Commands are built here (pure) and run by the engine, the
    # install itself detached on the host (see patchtui.transport.detached).

    def apply_command(self, targets: Sequence[PackageTarget], selection: Selection) -> str:
        """Non-interactive install of ``targets`` (exact versions where given)."""
        raise DriverError("unsupported", f"{self.family}: patching is not implemented yet")

    def dry_run_command(self, targets: Sequence[PackageTarget], selection: Selection) -> str:
        """What ``apply_command`` would change, changing nothing."""
        raise DriverError("unsupported", f"{self.family}: dry-run is not implemented yet")

    def parse_dry_run(self, stdout: str) -> list[PackageChange]:
        raise DriverError("unsupported", f"{self.family}: dry-run is not implemented yet")

    def installed_versions_command(self, names: Sequence[str]) -> str:
        """Print the installed version of each name (for before/after records)."""
        raise DriverError("unsupported", f"{self.family}: version query is not implemented yet")

    def parse_installed_versions(self, stdout: str) -> dict[str, str]:
        raise DriverError("unsupported", f"{self.family}: version query is not implemented yet")

    def all_installed_command(self) -> str | None:
        """Print every installed package, in ``parse_installed_versions``' format; None if
        the family cannot (then only targeted packages are in a run's change record)."""
        return None

    def downgrade_command(self, targets: Sequence[PackageTarget]) -> str:
        """Install the given older versions (rollback)."""
        raise DriverError("unsupported", f"{self.family}: rollback is not implemented yet")

    def classify_failure(self, exit_status: int, log: Sequence[str]) -> tuple[str, str]:
        """(kind, one-line message) for a failed install: locked, conffile,
        dpkg-interrupted, unavailable or failed."""
        last = next((line for line in reversed(log) if line.strip()), "")
        return "failed", f"exit status {exit_status}: {last.strip()}"[:300]

    def repair_command(self) -> str | None:
        """Command that repairs an interrupted transaction (apt: dpkg --configure -a)."""
        return None
