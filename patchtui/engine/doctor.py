"""Pre-flight checks before a patch night: what would stop patchtui on each host.

Per host: can we connect (and if not, which ``TransportError`` kind), is its
host key known, does privilege escalation work without a prompt
(``sudo -n true`` through the inventory's become), which package manager it
has, and is its clock sane (remote ``date +%s`` against ours; a skew beyond
``MAX_CLOCK_SKEW`` breaks TLS to mirrors, makes apt reject Release files as
"not valid yet" and muddles run timelines).

Doctor changes nothing on the hosts. It connects with the *strict*
host-key policy first, so it never trusts a key on its own; only for a host
whose inventory says ``accept-new`` does it then connect as a patch run
would, which records the first-seen key (that is what ``accept-new`` asks
for, and what the patch run would do anyway).

Judging what was seen (``judge``) is a pure function, so the hints are
tested without hosts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence

from patchtui.drivers.base import DriverError, Facts
from patchtui.drivers.facts import collect_facts
from patchtui.engine.hostwork import Connector, HostTasks
from patchtui.inventory.model import Host
from patchtui.transport.base import RemoteSession, TransportError

MAX_CLOCK_SKEW = 60.0
"""Seconds of clock difference doctor tolerates."""
CHECK_TIMEOUT = 30.0
"""Bound on each check command (sudo, date): a hung sudo must not hang doctor."""
HOST_TIME_LIMIT = 120.0
"""Bound on one host's whole check, connecting included."""
CLOCK_COMMAND = "date +%s"
SUDO_COMMAND = "true"
"""Sent privileged: the transport wraps it as ``sudo -n -u <become_user> -- sh -c true``."""


@dataclasses.dataclass(frozen=True)
class Observation:
    """What doctor saw on one host, before any judging."""

    host: Host
    connect_error: TransportError | None = None
    key_recorded: bool = False
    """The host key was unknown and accept-new recorded it during this check."""
    login_user: str | None = None
    sudo_exit_status: int | None = None
    """Exit status of ``sudo -n true``; None if not tried or its outcome is unknown."""
    sudo_error: str | None = None
    facts: Facts | None = None
    facts_error: str | None = None
    clock_skew: float | None = None
    """Remote clock minus ours, seconds (None: could not read it)."""
    clock_uncertainty: float = 0.0
    """Half the round trip of the clock command: how far off the skew can be."""
    error: str | None = None
    """Anything else that went wrong after connecting."""


@dataclasses.dataclass(frozen=True)
class HostCheck:
    """One row of the doctor table: each column's value and what to fix."""

    host: str
    connect: str
    host_key: str
    sudo: str
    package_manager: str
    clock: str
    clock_skew: float | None
    problems: tuple[str, ...]
    """Short ids: unreachable, timeout, auth, disconnected, hostkey-unknown, hostkey-changed,
    sudo, no-become, no-package-manager, clock-skew, error."""
    hints: tuple[str, ...]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def fix(self) -> str:
        return "; ".join(self.hints)


def clock_skew(remote_output: str, sent_at: float, received_at: float) -> tuple[float, float]:
    """(skew, uncertainty) from ``date +%s`` output and our clock around the call.

    The remote second was read somewhere between sending and receiving, so
    compare with the midpoint; half the round trip bounds the error. Raises
    ValueError for output that is not a number of seconds.
    """
    remote = int(remote_output.strip().splitlines()[-1].strip()) if remote_output.strip() else None
    if remote is None:
        raise ValueError("no output from date +%s")
    midpoint = (sent_at + received_at) / 2
    # +0.5: date +%s truncates to the second, so on average it lags half a second.
    return remote + 0.5 - midpoint, (received_at - sent_at) / 2


_CONNECT_HINTS = {
    "unreachable": "check address/port and firewall, and that sshd is running",
    "timeout": "no SSH answer in time: check the host is up; raise connect_timeout on slow links",
    "auth": "login refused: add your key to the user's authorized_keys or set identity_file",
    "disconnected": "the connection was closed during login: check sshd's logs "
    "(MaxStartups, AllowUsers)",
    "error": "SSH failed: see the error",
}


