"""Collect host facts (OS, kernel, uptime, boot id, package manager) in one round trip."""

from __future__ import annotations

from patchtui.drivers.base import DriverError, Facts
from patchtui.drivers.parsers.facts import (
    END_SECTION,
    MANAGER_BINARIES,
    SECTION_PREFIX,
    FactsParseError,
    parse_facts,
)
from patchtui.transport.base import RemoteSession

FACTS_TIMEOUT = 30.0


def _marker(section: str) -> str:
    return f"echo '{SECTION_PREFIX}{section}'"


# POSIX sh only (dash, busybox ash): every step tolerates a missing file or
# binary so one absent source never hides the others. /usr/lib/os-release is
# the os-release(5) fallback location; hostname(1) is missing on minimal images.
FACTS_COMMAND = "; ".join(
    [
        _marker("os-release"),
        "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null",
        _marker("kernel"),
        "uname -r",
        _marker("uptime"),
        "cat /proc/uptime 2>/dev/null",
        _marker("boot-id"),
        "cat /proc/sys/kernel/random/boot_id 2>/dev/null",
        _marker("hostname"),
        "hostname 2>/dev/null || cat /proc/sys/kernel/hostname 2>/dev/null",
        _marker("managers"),
        f"for b in {' '.join(MANAGER_BINARIES)}; do command -v $b >/dev/null 2>&1 && echo $b; done",
        _marker(END_SECTION),
    ]
)
"""One shell command printing every fact source after a ``@@patchtui:<section>`` marker."""


async def collect_facts(session: RemoteSession) -> Facts:
    """Run ``FACTS_COMMAND`` (unprivileged) and parse its output.

    Raises ``DriverError('unknown')`` if the connection dropped mid-command and
    ``DriverError('failed')`` if the output is not the facts command's.
    """
    result = await session.run(FACTS_COMMAND, privileged=False, timeout=FACTS_TIMEOUT)
    if result.exit_status is None:
        raise DriverError("unknown", "connection lost while collecting host facts")
    try:
        return parse_facts(result.stdout)
    except FactsParseError as error:
        detail = result.stderr.strip().splitlines()[-1:] or [str(error)]
        raise DriverError("failed", f"could not read host facts: {detail[0]}") from error
