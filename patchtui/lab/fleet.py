"""Build a deterministic fleet of simulated hosts for the lab.

``build_fleet(count, seed=...)`` returns ``SimHost`` objects with a realistic
mix of operating systems (Debian 12, Ubuntu 22.04, RHEL 9, Rocky 9, CentOS 7,
openSUSE Leap 15.5, Alpine 3.19), each with package sets and pending updates
shaped like the real distribution's: version strings, repository names,
advisory ids and severities as that OS spells them. The same seed always gives
the same fleet (names, OS, packages, labels, faults), so tests, the demo and
benchmarks can rely on it; only ``booted_at`` follows the wall clock.

Faults: with ``faults="some"`` each fault in ``FAULTS`` (the scan-time ones in
``SCAN_FAULTS`` and the patch-time ``install-fails`` and ``drop-during-install``) goes to
about 1.5 % of the hosts, at least one host each once the fleet has
``MIN_HOSTS_FOR_FAULTS`` hosts; smaller fleets get no faults so that a tiny
demo is all healthy. ``dpkg-lock`` only goes to apt hosts; ``stale-mirror`` (see
``stale_mirror``) only to apt, dnf/yum and zypper hosts, which have metadata to age.
"""

from __future__ import annotations

import dataclasses
import random
import time
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from patchtui.drivers.versions import comparator
from patchtui.lab.state import FAULTS, SimHost, SimPackage, SimVersion

SCAN_FAULTS: tuple[str, ...] = (
    "auth-refused",
    "no-answer",
    "slow",
    "dpkg-lock",
    "changed-hostkey",
    "stale-mirror",
)
"""Faults a scan runs into; the others in FAULTS show up only when patching."""

FAULT_MODES: tuple[str, ...] = ("none", "some")
MIN_HOSTS_FOR_FAULTS = 20
FAULT_SHARE = 0.015
"""Share of the fleet that gets each fault (at least one host each)."""

ROLES: tuple[tuple[str, float], ...] = (("web", 0.5), ("db", 0.25), ("cache", 0.25))
STAGING_SHARE = 0.2
ALREADY_REBOOT_REQUIRED_SHARE = 0.06
CLUSTER_SIZE = 3
"""Clustered db hosts come in threes, all of one OS, like a real replica set."""


@dataclass
class FleetHost(SimHost):
    """A simulated host plus what the inventory says about it.

    The labels are the operator's view (environment, role, cluster), not
    something the machine itself knows, hence a subclass rather than state.
    """

    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Source:
    """Binary packages built from one source: they are updated together."""

    names: tuple[str, ...]
    installed: str
    repository: str
    update: str | None = None
    update_repository: str | None = None
    security: bool = False
    severity: str | None = None
    advisory: str | None = None
    cves: tuple[str, ...] = ()
    needs_reboot: bool = False
    arch: str | None = None
    """None: the OS's default architecture."""
    role: str | None = None
    """Only hosts with this role have it; None: every host."""


@dataclass(frozen=True)
class _OsProfile:
    short: str
    """Used in host names: lab-<short>-0001."""
    family: str
    os_id: str
    os_version: str
    pretty_name: str
    id_like: str
    version_codename: str
    arch: str
    kernel_running: str
    """uname -r of the kernel the installed kernel package belongs to."""
    kernel_older: str
    """uname -r of the previous kernel: hosts that still run it need a reboot."""
    kernel_package: str
    reboot_packages: tuple[str, ...]
    """What the OS records as the reason when a reboot is already pending."""
    weight: float
    sources: tuple[_Source, ...]
    update_notifier: bool = True
    """apt: /run/reboot-required is kept (Ubuntu); plain Debian has no update-notifier-common."""
    needrestart_share: float = 0.0
    """apt: share of hosts with needrestart installed (Ubuntu server ships it)."""


def _s(names: str, installed: str, repository: str, **kwargs: object) -> _Source:
    """Shorthand: ``names`` is space separated so the tables below stay readable."""
    return _Source(tuple(names.split()), installed, repository, **kwargs)  # type: ignore[arg-type]


