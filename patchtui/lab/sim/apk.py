"""Simulated apk for lab hosts: answers exactly the apk driver's commands.

Output follows apk-tools 2.x (see tests/data/apk): ``fetch`` lines and an
``OK: N distinct packages available`` summary for update, ``(i/n) Upgrading
name (old -> new)`` steps for the simulated upgrade, and the real lock error.
"""

from __future__ import annotations

from patchtui.drivers import apk as driver
from patchtui.drivers.parsers.apk import kernel_release_of_package
from patchtui.lab.sim import ShellResult
from patchtui.lab.state import SimHost

_LOCK_STDERR = (
    "ERROR: Unable to lock database: Resource temporarily unavailable\n"
    "ERROR: Failed to open apk database: Resource temporarily unavailable\n"
)
_MIRROR = "https://dl-cdn.alpinelinux.org/alpine"


def handle(host: SimHost, command: str) -> ShellResult | None:
    """Answer one of the apk driver's commands, or None for anything else."""
    if command == driver.UPDATE_COMMAND:
        return _update(host)
    if command == driver.SIMULATE_COMMAND:
        return ShellResult(stdout=render_simulation(host))
    if command == driver.KERNEL_CHECK_COMMAND:
        return ShellResult(stdout=render_kernel_check(host))
    return None


def _branch(host: SimHost) -> str:
    major_minor = ".".join(host.os_version.split(".")[:2])
    return f"v{major_minor}"


def _update(host: SimHost) -> ShellResult:
    # apk's lock is its own, but the lab's one lock fault stands for "the
    # package manager is busy" on every family.
    if "dpkg-lock" in host.faults:
        return ShellResult(stderr=_LOCK_STDERR, exit_status=99)
    branch = _branch(host)
    lines = []
    for repo in ("main", "community"):
        lines.append(f"fetch {_MIRROR}/{branch}/{repo}/x86_64/APKINDEX.tar.gz")
    for repo in ("main", "community"):
        lines.append(f"{branch}.0-1-g0000000000 [{_MIRROR}/{branch}/{repo}]")
    lines.append(f"OK: {20000 + len(host.packages)} distinct packages available")
    host.metadata_refreshed = True
    return ShellResult(stdout="\n".join(lines) + "\n")


def render_simulation(host: SimHost) -> str:
    """``apk upgrade --simulate --no-self-upgrade`` output for the host's pending packages."""
    pending = []
    for name in sorted(host.packages):
        package = host.packages[name]
        candidate = package.candidate()
        if candidate is not None:
            pending.append((package.name, package.installed, candidate.version))
    total = len(pending)
    lines = [
        f"({index}/{total}) Upgrading {name} ({old} -> {new})"
        for index, (name, old, new) in enumerate(pending, 1)
    ]
    lines.append(f"OK: {8 + len(host.packages)} MiB in {len(host.packages)} packages")
    return "\n".join(lines) + "\n"


def render_kernel_check(host: SimHost) -> str:
    """``uname -r`` then the installed kernel packages, as ``apk -v info | grep`` shows them."""
    lines = [host.kernel]
    for name in sorted(host.packages):
        candidate_line = f"{name}-{host.packages[name].installed}"
        if kernel_release_of_package(candidate_line) is not None:
            lines.append(candidate_line)
    return "\n".join(lines) + "\n"
