"""Run one ad-hoc shell command on many hosts at once, as a stream of events.

``patchtui run -- CMD`` and the console's "run command" action both use
``AdhocJob``: like ``pssh -i`` or ``ansible -m raw``, the command line goes
to each host's login shell as is, output streams back line by line
(``HostOutput``), and each host ends with its exit status. A host whose
command exits non-zero is FAILED with ``error_kind="exit-status"``; the
status itself is in ``job.outcomes[host].exit_status`` (set before the
host's ``HostFinished`` is emitted, so a sink can read it there).

The run is stored as operation ``run``: per host the exit status and the
transcript, so ``patchtui history`` shows what was run where.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from patchtui.engine.events import (
    EventSink,
    HostFinished,
    HostState,
    HostStateChanged,
    RunFinished,
    RunStarted,
    RunSummary,
)
from patchtui.engine.hostwork import Connector, classify_error, new_run_id, summarize
from patchtui.engine.observed import ObservedSession
from patchtui.engine.recorder import Recorder
from patchtui.inventory.model import Host
from patchtui.transport.base import TransportError

if TYPE_CHECKING:
    from patchtui.store.db import Store

OPERATION = "run"
EXIT_STATUS_KIND = "exit-status"
"""error_kind of a host whose command ran and exited non-zero."""


@dataclasses.dataclass
class HostCommandOutcome:
    host: str
    state: HostState
    exit_status: int | None = None
    """None: the command never ran or its outcome is unknown (connection lost)."""
    error_kind: str | None = None
    error: str | None = None
    duration: float = 0.0


class AdhocJob:
    """One ad-hoc command over ``hosts``; ``run()`` once, ``cancel()`` from anywhere.

    ``timeout`` bounds the command on each host (seconds; None: no bound).
    ``privileged`` runs it through the inventory's ``become`` (``sudo -n``).
    """

    operation = OPERATION

    def __init__(
        self,
        hosts: Sequence[Host],
        *,
        command: str,
        connector: Connector,
        emit: EventSink,
        store: Store | None = None,
        privileged: bool = False,
        timeout: float | None = None,
        options: Mapping[str, object] | None = None,
    ) -> None:
        if not command.strip():
            raise ValueError("the command is empty")
        self.hosts = list(hosts)
        self.command = command
        self.connector = connector
        self.emit = emit
        self.recorder = Recorder(store)
        self.privileged = privileged
        self.timeout = timeout
        # The command is part of the stored options so history shows what ran.
        self.options: dict[str, object] = {
            **(options or {}),
            "command": command,
            "privileged": privileged,
            "timeout": timeout,
        }
        self.run_id = new_run_id()
        self.outcomes: dict[str, HostCommandOutcome] = {}
        self._cancelled = False
        self._tasks: list[asyncio.Task[HostCommandOutcome]] = []

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        """Start no more hosts and stop the commands still running (their channels close)."""
        self._cancelled = True
        for task in self._tasks:
            task.cancel()

    async def run(self) -> RunSummary:
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
            if not isinstance(result, HostCommandOutcome):
                # Cancelled before _guarded could record anything.
                outcome = HostCommandOutcome(host.name, HostState.SKIPPED, error="run cancelled")
                self.outcomes[host.name] = outcome
        summary = summarize(
            (outcome.state for outcome in self.outcomes.values()),
            pending=0,
            security=0,
            reboot_required=0,
            stale=0,
            duration=time.monotonic() - started,
        )
        outcome_word = (
            "interrupted"
            if self._cancelled
            else ("ok" if summary.ok == summary.hosts else "failed")
        )
        await self.recorder.finish_run(self.run_id, outcome_word, dataclasses.asdict(summary))
        self.emit(
            RunFinished(
                run_id=self.run_id,
                operation=self.operation,
                outcome=outcome_word,
                summary=summary,
            )
        )
        return summary

    def _state(self, host: str, state: HostState, detail: str = "") -> None:
        self.emit(HostStateChanged(run_id=self.run_id, host=host, state=state, detail=detail))

    async def _guarded(self, host: Host) -> HostCommandOutcome:
        started = time.monotonic()
        session: ObservedSession | None = None
        outcome: HostCommandOutcome
        try:
            async with self.connector.slot():
                if self._cancelled:
                    outcome = HostCommandOutcome(
                        host.name, HostState.SKIPPED, error="run cancelled"
                    )
                else:
                    self._state(host.name, HostState.CONNECTING)
                    inner = await self.connector.connect(host)
                    session = ObservedSession(
                        inner, run_id=self.run_id, host=host.name, emit=self.emit
                    )
                    outcome = await self._run_on(host, session)
        except asyncio.CancelledError:
            state = HostState.INTERRUPTED if session is not None else HostState.SKIPPED
            outcome = HostCommandOutcome(host.name, state, error="run cancelled")
        except Exception as error:  # one host never sinks the run
            state, kind, message = classify_error(error)
            outcome = HostCommandOutcome(host.name, state, error_kind=kind, error=message)
        finally:
            # Closed after the slot is given back: the polite disconnect is a round
            # trip the next host need not wait for (a whole fleet of `true` is mostly
            # connection setup and teardown).
            if session is not None:
                await _close_quietly(session)
        outcome.duration = round(time.monotonic() - started, 3)
        self._finish(outcome, session)
        return outcome

    async def _run_on(self, host: Host, session: ObservedSession) -> HostCommandOutcome:
        # PATCHING is the engine's "changing the host" state; an ad-hoc command may well.
        self._state(host.name, HostState.PATCHING, "running command")
        try:
            result = await session.run(
                self.command, privileged=self.privileged, timeout=self.timeout
            )
        except TransportError as error:
            if error.kind == "timeout":
                # The host answered; the command was too slow: a failure, not unreachable.
                return HostCommandOutcome(
                    host.name, HostState.FAILED, error_kind="timeout", error=error.message
                )
            raise
        if result.exit_status is None:
            return HostCommandOutcome(
                host.name,
                HostState.UNREACHABLE,
                error_kind="disconnected",
                error="connection lost while the command ran: outcome unknown",
            )
        if result.exit_status != 0:
            return HostCommandOutcome(
                host.name,
                HostState.FAILED,
                exit_status=result.exit_status,
                error_kind=EXIT_STATUS_KIND,
                error=f"exited with status {result.exit_status}",
            )
        return HostCommandOutcome(host.name, HostState.OK, exit_status=0)

    def _finish(self, outcome: HostCommandOutcome, session: ObservedSession | None) -> None:
        # Before the event: a sink handling HostFinished may read the exit status here.
        self.outcomes[outcome.host] = outcome
        if self.recorder.enabled:
            self.recorder.record_host_result(
                self.run_id,
                outcome.host,
                {
                    "status": outcome.state.value,
                    "exit_status": outcome.exit_status,
                    "error_kind": outcome.error_kind,
                    "error": outcome.error,
                    "duration": outcome.duration,
                    "finished": time.time(),
                },
            )
            if session is not None and session.transcript:
                self.recorder.append_transcript(self.run_id, outcome.host, list(session.transcript))
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


async def _close_quietly(session: ObservedSession) -> None:
    try:
        async with asyncio.timeout(5):
            await session.close()
    except (Exception, asyncio.CancelledError):  # closing is best effort
        pass
