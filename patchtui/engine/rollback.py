"""Rollback: put back the package versions a patch run recorded before it changed them.

Same rollout machinery as a patch run (events, detached install, reconnect,
verification); only what each host installs differs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from patchtui.drivers.base import PackageChange, PackageTarget
from patchtui.drivers.registry import driver_for
from patchtui.engine.events import EventSink, HostScanned, HostState
from patchtui.engine.hostwork import Connector, host_facts
from patchtui.engine.patch import HostFailure, HostPatchOutcome, PatchJob, PatchOptions
from patchtui.inventory.model import Host
from patchtui.transport.base import RemoteSession

if TYPE_CHECKING:
    from patchtui.store.db import Store


def rollback_targets(
    changes: Sequence[Mapping[str, object]],
) -> tuple[list[PackageTarget], list[str]]:
    """(versions to restore, names that were newly installed and have nothing to restore)."""
    targets: list[PackageTarget] = []
    new_installs: list[str] = []
    for change in changes:
        name = str(change["name"])
        before = change.get("before")
        if before is None:
            new_installs.append(name)
        else:
            targets.append(PackageTarget(name, str(before)))
    return targets, new_installs


class RollbackJob(PatchJob):
    operation = "rollback"
    WORKING_STATE = HostState.ROLLING_BACK

    def __init__(
        self,
        hosts: Sequence[Host],
        *,
        source_run: str,
        changes_by_host: Mapping[str, Sequence[Mapping[str, object]]],
        connector: Connector,
        emit: EventSink,
        options: PatchOptions,
        store: Store | None = None,
    ) -> None:
        super().__init__(
            hosts,
            connector=connector,
            emit=emit,
            options=options,
            store=store,
            extra_options={"rollback_of": source_run},
        )
        self.source_run = source_run
        self.changes_by_host = changes_by_host

    async def patch_host(self, host: Host, holder: list[RemoteSession]) -> HostPatchOutcome:
        targets, new_installs = rollback_targets(self.changes_by_host.get(host.name, ()))
        if not targets:
            detail = "nothing to roll back"
            if new_installs:
                detail += f" (newly installed, left in place: {', '.join(new_installs)})"
            return HostPatchOutcome(host.name, "skipped", HostState.SKIPPED, error=detail)
        self.report_state(host.name, HostState.CONNECTING)
        session = await self._connect(host, holder)
        facts = await host_facts(host, session)
        family = facts.package_manager
        if family is None:
            raise HostFailure("failed", "unsupported", "no supported package manager found")
        driver = driver_for(family)
        wanted = {target.name: target.version for target in targets}
        result = await session.run(driver.installed_versions_command(sorted(wanted)))
        current = driver.parse_installed_versions(result.stdout)
        outcome = HostPatchOutcome(host.name, "ok", HostState.OK, before=dict(current.items()))
        to_restore = [t for t in targets if current.get(t.name) != t.version]
        if not to_restore:
            outcome.error = "already at the recorded versions"
            return outcome
        if self.options.dry_run:
            outcome.result = "planned"
            outcome.planned = [
                PackageChange(t.name, current.get(t.name), t.version) for t in to_restore
            ]
            return outcome
        self.report_state(host.name, self.WORKING_STATE, f"restoring {len(to_restore)} packages")
        outcome.before = {t.name: current.get(t.name) for t in to_restore}
        self._live[host.name] = outcome
        applied = await self._apply(
            host, session, holder, driver, driver.downgrade_command(to_restore), outcome
        )
        if applied is None:
            return outcome
        session = applied
        after = await driver.scan(session, refresh=False)
        outcome.scan = after
        outcome.reboot_required = after.reboot_required
        self.emit(HostScanned(run_id=self.run_id, host=host.name, facts=facts, scan=after))
        self.store_scan(host, facts, after)
        verify = await session.run(driver.installed_versions_command(sorted(wanted)))
        restored = driver.parse_installed_versions(verify.stdout)
        wrong = [t.name for t in to_restore if restored.get(t.name) != t.version]
        if wrong:
            outcome.result = "partial" if outcome.changes else "failed"
            outcome.error_kind = "not-restored"
            outcome.error = "not at the recorded version: " + ", ".join(wrong)
        elif new_installs:
            outcome.error = f"newly installed, left in place: {', '.join(new_installs)}"
        return outcome


def changes_from_results(
    results: Sequence[Mapping[str, object]],
) -> dict[str, list[dict[str, object]]]:
    """host -> recorded changes, from a run's stored host results.

    A host whose install started but whose changes could not be read back
    (killed, connection lost, stopped waiting) may have changed any targeted
    package: it gets every recorded before-version, and the rollback itself
    skips the packages it finds still at theirs.
    """
    by_host: dict[str, list[dict[str, object]]] = {}
    for result in results:
        changes = result.get("changes") or []
        found = [dict(change) for change in changes] if isinstance(changes, list) else []
        before = result.get("before")
        if result.get("changes_unknown") and isinstance(before, dict):
            known = {str(change.get("name")) for change in found}
            found += [
                {"name": str(name), "before": version, "after": None}
                for name, version in sorted(before.items())
                if str(name) not in known
            ]
        if found:
            by_host[str(result["host"])] = found
    return by_host


__all__ = ["RollbackJob", "changes_from_results", "rollback_targets"]
