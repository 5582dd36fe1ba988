"""Simulated zypper for lab hosts of the zypper family.

Answers the commands ``patchtui.drivers.zypper`` sends, in zypper's real
``--xmlout`` and text formats (see tests/data/zypper) with its exit codes:
7 when the zypp lock is held, 100/101 from list-patches when patches are
needed, 102 from needs-rebooting when a reboot is due.
"""

from __future__ import annotations

import shlex
from xml.sax.saxutils import escape, quoteattr

from patchtui.lab.sim import ShellResult
from patchtui.lab.sim.dnf import LOCK_FAULT, LOCK_HOLDER_PID, pending
from patchtui.lab.state import SimHost, SimPackage, SimVersion

EXIT_ZYPP_LOCKED = 7
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
    if verb not in ("refresh", "ref", "list-updates", "lu", "list-patches", "lp", "info"):
        return None
    if LOCK_FAULT in host.faults:
        if xml:
            body = f'<message type="error">{escape(_LOCK_TEXT)}</message>\n'
            return ShellResult(stdout=_XML_HEAD + body + _XML_TAIL, exit_status=EXIT_ZYPP_LOCKED)
        return ShellResult(stderr=_LOCK_TEXT + "\n", exit_status=EXIT_ZYPP_LOCKED)
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
        conflicts = "".join(
            f"    {package.name}.{package.arch} < {version.version}\n"
            for package, version in members
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
            f"Conflicts   : [{len(members)}]\n{conflicts}"
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
