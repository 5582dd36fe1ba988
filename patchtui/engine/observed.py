"""A RemoteSession wrapper that reports every command and output line as events.

Drivers stay ignorant of events: the engine hands them this wrapper, so the
console's output pane and the stored transcript see exactly what ran.
"""

from __future__ import annotations

from patchtui.engine.events import EventSink, HostOutput
from patchtui.engine.transcript import HostTranscript, clip_line
from patchtui.transport.base import (
    MAX_CAPTURED_CHARS,
    CommandResult,
    LineCallback,
    RemoteSession,
    Stream,
)

STREAM_PREFIX = {"cmd": "$ ", "stderr": "! "}
"""How a line's stream is marked in the transcript (and in the console's output panes)."""


class ObservedSession:
    """Forwards to ``inner`` and emits HostOutput events; keeps a bounded transcript."""

    def __init__(
        self,
        inner: RemoteSession,
        *,
        run_id: str,
        host: str,
        emit: EventSink,
        transcript: HostTranscript | None = None,
    ) -> None:
        self._inner = inner
        self._run_id = run_id
        self._host = host
        self._emit = emit
        # Shared between the sessions of one host in one run (reconnects, reboots).
        self.transcript = transcript if transcript is not None else HostTranscript()

    @property
    def inner(self) -> RemoteSession:
        """The unobserved session: for chatty polling whose raw output is not for people."""
        return self._inner

    def record(self, stream: str, line: str) -> None:
        """Show a line in the host's output and transcript as if the host printed it."""
        self._record(stream, line)

    def _record(self, stream: str, line: str) -> None:
        prefix = STREAM_PREFIX.get(stream, "")
        self.transcript.append(prefix + line)  # the transcript cuts long lines itself
        # Cut before any sink keeps it: the console's panes hold thousands of
        # lines per host, and one line can be megabytes (`cat` of a binary).
        self._emit(
            HostOutput(run_id=self._run_id, host=self._host, stream=stream, line=clip_line(line))
        )

    async def run(
        self,
        command: str,
        *,
        privileged: bool = False,
        on_line: LineCallback | None = None,
        timeout: float | None = None,
        input: str | None = None,
        capture: bool = True,
    ) -> CommandResult:
        self._record("cmd", command)

        def forward(stream: Stream, line: str) -> None:
            self._record(stream, line)
            if on_line is not None:
                on_line(stream, line)

        result = await self._inner.run(
            command,
            privileged=privileged,
            on_line=forward,
            timeout=timeout,
            input=input,
            capture=capture,
        )
        if result.output_truncated:
            self._record(
                "stderr",
                f"[patchtui] output over {MAX_CAPTURED_CHARS // (1024 * 1024)} MiB: only the "
                "first part was read",
            )
        if result.exit_status is None:
            self._record("stderr", "[patchtui] connection lost: outcome of the command unknown")
        return result

    async def close(self) -> None:
        await self._inner.close()
