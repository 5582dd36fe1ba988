"""Simulated dnf/yum/rpm/needs-restarting for lab hosts of the dnf and yum families.

Answers exactly the commands ``patchtui.drivers.dnf`` sends, in the real
tools' output format (see tests/data/dnf and tests/data/yum) and with their
exit codes. Rendering is plain string work: the lab serves a thousand hosts
from one process.

Transactions (``upgrade``, yum's ``update``/``update-to``, ``downgrade``, with
``-y`` or ``--assumeno``) move ``SimPackage.installed`` only to a version the
host's repositories offer (``available``), leave every offered version in
place so that a rollback can go back, and raise the reboot flag for versions
marked ``needs_reboot``. Host faults: ``dpkg-lock`` answers with the tool's
lock message; ``install-fails`` upgrades the first half of the transaction and
then fails unpacking the next package, as a full disk does.
"""

from __future__ import annotations

import shlex

from patchtui.drivers.dnf import split_dry_run, split_rollback
from patchtui.drivers.parsers.dnf import ROLLBACK_BANNER
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
# yum-utils' needs-restarting (CentOS/RHEL 7) words it differently (tests/data/yum).
_YUM_NEEDS_REBOOT_TEXT = (
    "Core libraries or services have been updated:\n"
    "{packages}\n"
    "Reboot is required to ensure that your system benefits from these updates.\n"
    "\n"
    "More information:\n"
    "https://access.redhat.com/solutions/27943\n"
)
_YUM_NO_REBOOT_TEXT = (
    "No core libraries or services have been updated.\nReboot is probably not necessary.\n"
)


def handle(host: SimHost, command: str) -> ShellResult | None:
    """Answer one command for a dnf/yum host; None if it is not one of ours."""
    rollback = split_rollback(command)
    if rollback is not None:
        inner = handle(host, rollback)
        if inner is not None:
            inner.stdout = f"{ROLLBACK_BANNER}\n{inner.stdout}"
        return inner
    dry_run = split_dry_run(command)
    if dry_run is not None:
        return _dry_run(host, *dry_run)
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    while argv and "=" in argv[0] and not argv[0].startswith(("-", "/")):
        argv = argv[1:]  # leading VAR=value assignments (LC_ALL=C needs-restarting -r)
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
        # What dnf 4 prints with --setopt=exit_on_lock=True (tests/data/dnf/lock-*).
        message = (
            f"metadata already locked by {LOCK_HOLDER_PID}\n"
            f"  The application with PID {LOCK_HOLDER_PID} is: dnf\n"
        )
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
    if words[0] in ("upgrade", "update", "update-to", "downgrade"):
        return _transaction(host, program, words[0], words[1:], assume_no="--assumeno" in args)
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
    yum = host.family == "yum"
    if host.reboot_required:
        names = host.reboot_packages or ["kernel"]
        if yum:
            listed = "".join(f"  {name} -> {_installed_evr(host, name)}\n" for name in names)
            return ShellResult(stdout=_YUM_NEEDS_REBOOT_TEXT.format(packages=listed), exit_status=1)
        listed = "".join(f"  * {name}\n" for name in names)
        return ShellResult(stdout=_NEEDS_REBOOT_TEXT.format(packages=listed), exit_status=1)
    return ShellResult(stdout=_YUM_NO_REBOOT_TEXT if yum else _NO_REBOOT_TEXT, exit_status=0)


def _installed_evr(host: SimHost, name: str) -> str:
    package = host.packages.get(name)
    return package.installed if package is not None else "unknown"


# Transactions -------------------------------------------------------------------

INSTALL_FAILS_FAULT = "install-fails"


def resolve(package: SimPackage, version_text: str | None) -> SimVersion | None:
    """The offered version ``version_text`` names (the newest when None).

    Like dnf, a version given without its epoch matches one with an epoch.
    """
    if not package.available:
        return None
    if version_text is None:
        return package.available[-1]
    for offered in package.available:
        if version_text in (offered.version, offered.version.split(":", 1)[-1]):
            return offered
    return None


def apply_version(host: SimHost, package: SimPackage, version: SimVersion) -> None:
    """Install ``version`` of ``package``; a kernel-like version asks for a reboot."""
    package.installed = version.version
    if version.needs_reboot:
        host.reboot_required = True
        if package.name not in host.reboot_packages:
            host.reboot_packages.append(package.name)


def split_spec(host: SimHost, spec: str) -> tuple[SimPackage, str | None] | None:
    """``name`` or ``name-[epoch:]version-release`` -> (package, version text)."""
    if spec in host.packages:
        return host.packages[spec], None
    # Longest name first: "openssl-libs-1:3.0.7" must not match package "openssl".
    for name in sorted(host.packages, key=len, reverse=True):
        if spec.startswith(name + "-"):
            return host.packages[name], spec[len(name) + 1 :]
    return None


def _plan(
    host: SimHost, verb: str, specs: list[str]
) -> tuple[list[tuple[SimPackage, SimVersion]], list[str]]:
    """(changes, specs that match nothing on offer) for a transaction."""
    if not specs:
        return (pending(host) if verb != "downgrade" else []), []
    changes: list[tuple[SimPackage, SimVersion]] = []
    missing: list[str] = []
    for spec in specs:
        found = split_spec(host, spec)
        version = resolve(found[0], found[1]) if found is not None else None
        if found is None or version is None:
            missing.append(spec)
        elif version.version != found[0].installed:
            changes.append((found[0], version))
    return changes, missing


