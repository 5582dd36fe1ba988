"""Parse apk (Alpine) output: update summaries, lock errors, simulated upgrades, kernels.

Formats (see tests/data/apk for real captures):

* ``apk update`` prints ``fetch <url>`` per index, ``WARNING:``/``ERROR:``
  lines for repositories it could not refresh, then a summary:
  ``OK: 23662 distinct packages available`` when all went well, otherwise
  ``2 errors; 14 distinct packages available`` (apk 2.10) or
  ``2 unavailable, 0 stale; 26320 distinct packages available`` (apk 2.14).
* ``apk upgrade --simulate`` prints the transaction it would run::

      (1/3) Purging libold (1)
      (2/3) Installing libnew (1)
      (3/3) Upgrading app (1 -> 2)
      OK: 0 MiB in 2 packages

* A held database lock: ``ERROR: Unable to lock database: Resource temporarily unavailable``.

* ``apk list -I <names>`` prints one line per installed package::

      busybox-1.36.1-r15 x86_64 {busybox} (GPL-2.0-only) [installed]

  (with ``-v`` a description line follows each; names not installed print nothing).
* A constraint no repository satisfies (``apk add foo=1.2-r0`` for a version
  that is gone) fails before anything changes with ``ERROR: unable to select
  packages:`` followed by ``foo-1.3-r0:`` / ``breaks: world[foo=1.2-r0]``, or
  ``foo (no such package):`` for an unknown name.

apk has no security classification: no update is ever marked security and
there is no severity.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from patchtui.drivers.base import PackageChange, PendingUpdate

NO_SECURITY_WARNING = (
    "apk does not classify updates: security counts are not available on Alpine hosts"
)

_LOCK_RE = re.compile(r"^ERROR: Unable to lock database: (?P<reason>.*)$")
# Only these reasons mean "someone else holds it"; Permission denied or a
# read-only file system are configuration failures, not a busy lock.
_BUSY_REASONS = ("Resource temporarily unavailable", "Operation timed out")
_STEP_RE = re.compile(
    r"^\(\d+/\d+\) (?P<action>Upgrading|Installing|Downgrading|Replacing|Reinstalling|Purging)"
    r" (?P<name>\S+) \((?P<versions>[^)]*)\)"
)
_SUMMARY_OK_RE = re.compile(r"^OK: \d+ distinct packages available")
_SUMMARY_ERRORS_RE = re.compile(r"^(?P<errors>\d+) errors?; \d+ distinct packages available")
_SUMMARY_UNAVAILABLE_RE = re.compile(
    r"^(?P<unavailable>\d+) unavailable, (?P<stale>\d+) stale; \d+ distinct packages available"
)
KERNEL_FLAVOURS: tuple[str, ...] = ("lts", "virt", "edge", "stable", "rpi")
_KERNEL_PACKAGE_RE = re.compile(
    r"^linux-(?P<flavour>lts|virt|edge|stable|rpi\d*)-(?P<version>\d[^-\s]*)-r(?P<release>\d+)$"
)


@dataclass(frozen=True)
class UpdateOutcome:
    ok: bool
    stale: bool
    warnings: tuple[str, ...]
    error: str | None = None


@dataclass(frozen=True)
class Simulation:
    pending: tuple[PendingUpdate, ...]
    removals: tuple[str, ...] = ()
    downgrades: tuple[str, ...] = ()


def find_lock_error(text: str) -> str | None:
    """The 'database locked by someone else' line, or None."""
    for line in text.splitlines():
        match = _LOCK_RE.match(line.strip())
        if match and match["reason"].strip() in _BUSY_REASONS:
            return line.strip()
    return None


def parse_update(output: str, exit_status: int) -> UpdateOutcome:
    """Classify ``apk update`` (stdout and stderr together).

    apk exits with the number of repositories that failed, so a non-zero exit
    with only fetch problems still leaves the old indexes usable: stale.
    """
    diagnostics = tuple(
        line.strip() for line in output.splitlines() if line.startswith(("WARNING:", "ERROR:"))
    )
    failed_repositories = 0
    summary_seen = False
    for line in output.splitlines():
        stripped = line.strip()
        if _SUMMARY_OK_RE.match(stripped):
            summary_seen = True
        elif match := _SUMMARY_ERRORS_RE.match(stripped):
            summary_seen = True
            failed_repositories += int(match["errors"])
        elif match := _SUMMARY_UNAVAILABLE_RE.match(stripped):
            summary_seen = True
            failed_repositories += int(match["unavailable"]) + int(match["stale"])
    stale = failed_repositories > 0 or bool(diagnostics)
    if exit_status == 0 or summary_seen:
        # The summary line means apk got as far as loading the indexes it has.
        return UpdateOutcome(ok=True, stale=stale, warnings=diagnostics)
    error = diagnostics[0] if diagnostics else f"exit status {exit_status}"
    return UpdateOutcome(ok=False, stale=stale, warnings=diagnostics, error=error)


def parse_simulation(output: str) -> Simulation:
    """Parse ``apk upgrade --simulate`` into pending updates (installed -> candidate)."""
    pending: list[PendingUpdate] = []
    removals: list[str] = []
    downgrades: list[str] = []
    for line in output.splitlines():
        match = _STEP_RE.match(line.strip())
        if not match:
            continue
        action, name, versions = match["action"], match["name"], match["versions"]
        if action == "Purging":
            removals.append(name)
            continue
        if action == "Reinstalling":
            continue
        old, arrow, new = versions.partition(" -> ")
        if action == "Installing" or not arrow:
            pending.append(PendingUpdate(name=name, installed=None, candidate=versions.strip()))
            continue
        if action == "Downgrading":
            downgrades.append(name)
        pending.append(PendingUpdate(name=name, installed=old.strip(), candidate=new.strip()))
    return Simulation(
        pending=tuple(pending), removals=tuple(removals), downgrades=tuple(downgrades)
    )


def kernel_release_of_package(package: str) -> str | None:
    """``linux-lts-6.6.32-r0`` -> ``6.6.32-0-lts`` (what ``uname -r`` prints once it runs)."""
    match = _KERNEL_PACKAGE_RE.match(package.strip())
    if not match:
        return None
    return f"{match['version']}-{match['release']}-{match['flavour']}"


def parse_kernel_check(output: str) -> bool | None:
    """Whether a reboot is needed: the running kernel differs from the installed one.

    The first line is ``uname -r`` (e.g. ``6.6.31-0-lts``); the others are
    installed kernel packages (``linux-lts-6.6.32-r0``). None when no installed
    kernel package of the running flavour is found (containers, custom kernels).
    """
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        return None
    running = lines[0]
    flavour = running.rsplit("-", 1)[-1]
    for package in lines[1:]:
        release = kernel_release_of_package(package)
        if release is not None and release.rsplit("-", 1)[-1] == flavour:
            return release != running
    return None


_LIST_LINE_RE = re.compile(
    r"^(?P<package>\S+) (?P<arch>\S+) \{(?P<origin>[^}]*)\} \((?P<license>[^)]*)\) \[installed\]$"
)
# apk versions end in -r<release>; names may contain dashes and digits
# (py3-foo, linux-lts), so split at the last "-<digit>...-r<n>".
_NAME_VERSION_RE = re.compile(r"^(?P<name>.+?)-(?P<version>\d[^-\s]*-r\d+)$")
_BREAKS_WORLD_RE = re.compile(r"breaks: world\[(?P<name>[^=<>~\]]+)[=~](?P<version>[^\]]+)\]")
_NO_SUCH_PACKAGE_RE = re.compile(r"^(?P<name>\S+) \(no such package\):")


def split_name_version(package: str) -> tuple[str, str] | None:
    """``py3-foo-1.2.3-r0`` -> (``py3-foo``, ``1.2.3-r0``); None if it has no apk version."""
    match = _NAME_VERSION_RE.match(package.strip())
    return (match["name"], match["version"]) if match else None


def parse_installed_list(output: str) -> dict[str, str]:
    """``apk list -I [-v] names...`` -> {name: installed version}."""
    installed: dict[str, str] = {}
    for line in output.splitlines():
        match = _LIST_LINE_RE.match(line.strip())
        if not match:
            continue  # description lines of -v, blank lines
        split = split_name_version(match["package"])
        if split is not None:
            installed[split[0]] = split[1]
    return installed


def parse_dry_run(output: str) -> list[PackageChange]:
    """``apk add --simulate`` / ``apk upgrade --simulate`` -> the changes it would make."""
    changes: list[PackageChange] = []
    for line in output.splitlines():
        match = _STEP_RE.match(line.strip())
        if not match or match["action"] == "Reinstalling":
            continue
        action, name, versions = match["action"], match["name"], match["versions"]
        old, arrow, new = versions.partition(" -> ")
        if action == "Purging":
            changes.append(PackageChange(name, versions.strip(), None))
        elif action == "Installing" or not arrow:
            changes.append(PackageChange(name, None, versions.strip()))
        else:
            changes.append(PackageChange(name, old.strip(), new.strip()))
    return changes


def classify_install_failure(exit_status: int, log: Sequence[str]) -> tuple[str, str]:
    """(kind, message) for a failed ``apk add``/``apk upgrade``: locked, unavailable, failed."""
    if lock := find_lock_error("\n".join(log)):
        return "locked", f"another apk holds the database lock: {lock}"
    lines = [line.strip() for line in log]
    if any(line.startswith("ERROR: unable to select packages") for line in lines):
        pinned = [m for line in lines if (m := _BREAKS_WORLD_RE.search(line))]
        unknown = [m["name"] for line in lines if (m := _NO_SUCH_PACKAGE_RE.match(line))]
        parts = [
            f"version {m['version']} of {m['name']} is not available from the host's repositories"
            for m in pinned
        ]
        if unknown:
            parts.append("no such package: " + ", ".join(unknown))
        return "unavailable", "; ".join(parts) or "apk could not select the requested packages"
    errors = [line for line in lines if line.startswith("ERROR:")]
    detail = errors[-1] if errors else next((line for line in reversed(lines) if line), "")
    return "failed", f"exit status {exit_status}: {detail}"[:300]
