"""The apk driver (Alpine): refresh indexes, simulate the upgrade, compare kernels;
install exact versions, query installed versions, roll back.

``apk add name=version`` records the constraint in /etc/apk/world, which
would pin the package there for good (later upgrades skip it) and turn a
mere dependency into an explicit package. So pinned installs save the world
file first and put it back afterwards, whatever the outcome: the installed
versions satisfy the unpinned world, and nothing is pinned behind the
operator's back. ``--no-interactive`` needs apk-tools >= 2.12 (Alpine 3.12).
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
    pin_words,
    require_exact_versions,
)
from patchtui.drivers.parsers import apk as parse
from patchtui.transport.base import CommandResult, LineCallback, RemoteSession

UPDATE_COMMAND = "apk update"
# --simulate opens the database read-only, so it needs neither root nor the
# lock. --no-self-upgrade keeps the plan in one transaction: otherwise apk
# first plans only its own upgrade and would re-exec itself for the rest.
SIMULATE_COMMAND = "apk upgrade --simulate --no-self-upgrade"
LOCK_WAIT_SECONDS = 120
"""apk --wait: how long an install waits for another apk to release the database lock."""
APK_PREFIX = f"apk --no-interactive --wait {LOCK_WAIT_SECONDS}"
WORLD_FILE = "/etc/apk/world"
SAVED_WORLD_FILE = "/var/tmp/patchtui/apk-world.saved"
# If the copy fails, stop: restoring a stale saved copy later would be worse.
WORLD_SAVE = f"cp -p {WORLD_FILE} {SAVED_WORLD_FILE} || exit 1; "
WORLD_RESTORE = f"; status=$?; cp -p {SAVED_WORLD_FILE} {WORLD_FILE}; exit $status"

KERNEL_CHECK_COMMAND = (
    "uname -r; apk -v info 2>/dev/null | grep -E '^linux-(lts|virt|edge|stable|rpi[0-9]*)-[0-9]'"
    " || true"
)


def preserving_world(command: str) -> str:
    """Run ``command`` (an ``apk add`` with pins) and put /etc/apk/world back afterwards."""
    return f"{WORLD_SAVE}{command}{WORLD_RESTORE}"


def unwrap_preserving_world(command: str) -> str | None:
    """The ``apk add`` inside a ``preserving_world`` wrapper, or None if it is not one."""
    if command.startswith(WORLD_SAVE) and command.endswith(WORLD_RESTORE):
        return command[len(WORLD_SAVE) : -len(WORLD_RESTORE)]
    return None


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

    # Patching -----------------------------------------------------------------

    def apply_command(self, targets: Sequence[PackageTarget], selection: Selection) -> str:
        if selection.is_everything:
            return f"{APK_PREFIX} upgrade"
        if not targets:
            raise DriverError("failed", "nothing to install")
        return preserving_world(f"{APK_PREFIX} add --upgrade {pin_words(targets)}")

    def dry_run_command(self, targets: Sequence[PackageTarget], selection: Selection) -> str:
        # --simulate opens the database read-only and writes no world file.
        if selection.is_everything:
            return "apk upgrade --simulate"
        if not targets:
            raise DriverError("failed", "nothing to install")
        return f"apk add --upgrade --simulate {pin_words(targets)}"

    def parse_dry_run(self, stdout: str) -> list[PackageChange]:
        return parse.parse_dry_run(stdout)

    def installed_versions_command(self, names: Sequence[str]) -> str:
        quoted = " ".join(shlex.quote(check_package_name(name)) for name in names)
        return f"apk list -I {quoted}"

    def parse_installed_versions(self, stdout: str) -> dict[str, str]:
        return parse.parse_installed_list(stdout)

    def all_installed_command(self) -> str:
        return "apk list -I"

    def downgrade_command(self, targets: Sequence[PackageTarget]) -> str:
        require_exact_versions(targets)
        return preserving_world(f"{APK_PREFIX} add {pin_words(targets)}")

    def classify_failure(self, exit_status: int, log: Sequence[str]) -> tuple[str, str]:
        return parse.classify_install_failure(exit_status, log)
