"""Pure parsers for zypper output (openSUSE, SLES).

The driver asks zypper for XML (``--xmlout``) where zypper offers it: the
table layout changes with the terminal width and zypper version, the XML
does not. ``info -t patch`` has no structured form, so its text is parsed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

from patchtui.drivers.parsers.dnf import KNOWN_ARCHES, ROLLBACK_BANNER, normalise_severity

# zypper's exit codes (zypper(8), "EXIT CODES").
EXIT_OK = 0
EXIT_ERR_ZYPP = 4
EXIT_ZYPP_LOCKED = 7
EXIT_INF_UPDATE_NEEDED = 100
EXIT_INF_SEC_UPDATE_NEEDED = 101
EXIT_INF_REBOOT_NEEDED = 102
EXIT_INF_RESTART_NEEDED = 103
EXIT_INF_CAP_NOT_FOUND = 104
EXIT_INF_REPOS_SKIPPED = 106

INFORMATIONAL_EXITS: frozenset[int] = frozenset(
    {
        EXIT_OK,
        EXIT_INF_UPDATE_NEEDED,
        EXIT_INF_SEC_UPDATE_NEEDED,
        EXIT_INF_REBOOT_NEEDED,
        EXIT_INF_RESTART_NEEDED,
    }
)
"""Exit codes after which zypper's output is complete and trustworthy."""

_LOCK_MARKER = "system management is locked by the application"


def is_lock_message(text: str) -> bool:
    """True if zypper says another process holds the zypp lock."""
    return _LOCK_MARKER in text.lower()


def exit_meaning(code: int | None) -> str:
    """Short label for a zypper exit code, for warnings and error messages."""
    return {
        None: "outcome unknown",
        EXIT_OK: "ok",
        EXIT_ERR_ZYPP: "libzypp error",
        EXIT_ZYPP_LOCKED: "zypp locked",
        8: "commit failed",
        EXIT_INF_UPDATE_NEEDED: "updates needed",
        EXIT_INF_SEC_UPDATE_NEEDED: "security updates needed",
        EXIT_INF_REBOOT_NEEDED: "reboot needed",
        EXIT_INF_RESTART_NEEDED: "zypper restart needed",
        EXIT_INF_CAP_NOT_FOUND: "capability not found",
        EXIT_INF_REPOS_SKIPPED: "repositories skipped",
    }.get(code, f"exit {code}")


def normalise_zypper_severity(raw: str | None) -> str:
    """zypper spells critical/important/moderate/low; 'unspecified' -> unknown."""
    return normalise_severity(raw)


@dataclass(frozen=True)
class ZypperMessage:
    type: str
    """info, warning or error."""
    text: str


@dataclass(frozen=True)
class ZypperUpdate:
    """A package update from ``zypper --xmlout list-updates``."""

    name: str
    arch: str
    edition: str
    """Candidate version (``[epoch:]version-release``)."""
    edition_old: str | None
    """Installed version."""
    repository: str | None
    """Repository alias."""


@dataclass(frozen=True)
class ZypperPatch:
    """A patch from ``zypper --xmlout list-patches``."""

    name: str
    category: str
    severity: str | None
    """As zypper spells it (important, moderate, ...)."""
    status: str | None
    """needed, applied, not-needed; None where zypper does not say."""
    summary: str
    restart: bool
    """True where the patch asks for a reboot."""
    cves: tuple[str, ...]
    repository: str | None


@dataclass(frozen=True)
class ZypperStream:
    """Everything in one ``--xmlout`` document."""

    updates: tuple[ZypperUpdate, ...]
    patches: tuple[ZypperPatch, ...]
    messages: tuple[ZypperMessage, ...]

    def texts(self, message_type: str) -> list[str]:
        return [m.text for m in self.messages if m.type == message_type]


