"""patchtui's jobs run against a real_dnf/real_zypper host, bounded, with what they emitted."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from patchtui.drivers.base import ScanResult
from patchtui.engine.events import Event, HostFinished, HostOutput, HostScanned
from patchtui.engine.patch import PatchJob, PatchOptions
from patchtui.engine.rollback import RollbackJob, changes_from_results
from patchtui.engine.scan import ScanJob
from patchtui.store.db import Store
from patchtui.transport.ssh import SshConnector

if TYPE_CHECKING:
    from conftest import RealRpmHost

NO_REBOOT = PatchOptions(reboot="never", poll_interval=0.2)
JOB_BOUND_S = 120.0
"""No job here takes more than a few seconds; a bound turns a hang into a failure."""
LOCK_BOUND_S = 30.0
"""Far below the driver's own time limits (600 s and more): a scan that waited on the lock
instead of reporting it would be stopped by this bound and fail the test."""


async def run_job(
    job: ScanJob | PatchJob | RollbackJob, conn: SshConnector, *, bound: float = JOB_BOUND_S
) -> None:
    try:
        await asyncio.wait_for(job.run(), bound)
    finally:
        await conn.close_all()


def connector() -> SshConnector:
    return SshConnector(concurrency=1, use_agent=False)


async def scan(real: RealRpmHost, store: Store, *, bound: float = JOB_BOUND_S) -> list[Event]:
    events: list[Event] = []
    conn = connector()
    job = ScanJob([real.host], connector=conn, emit=events.append, store=store)
    await run_job(job, conn, bound=bound)
    return events


@dataclass(frozen=True)
class PatchRun:
    """One patch job against the host and what it emitted."""

    job: PatchJob
    finished: HostFinished
    scans: list[ScanResult]
    """The scan before the install, then the verifying rescan after it (if it installed)."""
    commands: list[str]
    """Every command line patchtui sent, the detached install marked ``[detached]``."""

    @property
    def install_command(self) -> str:
        (install,) = [command for command in self.commands if command.endswith("[detached]")]
        return install


async def patch(real: RealRpmHost, options: PatchOptions, store: Store) -> PatchRun:
    events: list[Event] = []
    conn = connector()
    job = PatchJob([real.host], connector=conn, emit=events.append, options=options, store=store)
    await run_job(job, conn)
    return PatchRun(
        job=job,
        finished=next(e for e in events if isinstance(e, HostFinished)),
        scans=[e.scan for e in events if isinstance(e, HostScanned)],
        commands=[e.line for e in events if isinstance(e, HostOutput) and e.stream == "cmd"],
    )


async def rollback(real: RealRpmHost, source: PatchJob, store: Store) -> HostFinished:
    events: list[Event] = []
    conn = connector()
    job = RollbackJob(
        [real.host],
        source_run=source.run_id,
        changes_by_host=changes_from_results(store.host_results(source.run_id)),
        connector=conn,
        emit=events.append,
        options=NO_REBOOT,
        store=store,
    )
    await run_job(job, conn)
    return next(e for e in events if isinstance(e, HostFinished))


def changes(finished: HostFinished) -> list[tuple[str, str | None, str | None]]:
    return [(c.name, c.before, c.after) for c in finished.changes]
