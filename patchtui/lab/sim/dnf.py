"""Simulated dnf/yum/rpm/needs-restarting for lab hosts of the dnf and yum families.

Answers exactly the commands ``patchtui.drivers.dnf`` sends, in the real
tools' output format (see tests/data/dnf and tests/data/yum) and with their
exit codes. Rendering is plain string work: the lab serves a thousand hosts
from one process.
"""

from __future__ import annotations

import shlex

from patchtui.lab.sim import ShellResult
from patchtui.lab.state import SimHost, SimPackage, SimVersion

LOCK_FAULT = "dpkg-lock"
"""The lab's 'package manager lock held' fault (named after apt's, used by every family)."""
LOCK_HOLDER_PID = 4242
NAME_COLUMN = 40
"""yum 3 and dnf 4 put a name.arch wider than this on a line of its own."""

_NEEDS_REBOOT_TEXT = (
    "Core libraries or services have been updated since boot-up:\n"
    "{packages}\n"
    "Reboot is required to fully utilize these updates.\n"
    "More information: https://access.redhat.com/solutions/27943\n"
)
_NO_REBOOT_TEXT = (
    "No core libraries or services have been updated since boot-up.\n"
    "Reboot should not be necessary.\n"
)


def handle(host: SimHost, command: str) -> ShellResult | None:
    """Answer one command for a dnf/yum host; None if it is not one of ours."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    if not argv:
        return None
    program = argv[0].rsplit("/", 1)[-1]
    if program in ("dnf", "yum"):
        return _package_manager(host, program, argv[1:])
    if program == "rpm":
        return _rpm(host, argv[1:])
    if program == "needs-restarting":
        return _needs_restarting(host)
    return None


def pending(host: SimHost) -> list[tuple[SimPackage, SimVersion]]:
    """The host's packages with a newer version on offer, sorted by name."""
    result = []
    for name in sorted(host.packages):
        package = host.packages[name]
        candidate = package.candidate()
        if candidate is not None:
            result.append((package, candidate))
    return result


def _lock_result(program: str) -> ShellResult:
    if program == "yum":
        message = (
            f"Existing lock /var/run/yum.pid: another copy is running as pid {LOCK_HOLDER_PID}.\n"
            "Another app is currently holding the yum lock; exiting as configured by exit_on_lock\n"
        )
    else:
        message = f"Waiting for process with pid {LOCK_HOLDER_PID} to finish.\n"
    return ShellResult(stderr=message, exit_status=200)


def _package_manager(host: SimHost, program: str, args: list[str]) -> ShellResult | None:
    # Options (-q, --refresh, --setopt=..., -C) may come before or after the
    # command; the words that are left name the command and its arguments.
    words = [arg for arg in args if not arg.startswith("-")]
    if not words:
        return None
    if words[0] in ("makecache", "check-update", "updateinfo") and LOCK_FAULT in host.faults:
        return _lock_result(program)
    if words[0] == "makecache":
        host.metadata_refreshed = True
        return ShellResult()
    if words[0] == "check-update":
        return _check_update(host)
    if words[0] == "updateinfo" and words[1:2] == ["list"]:
        with_cve = "--with-cve" in args or "cves" in words[2:]
        return _updateinfo_list(host, with_cve=with_cve)
    if words[0] == "needs-restarting":
        return _needs_restarting(host)
    return None


def _row(name_arch: str, version: str, repository: str) -> str:
    if len(name_arch) >= NAME_COLUMN:
        return f"{name_arch}\n{'':<{NAME_COLUMN}}{version:<22} {repository}\n"
    return f"{name_arch:<{NAME_COLUMN}}{version:<22} {repository}\n"


def _check_update(host: SimHost) -> ShellResult:
    rows = pending(host)
    if not rows:
        return ShellResult(exit_status=0)
    # Real check-update output starts with an empty line.
    body = "".join(
        _row(f"{package.name}.{package.arch}", version.version, version.repository)
        for package, version in rows
    )
    return ShellResult(stdout="\n" + body, exit_status=100)


def _updateinfo_list(host: SimHost, *, with_cve: bool) -> ShellResult:
    lines: list[str] = []
    for package, version in pending(host):
        nevra = f"{package.name}-{version.version}.{package.arch}"
        if version.security:
            label = f"{version.severity or 'Unknown'}/Sec."
            ids = version.cves if with_cve else ((version.advisory,) if version.advisory else ())
        elif version.advisory and not with_cve:
            label, ids = "bugfix", (version.advisory,)
        else:
            continue
        lines.extend(f"{advisory:<20} {label:<14} {nevra}\n" for advisory in ids)
    return ShellResult(stdout="".join(lines), exit_status=0)


def _rpm(host: SimHost, args: list[str]) -> ShellResult | None:
    if not args or args[0] not in ("-q", "-qa"):
        return None
    names = [arg for arg in args[1:] if not arg.startswith("-")]
    if "--qf" in args or "--queryformat" in args:
        # The format string is the word after --qf; it is not a package name.
        names = names[1:]
    if args[0] == "-qa":
        names = sorted(host.packages)
    out: list[str] = []
    missing = 0
    for name in names:
        package = host.packages.get(name)
        if package is None:
            out.append(f"package {name} is not installed\n")
            missing += 1
        else:
            out.append(f"{package.name}.{package.arch} {package.installed}\n")
    return ShellResult(stdout="".join(out), exit_status=missing)


def _needs_restarting(host: SimHost) -> ShellResult:
    if host.reboot_required:
        names = host.reboot_packages or ["kernel"]
        listed = "".join(f"  * {name}\n" for name in names)
        return ShellResult(stdout=_NEEDS_REBOOT_TEXT.format(packages=listed), exit_status=1)
    return ShellResult(stdout=_NO_REBOOT_TEXT, exit_status=0)
