"""Simulated zypper for lab hosts of the zypper family.

Answers the commands ``patchtui.drivers.zypper`` sends, in zypper's real
``--xmlout`` and text formats (see tests/data/zypper) with its exit codes:
7 when the zypp lock is held, 100/101 from list-patches when patches are
needed, 102 from needs-rebooting when a reboot is due.

``install name=version`` (``--oldpackage`` to go back), ``update`` and their
``--dry-run --xmlout`` forms change ``SimPackage.installed`` only to an
offered version; an unknown edition is zypper's "No provider of" with exit
104, a failing commit ("install-fails" fault) exits 8 after installing the
first half of the packages.
"""

from __future__ import annotations

import shlex
from xml.sax.saxutils import escape, quoteattr

from patchtui.drivers.dnf import split_rollback
from patchtui.drivers.parsers.dnf import ROLLBACK_BANNER, rpm_evr_compare
from patchtui.drivers.zypper import split_informational
from patchtui.lab.sim import ShellResult
from patchtui.lab.sim.dnf import (
    INSTALL_FAILS_FAULT,
    LOCK_FAULT,
    LOCK_HOLDER_PID,
    apply_version,
    pending,
    resolve,
)
from patchtui.lab.sim.dnf import handle as rpm_handle
from patchtui.lab.state import SimHost, SimPackage, SimVersion

EXIT_ZYPP_LOCKED = 7
EXIT_ERR_COMMIT = 8
EXIT_INF_UPDATE_NEEDED = 100
EXIT_INF_SEC_UPDATE_NEEDED = 101
EXIT_INF_REBOOT_NEEDED = 102
EXIT_INF_CAP_NOT_FOUND = 104

_LOCK_TEXT = (
    f"System management is locked by the application with pid {LOCK_HOLDER_PID} (zypper).\n"
    "Close this application before trying again."
)
_XML_HEAD = "<?xml version='1.0'?>\n<stream>\n"
_XML_TAIL = "</stream>\n"
_GLOBAL_FLAGS = frozenset(
    {"--non-interactive", "-n", "--quiet", "-q", "--no-refresh", "--xmlout", "-x"}
)


def handle(host: SimHost, command: str) -> ShellResult | None:
    """Answer one zypper command; None if it is not one the driver sends."""
    rollback = split_rollback(command)
    if rollback is not None:
        inner = handle(host, rollback)
        if inner is not None:
            inner.stdout = f"{ROLLBACK_BANNER}\n{inner.stdout}"
        return inner
    wrapped = split_informational(command)
    if wrapped is not None:
        inner = handle(host, wrapped)
        if inner is not None and 100 <= inner.exit_status <= 103:
            inner.exit_status = 0
        return inner
    if command.startswith("rpm "):
        # zypper hosts are rpm hosts: the version query is rpm's.
        return rpm_handle(host, command)
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    if not argv or argv[0].rsplit("/", 1)[-1] != "zypper":
        return None
    xml = "--xmlout" in argv or "-x" in argv
    words = [arg for arg in argv[1:] if arg not in _GLOBAL_FLAGS]
    if not words:
        return None
    verb, rest = words[0], words[1:]
    if verb == "needs-rebooting":
        return _needs_rebooting(host)
    patching = verb in ("install", "in", "update", "up")
    if not patching and verb not in (
        "refresh",
        "ref",
        "list-updates",
        "lu",
        "list-patches",
        "lp",
        "info",
    ):
        return None
    if LOCK_FAULT in host.faults:
        if xml:
            body = f'<message type="error">{escape(_LOCK_TEXT)}</message>\n'
            return ShellResult(stdout=_XML_HEAD + body + _XML_TAIL, exit_status=EXIT_ZYPP_LOCKED)
        return ShellResult(stderr=_LOCK_TEXT + "\n", exit_status=EXIT_ZYPP_LOCKED)
    if patching:
        return _transaction(host, verb, rest, xml=xml)
    if verb in ("refresh", "ref"):
        host.metadata_refreshed = True
        return ShellResult()
    if verb in ("list-updates", "lu"):
        return _list_updates(host)
    if verb in ("list-patches", "lp"):
        category = _option_value(rest, "--category")
        return _list_patches(host, category)
    if verb == "info" and _option_value(rest, "-t") == "patch":
        names = [word for word in rest if not word.startswith("-") and word != "patch"]
        return _patch_info(host, names)
    return None


