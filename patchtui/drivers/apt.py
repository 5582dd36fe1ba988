"""The apt driver (Debian, Ubuntu): refresh, simulate dist-upgrade, check the reboot flag;
install exact versions non-interactively, query installed versions, roll back.

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
from typing import ClassVar

from patchtui.drivers.base import (
    Driver,
    DriverError,
    PackageChange,
    PackageTarget,
    ScanResult,
    Selection,
    check_package_name,
)
from patchtui.drivers.parsers import apt as parse
from patchtui.transport.base import CommandResult, LineCallback, RemoteSession

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

REBOOT_CHECK_COMMAND = (
    "if [ -e /var/run/reboot-required ]; then"
    f" echo {parse.REBOOT_REQUIRED_MARK}; cat /var/run/reboot-required.pkgs 2>/dev/null;"
    f" else echo {parse.NO_REBOOT_REQUIRED_MARK}; fi"
)


def _pin(target: PackageTarget) -> str:
    spec = target.name if target.version is None else f"{target.name}={target.version}"
    return shlex.quote(spec)


def _install_words(targets: Sequence[PackageTarget], selection: Selection) -> str:
    """The apt-get action: a whole-system upgrade, or exact versions of named packages."""
    if selection.is_everything:
        return "dist-upgrade" if selection.dist_upgrade else "upgrade"
    if not targets:
        raise DriverError("failed", "nothing to install")
    # --only-upgrade: a selected name that is somehow not installed is never
    # pulled in; name=version: exactly what the scan showed, never newer.
    return "install --only-upgrade " + " ".join(_pin(target) for target in targets)


def _combined(result: CommandResult) -> str:
    return f"{result.stdout}\n{result.stderr}"


def _require_outcome(result: CommandResult, what: str) -> int:
    if result.exit_status is None:
        raise DriverError("unknown", f"connection lost during {what}; its outcome is unknown")
    return result.exit_status


class AptDriver(Driver):
    """Scan Debian/Ubuntu hosts with apt-get.

    Severity is always None: Debian and Ubuntu publish no per-update severity
    in apt metadata. Security means "offered by a -security suite".
    """

    family: ClassVar[str] = "apt"
    update_timeout: ClassVar[float] = LOCK_WAIT_SECONDS + 600.0
    simulate_timeout: ClassVar[float] = 300.0
    check_timeout: ClassVar[float] = 30.0

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

        result = await session.run(
            REBOOT_CHECK_COMMAND, privileged=False, on_line=on_line, timeout=self.check_timeout
        )
        _require_outcome(result, "the reboot check")
        reboot_required, reboot_packages = parse.parse_reboot_check(result.stdout)
        if reboot_packages:
            warnings.append("reboot requested by: " + " ".join(reboot_packages))

        return ScanResult(
            pending=pending,
            reboot_required=reboot_required,
            security_supported=True,
            metadata_stale=stale,
            warnings=tuple(warnings),
        )

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

    def downgrade_command(self, targets: Sequence[PackageTarget]) -> str:
        if not targets or any(target.version is None for target in targets):
            raise DriverError("failed", "a rollback needs an exact version for every package")
        pins = " ".join(_pin(target) for target in targets)
        return f"{APT_GET_PREFIX} install --allow-downgrades {pins}"

    def classify_failure(self, exit_status: int, log: Sequence[str]) -> tuple[str, str]:
        return parse.classify_install_failure(exit_status, log)

    def repair_command(self) -> str | None:
        return REPAIR_COMMAND