# The tables below are data: one row per source package, aligned by hand.
# fmt: off
_DEBIAN = _OsProfile(
    short="deb",
    family="apt",
    os_id="debian",
    os_version="12",
    pretty_name="Debian GNU/Linux 12 (bookworm)",
    id_like="",
    version_codename="bookworm",
    arch="amd64",
    kernel_running="6.1.0-21-amd64",
    kernel_older="6.1.0-20-amd64",
    kernel_package="linux-image-amd64",
    reboot_packages=("linux-image-6.1.0-21-amd64",),
    weight=0.22,
    sources=(
        _s("openssl libssl3", "3.0.11-1~deb12u2", "bookworm", update="3.0.13-1~deb12u1",
           update_repository="bookworm-security", security=True, advisory="DSA-5678-1",
           cves=("CVE-2024-0727", "CVE-2023-6129")),
        _s("curl libcurl4", "7.88.1-10+deb12u5", "bookworm", update="7.88.1-10+deb12u7",
           update_repository="bookworm-security", security=True, advisory="DSA-5712-1",
           cves=("CVE-2024-2398",)),
        _s("openssh-server openssh-client", "1:9.2p1-2+deb12u2", "bookworm",
           update="1:9.2p1-2+deb12u3", update_repository="bookworm-security", security=True,
           advisory="DSA-5724-1", cves=("CVE-2024-6387",)),
        _s("linux-image-amd64", "6.1.90-1", "bookworm", update="6.1.94-1",
           update_repository="bookworm-security", security=True, advisory="DSA-5719-1",
           cves=("CVE-2024-26925", "CVE-2024-36016"), needs_reboot=True),
        # The kernel linux-image-amd64 6.1.90-1 depends on; an upgrade pulls in the next ABI.
        _s("linux-image-6.1.0-21-amd64", "6.1.90-1", "bookworm"),
        _s("libc6 libc-bin", "2.36-9+deb12u4", "bookworm", update="2.36-9+deb12u7",
           update_repository="bookworm-security", security=True, advisory="DSA-5693-1",
           cves=("CVE-2024-2961", "CVE-2024-33599")),
        _s("libexpat1", "2.5.0-1", "bookworm", update="2.5.0-1+deb12u1",
           update_repository="bookworm-security", security=True, advisory="DSA-5770-1",
           cves=("CVE-2024-45490", "CVE-2024-45491")),
        _s("tzdata", "2024a-0+deb12u1", "bookworm", update="2024b-0+deb12u1",
           update_repository="bookworm-updates", arch="all"),
        _s("systemd libsystemd0 udev", "252.22-1~deb12u1", "bookworm",
           update="252.26-1~deb12u2", update_repository="bookworm"),
        _s("bash", "5.2.15-2+b2", "bookworm"),
        _s("sudo", "1.9.13p3-1+deb12u1", "bookworm"),
        _s("ca-certificates", "20230311", "bookworm", arch="all"),
        _s("apt libapt-pkg6.0", "2.6.1", "bookworm"),
        _s("nginx nginx-common", "1.22.1-9", "bookworm", update="1.22.1-9+deb12u1",
           update_repository="bookworm-security", security=True, advisory="DSA-5840-1",
           cves=("CVE-2023-44487",), role="web"),
        _s("postgresql-15 libpq5", "15.6-0+deb12u1", "bookworm", update="15.7-0+deb12u1",
           update_repository="bookworm-security", security=True, advisory="DSA-5689-1",
           cves=("CVE-2024-4317",), role="db"),
        _s("redis-server redis-tools", "5:7.0.15-1~deb12u1", "bookworm", role="cache"),
    ),
    # Plain Debian: no update-notifier-common, so no /run/reboot-required for a new kernel.
    update_notifier=False,
    needrestart_share=0.5,
)

