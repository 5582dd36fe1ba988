"""State of one simulated lab host: its OS, packages and what it has been through.

The lab server (``patchtui.lab.server``) keeps one ``SimHost`` per host and
the simulated shell (``patchtui.lab.shell``) reads and changes it when the
drivers' real commands arrive, answering in each tool's real output format.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SimVersion:
    """A version of a package that the host's repositories offer."""

    version: str
    repository: str
    security: bool = False
    severity: str | None = None
    """As the OS spells it: e.g. Important (dnf), important (zypper), None (apt/apk)."""
    advisory: str | None = None
    cves: tuple[str, ...] = ()
    needs_reboot: bool = False


@dataclass
class SimPackage:
    name: str
    arch: str
    installed: str
    available: list[SimVersion] = field(default_factory=list)
    """Versions on offer, oldest first; those newer than ``installed`` are pending."""

    def candidate(self) -> SimVersion | None:
        """The newest offered version if it differs from the installed one."""
        if not self.available:
            return None
        newest = self.available[-1]
        return None if newest.version == self.installed else newest


@dataclass
class SimJob:
    """A detached job (patchtui.transport.detached) running on a simulated host."""

    job_id: str
    command: str
    pid: int
    started_at: float
    finishes_at: float
    """When its status file appears; until then it is 'running'."""
    log: list[str] = field(default_factory=list)
    exit_status: int = 0


FAULTS: tuple[str, ...] = (
    "auth-refused",
    "no-answer",
    "slow",
    "dpkg-lock",
    "changed-hostkey",
    "install-fails",
    "drop-during-install",
    # The host's mirror stopped syncing: metadata weeks old, candidates older than its peers'.
    "stale-mirror",
)

ON_REQUEST_FAULTS: tuple[str, ...] = ("unhealthy-after-patch",)
"""Faults given only to hosts named for them (``patchtui lab --fault``), never by
``--faults some``: its draw (and so every seeded fleet) stays as it was."""


@dataclass
class SimHost:
    name: str
    address: str
    port: int
    family: str
    """apt, dnf, yum, zypper or apk."""
    os_id: str
    os_version: str
    pretty_name: str
    id_like: str
    version_codename: str
    kernel: str
    boot_id: str
    hostname: str
    booted_at: float
    packages: dict[str, SimPackage] = field(default_factory=dict)
    reboot_required: bool = False
    reboot_packages: list[str] = field(default_factory=list)
    update_notifier: bool = True
    """apt hosts: update-notifier-common keeps /run/reboot-required (Ubuntu; plain Debian not)."""
    needrestart: bool = False
    """apt hosts: needrestart is installed and answers ``needrestart -b``."""
    faults: set[str] = field(default_factory=set)
    metadata_refreshed: bool = False
    metadata_age_days: float = 0.25
    """How long ago the host's mirror last published (apt list mtimes, dnf/zypper cache)."""
    down_until: float = 0.0
    """While time.time() < down_until the host is 'rebooting' and refuses connections."""
    jobs: dict[str, SimJob] = field(default_factory=dict)
    next_pid: int = 4000
