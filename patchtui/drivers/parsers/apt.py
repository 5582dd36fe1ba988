"""Parse apt-get output: ``update`` warnings, lock errors, ``-s dist-upgrade`` plans, reboot flag.

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

REBOOT_REQUIRED_MARK = "reboot-required"
NO_REBOOT_REQUIRED_MARK = "no-reboot-required"


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


def parse_reboot_check(output: str) -> tuple[bool, tuple[str, ...]]:
    """Parse the reboot check: ``(required, packages that asked for it)``.

    The command prints ``reboot-required`` followed by the lines of
    /var/run/reboot-required.pkgs, or ``no-reboot-required``.
    """
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines or lines[0] != REBOOT_REQUIRED_MARK:
        return False, ()
    # .pkgs may name a package twice (one line per trigger): keep first occurrences.
    return True, tuple(dict.fromkeys(lines[1:]))


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