_UBUNTU = _OsProfile(
    short="ubu",
    family="apt",
    os_id="ubuntu",
    os_version="22.04",
    pretty_name="Ubuntu 22.04.4 LTS",
    id_like="debian",
    version_codename="jammy",
    arch="amd64",
    kernel_running="5.15.0-105-generic",
    kernel_older="5.15.0-102-generic",
    kernel_package="linux-image-generic",
    reboot_packages=("linux-image-5.15.0-105-generic", "linux-base"),
    weight=0.28,
    sources=(
        _s("openssl libssl3", "3.0.2-0ubuntu1.15", "jammy-updates", update="3.0.2-0ubuntu1.16",
           update_repository="jammy-security", security=True, advisory="USN-6854-1",
           cves=("CVE-2024-4741", "CVE-2024-5535")),
        _s("curl libcurl4", "7.81.0-1ubuntu1.15", "jammy-updates", update="7.81.0-1ubuntu1.16",
           update_repository="jammy-security", security=True, advisory="USN-6718-1",
           cves=("CVE-2024-2398", "CVE-2024-2004")),
        _s("openssh-server openssh-client", "1:8.9p1-3ubuntu0.7", "jammy-updates",
           update="1:8.9p1-3ubuntu0.10", update_repository="jammy-security", security=True,
           advisory="USN-6859-1", cves=("CVE-2024-6387",)),
        _s("linux-image-generic linux-generic", "5.15.0.105.102", "jammy-updates",
           update="5.15.0.112.112", update_repository="jammy-security", security=True,
           advisory="USN-6820-1", cves=("CVE-2024-26643", "CVE-2024-26925"),
           needs_reboot=True),
        _s("libc6 libc-bin", "2.35-0ubuntu3.7", "jammy-updates", update="2.35-0ubuntu3.8",
           update_repository="jammy-security", security=True, advisory="USN-6762-1",
           cves=("CVE-2024-2961",), needs_reboot=True),
        _s("git git-man", "1:2.34.1-1ubuntu1.10", "jammy-updates", update="1:2.34.1-1ubuntu1.11",
           update_repository="jammy-security", security=True, advisory="USN-6793-1",
           cves=("CVE-2024-32002", "CVE-2024-32004")),
        _s("tzdata", "2024a-0ubuntu0.22.04", "jammy-updates", update="2024a-0ubuntu0.22.04.1",
           update_repository="jammy-updates", arch="all"),
        _s("systemd libsystemd0 udev", "249.11-0ubuntu3.12", "jammy-updates",
           update="249.11-0ubuntu3.13", update_repository="jammy-updates"),
        _s("python3.10 libpython3.10", "3.10.12-1~22.04.3", "jammy-updates",
           update="3.10.12-1~22.04.4", update_repository="jammy-updates"),
        _s("bash", "5.1-6ubuntu1.1", "jammy-updates"),
        _s("sudo", "1.9.9-1ubuntu2.4", "jammy-updates"),
        _s("ca-certificates", "20230311ubuntu0.22.04.1", "jammy-updates", arch="all"),
        _s("nginx nginx-common", "1.18.0-6ubuntu14.4", "jammy-updates",
           update="1.18.0-6ubuntu14.5", update_repository="jammy-security", security=True,
           advisory="USN-6744-1", cves=("CVE-2023-44487",), role="web"),
        _s("postgresql-14 libpq5", "14.11-0ubuntu0.22.04.1", "jammy-updates",
           update="14.12-0ubuntu0.22.04.1", update_repository="jammy-security", security=True,
           advisory="USN-6791-1", cves=("CVE-2024-4317",), role="db"),
        _s("redis-server redis-tools", "5:6.0.16-1ubuntu1", "jammy", role="cache"),
    ),
    needrestart_share=1.0,  # Ubuntu server installs needrestart by default since 22.04
)


