"""Drivers for rpm hosts managed by dnf (RHEL 8+, Rocky, Alma, Fedora) or yum (CentOS 7).

A scan is five short commands, each parsed by ``patchtui.drivers.parsers.dnf``:

1. refresh metadata (``dnf -q makecache --refresh`` / ``yum -q makecache fast``);
2. ``check-update`` (exit 100 = updates, 0 = none, anything else = error);
3. one ``rpm -q --qf`` for the installed versions of exactly those packages;
4. ``updateinfo list`` for advisories and severity, and again with CVE ids
   when there is any security advisory;
5. ``needs-restarting -r`` for the reboot flag.
"""

from __future__ import annotations

import shlex
from typing import ClassVar

from patchtui.drivers.base import (
    SEVERITIES,
    Driver,
    DriverError,
    PendingUpdate,
    ScanResult,
)
from patchtui.drivers.parsers import dnf as parse
from patchtui.transport.base import CommandResult, LineCallback, RemoteSession

REFRESH_TIMEOUT = 900.0
QUERY_TIMEOUT = 600.0
SHORT_TIMEOUT = 120.0

# rpm prints the epoch only when there is one, the same way check-update does,
# so installed and candidate versions compare as text in the console.
RPM_QUERY_FORMAT = r"%{NAME}.%{ARCH} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\n"

CHECK_UPDATE_UPDATES = 100
LOCK_EXIT = 200
"""dnf and yum (with exit_on_lock) exit 200 when they cannot take the lock."""


def _output(result: CommandResult) -> str:
    return f"{result.stdout}\n{result.stderr}"


def _first_line(text: str, limit: int = 200) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:limit]
    return ""


class _RpmFamilyDriver(Driver):
    """Shared scan logic; subclasses say which tool and which spellings to use."""

    tool: ClassVar[str]
    refresh_command: ClassVar[str]
    check_update_command: ClassVar[str]
    updateinfo_command: ClassVar[str]
    updateinfo_cve_command: ClassVar[str]
    needs_restarting_command: ClassVar[str] = "needs-restarting -r"

    async def _run(
        self,
        session: RemoteSession,
        command: str,
        *,
        privileged: bool,
        on_line: LineCallback | None,
        timeout: float,
        lock_exit: int | None = LOCK_EXIT,
    ) -> CommandResult:
        result = await session.run(command, privileged=privileged, on_line=on_line, timeout=timeout)
        if result.exit_status is None:
            raise DriverError("unknown", f"connection lost during `{command}`")
        if result.exit_status == lock_exit or is_locked(result):
            raise DriverError(
                "locked",
                f"{self.tool} lock held by another process: "
                f"{_first_line(_output(result)) or f'exit {result.exit_status}'}",
            )
        return result

    async def scan(
        self,
        session: RemoteSession,
        *,
        refresh: bool = True,
        on_line: LineCallback | None = None,
    ) -> ScanResult:
        warnings: list[str] = []
        metadata_stale = False

        if refresh:
            refreshed = await self._run(
                session,
                self.refresh_command,
                privileged=True,
                on_line=on_line,
                timeout=REFRESH_TIMEOUT,
            )
            if refreshed.exit_status != 0:
                metadata_stale = True
                warnings.append(
                    f"metadata refresh failed (exit {refreshed.exit_status}): "
                    f"{_first_line(_output(refreshed))}"
                )

        checked = await self._run(
            session,
            self.check_update_command,
            privileged=True,
            on_line=on_line,
            timeout=QUERY_TIMEOUT,
        )
        if checked.exit_status not in (0, CHECK_UPDATE_UPDATES):
            raise DriverError(
                "failed",
                f"{self.tool} check-update failed (exit {checked.exit_status}): "
                f"{_first_line(_output(checked))}",
            )
        entries = parse.parse_check_update(checked.stdout)
        if checked.exit_status == CHECK_UPDATE_UPDATES and not entries:
            warnings.append(f"{self.tool} check-update reported updates but listed none")

        installed = await self._installed_versions(session, entries, on_line)
        advisories, security_supported = await self._advisories(session, entries, on_line, warnings)
        reboot_required = await self._reboot_required(session, on_line, warnings)

        pending = tuple(
            build_pending(entry, installed.get(entry.key), advisories.get(entry.key, []))
            for entry in entries
        )
        return ScanResult(
            pending=pending,
            reboot_required=reboot_required,
            security_supported=security_supported,
            metadata_stale=metadata_stale,
            warnings=tuple(warnings),
        )

    async def _installed_versions(
        self,
        session: RemoteSession,
        entries: list[parse.CheckUpdateEntry],
        on_line: LineCallback | None,
    ) -> dict[str, str]:
        if not entries:
            return {}
        names = sorted({entry.name for entry in entries})
        command = rpm_query_command(names)
        # rpm -q exits with the number of names that are not installed
        # (obsoleting packages are new names), so its exit status is no error,
        # not even 200.
        result = await self._run(
            session,
            command,
            privileged=False,
            on_line=on_line,
            timeout=SHORT_TIMEOUT,
            lock_exit=None,
        )
        return parse.parse_rpm_query(result.stdout)

    async def _advisories(
        self,
        session: RemoteSession,
        entries: list[parse.CheckUpdateEntry],
        on_line: LineCallback | None,
        warnings: list[str],
    ) -> tuple[dict[str, list[parse.UpdateinfoEntry]], bool]:
        """Advisories (and CVE rows) per name.arch, and whether the host classifies updates."""
        if not entries:
            return {}, True
        listed = await self._run(
            session,
            self.updateinfo_command,
            privileged=True,
            on_line=on_line,
            timeout=QUERY_TIMEOUT,
        )
        if listed.exit_status != 0:
            warnings.append(
                f"{self.tool} updateinfo failed (exit {listed.exit_status}); "
                f"security status unknown: {_first_line(_output(listed))}"
            )
            return {}, False
        rows = parse.parse_updateinfo_list(listed.stdout)
        if not rows:
            # CentOS 7 and CentOS Stream repositories publish no updateinfo:
            # no advisory says nothing about whether an update is a fix.
            warnings.append(
                "repositories publish no updateinfo (advisories): security status unknown"
            )
            return {}, False
        if any(row.kind == "security" for row in rows):
            cve_result = await self._run(
                session,
                self.updateinfo_cve_command,
                privileged=True,
                on_line=on_line,
                timeout=QUERY_TIMEOUT,
            )
            if cve_result.exit_status == 0:
                rows.extend(
                    row for row in parse.parse_updateinfo_list(cve_result.stdout) if row.is_cve
                )
            else:
                warnings.append(f"CVE list unavailable (exit {cve_result.exit_status})")
        by_package: dict[str, list[parse.UpdateinfoEntry]] = {}
        for row in rows:
            by_package.setdefault(f"{row.package.name}.{row.package.arch}", []).append(row)
        return by_package, True

    async def _reboot_required(
        self,
        session: RemoteSession,
        on_line: LineCallback | None,
        warnings: list[str],
    ) -> bool | None:
        result = await self._run(
            session,
            self.needs_restarting_command,
            privileged=True,
            on_line=on_line,
            timeout=SHORT_TIMEOUT,
        )
        assert result.exit_status is not None
        if result.exit_status == 127:
            warnings.append(
                "needs-restarting not installed (dnf-utils/yum-utils): reboot status unknown"
            )
            return None
        verdict = parse.needs_restarting_verdict(result.exit_status, _output(result))
        if verdict is None:
            warnings.append(
                f"needs-restarting -r gave no verdict (exit {result.exit_status}): "
                f"{_first_line(_output(result))}"
            )
        return verdict


