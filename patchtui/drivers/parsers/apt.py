"""Parse apt-get output: ``update`` warnings, lock errors, ``-s dist-upgrade`` plans, changelogs.

The reboot check has its own module, ``patchtui.drivers.parsers.apt_reboot``.

Formats (see tests/data/apt for real captures):

* ``apt-get update`` exits 0 even when a repository's signature is bad or a
  fetch fails: apt keeps the previous index files and only prints ``W:``
  lines ("GPG error", "is not signed", "Failed to fetch", "Some index files
  failed to download"). Older apt prints some of these as ``E:`` and exits
  100. Either way the pending list may be old: that is *stale*, not failed.
* ``apt-get -s`` prints one line per package it would install::

      Inst libc6 [2.36-9+deb12u7] (2.36-9+deb12u10 Debian:12.9/stable [amd64])
      Inst curl (7.81.0-1ubuntu1.18 Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64])

  The bracketed installed version is absent for a newly pulled-in package;
  the origins list every ``Label:Version/Suite`` offering that version.
* Debian and Ubuntu publish no severity in apt metadata, so ``severity`` is
  always None here; a *security* update is one offered by a ``-security``
  suite (``Debian-Security:12/stable-security``, ``Ubuntu:22.04/jammy-security``).
* ``dpkg-query -W -f='${Package}\t${Version}\t${db:Status-Abbrev}\n'`` prints
  one tab-separated line per known package (``openssl\t3.0.15-1~deb12u1\tii ``);
  names it does not know go to stderr ("dpkg-query: no packages found
  matching x") with exit status 1, the known ones still on stdout.
* ``apt-mark showhold`` prints one held package name per line.
* A failed install ends with ``E:`` lines; the ones patchtui tells apart are
  the lock, a conffile prompt on a closed stdin, an interrupted dpkg and an
  exact version the repositories no longer offer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from patchtui.drivers.base import PackageChange, PendingUpdate
from patchtui.drivers.versions import compare_versions

_LOCK_PATTERNS = (
    # apt >= 1.9: "E: Could not get lock <path>. It is held by process 1234 (apt-get)"
    # older:      "E: Could not get lock <path> - open (11: Resource temporarily unavailable)"
    re.compile(r"^E: Could not get lock (?P<path>\S+?)\.? (?:It is held by|- open)(?P<rest>.*)$"),
    re.compile(r"^E: Unable to acquire the dpkg frontend lock"),
    re.compile(r"^E: Unable to lock (?:the administration |the list )?directory"),
)

# Problems after which apt carries on with the old index files: the result is
# usable but may be out of date.
_STALE_PATTERNS = tuple(
    re.compile(pattern)
    for pattern in (
        r"GPG error",
        r"NO_PUBKEY",
        r"EXPKEYSIG",
        r"is not signed",
        r"signatures (?:were invalid|couldn't be verified)",
        r"Failed to fetch",
        r"Some index files failed to download",
        r"does not have a Release file",
        r"Temporary failure resolving",
        r"Could not resolve",
        r"Could not connect to",
        r"Unable to connect to",
        r"Connection failed",
        r"Release file .* is (?:not valid yet|expired)",
        r"changed its '\S+' value",
        r"An error occurred during the signature verification",
        r"Hash Sum mismatch",
        r"File has unexpected size",
    )
)

_INST_RE = re.compile(
    r"^Inst (?P<name>\S+)"
    r"(?: \[(?P<installed>[^\]]*)\])?"
    r" \((?P<candidate>\S+)(?: (?P<origins>.*?))? \[(?P<arch>[^\]]+)\]\)"
)
_REMV_RE = re.compile(r"^Remv (?P<name>\S+)(?: \[(?P<installed>[^\]]*)\])?")
_SUMMARY_RE = re.compile(
    r"^\d+ (?:upgraded|to upgrade), \d+ (?:newly installed|to newly install), "
    r"\d+ to remove and (?P<not_upgraded>\d+) not (?:upgraded|to upgrade)"
)
_KEPT_BACK_HEADER = re.compile(r"^The following packages? (?:have|has) been kept back:")


@dataclass(frozen=True)
class UpdateOutcome:
    """What ``apt-get update`` told us."""

    ok: bool
    """Usable: exit 0, or only index/fetch problems (the old lists are still there)."""
    stale: bool
    """Some repository was not refreshed: the pending list may be old."""
    warnings: tuple[str, ...]
    """The ``W:``/``E:`` lines, verbatim, for the operator."""
    error: str | None = None
    """When not ok: the first error line that made it fatal."""


@dataclass(frozen=True)
class Simulation:
    """The plan of ``apt-get -s dist-upgrade``."""

    pending: tuple[PendingUpdate, ...]
    kept_back: tuple[str, ...] = ()
    removals: tuple[str, ...] = ()
    not_upgraded: int | None = None


def find_lock_error(text: str) -> str | None:
    """The apt/dpkg lock error line in ``text``, or None if no lock was held."""
    for line in text.splitlines():
        stripped = line.strip()
        for pattern in _LOCK_PATTERNS:
            if pattern.search(stripped):
                return stripped
    return None


def parse_update(output: str, exit_status: int) -> UpdateOutcome:
    """Classify ``apt-get update`` (stdout and stderr together) by its lines and exit status.

    Lock errors are not handled here; check ``find_lock_error`` first.
    """
    diagnostics = tuple(
        line.strip() for line in output.splitlines() if line.startswith(("W:", "E:", "Err:"))
    )
    problems = [line for line in diagnostics if line.startswith(("W:", "E:"))]
    stale = any(_is_stale(line) for line in diagnostics)
    if exit_status == 0:
        return UpdateOutcome(ok=True, stale=stale, warnings=tuple(problems))
    fatal = [line for line in problems if line.startswith("E:") and not _is_stale(line)]
    if stale and not fatal:
        # apt-get update with Error-Mode=any (apt >= 2.1.16), or old apt's E:
        # for failed fetches: it still kept the previous index files.
        return UpdateOutcome(ok=True, stale=True, warnings=tuple(problems))
    error = fatal[0] if fatal else (problems[0] if problems else f"exit status {exit_status}")
    return UpdateOutcome(ok=False, stale=stale, warnings=tuple(problems), error=error)


def _is_stale(line: str) -> bool:
    return any(pattern.search(line) for pattern in _STALE_PATTERNS)


def is_security_origin(origin: str) -> bool:
    """True for an origin from a security suite, e.g. ``Debian-Security:12/stable-security``."""
    label, _, rest = origin.partition(":")
    suite = rest.rsplit("/", 1)[-1] if rest else ""
    # Debian before bookworm served security updates under label
    # Debian-Security with suites like "stretch/updates" or "oldstable".
    return suite.endswith("-security") or suite == "security" or label == "Debian-Security"


def parse_simulation(output: str) -> Simulation:
    """Parse ``apt-get -s dist-upgrade`` (or ``upgrade``) output into pending updates."""
    pending: list[PendingUpdate] = []
    kept_back: list[str] = []
    removals: list[str] = []
    not_upgraded: int | None = None
    in_kept_back = False
    for line in output.splitlines():
        if in_kept_back:
            if line.startswith(" "):
                kept_back.extend(line.split())
                continue
            in_kept_back = False
        if _KEPT_BACK_HEADER.match(line):
            in_kept_back = True
            continue
        if match := _INST_RE.match(line):
            origins = tuple(
                origin.strip() for origin in (match["origins"] or "").split(",") if origin.strip()
            )
            security_origins = [origin for origin in origins if is_security_origin(origin)]
            repository = (security_origins or list(origins) or [None])[0]
            pending.append(
                PendingUpdate(
                    name=match["name"],
                    installed=match["installed"] or None,
                    candidate=match["candidate"],
                    arch=match["arch"],
                    repository=repository,
                    security=bool(security_origins),
                    severity=None,
                )
            )
        elif match := _REMV_RE.match(line):
            removals.append(match["name"])
        elif match := _SUMMARY_RE.match(line):
            not_upgraded = int(match["not_upgraded"])
    return Simulation(
        pending=tuple(pending),
        kept_back=tuple(kept_back),
        removals=tuple(removals),
        not_upgraded=not_upgraded,
    )


# Second letter of ${db:Status-Abbrev}: i = installed; W and t = installed,
# only triggers pending. Anything else (c = config-files, U = unpacked,
# F = half-configured, H = half-installed, n = not-installed) is not a
# usable installed version.
_INSTALLED_STATES = frozenset("iWt")

_CONFFILE_RE = re.compile(r"(?:end of file|EOF) on stdin at conffile prompt")
_CONFFILE_PACKAGE_RE = re.compile(r"dpkg: error processing package (?P<name>\S+) \(--configure\)")
_INTERRUPTED_RE = re.compile(r"^E: dpkg was interrupted, you must manually run")
_VERSION_NOT_FOUND_RE = re.compile(
    r"^E: Version '(?P<version>[^']+)' for '(?P<name>[^']+)' was not found"
)
_UNKNOWN_PACKAGE_RE = re.compile(r"^E: Unable to locate package (?P<name>\S+)")
_HELD_CHANGED_RE = re.compile(r"^E: Held packages were changed and -y was used")


def parse_installed_versions(output: str) -> dict[str, str]:
    """``dpkg-query -W -f='${Package}\\t${Version}\\t${db:Status-Abbrev}\\n'`` -> {name: version}.

    Only packages whose files are in place count: a removed package whose
    configuration files remain (``rc``) or a half-installed one is left out.
    """
    installed: dict[str, str] = {}
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) < 3 or not fields[0] or not fields[1]:
            continue
        name, version, status = fields[0], fields[1], fields[2]
        if len(status) >= 2 and status[1] in _INSTALLED_STATES:
            # Multi-arch packages print one line per architecture; keep the first.
            installed.setdefault(name, version)
    return installed


def parse_held(output: str) -> tuple[str, ...]:
    """``apt-mark showhold`` -> held package names (``:arch`` suffixes dropped)."""
    names = (line.strip().split(":", 1)[0] for line in output.splitlines())
    return tuple(dict.fromkeys(name for name in names if name))


def parse_dry_run(output: str) -> list[PackageChange]:
    """``apt-get -s ...`` -> the changes it would make (Inst and Remv lines)."""
    changes: list[PackageChange] = []
    for line in output.splitlines():
        if match := _INST_RE.match(line):
            changes.append(
                PackageChange(match["name"], match["installed"] or None, match["candidate"])
            )
        elif match := _REMV_RE.match(line):
            changes.append(PackageChange(match["name"], match["installed"] or None, None))
    return changes


def classify_install_failure(exit_status: int, log: Sequence[str]) -> tuple[str, str]:
    """(kind, one-line message) for a failed ``apt-get install/upgrade`` from its log.

    Kinds: ``locked``, ``conffile``, ``dpkg-interrupted``, ``unavailable``,
    ``held`` and ``failed`` (with the last ``E:`` line).
    """
    text = "\n".join(log)
    if lock := find_lock_error(text):
        return "locked", f"another package manager holds the lock: {lock}"
    lines = [line.strip() for line in log]
    for index, line in enumerate(lines):
        if _CONFFILE_RE.search(line):
            package = None
            for earlier in lines[index - 1 : index + 1] if index else [line]:
                if found := _CONFFILE_PACKAGE_RE.search(earlier):
                    package = found["name"]
            where = f" of {package}" if package else ""
            return (
                "conffile",
                f"dpkg stopped at a configuration file prompt{where} (no terminal to answer it)",
            )
    for line in lines:
        if _INTERRUPTED_RE.match(line):
            return (
                "dpkg-interrupted",
                "a previous dpkg run was interrupted: dpkg --configure -a needed",
            )
    missing = [m for line in lines if (m := _VERSION_NOT_FOUND_RE.match(line))]
    if missing:
        described = "; ".join(
            f"version {m['version']} of {m['name']} is no longer available from the host's"
            " repositories"
            for m in missing
        )
        return "unavailable", described
    unknown = [m["name"] for line in lines if (m := _UNKNOWN_PACKAGE_RE.match(line))]
    if unknown:
        return "unavailable", "no such package in the host's repositories: " + ", ".join(unknown)
    for line in lines:
        if _HELD_CHANGED_RE.match(line):
            return "held", "a held package would have changed; apt refused (apt-mark showhold)"
    errors = [line for line in lines if line.startswith("E:")]
    detail = errors[-1] if errors else next((line for line in reversed(lines) if line), "")
    return "failed", f"exit status {exit_status}: {detail}"[:300]


# -- changelogs: advisory and CVE ids of pending security updates ----------------------

CHANGELOG_MARK = "patchtui-changelog"
"""Marker line before each package's changelog: ``patchtui-changelog name=version``."""
CHANGELOG_EXIT_MARK = "patchtui-changelog-exit"
"""Line after apt-get's output: ``patchtui-changelog-exit <status>`` (cut off with long output)."""

