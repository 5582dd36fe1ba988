"""The apk driver (Alpine): refresh indexes, simulate the upgrade, compare kernels."""

from __future__ import annotations

from typing import ClassVar

from patchtui.drivers.base import Driver, DriverError, ScanResult
from patchtui.drivers.parsers import apk as parse
from patchtui.transport.base import CommandResult, LineCallback, RemoteSession

UPDATE_COMMAND = "apk update"
# --simulate opens the database read-only, so it needs neither root nor the
# lock. --no-self-upgrade keeps the plan in one transaction: otherwise apk
# first plans only its own upgrade and would re-exec itself for the rest.
SIMULATE_COMMAND = "apk upgrade --simulate --no-self-upgrade"
KERNEL_CHECK_COMMAND = (
    "uname -r; apk -v info 2>/dev/null | grep -E '^linux-(lts|virt|edge|stable|rpi[0-9]*)-[0-9]'"
    " || true"
)


def _require_outcome(result: CommandResult, what: str) -> int:
    if result.exit_status is None:
        raise DriverError("unknown", f"connection lost during {what}; its outcome is unknown")
    return result.exit_status


class ApkDriver(Driver):
    """Scan Alpine hosts with apk.

    ``security_supported`` is False: apk has no security classification, so
    every pending update is reported with security=False and no severity.
    """

    family: ClassVar[str] = "apk"
    update_timeout: ClassVar[float] = 600.0
    simulate_timeout: ClassVar[float] = 300.0
    check_timeout: ClassVar[float] = 30.0

    async def scan(
        self,
        session: RemoteSession,
        *,
        refresh: bool = True,
        on_line: LineCallback | None = None,
    ) -> ScanResult:
        warnings: list[str] = [parse.NO_SECURITY_WARNING]
        stale = False
        if refresh:
            result = await session.run(
                UPDATE_COMMAND, privileged=True, on_line=on_line, timeout=self.update_timeout
            )
            status = _require_outcome(result, "apk update")
            output = f"{result.stdout}\n{result.stderr}"
            if lock := parse.find_lock_error(output):
                raise DriverError("locked", lock)
            outcome = parse.parse_update(output, status)
            if not outcome.ok:
                raise DriverError("failed", f"apk update failed: {outcome.error}")
            stale = outcome.stale
            warnings.extend(outcome.warnings)

        result = await session.run(
            SIMULATE_COMMAND, privileged=False, on_line=on_line, timeout=self.simulate_timeout
        )
        status = _require_outcome(result, "apk upgrade --simulate")
        if lock := parse.find_lock_error(f"{result.stdout}\n{result.stderr}"):
            raise DriverError("locked", lock)
        if status != 0:
            last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:]
            detail = last[0] if last else f"exit status {status}"
            raise DriverError("failed", f"apk upgrade --simulate failed: {detail}")
        simulation = parse.parse_simulation(result.stdout)
        if simulation.removals:
            warnings.append("upgrade would remove: " + " ".join(simulation.removals))
        if simulation.downgrades:
            warnings.append("upgrade would downgrade: " + " ".join(simulation.downgrades))

        result = await session.run(
            KERNEL_CHECK_COMMAND, privileged=False, on_line=on_line, timeout=self.check_timeout
        )
        _require_outcome(result, "the kernel check")
        return ScanResult(
            pending=simulation.pending,
            reboot_required=parse.parse_kernel_check(result.stdout),
            security_supported=False,
            metadata_stale=stale,
            warnings=tuple(warnings),
        )
