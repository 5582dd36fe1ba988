"""The apt driver (Debian, Ubuntu): refresh, simulate dist-upgrade, tell whether a reboot is
needed (flag file, needrestart, installed kernels), read the security updates' changelogs
for advisory and CVE ids; install exact versions non-interactively, query installed
versions, roll back.

Held packages (``apt-mark hold``) are never installed by patchtui: apt's
simulation already keeps them back (no ``Inst`` line, so they never become a
pending update), and the scan also drops any pending name that
``apt-mark showhold`` lists and says so in ``ScanResult.warnings``. The
engine builds its install list only from the scan's pending updates, so a
held package cannot reach ``apt-get install``.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from patchtui.drivers.base import (
    Driver,
    DriverError,
    PackageChange,
    PackageTarget,
    PendingUpdate,
    ScanResult,
    Selection,
    check_package_name,
    check_version,
    pin_words,
    require_exact_versions,
)
from patchtui.drivers.metadata import read_metadata_age
from patchtui.drivers.parsers import apt as parse
from patchtui.drivers.parsers import apt_reboot as reboot
from patchtui.drivers.parsers.metadata import APT_METADATA_COMMAND
from patchtui.transport.base import CommandResult, LineCallback, RemoteSession, TransportError

LOCK_WAIT_SECONDS = 60
"""How long apt-get waits for the dpkg lock before giving up (apt >= 1.9.11 honours it)."""

# LC_ALL=C: the parsers read apt's English messages. Error-Mode=any (apt >=
# 2.1.16) turns fetch warnings into a non-zero exit; older apt ignores an
# unknown -o option, and the parser reads the W: lines either way.
UPDATE_COMMAND = (
    f"LC_ALL=C apt-get update -q -o DPkg::Lock::Timeout={LOCK_WAIT_SECONDS}"
    " -o APT::Update::Error-Mode=any"
)
# Simulation needs no root and, with NoLocking, no lock: a scan can run while
# unattended-upgrades holds dpkg.
SIMULATE_COMMAND = "LC_ALL=C apt-get -s -q -o Debug::NoLocking=1 dist-upgrade"
HOLDS_COMMAND = "LC_ALL=C apt-mark showhold"

INSTALL_LOCK_WAIT_SECONDS = 120
"""An install waits this long for unattended-upgrades to release the dpkg lock."""

# Nothing may ever wait for an answer: no debconf questions (noninteractive),
# no needrestart menu (NEEDRESTART_MODE=a restarts services automatically),
# no conffile prompt (confdef takes the maintainer's default, else confold
# keeps the admin's file). LC_ALL=C keeps messages English for the classifier.
APT_GET_PREFIX = (
    "DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a LC_ALL=C apt-get -y -q"
    f" -o DPkg::Lock::Timeout={INSTALL_LOCK_WAIT_SECONDS}"
    " -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
)
# A simulation changes nothing and needs no lock: it can run beside a busy dpkg.
SIMULATE_FLAGS = "-s -o Debug::NoLocking=1"
INSTALLED_FORMAT = "${Package}\\t${Version}\\t${db:Status-Abbrev}\\n"
REPAIR_COMMAND = "DEBIAN_FRONTEND=noninteractive dpkg --configure -a"

_MARK = reboot.SECTION_MARK
# One command, five sections (parsed by parsers/apt_reboot.py). The flag file
# alone misses kernels on plain Debian (no update-notifier-common), so the
# running kernel is also compared with needrestart's view of /boot and with
# the installed linux-image packages. needrestart lives in /usr/sbin (not on
# a user's PATH on Debian); -k checks the kernel only, -r l never restarts.
# Privileged: Ubuntu's /boot images are readable by root only.
REBOOT_CHECK_COMMAND = (
    f"echo {_MARK} flag; if [ -e /var/run/reboot-required ]; then"
    f" echo {reboot.REBOOT_REQUIRED_MARK}; cat /var/run/reboot-required.pkgs 2>/dev/null;"
    f" else echo {reboot.NO_REBOOT_REQUIRED_MARK}; fi;"
    f" echo {_MARK} notifier; if [ -e /usr/share/update-notifier/notify-reboot-required ];"
    f" then echo {reboot.NOTIFIER_PRESENT}; fi;"
    f" echo {_MARK} uname; uname -r;"
    f" echo {_MARK} needrestart;"
    ' if nr=$(PATH="$PATH:/usr/sbin:/sbin" command -v needrestart); then'
    ' LC_ALL=C "$nr" -b -k -r l 2>/dev/null;'
    f' echo "{_MARK} {reboot.NEEDRESTART_EXIT} $?"; fi;'
    f" echo {_MARK} kernels;"
    f" dpkg-query -W -f={shlex.quote(INSTALLED_FORMAT)} 'linux-image-*' 2>/dev/null; true"
)

MAX_CHANGELOGS = 25
"""At most this many security updates get their changelog read per scan (the first ones)."""
CHANGELOG_MAX_LINES = 1000
"""Lines kept of each changelog: the newest entries come first, and a full history is huge."""

# One remote command for all packages, but one apt-get per package: an
# unknown version makes apt-get changelog refuse its whole command line, and
# one failed fetch must not hide the other changelogs. The exit marker goes
# through head too, so a cut-off (long, hence fetched) changelog has none.
# Unprivileged: apt-get changelog needs no root.
CHANGELOG_LOOP_BODY = (
    f'do echo "{parse.CHANGELOG_MARK} $spec";'
    f' {{ LC_ALL=C apt-get -q changelog "$spec" 2>&1; echo "{parse.CHANGELOG_EXIT_MARK} $?"; }}'
    f" | head -n {CHANGELOG_MAX_LINES}; done"
)


def changelog_command(updates: Sequence[PendingUpdate]) -> str:
    """Print the candidate's changelog of each update, each after a marker line."""
    specs = " ".join(
        shlex.quote(f"{check_package_name(update.name)}={check_version(update.candidate)}")
        for update in updates
    )
    return f"for spec in {specs}; {CHANGELOG_LOOP_BODY}"


