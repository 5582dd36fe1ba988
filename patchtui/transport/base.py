"""What the engine and drivers need from a connection to a host.

The engine talks to hosts only through ``RemoteSession``; the asyncssh
implementation lives in ``patchtui.transport.ssh``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

Stream = Literal["stdout", "stderr"]

MAX_CAPTURED_CHARS = 32 * 1024 * 1024
"""Characters of one stream of one command kept in ``CommandResult``: far more than any
package manager's listing, and a bound on what a runaway command can take."""
LineCallback = Callable[[Stream, str], None]
"""Called once per output line (without the newline) as it arrives."""


@dataclass(frozen=True)
class CommandResult:
    command: str
    exit_status: int | None
    """None means the outcome is unknown (the connection dropped): never success."""
    stdout: str
    stderr: str
    output_truncated: bool = False
    """``stdout``/``stderr`` hold only the first ``MAX_CAPTURED_CHARS`` of a stream (or
    nothing, for ``capture=False``); every line still went to ``on_line``."""

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    @property
    def outcome_unknown(self) -> bool:
        return self.exit_status is None


class TransportError(Exception):
    """Connecting to or talking with a host failed.

    ``kind`` is one of: ``unreachable``, ``timeout``, ``auth``,
    ``hostkey-changed``, ``hostkey-unknown``, ``disconnected``, ``error``.
    """

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        self.message = message
        super().__init__(message)


class RemoteSession(Protocol):
    """An open connection to one host, reused for every command of a run."""

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
        """Run ``command`` through the remote shell.

        ``privileged`` wraps it in the host's ``become`` (``sudo -n``) when the
        inventory asks for it and the login user is not root. Output lines
        stream to ``on_line`` as they arrive. A dropped connection returns
        ``exit_status=None``; a timeout raises ``TransportError('timeout')``.
        ``capture=False`` keeps no output in the result (a caller that only
        streams it, such as an ad-hoc command that may print forever);
        otherwise at most ``MAX_CAPTURED_CHARS`` of each stream are kept.
        """
        ...

    async def close(self) -> None: ...