# "openssl (1.0.1e-2+deb7u5) wheezy-security; urgency=high" (Debian policy 4.4).
_CHANGELOG_HEADER_RE = re.compile(
    r"^(?P<source>[a-z0-9][a-z0-9+.-]*) \((?P<version>[^()\s]+)\)"
    r"(?P<distributions>(?: +[A-Za-z0-9._+-]+)+) *;(?P<fields>.*)$"
)
_URGENCY_RE = re.compile(r"\burgency=(?P<urgency>[A-Za-z]+)", re.IGNORECASE)
_CVE_RE = re.compile(r"\bCVE-\d{4}-\d{4,}\b", re.IGNORECASE)
# Debian Security Advisories, Debian LTS Advisories, Ubuntu Security Notices.
_ADVISORY_ID_RE = re.compile(r"\b(?:DSA|DLA|USN)-\d{2,}-\d+\b", re.IGNORECASE)

# Debian urgency says how soon testing should pick an upload up, not how bad
# a flaw is (it is no CVSS rating): only the two levels reserved for
# emergencies are read as a severity; high/medium/low say nothing reliable.
_URGENCY_SEVERITY = {"critical": "critical", "emergency": "critical"}
_URGENCY_RANK = ("low", "medium", "high", "emergency", "critical")


@dataclass(frozen=True)
class ChangelogEntry:
    """One entry of a Debian changelog: header, body and trailer."""

    source: str
    version: str
    distributions: tuple[str, ...]
    urgency: str | None
    body: str


