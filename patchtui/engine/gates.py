"""A patch run's health gate per host, and ``--rollback-on-failure``.

The gate runs at the end of a host's patch (after its reboot and --post hook)
on the run's own session; the rollback runs once a host's outcome is failed or
partial after it changed packages. The rollback is ``RollbackJob``'s own
restore-and-verify of one host (no second implementation), fed from this
run's change record; its events are passed on under this run's id, and it
writes no run of its own: the host's result in this run records it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from patchtui.engine.events import (
    Event,
    HealthProbed,
    HostOutput,
    HostScanned,
    HostState,
    HostStateChanged,
)
from patchtui.engine.health import HEALTH_CHECK, run_gate
from patchtui.engine.hostwork import classify_error, close_quietly
from patchtui.inventory.model import Host
from patchtui.transport.base import RemoteSession

if TYPE_CHECKING:
    from patchtui.engine.observed import ObservedSession
    from patchtui.engine.patch import HostPatchOutcome, PatchJob

ROLLBACK_RESULTS = frozenset({"failed", "partial"})
"""Outcomes a rollback answers: the host finished its work badly (not skipped, lost or
stopped by the operator, where nobody knows what is still running there)."""
ROLLED_BACK = "rolled-back"
ROLLBACK_FAILED = "rollback-failed"


async def health_gate(
    job: PatchJob, host: Host, session: ObservedSession, outcome: HostPatchOutcome
) -> None:
    """Probe ``host`` until healthy or the gate's timeout; an unhealthy host is failed."""
    gate = job.options.health
    assert gate is not None

    def report(attempt: int, healthy: bool | None, detail: str, final: bool) -> None:
        if healthy is None:
            job.report_state(host.name, HostState.HEALTH, f"health… attempt {attempt}")
            return
        job.emit(
            HealthProbed(
                run_id=job.run_id,
                host=host.name,
                attempt=attempt,
                healthy=healthy,
                detail=detail,
                final=final,
            )
        )
        if not healthy and not final:
            job.report_state(host.name, HostState.HEALTH, f"health… attempt {attempt}: {detail}")

    result = await run_gate(gate, host, session, say=session.record, report=report)
    outcome.health = result.to_doc()
    if not result.healthy:
        outcome.result = "failed"
        outcome.state = HostState.FAILED
        outcome.error_kind = HEALTH_CHECK
        outcome.error = result.reason


def _changes_to_restore(outcome: HostPatchOutcome) -> list[dict[str, object]]:
    from patchtui.engine.rollback import changes_from_results

    doc = {
        "host": outcome.host,
        "changes": [dataclasses.asdict(change) for change in outcome.changes],
        "changes_unknown": outcome.changes_unknown,
        "before": dict(outcome.before),
    }
    return changes_from_results([doc]).get(outcome.host, [])


class _Relay:
    """The nested rollback's events, as this run's: its own run events are dropped (the
    host's result in this run says what it did), its package work shows as rolling-back."""

    def __init__(self, job: PatchJob) -> None:
        self.job = job
        self.scanned: HostScanned | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, HostStateChanged):
            state = HostState.ROLLING_BACK if not event.state.is_final else event.state
            detail = f"rollback: {event.detail}" if event.detail else "rollback"
            event = dataclasses.replace(event, state=state, detail=detail)
        elif isinstance(event, HostScanned):
            self.scanned = event
        elif not isinstance(event, HostOutput):
            return
        self.job.emit(dataclasses.replace(event, run_id=self.job.run_id))


async def roll_back_failed(
    job: PatchJob, host: Host, outcome: HostPatchOutcome
) -> HostPatchOutcome:
    """Restore a failed host's previous versions and verify them; record how it went.

    The host stays failed (it did fail: the threshold counts it); its error kind
    says whether it is back where it was (``rolled-back``) or not (``rollback-failed``).
    """
    if outcome.result not in ROLLBACK_RESULTS or not (outcome.changes or outcome.changes_unknown):
        return outcome
    from patchtui.engine.patch import PatchOptions
    from patchtui.engine.rollback import RollbackJob

    changes = _changes_to_restore(outcome)
    if not changes:
        return outcome
    cause = f"{outcome.error_kind}: {outcome.error}" if outcome.error_kind else outcome.error
    job.report_state(host.name, HostState.ROLLING_BACK, f"restoring {len(changes)} packages")
    relay = _Relay(job)
    options = job.options
    nested = RollbackJob(
        [host],
        source_run=job.run_id,
        changes_by_host={host.name: changes},
        connector=job.connector,
        emit=relay,
        options=PatchOptions(
            reboot="never",
            poll_interval=options.poll_interval,
            install_time_limit=options.install_time_limit,
            reconnect_time_limit=options.reconnect_time_limit,
        ),
        store=None,
    )
    # Its own id names its detached job on the host (never the patch's); its output
    # joins this host's transcript in this run.
    nested.run_id = f"{job.run_id}-rollback"
    nested.transcripts = job.transcripts
    record: dict[str, Any] = {"of": cause, "packages": len(changes)}
    holder: list[RemoteSession] = []
    try:
        async with job.connector.slot():
            restored = await nested.patch_host(host, holder)
    except Exception as error:  # the rollback of one host never sinks the run
        from patchtui.engine.patch import HostFailure

        if isinstance(error, HostFailure):
            kind, message = error.kind, error.message
        else:
            _, kind, message = classify_error(error)
        record.update(status="failed", verified=False, error=f"{kind}: {message}")
    else:
        verified = restored.result == "ok"
        record.update(
            status="restored" if verified else "failed",
            verified=verified,
            restored=[dataclasses.asdict(change) for change in restored.changes],
            error=restored.error if not verified else None,
            reboot_required=restored.reboot_required,
        )
        if verified and restored.error:
            record["note"] = restored.error
    finally:
        for session in holder:
            await close_quietly(session)
    if relay.scanned is not None:
        # The host's stored state is what the rollback left (a rescan shows the same).
        job.store_scan(host, relay.scanned.facts, relay.scanned.scan)
        outcome.scan = relay.scanned.scan
    outcome.rollback = record
    if record["verified"]:
        outcome.error_kind = ROLLED_BACK
        outcome.error = f"{cause}; rolled back: previous versions restored and verified"
    else:
        outcome.error_kind = ROLLBACK_FAILED
        outcome.error = f"{cause}; rollback failed: {record['error']}"
    return outcome


__all__ = ["ROLLBACK_FAILED", "ROLLED_BACK", "health_gate", "roll_back_failed"]