def connect_hint(kind: str | None, host: Host) -> str | None:
    """How to fix a failed login of ``kind`` (what doctor prints; the console's host
    detail shows the same), None for kinds doctor has no advice on."""
    if kind == "hostkey-unknown":
        return (
            "unknown host key: verify its fingerprint and add it (ssh-keyscan -p "
            f"{host.port} {host.address}), or set host_key_policy: accept-new"
        )
    if kind == "hostkey-changed":
        return (
            "HOST KEY CHANGED: verify the new key out of band, then remove the old "
            "known_hosts line named in the error"
        )
    return _CONNECT_HINTS.get(kind or "")


def judge(seen: Observation) -> HostCheck:
    """Turn what doctor saw into the table row and a fix hint per problem."""
    host = seen.host
    if seen.connect_error is not None:
        return _not_connected(host, seen.connect_error)
    problems: list[str] = []
    hints: list[str] = []
    host_key = "recorded" if seen.key_recorded else "ok"
    sudo = _judge_sudo(seen, problems, hints)

    manager = host.package_manager or (seen.facts.package_manager if seen.facts else None)
    if manager is not None:
        package_manager = manager
    elif seen.facts is None:
        package_manager = "?"
        problems.append("error")
        hints.append(f"could not read host facts: {seen.facts_error or 'no answer'}")
    else:
        package_manager = "none"
        problems.append("no-package-manager")
        hints.append("no apt, dnf, yum, zypper or apk found: patchtui cannot patch this host")

    if seen.clock_skew is None:
        clock = "?"
    else:
        clock = f"{round(seen.clock_skew):+d}s"  # round(): never "-0s"
        if abs(seen.clock_skew) - seen.clock_uncertainty > MAX_CLOCK_SKEW:
            problems.append("clock-skew")
            direction = "ahead" if seen.clock_skew > 0 else "behind"
            hints.append(
                f"clock is {abs(seen.clock_skew):.0f}s {direction}: "
                "enable NTP (timedatectl set-ntp true, or chrony)"
            )
    if seen.error:
        problems.append("error")
        hints.append(seen.error)
    return HostCheck(
        host=host.name,
        connect="ok",
        host_key=host_key,
        sudo=sudo,
        package_manager=package_manager,
        clock=clock,
        clock_skew=seen.clock_skew,
        problems=tuple(problems),
        hints=tuple(hints),
        error=seen.error,
    )


def _not_connected(host: Host, error: TransportError) -> HostCheck:
    """The row of a host doctor could not log in to: only the connection is known."""
    kind = error.kind
    if kind == "hostkey-unknown":
        connect, host_key = "refused", "unknown"
    elif kind == "hostkey-changed":
        connect, host_key = "refused", "CHANGED"
    else:
        # Authentication comes after key exchange: a refused login proves the key matched.
        connect = "auth refused" if kind == "auth" else kind
        host_key = "ok" if kind == "auth" else "?"
        kind = kind if kind in _CONNECT_HINTS else "error"
    hint = connect_hint(kind, host) or _CONNECT_HINTS["error"]
    return HostCheck(
        host=host.name,
        connect=connect,
        host_key=host_key,
        sudo="?",
        package_manager="?",
        clock="?",
        clock_skew=None,
        problems=(kind,),
        hints=(hint,),
        error=error.message,
    )


def _judge_sudo(seen: Observation, problems: list[str], hints: list[str]) -> str:
    host = seen.host
    if seen.login_user == "root":
        return "root"
    if not host.become:
        problems.append("no-become")
        hints.append(
            f"logs in as {seen.login_user or 'a non-root user'} without become: "
            "set become: true (or log in as root) so updates can be installed"
        )
        return "off"
    if seen.sudo_exit_status == 0:
        return "ok"
    problems.append("sudo")
    reason = seen.sudo_error or "sudo -n needs a password or is not allowed"
    hints.append(
        f"sudo -n failed for {seen.login_user or host.user or 'the login user'} ({reason}): "
        "allow NOPASSWD sudo, or pass -K to patch"
    )
    return "FAILS"


