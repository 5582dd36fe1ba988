"""Run the repository-metadata age check (``parsers.metadata``) on a host."""

from __future__ import annotations

from patchtui.drivers.parsers.metadata import parse_metadata_times
from patchtui.transport.base import LineCallback, RemoteSession

METADATA_CHECK_TIMEOUT = 30.0


async def read_metadata_age(
    session: RemoteSession, command: str, on_line: LineCallback | None
) -> float | None:
    """Run a ``parsers.metadata`` check; None if it exits non-zero (the age is a hint:
    a host without ``stat`` still scans). A lost connection is the scan's to report."""
    result = await session.run(
        command, privileged=False, on_line=on_line, timeout=METADATA_CHECK_TIMEOUT
    )
    if result.exit_status != 0:
        return None
    return parse_metadata_times(result.stdout).age_seconds
