"""How old is the repository metadata a host works from? Build the check, parse it. Pure.

The check prints the host's own clock (``date +%s``), then ``<mtime> <path>`` for each
metadata file (``stat -c '%Y %n'``); the age is measured on the host's clock alone, so a
controller with a skewed clock cannot make a mirror look stale or fresh::

    1796663477
    1796653007 /var/lib/apt/lists/deb.debian.org_debian-security_dists_bookworm-security_InRelease
    1783764997 /var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease

* apt: ``/var/lib/apt/lists/*Release``. apt sets each file's mtime to the server's
  Last-Modified, so it is when the mirror last published that suite, not when the host
  last looked.
* dnf/yum and zypper: the ``repomd.xml`` of each cached repository: the cache's age.

The age is that of the *newest* file: a release pocket that never changes after the
release (Ubuntu's ``jammy``, Debian's ``bookworm`` between point releases, as the
capture above shows) is normal, but when even the newest file is old, the mirror (or the
host's view of it) has stopped moving.
"""

from __future__ import annotations

from dataclasses import dataclass

_STAT = "stat -c '%Y %n'"

APT_METADATA_GLOBS: tuple[str, ...] = ("/var/lib/apt/lists/*Release",)
DNF_METADATA_GLOBS: tuple[str, ...] = (
    "/var/cache/dnf/*/repodata/repomd.xml",
    "/var/cache/libdnf5/*/repodata/repomd.xml",
    "/var/cache/yum/*/*/*/repomd.xml",
)
ZYPPER_METADATA_GLOBS: tuple[str, ...] = ("/var/cache/zypp/raw/*/repodata/repomd.xml",)


def metadata_age_command(globs: tuple[str, ...]) -> str:
    """The check for ``globs``; a glob that matches nothing prints nothing (not an error)."""
    return f"date +%s; {_STAT} {' '.join(globs)} 2>/dev/null || true"


APT_METADATA_COMMAND = metadata_age_command(APT_METADATA_GLOBS)
DNF_METADATA_COMMAND = metadata_age_command(DNF_METADATA_GLOBS)
ZYPPER_METADATA_COMMAND = metadata_age_command(ZYPPER_METADATA_GLOBS)


@dataclass(frozen=True)
class MetadataTimes:
    host_now: int | None
    files: tuple[tuple[int, str], ...]
    """(mtime, path) of each metadata file found."""

    @property
    def age_seconds(self) -> float | None:
        """Age of the newest file on the host's clock; None when there is nothing to tell."""
        if self.host_now is None or not self.files:
            return None
        return float(max(0, self.host_now - max(mtime for mtime, _ in self.files)))


def parse_metadata_times(stdout: str) -> MetadataTimes:
    """Parse the check's output; lines that are not what it prints are ignored."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    host_now = int(lines[0]) if lines and lines[0].isdigit() else None
    files: list[tuple[int, str]] = []
    for line in lines[1 if host_now is not None else 0 :]:
        mtime, _, path = line.partition(" ")
        if mtime.isdigit() and path.startswith("/"):
            files.append((int(mtime), path))
    return MetadataTimes(host_now, tuple(files))
