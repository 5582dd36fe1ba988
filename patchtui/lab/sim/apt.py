"""Simulated apt-get for lab hosts: answers exactly the apt driver's commands.

Output follows real apt-get 2.x (see tests/data/apt): ``Hit:`` lines for
update, ``Inst``/``Conf`` lines with ``Label:Version/Suite`` origins for the
simulation, and the real lock error with exit status 100.

Installs (``upgrade``, ``dist-upgrade``, ``install --only-upgrade name=v``,
``install --allow-downgrades name=v``, each also as ``-s``) change
``SimPackage.installed`` only to versions in ``available``; the replaced
version stays there, so a rollback can install it again (as it can on a real
host while the mirror still carries it). Faults: ``dpkg-lock`` (the real lock
error, exit 100), ``install-fails`` (dpkg fails on the second half of the
packages after upgrading the first, exit 100).

The driver's changelog loop (``apt-get changelog name=version`` per package)
gets a Debian-format changelog per requested version: the offered version's
entry names its advisory (DSA-/USN-style) and CVEs, followed by an entry for
the installed version; an unknown package or version gets apt's error and
exit status 100 in that package's section.
"""

from __future__ import annotations

import re
import shlex

from patchtui.drivers import apt as driver
from patchtui.drivers.parsers import apt as parse
from patchtui.drivers.parsers import apt_reboot
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
    if command == driver.HOLDS_COMMAND:
        return ShellResult(stdout="".join(f"{name}\n" for name in sorted(held(host))))
    if command.startswith("for spec in ") and command.endswith(f"; {driver.CHANGELOG_LOOP_BODY}"):
        return _changelogs(
            host, command[len("for spec in ") : -len(driver.CHANGELOG_LOOP_BODY) - 2]
        )
    if command.startswith("dpkg-query -W -f="):
        return _dpkg_query(host, command)
    if command.startswith(driver.APT_GET_PREFIX + " "):
        return _apt_get(host, command[len(driver.APT_GET_PREFIX) + 1 :])
    return None


def held(host: SimHost) -> set[str]:
    """Names on hold (``apt-mark hold``).

    SimPackage has no hold flag yet (requested from state.py's owner as
    ``SimPackage.held``); until it exists no lab package is held.
    """
    return {name for name, package in host.packages.items() if getattr(package, "held", False)}


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
    holds = held(host)
    for name in sorted(host.packages):
        if name in holds:
            continue  # apt keeps held packages back
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
    kept_back = sorted(n for n in held(host) if host.packages[n].candidate() is not None)
    if kept_back:
        out.append("The following packages have been kept back:\n  " + " ".join(kept_back) + "\n")
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


_MARK = apt_reboot.SECTION_MARK
# linux-image-6.1.0-21-amd64 (a kernel) and linux-image-amd64 (the metapackage naming none).
_ABI_KERNEL_RE = re.compile(
    r"^linux-image-(?P<base>\d+\.\d+\.\d+)-(?P<abi>\d+)-(?P<flavour>[a-z][a-z0-9-]*)$"
)
_META_KERNEL_RE = re.compile(r"^linux-image-(?P<flavour>[a-z][a-z0-9-]*)$")
_UBUNTU_META_VERSION_RE = re.compile(r"^(?P<base>\d+\.\d+\.\d+)\.(?P<abi>\d+)\.(?P<upload>\d+)$")