def _el9_sources(baseos: str, appstream: str, prefix: str) -> tuple[_Source, ...]:
    """RHEL 9 and Rocky 9 ship the same builds; only repository ids and advisory prefix differ."""
    sa = f"{prefix}SA-2024:"  # RHSA / RLSA: security advisories
    ba = f"{prefix}BA-2024:"  # RHBA / RLBA: bug fix advisories
    return (
        _s("kernel kernel-core kernel-modules", "5.14.0-362.24.1.el9_3", baseos,
           update="5.14.0-427.16.1.el9_4", update_repository=baseos, security=True,
           severity="Important", advisory=f"{sa}2298", cves=("CVE-2023-52434", "CVE-2024-26643"),
           needs_reboot=True),
        _s("openssl openssl-libs", "1:3.0.7-25.el9_3", baseos, update="1:3.0.7-27.el9",
           update_repository=baseos, security=True, severity="Low", advisory=f"{sa}2447",
           cves=("CVE-2023-5678", "CVE-2023-6129")),
        _s("glibc glibc-common glibc-minimal-langpack", "2.34-83.el9_3.12", baseos,
           update="2.34-100.el9_4.2", update_repository=baseos, security=True,
           severity="Important", advisory=f"{sa}3339", cves=("CVE-2024-2961",),
           needs_reboot=True),
        _s("openssh openssh-server openssh-clients", "8.7p1-34.el9_3.3", baseos,
           update="8.7p1-38.el9_4.1", update_repository=baseos, security=True,
           severity="Important", advisory=f"{sa}4312", cves=("CVE-2024-6387",)),
        _s("curl libcurl-minimal", "7.76.1-26.el9_3.3", baseos, update="7.76.1-29.el9_4",
           update_repository=baseos, security=True, severity="Moderate",
           advisory=f"{sa}2133", cves=("CVE-2023-46218",)),
        _s("python3 python3-libs", "3.9.18-1.el9_3.1", baseos, update="3.9.18-3.el9_4.1",
           update_repository=baseos, security=True, severity="Moderate",
           advisory=f"{sa}3466", cves=("CVE-2023-6597",)),
        _s("systemd systemd-libs systemd-udev", "252-18.el9", baseos, update="252-32.el9_4",
           update_repository=baseos, advisory=f"{ba}2463", needs_reboot=True),
        _s("tzdata", "2024a-1.el9", baseos, update="2024a-2.el9", update_repository=baseos,
           advisory=f"{ba}2540", arch="noarch"),
        _s("bash", "5.1.8-6.el9_1", baseos, update="5.1.8-9.el9", update_repository=baseos,
           advisory=f"{ba}2395"),
        _s("sudo", "1.9.5p2-9.el9", baseos),
        _s("dnf dnf-data python3-dnf", "4.14.0-8.el9", baseos, arch="noarch"),
        _s("nginx nginx-core", "1:1.20.1-14.el9_2.1", appstream, update="1:1.20.1-16.el9_4.1",
           update_repository=appstream, security=True, severity="Moderate",
           advisory=f"{sa}3300", cves=("CVE-2023-44487",), role="web"),
        _s("postgresql postgresql-server", "13.14-1.el9_3", appstream, update="13.16-1.el9_4",
           update_repository=appstream, security=True, severity="Important",
           advisory=f"{sa}5264", cves=("CVE-2024-7348",), role="db"),
        _s("redis", "6.2.7-1.el9", appstream, update="6.2.16-1.el9_4",
           update_repository=appstream, security=True, severity="Important",
           advisory=f"{sa}9552", cves=("CVE-2024-31449",), role="cache"),
    )


_RHEL = _OsProfile(
    short="rhel",
    family="dnf",
    os_id="rhel",
    os_version="9.3",
    pretty_name="Red Hat Enterprise Linux 9.3 (Plow)",
    id_like="fedora",
    version_codename="",
    arch="x86_64",
    kernel_running="5.14.0-362.24.1.el9_3.x86_64",
    kernel_older="5.14.0-362.18.1.el9_3.x86_64",
    kernel_package="kernel",
    reboot_packages=("kernel", "glibc"),
    weight=0.12,
    sources=_el9_sources("rhel-9-for-x86_64-baseos-rpms", "rhel-9-for-x86_64-appstream-rpms", "RH"),
)