def _option_value(args: list[str], option: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == option and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None


def _source(repository: str) -> str:
    alias = quoteattr(repository)
    url = quoteattr(f"http://download.lab.invalid/{repository}")
    return f"<source url={url} alias={alias}/>"


def _list_updates(host: SimHost) -> ShellResult:
    parts = [
        _XML_HEAD,
        '<message type="info">Loading repository data...</message>\n',
        '<message type="info">Reading installed packages...</message>\n',
        '<update-status version="0.6">\n<update-list>\n',
    ]
    for package, version in pending(host):
        parts.append(
            f'<update kind="package" name={quoteattr(package.name)} '
            f"edition={quoteattr(version.version)} arch={quoteattr(package.arch)} "
            f"edition-old={quoteattr(package.installed)}>"
            f"<summary>{escape(package.name)}</summary><description/><license/>"
            f"{_source(version.repository)}</update>\n"
        )
    parts.append("</update-list>\n</update-status>\n")
    parts.append(_XML_TAIL)
    return ShellResult(stdout="".join(parts), exit_status=0)


def _patches(host: SimHost) -> dict[str, list[tuple[SimPackage, SimVersion]]]:
    """Needed patches by name: every pending version that names an advisory."""
    patches: dict[str, list[tuple[SimPackage, SimVersion]]] = {}
    for package, version in pending(host):
        if version.advisory:
            patches.setdefault(version.advisory, []).append((package, version))
    return patches


def _list_patches(host: SimHost, category: str | None) -> ShellResult:
    parts = [
        _XML_HEAD,
        '<message type="info">Loading repository data...</message>\n',
        '<message type="info">Reading installed packages...</message>\n',
        '<update-status version="0.6">\n<update-list>\n',
    ]
    any_needed = False
    security_needed = False
    for name, members in _patches(host).items():
        first = members[0][1]
        patch_category = "security" if first.security else "recommended"
        any_needed = True
        security_needed = security_needed or first.security
        if category and patch_category != category:
            continue
        restart = "true" if any(version.needs_reboot for _, version in members) else "false"
        interactive = "true" if restart == "true" else "false"
        packages = ", ".join(sorted({package.name for package, _ in members}))
        kind = "Security" if first.security else "Recommended"
        issues = "".join(
            f'<issue type="cve" id={quoteattr(cve)}><title>{escape(cve)}</title></issue>'
            for cve in dict.fromkeys(cve for _, version in members for cve in version.cves)
        )
        parts.append(
            f'<update kind="patch" name={quoteattr(name)} edition="1" arch="noarch" '
            f'status="needed" category="{patch_category}" '
            f'severity={quoteattr(first.severity or "unspecified")} pkgmanager="false" '
            f'restart="{restart}" interactive="{interactive}">'
            f"<summary>{kind} update for {escape(packages)}</summary>"
            f"<description>{kind} update for {escape(packages)}</description><license/>"
            f"{_source(first.repository)}<issue-list>{issues}</issue-list></update>\n"
        )
    parts.append("</update-list>\n</update-status>\n")
    parts.append(_XML_TAIL)
    # Like zypper, list-patches reports needed patches in its exit code
    # whatever the --category filter showed.
    status = (
        EXIT_INF_SEC_UPDATE_NEEDED
        if security_needed
        else EXIT_INF_UPDATE_NEEDED
        if any_needed
        else 0
    )
    return ShellResult(stdout="".join(parts), exit_status=status)


def _patch_info(host: SimHost, names: list[str]) -> ShellResult:
    patches = _patches(host)
    blocks = ["Loading repository data...\nReading installed packages...\n"]
    missing = False
    for name in names:
        members = patches.get(name)
        if not members:
            blocks.append(f"patch '{name}' not found.\n")
            missing = True
            continue
        first = members[0][1]
        title = f"Information for patch {name}:"
        entries = [
            f"{package.name}.{package.arch} < {version.version}" for package, version in members
        ]
        # As real zypper prints it: one package on the field's line, more as "[N]" and a list.
        if len(entries) == 1:
            conflicts = f"Conflicts   : {entries[0]}\n"
        else:
            conflicts = f"Conflicts   : [{len(entries)}]\n" + "".join(
                f"    {entry}\n" for entry in entries
            )
        blocks.append(
            f"\n{title}\n{'-' * len(title)}\n"
            f"Repository  : {first.repository}\n"
            f"Name        : {name}\n"
            "Version     : 1\n"
            "Arch        : noarch\n"
            "Vendor      : lab\n"
            "Status      : needed\n"
            f"Category    : {'security' if first.security else 'recommended'}\n"
            f"Severity    : {first.severity or 'unspecified'}\n"
            f"Interactive : {'reboot' if first.needs_reboot else '---'}\n"
            f"Summary     : Update for {', '.join(package.name for package, _ in members)}\n"
            f"Provides    : patch:{name} = 1\n"
            f"{conflicts}"
        )
    return ShellResult(stdout="".join(blocks), exit_status=EXIT_INF_CAP_NOT_FOUND if missing else 0)


def _needs_rebooting(host: SimHost) -> ShellResult:
    if host.reboot_required:
        return ShellResult(
            stdout="Core libraries or services have been updated.\n"
            "Reboot is required to ensure that your system benefits from these updates.\n",
            exit_status=EXIT_INF_REBOOT_NEEDED,
        )
    return ShellResult(
        stdout="No core libraries or services have been updated since the last system boot.\n"
        "Reboot is probably not necessary.\n",
        exit_status=0,
    )


# Transactions -------------------------------------------------------------------

_PREAMBLE = "Loading repository data...\nReading installed packages...\n"


def _transaction(host: SimHost, verb: str, rest: list[str], *, xml: bool) -> ShellResult:
    dry_run = "--dry-run" in rest or "-D" in rest
    old_allowed = "--oldpackage" in rest
    capabilities = [word for word in rest if not word.startswith("-")]
    out = [_PREAMBLE]
    changes: list[tuple[SimPackage, SimVersion]] = []
    missing: list[str] = []
    if verb in ("update", "up") and not capabilities:
        changes = pending(host)
    for capability in capabilities:
        name, _, edition = capability.partition("=")
        package = host.packages.get(name)
        version = resolve(package, edition or None) if package is not None else None
        if package is None or version is None:
            missing.append(capability)
            continue
        if version.version == package.installed:
            out.append(f"'{name}' is already installed.\n")
        elif rpm_evr_compare(version.version, package.installed) < 0 and not old_allowed:
            out.append(
                f"The selected package '{name}-{version.version}.{package.arch}' from repository "
                f"'{version.repository}' has lower version than the installed one. Use "
                f"'zypper install --oldpackage {name}-{version.version}.{package.arch}' "
                "to force installation of the package.\n"
            )
        else:
            changes.append((package, version))
    if missing:
        for capability in missing:
            out.append(f"'{capability}' not found in package names. Trying capabilities.\n")
            out.append(f"No provider of '{capability}' found.\n")
        out.append("Resolving package dependencies...\n\nNothing to do.\n")
        return _answer(out, xml, EXIT_INF_CAP_NOT_FOUND)
    out.append("Resolving package dependencies...\n\n")
    if not changes:
        out.append("Nothing to do.\n")
        return _answer(out, xml, 0)
    if xml and dry_run:
        return ShellResult(stdout=_summary_xml(changes), exit_status=0)
    upgrades = [c for c in changes if rpm_evr_compare(c[1].version, c[0].installed) > 0]
    downgrades = [c for c in changes if c not in upgrades]
    for group, word in ((upgrades, "upgraded"), (downgrades, "downgraded")):
        if group:
            many = len(group) > 1
            head = (
                f"The following {len(group)} packages are" if many else "The following package is"
            )
            names = " ".join(package.name for package, _ in group)
            out.append(f"{head} going to be {word}:\n  {names}\n\n")
    count = len(changes)
    out.append(
        f"{count} package{'s' if count > 1 else ''} to "
        f"{'upgrade' if upgrades else 'downgrade'}.\n"
        "Overall download size: 1.2 MiB. Already cached: 0 B. After the operation, "
        "additional 12.0 KiB will be used.\n"
    )
    if dry_run:
        out.append("Continue? [y/n/v/...? shows all options] (y): y\n")
        return _answer(out, xml, 0)
    return _commit(host, out, changes)


def _commit(
    host: SimHost, out: list[str], changes: list[tuple[SimPackage, SimVersion]]
) -> ShellResult:
    if LOCK_FAULT in host.faults:
        return ShellResult(stderr=_LOCK_TEXT + "\n", exit_status=EXIT_ZYPP_LOCKED)
    out.append("Continue? [y/n/v/...? shows all options] (y): y\n")
    total = len(changes)
    for index, (package, version) in enumerate(changes, start=1):
        out.append(
            f"Retrieving: {package.name}-{version.version}.{package.arch} "
            f"({version.repository}) ({index}/{total}), 300.0 KiB\n"
        )
    out.append("Checking for file conflicts: ...................................[done]\n")
    # A failing commit installs the first half, then stops at the next package.
    succeed = total // 2 if INSTALL_FAILS_FAULT in host.faults else total
    for index, (package, version) in enumerate(changes, start=1):
        nevra = f"{package.name}-{version.version}.{package.arch}"
        if index > succeed:
            out.append(
                f"({index}/{total}) Installing: {nevra} ...........................[error]\n"
                f"Installation of {nevra} failed:\n"
                "Error: Subprocess failed. Error: RPM failed: error: unpacking of archive failed "
                f"on file /usr/share/doc/packages/{package.name}: cpio: write failed - "
                "No space left on device\n"
                "Abort, retry, ignore? [a/r/i] (a): a\n"
                "Problem occurred during or after installation or removal of packages:\n"
                "Installation has been aborted as directed.\n"
                "Please see the above error message for a hint.\n"
            )
            return ShellResult(stdout="".join(out), exit_status=EXIT_ERR_COMMIT)
        out.append(f"({index}/{total}) Installing: {nevra} ...........................[done]\n")
        apply_version(host, package, version)
    status = EXIT_INF_REBOOT_NEEDED if any(v.needs_reboot for _, v in changes) else 0
    if status:
        out.append(
            "\nThere are running programs which still use files and libraries deleted or "
            "updated by recent upgrades. They should be restarted to benefit from the latest "
            "updates. Run 'zypper ps -s' to list these programs.\n"
        )
    return ShellResult(stdout="".join(out), exit_status=status)


def _answer(lines: list[str], xml: bool, status: int) -> ShellResult:
    """Text, or the same lines as zypper XML messages."""
    if not xml:
        return ShellResult(stdout="".join(lines), exit_status=status)
    messages = "".join(
        f'<message type="info">{escape(line)}</message>\n'
        for line in "".join(lines).splitlines()
        if line.strip()
    )
    return ShellResult(stdout=_XML_HEAD + messages + _XML_TAIL, exit_status=status)


def _summary_xml(changes: list[tuple[SimPackage, SimVersion]]) -> str:
    groups: dict[str, list[str]] = {"to-upgrade": [], "to-downgrade": []}
    for package, version in changes:
        tag = (
            "to-upgrade"
            if rpm_evr_compare(version.version, package.installed) > 0
            else "to-downgrade"
        )
        groups[tag].append(
            f'<solvable type="package" name={quoteattr(package.name)} '
            f"edition={quoteattr(version.version)} arch={quoteattr(package.arch)} "
            f"edition-old={quoteattr(package.installed)} "
            f"summary={quoteattr(package.name)} repository={quoteattr(version.repository)}/>\n"
        )
    body = "".join(f"<{tag}>\n{''.join(items)}</{tag}>\n" for tag, items in groups.items() if items)
    return (
        _XML_HEAD
        + '<message type="info">Loading repository data...</message>\n'
        + '<message type="info">Reading installed packages...</message>\n'
        + '<message type="info">Resolving package dependencies...</message>\n'
        + f'<install-summary download-size="1258291" space-usage-diff="12288">\n{body}'
        + "</install-summary>\n"
        + _XML_TAIL
    )
