"""Run a long command on a host so that it survives a dropped SSH connection.

Package transactions must never be killed half-way because the operator's
laptop slept or a bastion restarted. So patchtui does not run them on the SSH
channel: it writes a small job script to ``/var/tmp/patchtui`` and starts it
under ``systemd-run --collect`` (which survives logind's KillUserProcesses=yes)
or, without systemd, ``nohup setsid``. The script writes its own pid, its
output to a log, and its exit status to a file last of all. patchtui polls
that status and tails the log over any connection, so after a reconnect it
can still learn the true outcome.

Command builders and parsers here are pure; ``DetachedJob`` does the I/O.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from patchtui.transport.base import CommandResult, RemoteSession, TransportError

JOB_DIR = "/var/tmp/patchtui"
FORWARDED_ENV = (
    "APT_CONFIG",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
)
"""Variables the SSH session has that a systemd-run unit would not inherit.

A job started by systemd-run gets PID 1's environment, not the session's: an
apt proxy or an APT_CONFIG given to the session (sshd SetEnv, ~/.ssh/environment)
would silently not apply to the install that the scan was made with."""
STATUS_MARKER = "@@patchtui-job"
STARTED_MARKER = "@@patchtui-started"
_JOB_ID = re.compile(r"^[A-Za-z0-9_.-]{1,120}$")


def job_id_for(run_id: str, host: str, step: str) -> str:
    """A file- and unit-name-safe id, unique per run, host and step."""
    raw = f"{run_id}-{host}-{step}"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", raw)[:120]


def job_script(job_id: str, command: str) -> str:
    """The script the host runs. The lab parses this exact shape: keep it stable."""
    base = f"{JOB_DIR}/{job_id}"
    return (
        "#!/bin/sh\n"
        f"# patchtui detached job {job_id}\n"
        f"echo $$ > {base}.pid\n"
        f"( {command}\n) > {base}.log 2>&1 < /dev/null\n"
        f"echo $? > {base}.status.tmp && mv {base}.status.tmp {base}.status\n"
    )


def start_command(job_id: str, command: str) -> str:
    """Shell command that installs the job script and starts it detached."""
    if not _JOB_ID.match(job_id):
        raise ValueError(f"unsafe job id {job_id!r}")
    encoded = base64.b64encode(job_script(job_id, command).encode()).decode()
    base = f"{JOB_DIR}/{job_id}"
    return (
        f"umask 077; mkdir -p {JOB_DIR} && printf %s {encoded} | base64 -d > {base}.sh && "
        f"if command -v systemd-run >/dev/null 2>&1 && [ -d /run/systemd/system ]; then "
        f"set --; for v in {' '.join(FORWARDED_ENV)}; do "
        'printenv "$v" > /dev/null && set -- "$@" "--setenv=$v"; done; '
        f'systemd-run --unit=patchtui-{job_id} --collect --quiet "$@" sh {base}.sh; '
        f"else nohup setsid sh {base}.sh > /dev/null 2>&1 < /dev/null & fi; "
        f"echo {STARTED_MARKER}"
    )


LOG_LINES = 5_000
LOG_LINE_CHARS = 8 * 1024


def poll_command(job_id: str, from_line: int) -> str:
    """Print the job's state first, then its log from line ``from_line`` (1-based).

    The status is read before the log: when it says finished, the log that
    follows is complete (the script writes the status after the log closes).
    """
    base = f"{JOB_DIR}/{job_id}"
    return (
        f"if [ -f {base}.status ]; then s=$(cat {base}.status); "
        f"elif [ -f {base}.pid ] && kill -0 $(cat {base}.pid) 2>/dev/null; then s=running; "
        f"elif [ -f {base}.sh ] && [ ! -f {base}.pid ]; then s=starting; "
        f"else s=lost; fi; echo {STATUS_MARKER} $s; "
        f"tail -n +{int(from_line)} {base}.log 2>/dev/null; true"
    )


def cleanup_command(job_id: str) -> str:
    """Remove a finished job's files once its status and log have been read."""
    base = f"{JOB_DIR}/{job_id}"
    return f"rm -f {base}.sh {base}.pid {base}.log {base}.status"


def stop_command(job_id: str) -> str:
    """Stop what patchtui started (its unit, else its process group). Not for package jobs."""
    base = f"{JOB_DIR}/{job_id}"
    return (
        f"systemctl stop patchtui-{job_id} 2>/dev/null || "
        f"{{ [ -f {base}.pid ] && kill -TERM -- -$(cat {base}.pid) 2>/dev/null; }}; true"
    )