_ROCKY = _OsProfile(
    short="rocky",
    family="dnf",
    os_id="rocky",
    os_version="9.3",
    pretty_name="Rocky Linux 9.3 (Blue Onyx)",
    id_like="rhel centos fedora",
    version_codename="",
    arch="x86_64",
    kernel_running="5.14.0-362.24.1.el9_3.0.1.x86_64",
    kernel_older="5.14.0-362.18.1.el9_3.0.1.x86_64",
    kernel_package="kernel",
    reboot_packages=("kernel", "glibc"),
    weight=0.14,
    sources=_el9_sources("baseos", "appstream", "RL"),
)

_CENTOS7 = _OsProfile(
    short="cent",
    family="yum",
    os_id="centos",
    os_version="7",
    pretty_name="CentOS Linux 7 (Core)",
    id_like="rhel fedora",
    version_codename="",
    arch="x86_64",
    kernel_running="3.10.0-1160.108.1.el7.x86_64",
    kernel_older="3.10.0-1160.105.1.el7.x86_64",
    kernel_package="kernel",
    reboot_packages=("kernel",),
    weight=0.08,
    sources=(
        _s("kernel kernel-tools", "3.10.0-1160.108.1.el7", "updates",
           update="3.10.0-1160.119.1.el7", update_repository="updates", security=True,
           severity="Important", advisory="CESA-2024:3138", cves=("CVE-2023-52809",),
           needs_reboot=True),
        _s("glibc glibc-common", "2.17-326.el7_9", "updates", update="2.17-326.el7_9.3",
           update_repository="updates", security=True, severity="Important",
           advisory="CESA-2024:3588", cves=("CVE-2024-2961",), needs_reboot=True),
        _s("curl libcurl", "7.29.0-59.el7_9.1", "updates", update="7.29.0-59.el7_9.2",
           update_repository="updates", security=True, severity="Moderate",
           advisory="CESA-2023:6745", cves=("CVE-2023-28322",)),
        _s("python python-libs", "2.7.5-93.el7_9", "updates", update="2.7.5-94.el7_9",
           update_repository="updates", security=True, severity="Moderate",
           advisory="CESA-2023:6885", cves=("CVE-2022-48565",)),
        _s("systemd systemd-libs systemd-sysv", "219-78.el7_9.7", "updates",
           update="219-78.el7_9.9", update_repository="updates", needs_reboot=True),
        _s("tzdata", "2024a-1.el7", "updates", update="2024b-2.el7", update_repository="updates",
           arch="noarch"),
        _s("openssl openssl-libs", "1:1.0.2k-26.el7_9", "updates"),
        _s("openssh openssh-server openssh-clients", "7.4p1-23.el7_9", "updates"),
        _s("bash", "4.2.46-35.el7_9", "updates"),
        _s("sudo", "1.8.23-10.el7_9.3", "updates"),
        _s("yum", "3.4.3-168.el7.centos", "base", arch="noarch"),
        _s("httpd httpd-tools", "2.4.6-99.el7.centos.1", "updates", role="web"),
        _s("mariadb-server mariadb-libs", "1:5.5.68-1.el7", "base", role="db"),
        _s("memcached", "1.4.15-10.el7_3.1", "base", role="cache"),
    ),
)