def parse_xml_stream(text: str) -> ZypperStream:
    """Parse the ``<stream>`` that ``zypper --xmlout`` prints.

    Raises ValueError when the text is not zypper XML (zypper missing, a
    shell error, output cut off by a dropped connection).
    """
    start = text.find("<?xml")
    if start < 0:
        start = text.find("<stream")
    if start < 0:
        raise ValueError("no zypper XML in the output")
    try:
        root = ElementTree.fromstring(text[start:])
    except ElementTree.ParseError as error:
        raise ValueError(f"malformed zypper XML: {error}") from error

    messages = tuple(
        ZypperMessage(node.get("type", "info"), (node.text or "").strip())
        for node in root.iter("message")
    )
    updates: list[ZypperUpdate] = []
    patches: list[ZypperPatch] = []
    for node in root.iter("update"):
        source = node.find("source")
        alias = source.get("alias") if source is not None else None
        kind = node.get("kind", "package")
        if kind == "package":
            updates.append(
                ZypperUpdate(
                    name=node.get("name", ""),
                    arch=node.get("arch", ""),
                    edition=node.get("edition", ""),
                    edition_old=node.get("edition-old"),
                    repository=alias,
                )
            )
        elif kind == "patch":
            cves = tuple(
                issue.get("id", "")
                for issue in node.iter("issue")
                if issue.get("type") == "cve" and issue.get("id")
            )
            patches.append(
                ZypperPatch(
                    name=node.get("name", ""),
                    category=node.get("category", ""),
                    severity=node.get("severity"),
                    status=node.get("status"),
                    summary=(node.findtext("summary") or "").strip(),
                    restart=node.get("restart") == "true",
                    cves=cves,
                    repository=alias,
                )
            )
    return ZypperStream(tuple(updates), tuple(patches), messages)


@dataclass(frozen=True)
class PatchPackage:
    """A package a patch updates: ``name.arch < version`` under Conflicts."""

    name: str
    arch: str | None
    version: str


_CONFLICT_RE = re.compile(r"^\s+(?P<what>\S+)\s+<=?\s+(?P<version>\S+)\s*$")
# "Conflicts   : [2]" opens the list form; "Conflicts   : name < 1.1-1" is the whole list.
_CONFLICTS_FIELD_RE = re.compile(r"^Conflicts\s*:\s*(?P<rest>.*?)\s*$")
_INLINE_CONFLICT_RE = re.compile(r"^(?P<what>\S+)\s+<=?\s+(?P<version>\S+)$")


def _conflict_package(what: str, version: str) -> PatchPackage | None:
    """The package a Conflicts entry names; None for source packages."""
    if what.startswith("srcpackage:"):
        return None
    # Only a known architecture is split off: zypper prints noarch entries without one, and a
    # name such as "python3.11" has a dot of its own.
    name, dot, arch = what.rpartition(".")
    if not dot or not name or arch not in KNOWN_ARCHES:
        name, arch = what, ""
    if arch == "src":
        return None
    return PatchPackage(name, arch or None, version)


def parse_patch_info(text: str) -> dict[str, tuple[PatchPackage, ...]]:
    """Parse ``zypper info -t patch NAME...`` into {patch name: packages it updates}.

    Each block starts "Information for patch NAME:". zypper prints a patch's
    packages under Conflicts in two forms: a single one on the field's own line
    (``Conflicts   : curl < 8.0-1``) and two or more as a count followed by
    indented lines (``Conflicts   : [2]``). Source packages are skipped.
    """
    result: dict[str, list[PatchPackage]] = {}
    current: str | None = None
    in_conflicts = False
    for raw in text.splitlines():
        header = re.match(r"^Information for patch (\S+?):\s*$", raw)
        if header:
            current = header.group(1)
            result.setdefault(current, [])
            in_conflicts = False
            continue
        if current is None:
            continue
        field = _CONFLICTS_FIELD_RE.match(raw)
        if field is not None:
            inline = _INLINE_CONFLICT_RE.match(field.group("rest"))
            if inline is not None:
                package = _conflict_package(inline.group("what"), inline.group("version"))
                if package is not None:
                    result[current].append(package)
                in_conflicts = False
            else:
                in_conflicts = True
            continue
        if not in_conflicts:
            continue
        match = _CONFLICT_RE.match(raw)
        if match is None:
            # The first unindented field after Conflicts ends the list.
            in_conflicts = False
            continue
        package = _conflict_package(match.group("what"), match.group("version"))
        if package is not None:
            result[current].append(package)
    return {patch: tuple(packages) for patch, packages in result.items()}


def needs_rebooting_verdict(exit_status: int) -> bool | None:
    """``zypper needs-rebooting``: 102 = reboot needed, 0 = not, anything else unknown."""
    if exit_status == EXIT_INF_REBOOT_NEEDED:
        return True
    if exit_status == EXIT_OK:
        return False
    return None


