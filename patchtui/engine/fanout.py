"""The shape every "do one thing on many hosts at once" job shares (scan, ad-hoc run).

A job fans out one task per host under the connector's concurrency slots,
emits QUEUED -> CONNECTING -> ... -> HostFinished per host, records each
result and transcript through the Recorder as the host finishes (durably, before
its HostFinished), and ends with one RunFinished. Subclasses only say what to
do on a connected host (``_work``) and what to store about it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from patchtui.engine.events import (
    EventSink,
    HostFinished,
    HostState,
    HostStateChanged,
    RunFinished,
    RunStarted,
    RunSummary,
)
from patchtui.engine.hostwork import (
    Connector,
    HostTasks,
    classify_error,
    close_quietly,
    new_run_id,
    skip_reasons,
    summarize,
)
from patchtui.engine.observed import ObservedSession
from patchtui.engine.outcome import SKIP_CANCELLED, decide_outcome
from patchtui.engine.recorder import Recorder
from patchtui.inventory.model import Host

if TYPE_CHECKING:
    from patchtui.store.db import Store


@dataclasses.dataclass
class HostOutcome:
    host: str
    state: HostState
    error_kind: str | None = None
    error: str | None = None
    duration: float = 0.0


OutcomeT = TypeVar("OutcomeT", bound=HostOutcome)


class FanoutJob(HostTasks[OutcomeT], ABC):
    """One run over ``hosts``: ``run()`` once, ``cancel()`` from anywhere."""

    operation: str
    outcome_type: type[OutcomeT]

    def __init__(
        self,
        hosts: Sequence[Host],
        *,
        connector: Connector,
        emit: EventSink,
        store: Store | None = None,
        options: Mapping[str, object] | None = None,
        host_time_limit: float | None = None,
    ) -> None:
        super().__init__()
        self.hosts = list(hosts)
        self.connector = connector
        self.emit = emit
        self.recorder = Recorder(store)
        self.options: dict[str, object] = dict(options or {})
        self.host_time_limit = host_time_limit
        """Upper bound for one host's whole work (None: none)."""
        self.run_id = new_run_id()
        self.outcomes: dict[str, OutcomeT] = {}

    # What subclasses provide ---------------------------------------------------

    @abstractmethod
    async def _work(self, host: Host, session: ObservedSession) -> OutcomeT:
        """The job's work on one connected host."""

    def _result_record(self, outcome: OutcomeT) -> dict[str, object]:
        """Extra fields of the stored per-host result."""
        return {}

    def _hot_state(self, outcome: OutcomeT, now: float) -> dict[str, object] | None:
        """Fields of the host's stored state to update, or None to leave it alone."""
        return None

    def _summary(self, duration: float) -> RunSummary:
        return summarize(
            (outcome.state for outcome in self.outcomes.values()),
            pending=0,
            security=0,
            reboot_required=0,
            stale=0,
            duration=duration,
            skipped_reasons=skip_reasons(self.outcomes.values()),
        )

    # The run -------------------------------------------------------------------

    async def run(self) -> RunSummary:
        self._bind_loop()
        started = time.monotonic()
        names = tuple(host.name for host in self.hosts)
        self.run_id = (
            await self.recorder.start_run(self.operation, names, self.options) or self.run_id
        )
        self.emit(
            RunStarted(
                run_id=self.run_id, operation=self.operation, hosts=names, options=self.options
            )
        )
        for host in self.hosts:
            self._state(host.name, HostState.QUEUED)
        self._tasks = [asyncio.create_task(self._guarded(host)) for host in self.hosts]
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        for host, result in zip(self.hosts, results, strict=True):
            if not isinstance(result, HostOutcome):  # cancelled before _guarded recorded it
                self.outcomes[host.name] = self.outcome_type(
                    host.name, HostState.SKIPPED, error_kind=SKIP_CANCELLED, error="run cancelled"
                )
        summary = self._summary(time.monotonic() - started)
        outcome = decide_outcome(summary, interrupted=self._cancelled, halted=False)
        await self.recorder.finish_run(self.run_id, outcome, dataclasses.asdict(summary))
        self.emit(
            RunFinished(
                run_id=self.run_id, operation=self.operation, outcome=outcome, summary=summary
            )
        )
        return summary

    def _state(self, host: str, state: HostState, detail: str = "") -> None:
        self.emit(HostStateChanged(run_id=self.run_id, host=host, state=state, detail=detail))

    async def _guarded(self, host: Host) -> OutcomeT:
        started = time.monotonic()
        session: ObservedSession | None = None
        outcome: OutcomeT
        try:
            async with self.connector.slot():
                if self._cancelled:
                    outcome = self.outcome_type(
                        host.name,
                        HostState.SKIPPED,
                        error_kind=SKIP_CANCELLED,
                        error="run cancelled",
                    )
                else:
                    async with asyncio.timeout(self.host_time_limit):
                        self._state(host.name, HostState.CONNECTING)
                        inner = await self.connector.connect(host)
                        session = ObservedSession(
                            inner, run_id=self.run_id, host=host.name, emit=self.emit
                        )
                        outcome = await self._work(host, session)
        except asyncio.CancelledError:
            state = HostState.INTERRUPTED if session is not None else HostState.SKIPPED
            outcome = self.outcome_type(
                host.name, state, error_kind=SKIP_CANCELLED, error="run cancelled"
            )
        except Exception as error:  # one host never sinks the run
            state, kind, message = classify_error(error)
            outcome = self.outcome_type(host.name, state, error_kind=kind, error=message)
        finally:
            # Closed after the slot is given back: the polite disconnect is a round
            # trip the next host need not wait for.
            if session is not None:
                await close_quietly(session)
        outcome.duration = round(time.monotonic() - started, 3)
        await self._finish(outcome, session)
        return outcome

    async def _finish(self, outcome: OutcomeT, session: ObservedSession | None) -> None:
        """Record the host's result durably (fsynced), and only then report it."""
        # Before the event: a sink handling HostFinished may read the outcome here.
        self.outcomes[outcome.host] = outcome
        if self.recorder.enabled:
            now = time.time()
            await self.recorder.commit_host(
                self.run_id,
                outcome.host,
                {
                    "status": outcome.state.value,
                    "error_kind": outcome.error_kind,
                    "error": outcome.error,
                    "duration": outcome.duration,
                    "finished": now,
                    **self._result_record(outcome),
                },
                hot=self._hot_state(outcome, now),
                transcript=list(session.transcript) if session is not None else (),
            )
        self.emit(
            HostFinished(
                run_id=self.run_id,
                host=outcome.host,
                state=outcome.state,
                error_kind=outcome.error_kind,
                error=outcome.error,
                duration=outcome.duration,
            )
        )
