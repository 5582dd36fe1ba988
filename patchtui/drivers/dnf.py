"""Drivers for rpm hosts managed by dnf (RHEL 8+, Rocky, Alma, Fedora) or yum (CentOS 7).

A scan is five short commands, each parsed by ``patchtui.drivers.parsers.dnf``:

1. refresh metadata (``dnf -q makecache --refresh`` / ``yum -q makecache fast``);
2. ``check-update`` (exit 100 = updates, 0 = none, anything else = error);
3. one ``rpm -q --qf`` for the installed versions of exactly those packages;
4. ``updateinfo list`` for advisories and severity, and again with CVE ids
   when there is any security advisory;
5. ``needs-restarting -r`` for the reboot flag: its text and exit status must agree.

Patching (commands only; the engine runs the install detached):

- everything: ``dnf -y upgrade`` / ``yum -y --setopt=exit_on_lock=1 update``;
- exact versions: ``dnf -y upgrade name-[epoch:]version-release ...``, the
  NEVR form ``dnf upgrade`` documents for "upgrade to the specified
  versions"; yum 3 uses ``update-to``, which (unlike ``update``) always
  installs the version given rather than the newest one;
- dry run: ``rpm -q`` for the installed versions, then the same command with
  ``--assumeno``. That prints the transaction table and exits 1 ("Operation
  aborted." / yum's "Exiting on user command"); a small sh wrapper turns that
  one outcome into exit 0, so a real error still fails the dry run;
- rollback: ``dnf -y downgrade name-evr`` / ``yum -y downgrade``. Not ``dnf
  history undo``: the engine passes the exact versions it recorded, which
  stays right when other transactions ran in between, and works on yum too.

The transaction output is not silenced (no ``-q``): the operator follows it
live and a failure's last lines explain it.

Every dnf and yum command that takes a lock carries ``--setopt=exit_on_lock``
(dnf 4 and 5 spell it ``True``, yum 3 ``1``). Without it dnf waits silently,
printing nothing, for as long as another process holds its metadata or rpmdb
lock, and only the SSH time limit would end the scan; with it dnf exits 200
at once (``metadata already locked by PID``), which the driver reports as
``locked``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from typing import ClassVar

from patchtui.drivers.base import (
    SEVERITIES,
    Driver,
    DriverError,
    PackageChange,
    PackageTarget,
    PendingUpdate,
    ScanResult,
    Selection,
    require_exact_versions,
)
from patchtui.drivers.metadata import read_metadata_age
from patchtui.drivers.parsers import dnf as parse
from patchtui.drivers.parsers.metadata import DNF_METADATA_COMMAND
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
_DNF_EXIT_ON_LOCK = "--setopt=exit_on_lock=True"
"""Exit 200 at once on a held lock instead of waiting (an option of dnf 4 and dnf 5)."""


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
    # LC_ALL=C: the verdict is read from needs-restarting's English text too.
    needs_restarting_command: ClassVar[str] = "LC_ALL=C needs-restarting -r"
    install_prefix: ClassVar[str]
    """The tool and its options for a real transaction (answers yes)."""
    dry_run_prefix: ClassVar[str]
    """The same for a dry run (answers no)."""
    upgrade_all_verb: ClassVar[str]
    upgrade_exact_verb: ClassVar[str]

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
            metadata_age_seconds=await read_metadata_age(session, DNF_METADATA_COMMAND, on_line),
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

    # Patching ---------------------------------------------------------------

    def apply_command(self, targets: Sequence[PackageTarget], selection: Selection) -> str:
        return f"{self.install_prefix} {self._upgrade_arguments(targets, selection)}"

    def dry_run_command(self, targets: Sequence[PackageTarget], selection: Selection) -> str:
        names = sorted({target.name for target in targets})
        command = f"{self.dry_run_prefix} {self._upgrade_arguments(targets, selection)}"
        return dry_run_wrapper(rpm_query_command(names), command)

    def _upgrade_arguments(self, targets: Sequence[PackageTarget], selection: Selection) -> str:
        if selection.is_everything:
            return self.upgrade_all_verb
        return f"{self.upgrade_exact_verb} {_specs(targets)}"

    def parse_dry_run(self, stdout: str) -> list[PackageChange]:
        return [
            PackageChange(change.name, change.before, change.after)
            for change in parse.parse_dry_run(stdout)
        ]

    def installed_versions_command(self, names: Sequence[str]) -> str:
        return rpm_query_command(sorted(set(names)))

    def parse_installed_versions(self, stdout: str) -> dict[str, str]:
        return parse.parse_rpm_query_names(stdout)

    def all_installed_command(self) -> str:
        return all_rpms_command()

    def downgrade_command(self, targets: Sequence[PackageTarget]) -> str:
        require_exact_versions(targets)
        return rollback_command(f"{self.install_prefix} downgrade {_specs(targets)}")

    def classify_failure(self, exit_status: int, log: Sequence[str]) -> tuple[str, str]:
        return parse.classify_failure(exit_status, list(log), lock_exit=LOCK_EXIT)


def _specs(targets: Sequence[PackageTarget]) -> str:
    """``name-[epoch:]version-release`` for each target (bare name for 'the newest')."""
    return " ".join(
        shlex.quote(f"{t.name}-{t.version}" if t.version is not None else t.name) for t in targets
    )


_DRY_RUN_TAIL = (
    " 2>&1); rc=$?; printf '%s\\n' \"$out\"; "
    "case \"$rc:$out\" in 1:*'Operation aborted'*|1:*'Exiting on user command'*) rc=0;; esac; "
    "exit $rc"
)
_DRY_RUN_RE = re.compile(
    r"^(?P<query>rpm -q .*?); out=\$\((?P<command>.*)" + re.escape(_DRY_RUN_TAIL) + "$"
)


def rollback_command(command: str) -> str:
    """``command`` after an echo of ``ROLLBACK_BANNER`` (see there why)."""
    return f"echo {shlex.quote(parse.ROLLBACK_BANNER)}; {command}"


def split_rollback(command: str) -> str | None:
    """The package-manager command of a ``rollback_command``; None for others."""
    prefix = f"echo {shlex.quote(parse.ROLLBACK_BANNER)}; "
    return command[len(prefix) :] if command.startswith(prefix) else None


def dry_run_wrapper(query: str, command: str) -> str:
    """``query``, then ``command`` with its "answered no" exit 1 made 0 (all output shown)."""
    return f"{query}; out=$({command}{_DRY_RUN_TAIL}"


def split_dry_run(command: str) -> tuple[str, str] | None:
    """(rpm query, dnf/yum command) of a ``dry_run_wrapper`` command; None for others."""
    match = _DRY_RUN_RE.match(command)
    return (match.group("query"), match.group("command")) if match else None


def is_locked(result: CommandResult) -> bool:
    return parse.is_lock_message(_output(result))


def all_rpms_command() -> str:
    """Every installed rpm, in ``rpm_query_command``'s format."""
    return f"rpm -qa --qf {shlex.quote(RPM_QUERY_FORMAT)}"


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
    refresh_command = f"dnf -q {_DNF_EXIT_ON_LOCK} makecache --refresh"
    check_update_command = f"dnf -q {_DNF_EXIT_ON_LOCK} check-update"
    updateinfo_command = f"dnf -q {_DNF_EXIT_ON_LOCK} updateinfo list --updates"
    updateinfo_cve_command = f"dnf -q {_DNF_EXIT_ON_LOCK} updateinfo list --updates --with-cve"
    install_prefix = f"dnf -y {_DNF_EXIT_ON_LOCK}"
    dry_run_prefix = f"dnf --assumeno {_DNF_EXIT_ON_LOCK}"
    upgrade_all_verb = "upgrade"
    upgrade_exact_verb = "upgrade"


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
    install_prefix = "yum -y --setopt=exit_on_lock=1"
    dry_run_prefix = "yum --assumeno --setopt=exit_on_lock=1"
    upgrade_all_verb = "update"
    upgrade_exact_verb = "update-to"