@dataclass(frozen=True)
class PollResult:
    state: str
    """running, starting, finished or lost (process gone without an exit status)."""
    exit_status: int | None
    lines: list[str]
    """Complete new log lines."""


def parse_poll(stdout: str, *, finished_hint: bool = False) -> PollResult:
    """Parse ``poll_command`` output. A partial last line is held back while running."""
    head, _, rest = stdout.partition("\n")
    match = re.match(rf"^{STATUS_MARKER} (\S+)$", head.strip())
    if match is None:
        raise ValueError(f"unexpected job poll output: {head[:80]!r}")
    token = match.group(1)
    if token.lstrip("-").isdecimal():
        state, exit_status = "finished", int(token)
    else:
        state, exit_status = token, None
    lines = rest.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the text ended with a newline: no partial line
    elif lines and state != "finished":
        lines.pop()  # partial line: read it again next poll, once complete
    return PollResult(state=state, exit_status=exit_status, lines=lines)


class JobLost(Exception):
    """The job's process is gone and left no exit status (host rebooted, killed)."""


class DetachedJob:
    """Start a detached job on a host and follow it to its exit status."""

    def __init__(
        self,
        job_id: str,
        command: str,
        *,
        poll_interval: float = 1.0,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        self.job_id = job_id
        self.command = command
        self.poll_interval = poll_interval
        self.on_line = on_line
        self.next_line = 1
        self.log: list[str] = []
        """The job's output so far: its last ``LOG_LINES`` to ``2 * LOG_LINES`` lines."""

    async def start(self, session: RemoteSession) -> None:
        result = await session.run(start_command(self.job_id, self.command), privileged=True)
        if result.exit_status is None:
            raise TransportError("disconnected", "connection lost while starting the job")
        if STARTED_MARKER not in result.stdout:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise TransportError(
                "error", f"could not start job: {detail[-1] if detail else 'no output'}"
            )

    async def poll(self, session: RemoteSession) -> PollResult:
        result: CommandResult = await session.run(
            poll_command(self.job_id, self.next_line), privileged=True, timeout=60
        )
        if result.exit_status is None:
            raise TransportError("disconnected", "connection lost while following the job")
        polled = parse_poll(result.stdout)
        self.next_line += len(polled.lines)
        for line in polled.lines:
            # What failure classification reads: the end of the log, bounded like
            # the transcript, so an install that prints forever cannot fill memory.
            self.log.append(line[:LOG_LINE_CHARS])
            if len(self.log) > 2 * LOG_LINES:
                del self.log[:-LOG_LINES]
            if self.on_line is not None:
                self.on_line(line)
        return polled

    async def stop(self, session: RemoteSession, *, checks: int = 5) -> bool:
        """Stop the job (its unit, else its process group) and verify that it stopped.

        Closing an SSH channel does not stop a remote command (sshd refuses
        signals for root sessions, and without a pty nothing is hung up), so
        patchtui stops what it started by name, then looks again.
        """
        await session.run(stop_command(self.job_id), privileged=True, timeout=30)
        for _ in range(checks):
            result = await session.run(
                poll_command(self.job_id, self.next_line), privileged=True, timeout=30
            )
            if result.exit_status is not None and parse_poll(result.stdout).state != "running":
                return True
            await asyncio.sleep(0.5)
        return False

    async def cleanup(self, session: RemoteSession) -> None:
        """Best effort: a leftover file only costs disk space on the host."""
        with contextlib.suppress(TransportError):
            await session.run(cleanup_command(self.job_id), privileged=True, timeout=30)

    async def wait(self, session: RemoteSession, *, time_limit: float = 3600.0) -> int:
        """Poll until the job finishes; return its exit status.

        Raises TransportError('disconnected') when the connection drops (the
        caller reconnects and calls ``wait`` again: the job goes on), and
        JobLost when the process vanished without an exit status.
        """
        async with asyncio.timeout(time_limit):
            while True:
                polled = await self.poll(session)
                if polled.state == "finished" and polled.exit_status is not None:
                    return polled.exit_status
                if polled.state == "lost":
                    raise JobLost(f"job {self.job_id} ended without an exit status")
                await asyncio.sleep(self.poll_interval)


def shell_join(argv: list[str]) -> str:
    return " ".join(shlex.quote(part) for part in argv)
