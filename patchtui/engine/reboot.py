"""Reboot a host and prove it came back: a new boot_id, not merely an open port.

An open port proves little: the SSH daemon may still be up while shutdown runs,
and a host that never went down would look 'back' at once. The kernel's
boot_id changes on every boot, so it is the proof.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from patchtui.engine.hostwork import Connector
from patchtui.inventory.model import Host
from patchtui.transport.base import RemoteSession, TransportError

SHUTDOWN_GRACE = 3.0
"""Seconds to wait before the first reconnect: the reboot starts 2 s after the command."""
BOOT_ID_COMMAND = "cat /proc/sys/kernel/random/boot_id"
# Detached and delayed so the SSH command returns cleanly before the host goes down.
REBOOT_COMMAND = (
    "nohup setsid sh -c 'sleep 2; systemctl reboot || reboot' > /dev/null 2>&1 < /dev/null &"
    " echo reboot-scheduled"
)


async def read_boot_id(session: RemoteSession) -> str | None:
    result = await session.run(BOOT_ID_COMMAND, timeout=30)
    text = result.stdout.strip()
    return text if result.ok and text else None


async def reconnect(
    host: Host,
    connector: Connector,
    *,
    deadline: float,
    on_attempt: Callable[[str], None] | None = None,
) -> RemoteSession:
    """Connect again with backoff until ``deadline`` (time.monotonic()).

    Used after a reboot and after a dropped connection; sshd itself may be
    restarting (an openssh-server upgrade), so refusals are expected for a while.
    """
    delay = 1.0
    last_error = "no attempt made"
    while time.monotonic() < deadline:
        try:
            return await connector.connect(host)
        except TransportError as error:
            if error.kind in {"hostkey-changed", "hostkey-unknown", "auth"}:
                raise
            last_error = error.message
            if on_attempt is not None:
                on_attempt(f"not back yet ({error.kind}); retrying in {delay:.0f}s")
        await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 10.0)
    raise TransportError("timeout", f"host did not come back in time: {last_error}")


async def reboot_and_wait(
    host: Host,
    session: RemoteSession,
    connector: Connector,
    *,
    time_limit: float = 600.0,
    on_progress: Callable[[str], None] | None = None,
) -> RemoteSession:
    """Reboot, wait for a new boot_id, return a fresh session. Raises TransportError."""
    old_boot_id = await read_boot_id(session)
    await session.run(REBOOT_COMMAND, privileged=True, timeout=30)
    await session.close()
    deadline = time.monotonic() + time_limit
    await asyncio.sleep(SHUTDOWN_GRACE)
    while True:
        fresh = await reconnect(host, connector, deadline=deadline, on_attempt=on_progress)
        try:
            boot_id = await read_boot_id(fresh)
        except TransportError:
            boot_id = None
        if boot_id is not None and boot_id != old_boot_id:
            return fresh
        await fresh.close()
        if time.monotonic() >= deadline:
            raise TransportError("timeout", "host answered but never rebooted (same boot_id)")
        if on_progress is not None:
            on_progress("still the old boot; waiting for the host to go down")
        await asyncio.sleep(2)