def _reboot_check(host: SimHost) -> ShellResult:
    """The driver's reboot check: flag file (with update-notifier), uname, needrestart, kernels.

    A plain Debian host (``update_notifier`` False) never has the flag file,
    however many kernels it installed: the case the check's other sections catch.
    """
    out = [f"{_MARK} flag\n"]
    if host.reboot_required and host.update_notifier:
        out.append(f"{apt_reboot.REBOOT_REQUIRED_MARK}\n")
        out.extend(f"{name}\n" for name in host.reboot_packages)
    else:
        out.append(f"{apt_reboot.NO_REBOOT_REQUIRED_MARK}\n")
    out.append(f"{_MARK} notifier\n")
    if host.update_notifier:
        out.append(f"{apt_reboot.NOTIFIER_PRESENT}\n")
    out.append(f"{_MARK} uname\n{host.kernel}\n{_MARK} needrestart\n")
    kernels = "".join(
        f"{name}\t{package.installed}\tii \n"
        for name, package in sorted(host.packages.items())
        if name.startswith("linux-image-")
    )
    if host.needrestart:
        # needrestart 3.6's batch lines for its kernel check (tests/data/apt/needrestart_b_*):
        # what it would find in /boot, i.e. the installed kernels.
        installed = apt_reboot.parse_kernel_packages(kernels)
        newest = apt_reboot.compare_kernels(host.kernel, installed).newest or host.kernel
        upgrade = newest != host.kernel
        status = apt_reboot.KSTA_VERSION_UPGRADE if upgrade else apt_reboot.KSTA_NO_UPGRADE
        out.append(
            f"NEEDRESTART-VER: 3.6\nNEEDRESTART-KCUR: {host.kernel}\n"
            f"NEEDRESTART-KEXP: {newest}\nNEEDRESTART-KSTA: {status}\n"
            f"{_MARK} {apt_reboot.NEEDRESTART_EXIT} 0\n"
        )
    out.append(f"{_MARK} kernels\n{kernels}")
    return ShellResult(stdout="".join(out))


def _pull_in_kernel(host: SimHost, meta: SimPackage, version: str) -> None:
    """A kernel metapackage upgrade installs a kernel of a new ABI beside the running one.

    Ubuntu's metapackage version names it (5.15.0.112.112 -> 5.15.0-112-generic);
    Debian's does not (6.1.94-1), so the next ABI after the newest installed one
    of the flavour is taken, as Debian's stable updates usually do.
    """
    found = _META_KERNEL_RE.match(meta.name)
    if found is None:
        return
    flavour = found["flavour"]
    if m := _UBUNTU_META_VERSION_RE.match(version):
        name, kernel_version = (
            f"linux-image-{m['base']}-{m['abi']}-{flavour}",
            f"{m['base']}-{m['abi']}.{m['upload']}",
        )
    else:
        same = [
            m
            for other in host.packages
            if (m := _ABI_KERNEL_RE.match(other)) and m["flavour"] == flavour
        ]
        if not same or any(host.packages[m.string].installed == version for m in same):
            return  # no kernel to count from, or this version's kernel is already there
        newest = max(same, key=lambda m: (*map(int, m["base"].split(".")), int(m["abi"])))
        name = f"linux-image-{newest['base']}-{int(newest['abi']) + 1}-{flavour}"
        kernel_version = version
    if name not in host.packages:
        host.packages[name] = SimPackage(
            name, meta.arch, kernel_version, [SimVersion(kernel_version, "pulled-in")]
        )


# -- installs ----------------------------------------------------------------------

_READING = "Reading package lists...\nBuilding dependency tree...\nReading state information...\n"
_INSTALL_LOCK_STDERR = (
    "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 2448"
    " (unattended-upgr)\n"
    "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend),"
    " is another process using it?\n"
)


def _dpkg_query(host: SimHost, command: str) -> ShellResult:
    try:
        words = shlex.split(command)
    except ValueError:
        return ShellResult(
            stderr="sh: 1: Syntax error: Unterminated quoted string\n", exit_status=2
        )
    out, err = [], []
    # No names: dpkg-query lists every package it knows.
    for name in words[3:] or sorted(host.packages):
        package = host.packages.get(name)
        if package is None:
            err.append(f"dpkg-query: no packages found matching {name}\n")
        else:
            out.append(f"{name}\t{package.installed}\tii \n")
    return ShellResult(stdout="".join(out), stderr="".join(err), exit_status=1 if err else 0)


def _rank(package: SimPackage, version: str) -> int:
    """Position of ``version`` among the offered ones (oldest first); -1 if not offered."""
    for index, offered in enumerate(package.available):
        if offered.version == version:
            return index
    return -1