# Patching ---------------------------------------------------------------------

EXIT_ERR_COMMIT = 8

_SUMMARY_GROUPS: dict[str, str] = {
    "to-upgrade": "upgrade",
    "to-downgrade": "downgrade",
    "to-install": "install",
    "to-remove": "remove",
}


@dataclass(frozen=True)
class SummaryChange:
    """A package in zypper's ``<install-summary>`` (``--xmlout ... --dry-run``)."""

    action: str
    """upgrade, downgrade, install or remove."""
    name: str
    arch: str
    edition: str
    edition_old: str | None


def parse_install_summary(text: str) -> list[SummaryChange]:
    """Package changes from the ``<install-summary>`` of a ``--xmlout`` install/update.

    zypper spells the solvable's kind ``kind=`` (newer) or ``type=`` (older);
    patches, patterns and products in the summary are left out.
    """
    start = text.find("<?xml")
    if start < 0:
        start = text.find("<stream")
    if start < 0:
        raise ValueError("no zypper XML in the output")
    try:
        root = ElementTree.fromstring(text[start:])
    except ElementTree.ParseError as error:
        raise ValueError(f"malformed zypper XML: {error}") from error
    changes: list[SummaryChange] = []
    for summary in root.iter("install-summary"):
        for group in summary:
            action = _SUMMARY_GROUPS.get(group.tag)
            if action is None:
                continue
            for solvable in group.iter("solvable"):
                kind = solvable.get("kind") or solvable.get("type") or "package"
                if kind != "package":
                    continue
                changes.append(
                    SummaryChange(
                        action,
                        solvable.get("name", ""),
                        solvable.get("arch", ""),
                        solvable.get("edition", ""),
                        solvable.get("edition-old"),
                    )
                )
    return changes


_NOT_FOUND_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"No provider of '(?P<spec>[^']+)' found"),
    re.compile(r"Package '(?P<spec>[^']+)' not found"),
    re.compile(r"'(?P<spec>[^']+)' not found in package names"),
)


def _split_capability(spec: str) -> tuple[str, str | None]:
    """``curl=7.66.0-4.17.1`` -> (``curl``, ``7.66.0-4.17.1``); a bare name -> (name, None)."""
    name, found, version = spec.partition("=")
    return (name.strip(), version.strip()) if found else (spec, None)


def classify_failure(exit_status: int, lines: list[str]) -> tuple[str, str]:
    """(kind, message) for a failed zypper install/update.

    7: another process holds the zypp lock; 104: a requested name or
    version is not in any repository (for a rollback: the old version has
    been removed from the host's repositories); 8: the commit failed after
    it started (some packages may be installed: the engine's version check
    says which); anything else: the last error line.
    """
    text = "\n".join(lines)
    downgrade = ROLLBACK_BANNER in text
    if exit_status == EXIT_ZYPP_LOCKED or is_lock_message(text):
        holder = next((line.strip() for line in lines if is_lock_message(line)), "")
        return "locked", f"zypp lock held by another process: {holder}"[:300]
    specs: dict[str, None] = {}
    for pattern in _NOT_FOUND_PATTERNS:
        for match in pattern.finditer(text):
            specs[match.group("spec")] = None
    if exit_status == EXIT_INF_CAP_NOT_FOUND or specs:
        described = []
        for spec in specs:
            name, version = _split_capability(spec)
            if version is None:
                described.append(f"{name} is not available from the host's repositories")
            elif downgrade:
                described.append(
                    f"old version {version} of {name} is no longer available "
                    "from the host's repositories"
                )
            else:
                described.append(
                    f"version {version} of {name} is not available from the host's repositories"
                )
        message = "; ".join(described) or "a requested package was not found (exit 104)"
        return "unavailable", message[:300]
    last = _last_error_line(lines)
    return "failed", f"{exit_meaning(exit_status)}: {last}"[:300]


def _last_error_line(lines: list[str]) -> str:
    """The line that says what went wrong: the first "Installation of ... failed" or error line."""
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("Installation of") and "failed" in stripped:
            return stripped
    for line in reversed(lines):
        stripped = line.strip()
        if stripped.lower().startswith(("error", "problem")):
            return stripped
    return next((line.strip() for line in reversed(lines) if line.strip()), "")