_OPENSUSE = _OsProfile(
    short="suse",
    family="zypper",
    os_id="opensuse-leap",
    os_version="15.5",
    pretty_name="openSUSE Leap 15.5",
    id_like="suse opensuse",
    version_codename="",
    arch="x86_64",
    kernel_running="5.14.21-150500.55.52-default",
    kernel_older="5.14.21-150500.55.49-default",
    kernel_package="kernel-default",
    reboot_packages=("kernel-default",),
    weight=0.08,
    sources=(
        _s("kernel-default", "5.14.21-150500.55.52.1", "repo-update",
           update="5.14.21-150500.55.65.1", update_repository="repo-update", security=True,
           severity="important", advisory="SUSE-SU-2024:2190-1",
           cves=("CVE-2024-26643", "CVE-2024-26925"), needs_reboot=True),
        _s("glibc glibc-locale-base", "2.31-150300.63.1", "repo-update",
           update="2.31-150300.83.1", update_repository="repo-update", security=True,
           severity="important", advisory="SUSE-SU-2024:1375-1", cves=("CVE-2024-2961",),
           needs_reboot=True),
        _s("openssl-3 libopenssl3", "3.0.8-150500.5.27.1", "repo-update",
           update="3.0.8-150500.5.39.1", update_repository="repo-update", security=True,
           severity="moderate", advisory="SUSE-SU-2024:2051-1", cves=("CVE-2024-4741",)),
        _s("curl libcurl4", "8.0.1-150400.5.41.1", "repo-update",
           update="8.0.1-150400.5.44.1", update_repository="repo-update", security=True,
           severity="moderate", advisory="SUSE-SU-2024:1134-1", cves=("CVE-2024-2398",)),
        _s("openssh openssh-server openssh-clients", "8.4p1-150300.3.30.1", "repo-update",
           update="8.4p1-150300.3.37.1", update_repository="repo-update", security=True,
           severity="important", advisory="SUSE-SU-2024:2275-1", cves=("CVE-2024-6409",)),
        _s("systemd libsystemd0 udev", "249.17-150400.8.40.1", "repo-update",
           update="249.17-150400.8.43.1", update_repository="repo-update", needs_reboot=True),
        _s("timezone", "2024a-150000.75.28.1", "repo-update", update="2024b-150000.75.31.1",
           update_repository="repo-update"),
        _s("bash", "4.4-150400.27.3.2", "repo-oss"),
        _s("sudo", "1.9.12p1-150500.7.10.1", "repo-update"),
        _s("zypper libzypp", "1.14.68-150400.3.49.1", "repo-update"),
        _s("nginx", "1.21.5-150400.3.20.1", "repo-update", update="1.21.5-150400.3.23.1",
           update_repository="repo-update", security=True, severity="moderate",
           advisory="SUSE-SU-2024:1711-1", cves=("CVE-2024-24989",), role="web"),
        _s("postgresql15-server postgresql15", "15.6-150200.5.21.1", "repo-update",
           update="15.7-150200.5.24.1", update_repository="repo-update", security=True,
           severity="important", advisory="SUSE-SU-2024:1757-1", cves=("CVE-2024-4317",),
           role="db"),
        _s("redis7", "7.0.8-150500.3.6.1", "repo-oss", role="cache"),
    ),
)

_ALPINE = _OsProfile(
    short="alp",
    family="apk",
    os_id="alpine",
    os_version="3.19.1",
    pretty_name="Alpine Linux v3.19",
    id_like="",
    version_codename="",
    arch="x86_64",
    kernel_running="6.6.14-0-lts",
    kernel_older="6.6.12-0-lts",
    kernel_package="linux-lts",
    reboot_packages=("linux-lts",),
    weight=0.08,
    # apk does not classify updates: nothing is marked security (the driver reports
    # security as unsupported), but the fixed CVEs are real and kept for display.
    sources=(
        _s("linux-lts", "6.6.14-r0", "main", update="6.6.46-r0", update_repository="main",
           needs_reboot=True),
        _s("libcrypto3 libssl3 openssl", "3.1.4-r5", "main", update="3.1.6-r0",
           update_repository="main", cves=("CVE-2024-4741",)),
        _s("curl libcurl", "8.5.0-r0", "main", update="8.9.1-r0", update_repository="main",
           cves=("CVE-2024-7264",)),
        _s("openssh-server openssh-client-default", "9.6_p1-r0", "main", update="9.6_p1-r1",
           update_repository="main"),
        _s("busybox busybox-binsh ssl_client", "1.36.1-r15", "main", update="1.36.1-r19",
           update_repository="main"),
        _s("musl musl-utils", "1.2.4_git20230717-r4", "main", update="1.2.4_git20230717-r5",
           update_repository="main"),
        _s("tzdata", "2024a-r0", "main", update="2024b-r0", update_repository="main"),
        _s("bash", "5.2.21-r0", "main"),
        _s("sudo", "1.9.15_p5-r0", "main"),
        _s("apk-tools", "2.14.0-r5", "main"),
        _s("alpine-baselayout", "3.4.3-r2", "main"),
        _s("nginx", "1.24.0-r15", "main", update="1.24.0-r16", update_repository="main",
           role="web"),
        _s("postgresql16", "16.1-r0", "main", update="16.4-r0", update_repository="main",
           role="db"),
        _s("redis", "7.2.4-r0", "community", update="7.2.5-r0", update_repository="community",
           role="cache"),
    ),
)

