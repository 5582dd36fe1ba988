"""``systemctl is-active``: the services a simulated host runs, for health checks.

Every lab host runs ``ssh``, ``cron`` and ``app`` (the fleet's application),
and its role's service (nginx, postgresql, redis-server). A host with the
fault ``unhealthy-after-patch`` is the classic bad update: its application and
role service fail while any package is newer than what the host shipped with,
and come back once those versions are restored (a rollback). Unknown units
are ``inactive``, as systemd says of them; exit status 3 as systemctl's.
"""

from __future__ import annotations

import shlex

from patchtui.lab.sim import ShellResult
from patchtui.lab.state import SimHost

UNHEALTHY_AFTER_PATCH = "unhealthy-after-patch"
BASE_UNITS = frozenset({"ssh", "sshd", "cron", "crond", "app"})
ROLE_UNITS = {
    "web": frozenset({"nginx"}),
    "db": frozenset({"postgresql"}),
    "cache": frozenset({"redis-server", "redis"}),
}
SURVIVES_BAD_UPDATE = frozenset({"ssh", "sshd", "cron", "crond"})


def handle(host: SimHost, command: str) -> ShellResult | None:
    """Answer ``systemctl is-active [--quiet|-q] UNIT...``; None for anything else."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if len(words) < 3 or words[:2] != ["systemctl", "is-active"]:
        return None
    quiet = any(word in ("--quiet", "-q") for word in words[2:])
    units = [word.removesuffix(".service") for word in words[2:] if not word.startswith("-")]
    if not units:
        return ShellResult(stderr="Too few arguments.\n", exit_status=1)
    states = [unit_state(host, unit) for unit in units]
    status = 0 if all(state == "active" for state in states) else 3
    return ShellResult(
        stdout="" if quiet else "".join(f"{s}\n" for s in states), exit_status=status
    )


def unit_state(host: SimHost, unit: str) -> str:
    role = getattr(host, "labels", {}).get("role", "")
    if unit not in BASE_UNITS and unit not in ROLE_UNITS.get(role, frozenset()):
        return "inactive"
    if UNHEALTHY_AFTER_PATCH in host.faults and unit not in SURVIVES_BAD_UPDATE and updated(host):
        return "failed"
    return "active"


def updated(host: SimHost) -> bool:
    """Any package newer than the host shipped with (the first version its repositories
    offered; the fleet builder lists the shipped one first)."""
    return any(
        package.available and package.installed != package.available[0].version
        for package in host.packages.values()
    )
