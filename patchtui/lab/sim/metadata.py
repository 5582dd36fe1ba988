"""The lab's answer to the drivers' metadata-age check (``drivers.parsers.metadata``).

Each family's real files, with mtimes ``SimHost.metadata_age_days`` before the host's
clock; a release pocket that never changes after the release is older still, as on a
real Debian or Ubuntu host.
"""

from __future__ import annotations

import zlib

from patchtui.drivers.parsers.metadata import (
    APT_METADATA_COMMAND,
    DNF_METADATA_COMMAND,
    ZYPPER_METADATA_COMMAND,
)
from patchtui.lab.sim import ShellResult
from patchtui.lab.state import SimHost

_DAY = 86_400
_RELEASE_POCKET_AGE_DAYS = 150.0


def _files(host: SimHost) -> list[tuple[float, str]]:
    fresh = host.metadata_age_days
    if host.family == "apt":
        code = host.version_codename or host.os_version
        if host.os_id == "ubuntu":
            site, security = "archive.ubuntu.com_ubuntu", "security.ubuntu.com_ubuntu"
        else:
            site, security = "deb.debian.org_debian", "deb.debian.org_debian-security"
        lists = "/var/lib/apt/lists"
        return [
            (fresh, f"{lists}/{security}_dists_{code}-security_InRelease"),
            (fresh, f"{lists}/{site}_dists_{code}-updates_InRelease"),
            (max(fresh, _RELEASE_POCKET_AGE_DAYS), f"{lists}/{site}_dists_{code}_InRelease"),
        ]
    if host.family == "yum":
        # EL7's yum: /var/cache/yum/<basearch>/<releasever>/<repo>/repomd.xml
        release = host.os_version.split(".")[0]
        return [
            (fresh, f"/var/cache/yum/x86_64/{release}/{repo}/repomd.xml")
            for repo in ("base", "updates")
        ]
    if host.family == "dnf":
        # dnf 4 names each cache directory <repoid>-<16 hex digits of a hash of its URLs>.
        return [
            (fresh, f"/var/cache/dnf/{repo}-{_hash16(host.os_id + repo)}/repodata/repomd.xml")
            for repo in ("appstream", "baseos")
        ]
    if host.family == "zypper":
        return [
            (fresh, f"/var/cache/zypp/raw/{repo}/repodata/repomd.xml")
            for repo in ("repo-oss", "repo-update")
        ]
    return []


def _hash16(text: str) -> str:
    return f"{zlib.crc32(text.encode()):08x}{zlib.adler32(text.encode()):08x}"


def handle(host: SimHost, command: str, now: float) -> ShellResult | None:
    """The check's output if ``command`` is one of the three checks, else None."""
    if command not in (APT_METADATA_COMMAND, DNF_METADATA_COMMAND, ZYPPER_METADATA_COMMAND):
        return None
    lines = [f"{int(now)}\n"]
    lines.extend(f"{int(now - age * _DAY)} {path}\n" for age, path in _files(host))
    return ShellResult(stdout="".join(lines))