def _install_words(targets: Sequence[PackageTarget], selection: Selection) -> str:
    """The apt-get action: a whole-system upgrade, or exact versions of named packages."""
    if selection.is_everything:
        return "dist-upgrade" if selection.dist_upgrade else "upgrade"
    if not targets:
        raise DriverError("failed", "nothing to install")
    # --only-upgrade: a selected name that is somehow not installed is never
    # pulled in; name=version: exactly what the scan showed, never newer.
    return "install --only-upgrade " + pin_words(targets)


def _combined(result: CommandResult) -> str:
    return f"{result.stdout}\n{result.stderr}"


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:200]


def _require_outcome(result: CommandResult, what: str) -> int:
    if result.exit_status is None:
        raise DriverError("unknown", f"connection lost during {what}; its outcome is unknown")
    return result.exit_status


class AptDriver(Driver):
    """Scan Debian/Ubuntu hosts with apt-get.

    Security means "offered by a -security suite". Debian and Ubuntu publish no
    per-update severity or advisory ids in apt metadata, so the scan reads the
    candidate's changelog of each security update (at most MAX_CHANGELOGS) and
    keeps the CVE, DSA/DLA and USN ids of the entries newer than the installed
    version. Severity stays None unless such an entry has urgency critical or
    emergency (Debian's urgency is a migration hint, not a CVSS rating).
    """

    family: ClassVar[str] = "apt"
    update_timeout: ClassVar[float] = LOCK_WAIT_SECONDS + 600.0
    simulate_timeout: ClassVar[float] = 300.0
    check_timeout: ClassVar[float] = 30.0
    changelog_timeout: ClassVar[float] = 180.0

    async def scan(
        self,
        session: RemoteSession,
        *,
        refresh: bool = True,
        on_line: LineCallback | None = None,
    ) -> ScanResult:
        warnings: list[str] = []
        stale = False
        if refresh:
            result = await session.run(
                UPDATE_COMMAND, privileged=True, on_line=on_line, timeout=self.update_timeout
            )
            status = _require_outcome(result, "apt-get update")
            output = _combined(result)
            if lock := parse.find_lock_error(output):
                raise DriverError("locked", lock)
            outcome = parse.parse_update(output, status)
            if not outcome.ok:
                raise DriverError("failed", f"apt-get update failed: {outcome.error}")
            stale = outcome.stale
            warnings.extend(outcome.warnings)

        result = await session.run(
            SIMULATE_COMMAND, privileged=False, on_line=on_line, timeout=self.simulate_timeout
        )
        status = _require_outcome(result, "apt-get -s dist-upgrade")
        if lock := parse.find_lock_error(_combined(result)):
            raise DriverError("locked", lock)
        if status != 0:
            last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:]
            detail = last[0] if last else f"exit status {status}"
            raise DriverError("failed", f"apt-get -s dist-upgrade failed: {detail}")
        simulation = parse.parse_simulation(result.stdout)
        if simulation.kept_back:
            warnings.append("kept back: " + " ".join(simulation.kept_back))
        if simulation.removals:
            warnings.append("dist-upgrade would remove: " + " ".join(simulation.removals))

        pending = simulation.pending
        result = await session.run(
            HOLDS_COMMAND, privileged=False, on_line=on_line, timeout=self.check_timeout
        )
        _require_outcome(result, "apt-mark showhold")
        held = parse.parse_held(result.stdout) if result.exit_status == 0 else ()
        if held:
            # apt keeps held packages back already; dropping them here as well
            # means an exact-version install can never name one (apt would
            # refuse the whole transaction with -y).
            pending = tuple(update for update in pending if update.name not in held)
            warnings.append("held (never installed by patchtui): " + " ".join(held))

        reboot_required = await self._reboot_required(session, on_line, warnings)
        pending = await self._add_changelog_ids(session, pending, warnings)
        return ScanResult(
            pending=pending,
            reboot_required=reboot_required,
            security_supported=True,
            metadata_stale=stale,
            metadata_age_seconds=await read_metadata_age(session, APT_METADATA_COMMAND, on_line),
            warnings=tuple(warnings),
        )

    async def _reboot_required(
        self, session: RemoteSession, on_line: LineCallback | None, warnings: list[str]
    ) -> bool | None:
        """The flag file, needrestart and the installed kernels; None when none can tell."""
        result = await session.run(
            REBOOT_CHECK_COMMAND, privileged=True, on_line=on_line, timeout=self.check_timeout
        )
        _require_outcome(result, "the reboot check")
        check = reboot.parse_reboot_check(result.stdout)
        verdict = check.reboot_required
        if verdict and check.reason:
            warnings.append(check.reason)
        elif verdict is None:
            if not check.complete:
                stderr = _first_line(result.stderr)
                detail = "the check was cut short" + (f": {stderr}" if stderr else "")
            else:
                detail = (
                    "no reboot flag mechanism, no needrestart verdict and no installed kernel"
                    f" package of the running kernel's flavour ({check.running})"
                )
            warnings.append(f"reboot status unknown: {detail}")
        return verdict

    async def _add_changelog_ids(
        self, session: RemoteSession, pending: tuple[PendingUpdate, ...], warnings: list[str]
    ) -> tuple[PendingUpdate, ...]:
        """Fill advisories/cves (and a critical severity) of security updates from changelogs.

        Never fails the scan: a host without network access to the changelog
        server (or a local repository without changelogs) gets one warning.
        The output is not streamed to ``on_line``: it can be thousands of lines.
        """
        security = [update for update in pending if update.security]
        if not security:
            return pending
        chosen = security[:MAX_CHANGELOGS]
        if len(security) > len(chosen):
            warnings.append(
                f"advisory ids read for {len(chosen)} of {len(security)} security updates"
                f" (at most {MAX_CHANGELOGS} changelogs per scan)"
            )
        try:
            result = await session.run(
                changelog_command(chosen), privileged=False, timeout=self.changelog_timeout
            )
        except TransportError as error:
            if error.kind != "timeout":
                raise
            warnings.append(
                f"changelogs not read (timed out after {self.changelog_timeout:.0f} s):"
                " no advisory/CVE ids for the security updates"
            )
            return pending
        if result.exit_status is None:
            warnings.append("changelogs not read (connection lost): no advisory/CVE ids")
            return pending
        sections = {
            (section.name, section.version): section
            for section in parse.parse_changelog_batch(result.stdout)
        }
        failed: list[parse.ChangelogSection] = []
        found: dict[str, PendingUpdate] = {}
        for update in chosen:
            section = sections.get((update.name, update.candidate))
            if section is None or section.failed:
                if section is not None:
                    failed.append(section)
                continue
            ids = parse.changelog_ids(parse.parse_changelog(section.text), update.installed)
            found[update.name] = replace(
                update,
                advisories=ids.advisories,
                cves=ids.cves,
                severity=ids.severity or update.severity,
            )
        if len(found) < len(chosen):
            detail = f": {failed[0].error}" if failed else ""
            warnings.append(
                f"changelog unavailable for {len(chosen) - len(found)} of {len(chosen)}"
                f" security updates, no advisory/CVE ids for them{detail}"
            )
        return tuple(found.get(update.name, update) for update in pending)

    # Patching -----------------------------------------------------------------

    def apply_command(self, targets: Sequence[PackageTarget], selection: Selection) -> str:
        return f"{APT_GET_PREFIX} {_install_words(targets, selection)}"

    def dry_run_command(self, targets: Sequence[PackageTarget], selection: Selection) -> str:
        return f"{APT_GET_PREFIX} {SIMULATE_FLAGS} {_install_words(targets, selection)}"

    def parse_dry_run(self, stdout: str) -> list[PackageChange]:
        return parse.parse_dry_run(stdout)

    def installed_versions_command(self, names: Sequence[str]) -> str:
        # Unknown names make dpkg-query exit 1 with a note on stderr; the known
        # ones are still printed, which is all the parser needs.
        quoted = " ".join(shlex.quote(check_package_name(name)) for name in names)
        return f"dpkg-query -W -f={shlex.quote(INSTALLED_FORMAT)} {quoted}"

    def parse_installed_versions(self, stdout: str) -> dict[str, str]:
        return parse.parse_installed_versions(stdout)

    def all_installed_command(self) -> str:
        return f"dpkg-query -W -f={shlex.quote(INSTALLED_FORMAT)}"

    def downgrade_command(self, targets: Sequence[PackageTarget]) -> str:
        require_exact_versions(targets)
        return f"{APT_GET_PREFIX} install --allow-downgrades {pin_words(targets)}"

    def classify_failure(self, exit_status: int, log: Sequence[str]) -> tuple[str, str]:
        return parse.classify_install_failure(exit_status, log)

    def repair_command(self) -> str | None:
        return REPAIR_COMMAND