@dataclass(frozen=True)
class ChangelogSection:
    """What the changelog loop printed for one requested ``name=version``."""

    name: str
    version: str
    text: str
    exit_status: int | None
    """apt-get's status; None when the output was cut at the line limit (long, so fetched)."""

    @property
    def failed(self) -> bool:
        if self.exit_status is not None:
            return self.exit_status != 0
        return not any(_CHANGELOG_HEADER_RE.match(line) for line in self.text.splitlines())

    @property
    def error(self) -> str:
        """The apt error line (``E: Failed to fetch changelog:/...``), else the last line."""
        lines = [line.strip() for line in self.text.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("E:")]
        if errors:
            return errors[0]
        return lines[-1] if lines else f"exit status {self.exit_status}"


@dataclass(frozen=True)
class ChangelogIds:
    """Advisory and CVE ids named by the entries newer than the installed version."""

    cves: tuple[str, ...]
    advisories: tuple[str, ...]
    urgency: str | None
    """The most urgent ``urgency=`` among those entries (Debian's word, lower case)."""
    entries: int
    """How many entries were read (0: nothing newer than the installed version)."""

    @property
    def severity(self) -> str | None:
        """``critical`` for urgency critical/emergency; None otherwise (see _URGENCY_SEVERITY)."""
        return _URGENCY_SEVERITY.get(self.urgency or "")