def _size(version: SimVersion) -> str:
    return f"{1 + len(version.version) % 7}.{len(version.repository) % 10} M"


def _table(program: str, verb: str, changes: list[tuple[SimPackage, SimVersion]]) -> str:
    width = max([len("Package")] + [len(p.name) for p, _ in changes]) + 1
    rule = "=" * (width + 64) + "\n"
    section = {
        ("dnf", "downgrade"): "Downgrading:",
        ("yum", "downgrade"): "Downgrading:",
        ("yum", "update"): "Updating:",
        ("yum", "update-to"): "Updating:",
    }.get((program, verb), "Upgrading:")
    lines = [
        "Dependencies resolved.\n" if program == "dnf" else "\nDependencies Resolved\n\n",
        rule,
        f" {'Package':<{width}} {'Arch':<8} {'Version':<28} {'Repository':<32} Size\n",
        rule,
        f"{section}\n",
    ]
    for package, version in changes:
        lines.append(
            f" {package.name:<{width}} {package.arch:<8} {version.version:<28} "
            f"{version.repository:<32} {_size(version)}\n"
        )
    word = "Downgrade" if verb == "downgrade" else "Upgrade"
    plural = "Package" if len(changes) == 1 else "Packages"
    lines += ["\nTransaction Summary\n", rule, f"{word}  {len(changes)} {plural}\n\n"]
    return "".join(lines)


def _nevra(package: SimPackage, version: str) -> str:
    return f"{package.name}-{version}.{package.arch}"


def _transaction(
    host: SimHost, program: str, verb: str, specs: list[str], *, assume_no: bool
) -> ShellResult:
    if LOCK_FAULT in host.faults:
        return _lock_result(program)
    downgrade = verb == "downgrade"
    changes, missing = _plan(host, verb, specs)
    if missing:
        if program == "yum" and not downgrade:
            # yum 3 skips names it cannot find and goes on (exit 0).
            notes = "".join(f"No package {spec} available.\n" for spec in missing)
            if not changes:
                return ShellResult(stdout=notes + "No packages marked for update\n")
        else:
            if program == "yum":
                notes = "".join(f"No package {spec} available.\n" for spec in missing)
                return ShellResult(stdout=notes, stderr="Error: Nothing to do\n", exit_status=1)
            notes = "".join(f"No match for argument: {spec}\n" for spec in missing)
            marked = "downgrade" if downgrade else "upgrade"
            return ShellResult(
                stdout=notes, stderr=f"Error: No packages marked for {marked}.\n", exit_status=1
            )
    else:
        notes = ""
    if not changes:
        done = (
            "Nothing to do.\nComplete!\n" if program == "dnf" else "No packages marked for update\n"
        )
        return ShellResult(stdout=notes + "Dependencies resolved.\n" + done)
    table = notes + _table(program, verb, changes)
    if assume_no:
        if program == "yum":
            return ShellResult(stdout=table + "Exiting on user command\n", exit_status=1)
        return ShellResult(stdout=table + "Operation aborted.\n", exit_status=1)
    return _run_transaction(host, program, downgrade, table, changes)


def _run_transaction(
    host: SimHost,
    program: str,
    downgrade: bool,
    table: str,
    changes: list[tuple[SimPackage, SimVersion]],
) -> ShellResult:
    total = len(changes) * 2
    action = "Downgrading" if downgrade else ("Upgrading" if program == "dnf" else "Updating")
    out = [
        table,
        "Downloading Packages:\nRunning transaction check\nTransaction check succeeded.\n"
        "Running transaction test\nTransaction test succeeded.\nRunning transaction\n",
    ]
    fails = INSTALL_FAILS_FAULT in host.faults
    # A failing disk lets the first half through: the host ends up part-patched.
    succeed = len(changes) // 2 if fails else len(changes)
    done: list[str] = []
    for index, (package, version) in enumerate(changes):
        new = _nevra(package, version.version)
        if index >= succeed:
            out.append(
                f"Error unpacking rpm package {new}\n"
                f"error: unpacking of archive failed on file /usr/share/doc/{package.name}: "
                "cpio: write failed - No space left on device\n"
                f"error: {new}: install failed\n\nFailed:\n  {new}\n\n"
            )
            return ShellResult(
                stdout="".join(out), stderr="Error: Transaction failed\n", exit_status=1
            )
        old = _nevra(package, package.installed)
        out.append(f"  {action + ' ':<17}: {new:<60} {index + 1}/{total}\n")
        out.append(f"  {'Cleanup':<17}: {old:<60} {len(changes) + index + 1}/{total}\n")
        apply_version(host, package, version)
        done.append(new)
    past = "Downgraded:" if downgrade else ("Upgraded:" if program == "dnf" else "Updated:")
    out.append(f"\n{past}\n" + "".join(f"  {nevra}\n" for nevra in done) + "\nComplete!\n")
    return ShellResult(stdout="".join(out))


def _dry_run(host: SimHost, query: str, command: str) -> ShellResult:
    """patchtui's dry-run wrapper: the rpm query, then the --assumeno run, abort = exit 0."""
    queried = handle(host, query) or ShellResult()
    answered = handle(host, command) or ShellResult(stderr="sh: not found\n", exit_status=127)
    combined = answered.stdout + answered.stderr
    status = answered.exit_status
    if status == 1 and ("Operation aborted" in combined or "Exiting on user command" in combined):
        status = 0
    return ShellResult(stdout=queried.stdout + combined, exit_status=status)