def _apt_get(host: SimHost, rest: str) -> ShellResult | None:
    try:
        words = shlex.split(rest)
    except ValueError:
        return None
    simulate = words[:3] == ["-s", "-o", "Debug::NoLocking=1"]
    if simulate:
        words = words[3:]
    if not words:
        return None
    action, args = words[0], words[1:]
    plan: list[tuple[SimPackage, str]]
    if action in ("upgrade", "dist-upgrade") and not args:
        plan = [(package, version.version) for package, version in _pending(host)]
        return _run_plan(host, plan, simulate=simulate, allow_downgrades=False)
    if action != "install" or not args or args[0] not in ("--only-upgrade", "--allow-downgrades"):
        return None
    allow_downgrades = args[0] == "--allow-downgrades"
    plan = []
    errors: list[str] = []
    for spec in args[1:]:
        name, _, version = spec.partition("=")
        package = host.packages.get(name)
        if package is None:
            errors.append(f"E: Unable to locate package {name}\n")
        elif not version:
            candidate = package.candidate()
            if candidate is not None:
                plan.append((package, candidate.version))
        elif _rank(package, version) < 0:
            errors.append(f"E: Version '{version}' for '{name}' was not found\n")
        else:
            plan.append((package, version))
    if errors:
        return ShellResult(stdout=_READING, stderr="".join(errors), exit_status=100)
    return _run_plan(host, plan, simulate=simulate, allow_downgrades=allow_downgrades)


