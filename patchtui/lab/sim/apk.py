"""Simulated apk for lab hosts: answers exactly the apk driver's commands.

Output follows apk-tools 2.x (see tests/data/apk): ``fetch`` lines and an
``OK: N distinct packages available`` summary for update, ``(i/n) Upgrading
name (old -> new)`` steps for the simulated upgrade, and the real lock error.

Installs (``apk upgrade``, ``apk add --upgrade name=v`` and ``apk add name=v``
inside the driver's world-preserving wrapper, ``--simulate`` variants) change
``SimPackage.installed`` only to versions in ``available`` and keep the old
one there for rollbacks. Faults: ``dpkg-lock`` (apk's lock error, exit 99)
and ``install-fails`` (a file conflict after the first half is upgraded).
"""

from __future__ import annotations

import shlex

from patchtui.drivers import apk as driver
from patchtui.drivers.parsers.apk import kernel_release_of_package
from patchtui.lab.sim import ShellResult
from patchtui.lab.state import SimHost, SimPackage

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
    if command == "apk list -I" or command.startswith("apk list -I "):
        return _list_installed(host, command)
    inner = driver.unwrap_preserving_world(command)
    if inner is not None:
        return _install_command(host, inner, simulate=False)
    if command == f"{driver.APK_PREFIX} upgrade":
        return _run_plan(host, _pending_plan(host), simulate=False)
    if command == "apk upgrade --simulate":
        return _run_plan(host, _pending_plan(host), simulate=True)
    if command.startswith("apk add --upgrade --simulate "):
        return _install_command(host, command, simulate=True)
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


# -- installs ----------------------------------------------------------------------


def _list_installed(host: SimHost, command: str) -> ShellResult:
    try:
        names = shlex.split(command)[3:]
    except ValueError:
        return ShellResult(stderr="sh: syntax error: unterminated quoted string\n", exit_status=2)
    lines = []
    # No names: apk lists every installed package.
    for name in names or sorted(host.packages):
        package = host.packages.get(name)
        if package is not None:
            lines.append(
                f"{name}-{package.installed} {package.arch} {{{name}}} (MIT) [installed]\n"
            )
    return ShellResult(stdout="".join(lines))


def _rank(package: SimPackage, version: str) -> int:
    for index, offered in enumerate(package.available):
        if offered.version == version:
            return index
    return -1


def _pending_plan(host: SimHost) -> list[tuple[SimPackage, str]]:
    plan = []
    for name in sorted(host.packages):
        candidate = host.packages[name].candidate()
        if candidate is not None:
            plan.append((host.packages[name], candidate.version))
    return plan


def _install_command(host: SimHost, command: str, *, simulate: bool) -> ShellResult | None:
    """``apk ... add [--upgrade] [--simulate] name=version...``."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    prefix = shlex.split(driver.APK_PREFIX)
    if words[: len(prefix)] == prefix:
        words = words[len(prefix) :]
    elif words[:1] == ["apk"]:
        words = words[1:]
    else:
        return None
    if words[:1] != ["add"]:
        return None
    specs = [word for word in words[1:] if not word.startswith("--")]
    plan: list[tuple[SimPackage, str]] = []
    problems: list[str] = []
    for spec in specs:
        name, _, version = spec.partition("=")
        package = host.packages.get(name)
        if package is None:
            problems.append(f"  {name} (no such package):\n    required by: world[{name}]\n")
        elif not version:
            candidate = package.candidate()
            plan.append((package, candidate.version if candidate else package.installed))
        elif _rank(package, version) < 0:
            newest = package.available[-1].version if package.available else package.installed
            problems.append(f"  {name}-{newest}:\n    breaks: world[{name}={version}]\n")
        else:
            plan.append((package, version))
    if problems:
        return ShellResult(
            stderr="ERROR: unable to select packages:\n" + "".join(problems), exit_status=1
        )
    return _run_plan(host, plan, simulate=simulate)


def _run_plan(host: SimHost, plan: list[tuple[SimPackage, str]], *, simulate: bool) -> ShellResult:
    if not simulate and "dpkg-lock" in host.faults:
        return ShellResult(stderr=_LOCK_STDERR, exit_status=99)
    changes = [(p, v) for p, v in plan if v != p.installed]
    failing = (
        changes[len(changes) // 2 :] if not simulate and "install-fails" in host.faults else []
    )
    total = len(changes)
    lines = []
    done: list[tuple[SimPackage, str]] = []
    for index, (package, version) in enumerate(changes, 1):
        verb = (
            "Downgrading"
            if _rank(package, version) < _rank(package, package.installed)
            else "Upgrading"
        )
        lines.append(f"({index}/{total}) {verb} {package.name} ({package.installed} -> {version})")
        if failing and package is failing[0][0]:
            lines.append(
                f"ERROR: {package.name}-{version}: trying to overwrite"
                f" usr/share/doc/{package.name}/README owned by"
                f" {package.name}-doc-{package.installed}."
            )
            _install(host, done)
            lines.append(f"1 error; {8 + len(host.packages)} MiB in {len(host.packages)} packages")
            return ShellResult(stdout="\n".join(lines) + "\n", exit_status=1)
        done.append((package, version))
    if not simulate:
        _install(host, done)
    lines.append(f"OK: {8 + len(host.packages)} MiB in {len(host.packages)} packages")
    return ShellResult(stdout="\n".join(lines) + "\n")


def _install(host: SimHost, changes: list[tuple[SimPackage, str]]) -> None:
    for package, version in changes:
        offered = package.available[_rank(package, version)]
        package.installed = version  # the old version stays in available: rollback can use it
        if offered.needs_reboot:
            host.reboot_required = True
            if package.name not in host.reboot_packages:
                host.reboot_packages.append(package.name)