# fmt: on

OS_PROFILES: tuple[_OsProfile, ...] = (
    _DEBIAN,
    _UBUNTU,
    _RHEL,
    _ROCKY,
    _CENTOS7,
    _OPENSUSE,
    _ALPINE,
)

_LAG_LEVELS: tuple[tuple[float, float], ...] = ((0.0, 0.1), (0.35, 0.3), (0.65, 0.35), (0.9, 0.25))
"""(share of updatable packages left pending, share of hosts): how far behind a host is."""


def build_fleet(
    count: int,
    *,
    seed: int = 1,
    faults: str = "some",
    address: str = "127.0.0.1",
    base_port: int = 0,
    fault_kinds: Sequence[str] = FAULTS,
) -> list[SimHost]:
    """``count`` simulated hosts, the same ones for the same arguments.

    ``base_port`` 0 leaves ports at 0 (the server binds ephemeral ports and
    fills them in); otherwise host ``i`` (from 0) gets ``base_port + i + 1``.
    ``fault_kinds`` limits which faults ``faults="some"`` hands out.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    if faults not in FAULT_MODES:
        raise ValueError(f"faults must be one of {', '.join(FAULT_MODES)}, not {faults!r}")
    unknown = set(fault_kinds) - set(FAULTS)
    if unknown:
        raise ValueError(f"unknown fault kinds: {', '.join(sorted(unknown))}")

    rng = random.Random(seed)
    now = time.time()
    digits = max(4, len(str(count)))
    hosts: list[FleetHost] = []
    for index in range(count):
        # The first hosts walk through every OS so that even a tiny lab shows the whole mix.
        if index < len(OS_PROFILES):
            profile = OS_PROFILES[index]
        else:
            profile = rng.choices(OS_PROFILES, weights=[p.weight for p in OS_PROFILES])[0]
        name = f"lab-{profile.short}-{index + 1:0{digits}d}"
        port = base_port + index + 1 if base_port else 0
        hosts.append(_build_host(rng, profile, name, address, port, now))

    _assign_clusters(hosts)
    if faults == "some":
        _assign_faults(rng, hosts, fault_kinds)
    return list(hosts)


def host_labels(host: SimHost) -> dict[str, str]:
    """The labels written to the inventory (env, role, os and, for some db hosts, cluster).

    A plain ``SimHost`` built elsewhere gets just its ``os`` label.
    """
    if isinstance(host, FleetHost):
        return dict(host.labels)
    return {"os": host.os_id}


def _build_host(
    rng: random.Random, profile: _OsProfile, name: str, address: str, port: int, now: float
) -> FleetHost:
    role = rng.choices([r for r, _ in ROLES], weights=[w for _, w in ROLES])[0]
    env = "staging" if rng.random() < STAGING_SHARE else "prod"
    lag = rng.choices([lvl for lvl, _ in _LAG_LEVELS], weights=[w for _, w in _LAG_LEVELS])[0]

    packages: dict[str, SimPackage] = {}
    for source in profile.sources:
        if source.role is not None and source.role != role:
            continue
        pending = source.update is not None and rng.random() < lag
        for package_name in source.names:
            packages[package_name] = _package(profile, source, package_name, pending)

    reboot_required = rng.random() < ALREADY_REBOOT_REQUIRED_SHARE
    kernel = profile.kernel_older if reboot_required else profile.kernel_running
    return FleetHost(
        name=name,
        address=address,
        port=port,
        family=profile.family,
        os_id=profile.os_id,
        os_version=profile.os_version,
        pretty_name=profile.pretty_name,
        id_like=profile.id_like,
        version_codename=profile.version_codename,
        kernel=kernel,
        boot_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        hostname=name,
        # Uptime between an hour and ~half a year: realistic for patch dashboards.
        booted_at=now - rng.uniform(3_600, 180 * 86_400),
        packages=packages,
        reboot_required=reboot_required,
        reboot_packages=list(profile.reboot_packages) if reboot_required else [],
        update_notifier=profile.update_notifier,
        # From the name, not the rng: the rest of the fleet stays as it was.
        needrestart=zlib.crc32(name.encode()) % 1000 < profile.needrestart_share * 1000,
        labels={"env": env, "role": role, "os": profile.os_id},
    )


def _package(profile: _OsProfile, source: _Source, name: str, pending: bool) -> SimPackage:
    arch = source.arch or profile.arch
    installed_version = SimVersion(version=source.installed, repository=source.repository)
    if source.update is None:
        return SimPackage(name, arch, source.installed, [installed_version])
    update = SimVersion(
        version=source.update,
        repository=source.update_repository or source.repository,
        security=source.security,
        severity=source.severity,
        advisory=source.advisory,
        cves=source.cves,
        needs_reboot=source.needs_reboot,
    )
    if pending:
        return SimPackage(name, arch, source.installed, [installed_version, update])
    # Already patched: the update is what is installed, nothing newer on offer.
    return SimPackage(name, arch, source.update, [update])


def _assign_clusters(hosts: list[FleetHost]) -> None:
    """Group db hosts of one OS into clusters of CLUSTER_SIZE; leftovers stay standalone."""
    db_by_os: dict[str, list[FleetHost]] = {}
    for host in hosts:
        if host.labels["role"] == "db":
            db_by_os.setdefault(host.os_id, []).append(host)
    for os_id, members in db_by_os.items():
        # Half of each OS's db hosts are clustered: both kinds show up in rollout plans.
        clustered = members[: (len(members) // 2 // CLUSTER_SIZE) * CLUSTER_SIZE]
        for offset in range(0, len(clustered), CLUSTER_SIZE):
            cluster = f"{os_id}-db-{offset // CLUSTER_SIZE + 1}"
            for host in clustered[offset : offset + CLUSTER_SIZE]:
                host.labels["cluster"] = cluster


def _assign_faults(rng: random.Random, hosts: list[FleetHost], fault_kinds: Sequence[str]) -> None:
    if len(hosts) < MIN_HOSTS_FOR_FAULTS:
        return
    per_fault = max(1, round(len(hosts) * FAULT_SHARE))
    for fault in fault_kinds:
        # One fault per host keeps each faulty host's symptom unambiguous.
        candidates = [
            host
            for host in hosts
            if not host.faults
            and (fault != "dpkg-lock" or host.family == "apt")
            and (fault != "stale-mirror" or host.family in _MIRRORED_FAMILIES)
        ]
        for host in rng.sample(candidates, min(per_fault, len(candidates))):
            host.faults.add(fault)
            if fault == "stale-mirror":
                stale_mirror(host)


_MIRRORED_FAMILIES = ("apt", "dnf", "yum", "zypper")
STALE_MIRROR_AGE_DAYS = 45.0
_OLDER_BUILD_SUFFIXES = (".0", "+0")


def stale_mirror(host: SimHost) -> None:
    """Put ``host`` on a mirror that stopped syncing ``STALE_MIRROR_AGE_DAYS`` ago: its
    metadata is that old, and each update it has pending is an older build than the one
    its peers are offered (a version between what it has and the current candidate),
    or missing where no such version can be written."""
    host.metadata_age_days = STALE_MIRROR_AGE_DAYS
    compare = comparator(host.family)
    for package in host.packages.values():
        newest = package.candidate()
        if newest is None:
            continue
        older = next(
            (
                package.installed + suffix
                for suffix in _OLDER_BUILD_SUFFIXES
                if compare(package.installed, package.installed + suffix) < 0
                and compare(package.installed + suffix, newest.version) < 0
            ),
            None,
        )
        package.available.remove(newest)
        if older is not None:
            # An older build of the same update: same advisory data, older version.
            package.available.append(dataclasses.replace(newest, version=older))