def _run_plan(
    host: SimHost, plan: list[tuple[SimPackage, str]], *, simulate: bool, allow_downgrades: bool
) -> ShellResult:
    if not simulate and "dpkg-lock" in host.faults:
        return ShellResult(stderr=_INSTALL_LOCK_STDERR, exit_status=100)
    changes = [(p, v) for p, v in plan if v != p.installed]
    current = [p for p, v in plan if v == p.installed]
    downgrades = [p.name for p, v in changes if _rank(p, v) < _rank(p, p.installed)]
    upgrades = [p.name for p, v in changes if p.name not in downgrades]
    out = [_READING]
    out.extend(f"{p.name} is already the newest version ({p.installed}).\n" for p in current)
    if upgrades:
        out.append("The following packages will be upgraded:\n  " + " ".join(upgrades) + "\n")
    if downgrades:
        out.append("The following packages will be DOWNGRADED:\n  " + " ".join(downgrades) + "\n")
    counts = f"{len(upgrades)} upgraded, 0 newly installed, "
    if downgrades:
        counts += f"{len(downgrades)} downgraded, "
    out.append(counts + "0 to remove and 0 not upgraded.\n")
    if downgrades and not allow_downgrades:
        return ShellResult(
            stdout="".join(out),
            stderr="E: Packages were downgraded and -y was used without --allow-downgrades.\n",
            exit_status=100,
        )
    if simulate:
        for package, version in changes:
            offered = package.available[_rank(package, version)]
            out.append(
                f"Inst {package.name} [{package.installed}]"
                f" ({version} {origin_of(host, offered)} [{package.arch}])\n"
            )
        return ShellResult(stdout="".join(out))
    # install-fails: the first half is upgraded, dpkg then fails (at least one fails).
    failing = changes[len(changes) // 2 :] if "install-fails" in host.faults else []
    done = changes[: len(changes) - len(failing)]
    out.append(
        f"(Reading database ... {9000 + 37 * len(host.packages)} files and directories"
        " currently installed.)\n"
    )
    for package, version in done + failing[:1]:
        deb = f"{package.name}_{version.replace(':', '%3a')}_{package.arch}.deb"
        out.append(f"Preparing to unpack .../{deb} ...\n")
        if failing and package is failing[0][0]:
            return _dpkg_fails(host, done, package, deb, out)
        if package.name in downgrades:
            out.append(
                f"dpkg: warning: downgrading {package.name} from {package.installed} to {version}\n"
            )
        out.append(f"Unpacking {package.name} ({version}) over ({package.installed}) ...\n")
    for package, version in done:
        out.append(f"Setting up {package.name} ({version}) ...\n")
    _install(host, done)
    return ShellResult(stdout="".join(out))


def _dpkg_fails(
    host: SimHost,
    done: list[tuple[SimPackage, str]],
    package: SimPackage,
    deb: str,
    out: list[str],
) -> ShellResult:
    """dpkg refuses one archive (a file conflict): it is left as it was, earlier ones upgraded."""
    out.append(
        f"dpkg: error processing archive /var/cache/apt/archives/{deb} (--unpack):\n"
        f" trying to overwrite '/usr/share/doc/{package.name}/NEWS.gz',"
        f" which is also in package {package.name}-common {package.installed}\n"
    )
    for earlier, version in done:
        out.append(f"Setting up {earlier.name} ({version}) ...\n")
    _install(host, done)
    out.append(f"Errors were encountered while processing:\n /var/cache/apt/archives/{deb}\n")
    return ShellResult(
        stdout="".join(out),
        stderr="E: Sub-process /usr/bin/dpkg returned an error code (1)\n",
        exit_status=100,
    )


def _install(host: SimHost, changes: list[tuple[SimPackage, str]]) -> None:
    """Apply ``changes``; versions that ask for a reboot flag the host like update-notifier."""
    for package, version in changes:
        offered = package.available[_rank(package, version)]
        package.installed = version  # the old version stays in available: rollback can use it
        if offered.needs_reboot:
            _pull_in_kernel(host, package, version)
            host.reboot_required = True
            if package.name not in host.reboot_packages:
                host.reboot_packages.append(package.name)


# -- changelogs ---------------------------------------------------------------------

_DEBIAN_TRAILER = (
    " -- Debian Security Team <team@security.debian.org>  Mon, 03 Jun 2024 10:00:00 +0000"
)
_UBUNTU_TRAILER = " -- Ubuntu Security Team <security@ubuntu.com>  Mon, 03 Jun 2024 10:00:00 +0000"
_MAINTAINER_TRAILER = (
    " -- Package Maintainer <maintainer@example.org>  Mon, 01 Jan 2024 10:00:00 +0000"
)


def _changelogs(host: SimHost, specs_text: str) -> ShellResult:
    """The driver's changelog loop: a marker, apt-get's output and its exit status per spec."""
    try:
        specs = shlex.split(specs_text)
    except ValueError:
        return ShellResult(
            stderr="sh: 1: Syntax error: Unterminated quoted string\n", exit_status=2
        )
    out: list[str] = []
    for spec in specs:
        out.append(f"{parse.CHANGELOG_MARK} {spec}\n")
        text, status = _changelog(host, spec)
        out.append(text)
        out.append(f"{parse.CHANGELOG_EXIT_MARK} {status}\n")
    return ShellResult(stdout="".join(out))


def _changelog(host: SimHost, spec: str) -> tuple[str, int]:
    """``apt-get changelog name=version`` on ``host``: (output, exit status)."""
    name, _, version = spec.partition("=")
    package = host.packages.get(name)
    if package is None:
        return f"E: Unable to locate package {name}\n", 100
    rank = _rank(package, version)
    if rank < 0:
        return f"E: Version '{version}' for '{name}' was not found\n", 100
    return render_changelog(host, package, package.available[rank]), 0


def render_changelog(host: SimHost, package: SimPackage, offered: SimVersion) -> str:
    """A Debian-format changelog: the offered version's entry, then the installed one's."""
    codename = host.version_codename
    entries: list[str] = []
    if offered.version != package.installed:
        suite = f"{codename}-security" if offered.security else f"{codename}-updates"
        if not offered.security:
            lines, trailer = ["  * New upstream stable release."], _MAINTAINER_TRAILER
        elif _is_ubuntu(host):
            lines = ["  * SECURITY UPDATE: fixes from upstream"]
            if offered.advisory:
                lines[0] += f" ({offered.advisory})"
            lines.extend(f"    - {cve}" for cve in offered.cves)
            trailer = _UBUNTU_TRAILER
        else:
            lines = ["  * Non-maintainer upload by the Security Team."]
            if offered.cves or offered.advisory:
                fixes = " and ".join(offered.cves) or "security issues"
                named = f" ({offered.advisory})" if offered.advisory else ""
                lines.append(f"  * Fix {fixes}{named}.")
            trailer = _DEBIAN_TRAILER
        urgency = "high" if offered.security else "medium"
        entries.append(
            f"{package.name} ({offered.version}) {suite}; urgency={urgency}\n\n"
            + "\n".join(lines)
            + f"\n\n{trailer}\n"
        )
    entries.append(
        f"{package.name} ({package.installed}) {codename}; urgency=medium\n\n"
        f"  * Version installed on this host.\n\n{_MAINTAINER_TRAILER}\n"
    )
    return "\n".join(entries)