def is_locked(result: CommandResult) -> bool:
    return parse.is_lock_message(_output(result))


def rpm_query_command(names: list[str]) -> str:
    """One ``rpm -q`` for every name: installed ``name.arch evr`` lines."""
    quoted = " ".join(shlex.quote(name) for name in names)
    return f"rpm -q --qf {shlex.quote(RPM_QUERY_FORMAT)} {quoted}"


def build_pending(
    entry: parse.CheckUpdateEntry,
    installed: str | None,
    rows: list[parse.UpdateinfoEntry],
) -> PendingUpdate:
    """Join a check-update row with its installed version and advisory rows."""
    security_rows = [row for row in rows if row.kind == "security"]
    advisories = tuple(dict.fromkeys(row.advisory for row in rows if not row.is_cve))
    cves = tuple(dict.fromkeys(row.advisory.upper() for row in rows if row.is_cve))
    severity: str | None = None
    if security_rows:
        # The most urgent advisory decides: SEVERITIES is ordered most urgent first.
        severity = min((row.severity or "unknown" for row in security_rows), key=SEVERITIES.index)
    return PendingUpdate(
        name=entry.name,
        installed=installed,
        candidate=entry.version,
        arch=entry.arch,
        repository=entry.repository,
        security=bool(security_rows),
        severity=severity,
        advisories=advisories,
        cves=cves,
    )


class DnfDriver(_RpmFamilyDriver):
    """dnf 4 (RHEL/Rocky/Alma 8 and 9, Fedora before 41) and dnf 5 where compatible."""

    family = "dnf"
    tool = "dnf"
    refresh_command = "dnf -q makecache --refresh"
    check_update_command = "dnf -q check-update"
    updateinfo_command = "dnf -q updateinfo list --updates"
    updateinfo_cve_command = "dnf -q updateinfo list --updates --with-cve"


class YumDriver(_RpmFamilyDriver):
    """yum 3 (CentOS/RHEL 7).

    ``exit_on_lock`` makes yum exit 200 at once instead of waiting forever for
    another yum to finish.
    """

    family = "yum"
    tool = "yum"
    refresh_command = "yum -q --setopt=exit_on_lock=1 makecache fast"
    check_update_command = "yum -q --setopt=exit_on_lock=1 check-update"
    updateinfo_command = "yum -q --setopt=exit_on_lock=1 updateinfo list updates"
    updateinfo_cve_command = "yum -q --setopt=exit_on_lock=1 updateinfo list cves"