def parse_changelog(text: str) -> list[ChangelogEntry]:
    """Debian changelog text (``apt-get changelog``) -> its entries, newest first.

    Lines before the first header (apt's ``Get:1 ... Changelog`` progress,
    a ``W:`` note) are ignored; an entry's body runs up to the next header.
    """
    entries: list[ChangelogEntry] = []
    header: re.Match[str] | None = None
    body: list[str] = []

    def flush() -> None:
        if header is None:
            return
        urgency = _URGENCY_RE.search(header["fields"])
        entries.append(
            ChangelogEntry(
                source=header["source"],
                version=header["version"],
                distributions=tuple(header["distributions"].split()),
                urgency=urgency["urgency"].lower() if urgency else None,
                body="\n".join(body).strip("\n"),
            )
        )

    for line in text.splitlines():
        if match := _CHANGELOG_HEADER_RE.match(line):
            flush()
            header, body = match, []
        elif header is not None:
            body.append(line)
    flush()
    return entries


def changelog_ids(entries: Sequence[ChangelogEntry], installed: str | None) -> ChangelogIds:
    """The ids named in the entries newer than ``installed`` (the fixes not yet on the host).

    Without an installed version (a package the upgrade pulls in) only the
    newest entry counts: the rest of its history was never missing anywhere.
    """
    if installed is None:
        newer = list(entries[:1])
    else:
        newer = [entry for entry in entries if compare_versions(entry.version, installed) > 0]
    text = "\n".join(entry.body for entry in newer)
    cves = sorted({match.upper() for match in _CVE_RE.findall(text)})
    advisories = sorted({match.upper() for match in _ADVISORY_ID_RE.findall(text)})
    urgencies = [entry.urgency for entry in newer if entry.urgency in _URGENCY_RANK]
    urgency = max(urgencies, key=_URGENCY_RANK.index) if urgencies else None
    return ChangelogIds(tuple(cves), tuple(advisories), urgency, len(newer))


def parse_changelog_batch(output: str) -> list[ChangelogSection]:
    """Split the driver's changelog loop output into one section per requested package."""
    sections: list[ChangelogSection] = []
    spec: str | None = None
    lines: list[str] = []
    status: int | None = None

    def flush() -> None:
        if spec is None:
            return
        name, _, version = spec.partition("=")
        sections.append(ChangelogSection(name, version, "\n".join(lines), status))

    for line in output.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == CHANGELOG_MARK:
            flush()
            spec, lines, status = words[1], [], None
        elif len(words) == 2 and words[0] == CHANGELOG_EXIT_MARK and words[1].isdigit():
            status = int(words[1])
        elif spec is not None:
            lines.append(line)
    flush()
    return sections
