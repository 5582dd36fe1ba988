"""Driver for zypper hosts (openSUSE Leap/Tumbleweed, SLES).

A scan runs, each parsed by ``patchtui.drivers.parsers.zypper``:

1. ``zypper --non-interactive --quiet refresh`` (a failing repository leaves
   the metadata stale, with a warning; the scan goes on);
2. ``zypper --non-interactive --no-refresh --xmlout list-updates``: name,
   arch, installed and candidate versions, repository;
3. ``zypper ... --xmlout list-patches --category security``: needed security
   patches with severity and CVE ids;
4. ``zypper ... info -t patch NAME...`` (one call for all of them): which
   packages each patch updates, from its Conflicts list;
5. ``zypper --non-interactive needs-rebooting`` (exit 102 = reboot needed).

Patching commands are described above ``informational_ok`` below.

``--no-refresh`` keeps the queries from refreshing again (or at all when the
caller asked for no refresh).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from patchtui.drivers.base import (
    SEVERITIES,
    Driver,
    DriverError,
    PackageChange,
    PackageTarget,
    PendingUpdate,
    ScanResult,
    Selection,
    pin_words,
    require_exact_versions,
)
from patchtui.drivers.dnf import all_rpms_command, rollback_command, rpm_query_command
from patchtui.drivers.metadata import read_metadata_age
from patchtui.drivers.parsers import zypper as parse
from patchtui.drivers.parsers.dnf import parse_rpm_query_names
from patchtui.drivers.parsers.metadata import ZYPPER_METADATA_COMMAND
from patchtui.transport.base import CommandResult, LineCallback, RemoteSession

REFRESH_TIMEOUT = 900.0
QUERY_TIMEOUT = 600.0
SHORT_TIMEOUT = 120.0

REFRESH_COMMAND = "zypper --non-interactive --quiet refresh"
LIST_UPDATES_COMMAND = "zypper --non-interactive --no-refresh --xmlout list-updates"
LIST_SECURITY_PATCHES_COMMAND = (
    "zypper --non-interactive --no-refresh --xmlout list-patches --category security"
)
NEEDS_REBOOTING_COMMAND = "zypper --non-interactive needs-rebooting"


def patch_info_command(patch_names: list[str]) -> str:
    quoted = " ".join(shlex.quote(name) for name in patch_names)
    return f"zypper --non-interactive --no-refresh info -t patch {quoted}"


def _output(result: CommandResult) -> str:
    return f"{result.stdout}\n{result.stderr}"


def _first_line(text: str, limit: int = 200) -> str:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("<"):
            return stripped[:limit]
    return ""


class ZypperDriver(Driver):
    family = "zypper"

    async def _run(
        self,
        session: RemoteSession,
        command: str,
        *,
        privileged: bool,
        on_line: LineCallback | None,
        timeout: float,
    ) -> CommandResult:
        result = await session.run(command, privileged=privileged, on_line=on_line, timeout=timeout)
        if result.exit_status is None:
            raise DriverError("unknown", f"connection lost during `{command}`")
        if result.exit_status == parse.EXIT_ZYPP_LOCKED or parse.is_lock_message(_output(result)):
            raise DriverError("locked", _lock_text(result))
        return result

    async def _query(
        self,
        session: RemoteSession,
        command: str,
        on_line: LineCallback | None,
        warnings: list[str],
    ) -> tuple[parse.ZypperStream, bool]:
        """Run an ``--xmlout`` query; return its stream and whether repositories were skipped."""
        result = await self._run(
            session, command, privileged=True, on_line=on_line, timeout=QUERY_TIMEOUT
        )
        status = result.exit_status
        assert status is not None
        try:
            stream = parse.parse_xml_stream(result.stdout)
        except ValueError as error:
            raise DriverError(
                "failed",
                f"`{command}` gave no zypper XML ({parse.exit_meaning(status)}): "
                f"{_first_line(_output(result)) or error}",
            ) from error
        errors = stream.texts("error")
        if status == parse.EXIT_INF_REPOS_SKIPPED or (status == 0 and errors):
            # zypper lists what it could read; updates in the skipped
            # repositories are missing from the list.
            warnings.append(
                f"some repositories were skipped ({parse.exit_meaning(status)}): "
                f"{_first_line(errors[0]) if errors else 'see zypper repos'}"
            )
            return stream, True
        if status not in parse.INFORMATIONAL_EXITS:
            detail = _first_line(errors[0]) if errors else _first_line(result.stderr)
            raise DriverError(
                "failed", f"`{command}` failed ({parse.exit_meaning(status)}): {detail}"
            )
        return stream, False

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
                REFRESH_COMMAND,
                privileged=True,
                on_line=on_line,
                timeout=REFRESH_TIMEOUT,
            )
            if refreshed.exit_status != 0:
                metadata_stale = True
                warnings.append(
                    f"metadata refresh failed ({parse.exit_meaning(refreshed.exit_status)}): "
                    f"{_first_line(_output(refreshed))}"
                )

        updates_stream, skipped = await self._query(
            session, LIST_UPDATES_COMMAND, on_line, warnings
        )
        metadata_stale = metadata_stale or skipped
        updates = updates_stream.updates

        patches: tuple[parse.ZypperPatch, ...] = ()
        packages_by_patch: dict[str, tuple[parse.PatchPackage, ...]] = {}
        if updates:
            patch_stream, skipped = await self._query(
                session, LIST_SECURITY_PATCHES_COMMAND, on_line, warnings
            )
            metadata_stale = metadata_stale or skipped
            patches = tuple(
                patch
                for patch in patch_stream.patches
                if patch.category == "security" and patch.status in (None, "needed")
            )
            if patches:
                packages_by_patch = await self._patch_packages(
                    session, [patch.name for patch in patches], on_line, warnings
                )

        reboot_required = await self._reboot_required(session, on_line, warnings)
        pending = tuple(build_pending(update, patches, packages_by_patch) for update in updates)
        return ScanResult(
            pending=pending,
            reboot_required=reboot_required,
            security_supported=True,
            metadata_stale=metadata_stale,
            metadata_age_seconds=await read_metadata_age(session, ZYPPER_METADATA_COMMAND, on_line),
            warnings=tuple(warnings),
        )

    async def _patch_packages(
        self,
        session: RemoteSession,
        patch_names: list[str],
        on_line: LineCallback | None,
        warnings: list[str],
    ) -> dict[str, tuple[parse.PatchPackage, ...]]:
        result = await self._run(
            session,
            patch_info_command(patch_names),
            privileged=True,
            on_line=on_line,
            timeout=QUERY_TIMEOUT,
        )
        mapping = parse.parse_patch_info(result.stdout)
        unmapped = [name for name in patch_names if not mapping.get(name)]
        if unmapped:
            warnings.append(
                f"could not tell which packages {len(unmapped)} security patch(es) update: "
                + ", ".join(unmapped[:5])
            )
        return mapping

    async def _reboot_required(
        self,
        session: RemoteSession,
        on_line: LineCallback | None,
        warnings: list[str],
    ) -> bool | None:
        result = await self._run(
            session,
            NEEDS_REBOOTING_COMMAND,
            privileged=False,
            on_line=on_line,
            timeout=SHORT_TIMEOUT,
        )
        assert result.exit_status is not None
        verdict = parse.needs_rebooting_verdict(result.exit_status)
        if verdict is None:
            # zypper before 1.14.? has no needs-rebooting command.
            warnings.append(
                f"zypper needs-rebooting unavailable ({parse.exit_meaning(result.exit_status)}):"
                " reboot status unknown"
            )
        return verdict

    # Patching (see the notes above informational_ok) ------------------------

    def apply_command(self, targets: Sequence[PackageTarget], selection: Selection) -> str:
        return informational_ok(f"{_INSTALL_PREFIX} {_upgrade_arguments(targets, selection)}")

    def dry_run_command(self, targets: Sequence[PackageTarget], selection: Selection) -> str:
        arguments = _upgrade_arguments(targets, selection)
        verb, _, rest = arguments.partition(" ")
        return informational_ok(f"{_DRY_RUN_PREFIX} {verb} --dry-run {rest}")

    def parse_dry_run(self, stdout: str) -> list[PackageChange]:
        changes = []
        for change in parse.parse_install_summary(stdout):
            if change.action == "remove":
                changes.append(PackageChange(change.name, change.edition, None))
            else:
                changes.append(PackageChange(change.name, change.edition_old, change.edition))
        return changes

    def installed_versions_command(self, names: Sequence[str]) -> str:
        # zypper prints editions the way rpm does (epoch only when not 0), so
        # rpm's answer compares exactly with list-updates' edition-old.
        return rpm_query_command(sorted(set(names)))

    def parse_installed_versions(self, stdout: str) -> dict[str, str]:
        return parse_rpm_query_names(stdout)

    def all_installed_command(self) -> str:
        return all_rpms_command()

    def downgrade_command(self, targets: Sequence[PackageTarget]) -> str:
        require_exact_versions(targets)
        command = f"{_INSTALL_PREFIX} install --oldpackage {_LICENSES} {pin_words(targets)}"
        return rollback_command(informational_ok(command))

    def classify_failure(self, exit_status: int, log: Sequence[str]) -> tuple[str, str]:
        return parse.classify_failure(exit_status, list(log))


def _lock_text(result: CommandResult) -> str:
    for line in _output(result).splitlines():
        if parse.is_lock_message(line):
            text = line.strip()
            start = text.lower().find("system management")
            return text[start:] if start >= 0 else text
    return f"zypp lock held by another process ({parse.exit_meaning(result.exit_status)})"


def build_pending(
    update: parse.ZypperUpdate,
    patches: tuple[parse.ZypperPatch, ...],
    packages_by_patch: dict[str, tuple[parse.PatchPackage, ...]],
) -> PendingUpdate:
    """Join a package update with the security patches whose Conflicts name it."""
    fixing = [
        patch
        for patch in patches
        if any(
            package.name == update.name and package.arch in (None, update.arch, "noarch")
            for package in packages_by_patch.get(patch.name, ())
        )
    ]
    severity: str | None = None
    if fixing:
        severity = min(
            (parse.normalise_zypper_severity(patch.severity) for patch in fixing),
            key=SEVERITIES.index,
        )
    return PendingUpdate(
        name=update.name,
        installed=update.edition_old,
        candidate=update.edition,
        arch=update.arch,
        repository=update.repository,
        security=bool(fixing),
        severity=severity,
        advisories=tuple(patch.name for patch in fixing),
        cves=tuple(dict.fromkeys(cve for patch in fixing for cve in patch.cves)),
    )


# Patching -------------------------------------------------------------------------
#
# Package-level installs, not ``zypper patch --category security``: the scan
# lists packages and the engine chooses packages at exact versions, while a
# patch pulls in whatever packages it names (and updates the package stack
# first, asking for a second run with exit 103). ``install name=version``
# installs exactly the edition the scan saw; ``--oldpackage`` lets the same
# command go back to an older one for a rollback. ``--no-refresh``: the scan
# refreshed just before; the install must not move to metadata the scan never
# saw. zypper exits 100-103 after a successful commit to say "a reboot or a
# zypper restart is advised"; the wrapper makes those 0 so that only real
# failures reach the engine (which learns about reboots from needs-rebooting).

_INSTALL_PREFIX = "zypper --non-interactive --no-refresh"
_DRY_RUN_PREFIX = "zypper --non-interactive --no-refresh --xmlout"
_LICENSES = "--auto-agree-with-licenses"
_INFORMATIONAL_TAIL = "; rc=$?; case $rc in 100|101|102|103) rc=0;; esac; exit $rc"


def informational_ok(command: str) -> str:
    """``command`` with zypper's informational exit codes (100-103) turned into 0."""
    return f"{command}{_INFORMATIONAL_TAIL}"


def split_informational(command: str) -> str | None:
    """The zypper command inside ``informational_ok``; None for other commands."""
    if command.endswith(_INFORMATIONAL_TAIL):
        return command[: -len(_INFORMATIONAL_TAIL)]
    return None


def _upgrade_arguments(targets: Sequence[PackageTarget], selection: Selection) -> str:
    if selection.is_everything:
        return f"update {_LICENSES}"
    return f"install {_LICENSES} {pin_words(targets)}"