class DoctorJob(HostTasks[None]):
    """Check ``hosts`` concurrently; ``run()`` once, ``cancel()`` from anywhere.

    ``on_check`` is called with each host's row as soon as it is known.
    """

    def __init__(
        self,
        hosts: Sequence[Host],
        *,
        connector: Connector,
        on_check: Callable[[HostCheck], None] | None = None,
        host_time_limit: float = HOST_TIME_LIMIT,
    ) -> None:
        super().__init__()
        self.hosts = list(hosts)
        self.connector = connector
        self.on_check = on_check
        self.host_time_limit = host_time_limit
        self.checks: dict[str, HostCheck] = {}

    async def run(self) -> list[HostCheck]:
        """Every host's row, in inventory order (hosts not reached before a cancel are left out)."""
        self._bind_loop()
        self._tasks = [asyncio.create_task(self._check(host)) for host in self.hosts]
        await asyncio.gather(*self._tasks, return_exceptions=True)
        return [self.checks[host.name] for host in self.hosts if host.name in self.checks]

    async def _check(self, host: Host) -> None:
        async with self.connector.slot():
            if self._cancelled:
                return
            try:
                async with asyncio.timeout(self.host_time_limit):
                    seen = await observe(host, self.connector)
            except TimeoutError:
                seen = Observation(
                    host, connect_error=TransportError("timeout", "host check took too long")
                )
        check = judge(seen)
        self.checks[host.name] = check
        if self.on_check is not None:
            self.on_check(check)


async def observe(host: Host, connector: Connector) -> Observation:
    """Connect to ``host`` and run the checks; never raises for a host's faults."""
    key_recorded = False
    try:
        session = await connector.connect(dataclasses.replace(host, host_key_policy="strict"))
    except TransportError as error:
        if error.kind != "hostkey-unknown" or host.host_key_policy != "accept-new":
            return Observation(host, connect_error=error)
        try:
            session = await connector.connect(host)
        except TransportError as second:
            return Observation(host, connect_error=second)
        key_recorded = True
    try:
        return await _checks_on(host, session, key_recorded)
    finally:
        try:
            async with asyncio.timeout(5):
                await session.close()
        except Exception:  # closing is best effort
            pass


async def _checks_on(host: Host, session: RemoteSession, key_recorded: bool) -> Observation:
    login_user = getattr(session, "login_user", None) or host.user
    needs_sudo = host.become and login_user != "root"
    # One connection, three channels at once: doctor on a fleet is bound by round trips.
    facts_result, sudo_result, clock_result = await asyncio.gather(
        _facts(session),
        _sudo(session) if needs_sudo else _nothing(),
        _clock(session),
    )
    facts, facts_error = facts_result
    sudo_status, sudo_error = sudo_result
    skew, uncertainty, clock_error = clock_result
    return Observation(
        host,
        key_recorded=key_recorded,
        login_user=login_user,
        sudo_exit_status=sudo_status,
        sudo_error=sudo_error,
        facts=facts,
        facts_error=facts_error,
        clock_skew=skew,
        clock_uncertainty=uncertainty,
        error=clock_error,
    )


async def _nothing() -> tuple[int | None, str | None]:
    return None, None


async def _facts(session: RemoteSession) -> tuple[Facts | None, str | None]:
    try:
        return await collect_facts(session), None
    except (DriverError, TransportError) as error:
        return None, str(error)


async def _sudo(session: RemoteSession) -> tuple[int | None, str | None]:
    try:
        result = await session.run(SUDO_COMMAND, privileged=True, timeout=CHECK_TIMEOUT)
    except TransportError as error:
        return None, error.message
    if result.exit_status == 0:
        return 0, None
    last = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.exit_status}"]
    return result.exit_status, last[0][:160]


async def _clock(session: RemoteSession) -> tuple[float | None, float, str | None]:
    sent_at = time.time()
    try:
        result = await session.run(CLOCK_COMMAND, timeout=CHECK_TIMEOUT)
    except TransportError as error:
        return None, 0.0, f"clock check failed: {error.message}"
    received_at = time.time()
    if result.exit_status != 0:
        return None, 0.0, None  # no date(1)? not a patching problem by itself
    try:
        skew, uncertainty = clock_skew(result.stdout, sent_at, received_at)
    except ValueError:
        return None, 0.0, None
    return skew, uncertainty, None
