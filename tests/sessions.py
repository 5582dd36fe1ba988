"""RemoteSessions for driver tests: the lab's simulated shell and simulators, without SSH."""

from __future__ import annotations

import shlex
from collections.abc import Callable

from patchtui.lab.shell import execute
from patchtui.lab.sim import ShellResult, metadata
from patchtui.lab.state import SimHost
from patchtui.transport.base import CommandResult, LineCallback, TransportError

SimulatorHandler = Callable[[SimHost, str], ShellResult | None]


class LabSession:
    """A RemoteSession answering via lab.shell.execute: privileged commands get the sudo
    wrapper the SSH transport adds, and stdout streams to ``on_line``.

    ``fail_on``: a command containing it times out (a TransportError) instead."""

    def __init__(self, host: SimHost, *, fail_on: str | None = None) -> None:
        self.host = host
        self.fail_on = fail_on
        self.commands: list[str] = []

    async def run(
        self,
        command: str,
        *,
        privileged: bool = False,
        on_line: LineCallback | None = None,
        timeout: float | None = None,
        input: str | None = None,
    ) -> CommandResult:
        wire = f"sudo -n -u root -- sh -c {shlex.quote(command)}" if privileged else command
        self.commands.append(wire)
        if self.fail_on is not None and self.fail_on in command:
            raise TransportError("timeout", "command timed out")
        answer = execute(self.host, wire)
        if on_line is not None:
            for line in answer.stdout.splitlines():
                on_line("stdout", line)
        return CommandResult(command, answer.exit_status, answer.stdout, answer.stderr)

    async def close(self) -> None:
        return None


class SimulatorSession:
    """A RemoteSession answered by one package-manager simulator (no shell, no sudo
    wrapper); a command the simulator does not know fails the test."""

    def __init__(self, host: SimHost, handler: SimulatorHandler) -> None:
        self.host = host
        self.handler = handler

    async def run(
        self,
        command: str,
        *,
        privileged: bool = False,
        on_line: LineCallback | None = None,
        timeout: float | None = None,
        input: str | None = None,
    ) -> CommandResult:
        # The metadata age check is the shell's (same on every family), at a fixed clock.
        answer = self.handler(self.host, command) or metadata.handle(
            self.host, command, now=1_800_000_000.0
        )
        assert answer is not None, command
        return CommandResult(command, answer.exit_status, answer.stdout, answer.stderr)

    async def close(self) -> None:
        return None
