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

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from patchtui.engine.events import EventSink, HostState
from patchtui.engine.fanout import FanoutJob, HostOutcome
from patchtui.engine.hostwork import Connector
from patchtui.engine.observed import ObservedSession
from patchtui.inventory.model import Host
from patchtui.transport.base import TransportError

if TYPE_CHECKING:
    from patchtui.store.db import Store

OPERATION = "run"
EXIT_STATUS_KIND = "exit-status"
"""error_kind of a host whose command ran and exited non-zero."""


@dataclasses.dataclass
class HostCommandOutcome(HostOutcome):
    exit_status: int | None = None
    """None: the command never ran or its outcome is unknown (connection lost)."""


class AdhocJob(FanoutJob[HostCommandOutcome]):
    """One ad-hoc command over ``hosts``; ``run()`` once, ``cancel()`` from anywhere.

    ``timeout`` bounds the command on each host (seconds; None: no bound).
    ``privileged`` runs it through the inventory's ``become`` (``sudo -n``).
    """

    operation = OPERATION
    outcome_type = HostCommandOutcome

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
        # The command is part of the stored options so history shows what ran.
        super().__init__(
            hosts,
            connector=connector,
            emit=emit,
            store=store,
            options={
                **(options or {}),
                "command": command,
                "privileged": privileged,
                "timeout": timeout,
            },
        )
        self.command = command
        self.privileged = privileged
        self.timeout = timeout

    async def _work(self, host: Host, session: ObservedSession) -> HostCommandOutcome:
        # PATCHING is the engine's "changing the host" state; an ad-hoc command may well.
        self._state(host.name, HostState.PATCHING, "running command")
        try:
            # capture=False: the output is streamed as events and kept only in the
            # bounded transcript; `run -- yes` must not grow patchtui without end.
            result = await session.run(
                self.command, privileged=self.privileged, timeout=self.timeout, capture=False
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

    def _result_record(self, outcome: HostCommandOutcome) -> dict[str, object]:
        return {"exit_status": outcome.exit_status}
