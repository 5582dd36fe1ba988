"""The apt driver (Debian, Ubuntu): refresh, simulate dist-upgrade, check the reboot flag."""

from __future__ import annotations

from typing import ClassVar

from patchtui.drivers.base import Driver, DriverError, ScanResult
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
REBOOT_CHECK_COMMAND = (
    "if [ -e /var/run/reboot-required ]; then"
    f" echo {parse.REBOOT_REQUIRED_MARK}; cat /var/run/reboot-required.pkgs 2>/dev/null;"
    f" else echo {parse.NO_REBOOT_REQUIRED_MARK}; fi"
)


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

        result = await session.run(
            REBOOT_CHECK_COMMAND, privileged=False, on_line=on_line, timeout=self.check_timeout
        )
        _require_outcome(result, "the reboot check")
        reboot_required, reboot_packages = parse.parse_reboot_check(result.stdout)
        if reboot_packages:
            warnings.append("reboot requested by: " + " ".join(reboot_packages))

        return ScanResult(
            pending=simulation.pending,
            reboot_required=reboot_required,
            security_supported=True,
            metadata_stale=stale,
            warnings=tuple(warnings),
        )
