"""Simulated apt-get for lab hosts: answers exactly the apt driver's commands.

Output follows real apt-get 2.x (see tests/data/apt): ``Hit:`` lines for
update, ``Inst``/``Conf`` lines with ``Label:Version/Suite`` origins for the
simulation, and the real lock error with exit status 100.
"""

from __future__ import annotations

from patchtui.drivers import apt as driver
from patchtui.lab.sim import ShellResult
from patchtui.lab.state import SimHost, SimPackage, SimVersion

_LOCK_STDERR = (
    "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 1234 (apt-get)\n"
    "E: Unable to lock directory /var/lib/apt/lists/\n"
)
_SIMULATION_NOTE = (
    "NOTE: This is only a simulation!\n"
    "      apt-get needs root privileges for real execution.\n"
    "      Keep also in mind that locking is deactivated,\n"
    "      so don't depend on the relevance to the real current situation!\n"
)


def handle(host: SimHost, command: str) -> ShellResult | None:
    """Answer one of the apt driver's commands, or None for anything else."""
    if command == driver.UPDATE_COMMAND:
        return _update(host)
    if command == driver.SIMULATE_COMMAND:
        return ShellResult(stdout=render_simulation(host))
    if command == driver.REBOOT_CHECK_COMMAND:
        return _reboot_check(host)
    return None


def _is_ubuntu(host: SimHost) -> bool:
    return host.os_id == "ubuntu"


def _update(host: SimHost) -> ShellResult:
    if "dpkg-lock" in host.faults:
        return ShellResult(stderr=_LOCK_STDERR, exit_status=100)
    if _is_ubuntu(host):
        mirror, security = "http://archive.ubuntu.com/ubuntu", "http://security.ubuntu.com/ubuntu"
        suites = [
            (mirror, host.version_codename),
            (mirror, f"{host.version_codename}-updates"),
            (security, f"{host.version_codename}-security"),
        ]
    else:
        mirror, security = "http://deb.debian.org/debian", "http://deb.debian.org/debian-security"
        suites = [
            (mirror, host.version_codename),
            (mirror, f"{host.version_codename}-updates"),
            (security, f"{host.version_codename}-security"),
        ]
    lines = [f"Hit:{index} {url} {suite} InRelease" for index, (url, suite) in enumerate(suites, 1)]
    lines.append("Reading package lists...")
    host.metadata_refreshed = True
    return ShellResult(stdout="\n".join(lines) + "\n")


def origin_of(host: SimHost, version: SimVersion) -> str:
    """The ``Label:Version/Suite`` origin apt prints for ``version`` on ``host``."""
    if ":" in version.repository and "/" in version.repository:
        return version.repository  # already an apt origin
    major = host.os_version.split(".")[0]
    if _is_ubuntu(host):
        pocket = "security" if version.security else "updates"
        return f"Ubuntu:{host.os_version}/{host.version_codename}-{pocket}"
    if version.security:
        return f"Debian-Security:{major}/stable-security"
    return f"Debian:{host.os_version}/stable"


def _pending(host: SimHost) -> list[tuple[SimPackage, SimVersion]]:
    pending = []
    for name in sorted(host.packages):
        package = host.packages[name]
        candidate = package.candidate()
        if candidate is not None:
            pending.append((package, candidate))
    return pending


def render_simulation(host: SimHost) -> str:
    """``apt-get -s dist-upgrade`` output for the host's pending packages."""
    pending = _pending(host)
    out = [
        _SIMULATION_NOTE,
        "Reading package lists...\nBuilding dependency tree...\nReading state information...\n",
        "Calculating upgrade...\n",
    ]
    if pending:
        out.append("The following packages will be upgraded:\n")
        out.append("  " + " ".join(package.name for package, _ in pending) + "\n")
    out.append(f"{len(pending)} upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n")
    for package, version in pending:
        out.append(
            f"Inst {package.name} [{package.installed}]"
            f" ({version.version} {origin_of(host, version)} [{package.arch}])\n"
        )
    for package, version in pending:
        out.append(
            f"Conf {package.name} ({version.version} {origin_of(host, version)} [{package.arch}])\n"
        )
    return "".join(out)


def _reboot_check(host: SimHost) -> ShellResult:
    if not host.reboot_required:
        return ShellResult(stdout="no-reboot-required\n")
    packages = "".join(f"{name}\n" for name in host.reboot_packages)
    return ShellResult(stdout=f"reboot-required\n{packages}")
