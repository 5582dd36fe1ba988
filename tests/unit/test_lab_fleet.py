"""The lab fleet: deterministic, a realistic OS mix, faults handed out as documented."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from patchtui.lab.fleet import (
    MIN_HOSTS_FOR_FAULTS,
    OS_PROFILES,
    SCAN_FAULTS,
    FleetHost,
    build_fleet,
    host_labels,
)
from patchtui.lab.state import FAULTS, SimHost


def _fingerprint(hosts: list[SimHost]) -> list[tuple[object, ...]]:
    """Everything seed-dependent about a fleet (booted_at follows the clock, so not it)."""
    return [
        (
            host.name,
            host.os_id,
            host.kernel,
            host.boot_id,
            host.reboot_required,
            sorted(host.faults),
            sorted(host_labels(host).items()),
            [
                (p.name, p.arch, p.installed, [v.version for v in p.available])
                for p in host.packages.values()
            ],
        )
        for host in hosts
    ]


def test_same_seed_same_fleet_and_other_seed_other_fleet() -> None:
    assert _fingerprint(build_fleet(120, seed=7)) == _fingerprint(build_fleet(120, seed=7))
    assert _fingerprint(build_fleet(120, seed=7)) != _fingerprint(build_fleet(120, seed=8))


def test_names_ports_and_the_first_hosts_cover_every_os() -> None:
    hosts = build_fleet(10, seed=1, base_port=40000)
    assert [host.os_id for host in hosts[: len(OS_PROFILES)]] == [p.os_id for p in OS_PROFILES]
    assert hosts[0].name == "lab-deb-0001"
    assert hosts[3].name == "lab-rocky-0004"
    assert [host.port for host in hosts] == list(range(40001, 40011))
    assert all(host.address == "127.0.0.1" and host.hostname == host.name for host in hosts)
    assert [host.port for host in build_fleet(3)] == [0, 0, 0]
    assert len({host.name for host in build_fleet(12_000)}) == 12_000


def test_large_fleet_mix_of_families_labels_and_clusters() -> None:
    hosts = build_fleet(1000, seed=3)
    os_counts = Counter(host.os_id for host in hosts)
    assert set(os_counts) == {
        "debian", "ubuntu", "rhel", "rocky", "centos", "opensuse-leap", "alpine",
    }  # fmt: skip
    assert all(count >= 40 for count in os_counts.values()), os_counts
    family_of = {"debian": "apt", "ubuntu": "apt", "rhel": "dnf", "rocky": "dnf",
                 "centos": "yum", "opensuse-leap": "zypper", "alpine": "apk"}  # fmt: skip
    assert all(host.family == family_of[host.os_id] for host in hosts)

    envs = Counter(host_labels(host)["env"] for host in hosts)
    assert 120 <= envs["staging"] <= 300 and envs["staging"] + envs["prod"] == 1000
    assert set(Counter(host_labels(host)["role"] for host in hosts)) == {"web", "db", "cache"}

    clusters: dict[str, list[SimHost]] = {}
    for host in hosts:
        if "cluster" in host_labels(host):
            clusters.setdefault(host_labels(host)["cluster"], []).append(host)
    assert clusters
    for members in clusters.values():
        assert len(members) == 3
        assert {host_labels(h)["role"] for h in members} == {"db"}
        assert len({h.os_id for h in members}) == 1
    assert any(host_labels(h)["role"] == "db" and "cluster" not in host_labels(h) for h in hosts)


def test_pending_updates_look_like_each_os() -> None:
    hosts = build_fleet(400, seed=5)
    advisory_style = {
        "debian": r"DSA-\d{4}-1",
        "ubuntu": r"USN-\d{4}-1",
        "rhel": r"RH[SB]A-2024:\d{4}",
        "rocky": r"RL[SB]A-2024:\d{4}",
        "centos": r"CESA-20\d\d:\d{4}",
        "opensuse-leap": r"SUSE-SU-2024:\d{4}-1",
    }
    repositories: dict[str, set[str]] = {}
    for host in hosts:
        for package in host.packages.values():
            # The installed version is always on offer, oldest first.
            assert package.available[0].version == package.installed or not package.candidate()
            candidate = package.candidate()
            if candidate is None:
                continue
            repositories.setdefault(host.os_id, set()).add(candidate.repository)
            if candidate.advisory:
                assert re.fullmatch(advisory_style[host.os_id], candidate.advisory)
            if candidate.security and host.family != "apk":
                assert candidate.advisory and all(c.startswith("CVE-") for c in candidate.cves)
            if host.family in ("dnf", "yum") and candidate.security:
                assert candidate.severity in ("Critical", "Important", "Moderate", "Low")
            if host.family == "zypper" and candidate.security:
                assert candidate.severity in ("critical", "important", "moderate", "low")
            if host.family in ("apt", "apk"):
                assert candidate.severity is None
            if host.family == "apk":
                assert not candidate.security  # apk does not classify updates
            if package.name in ("linux-image-amd64", "kernel", "kernel-default", "linux-lts"):
                assert candidate.needs_reboot
    assert repositories["debian"] >= {"bookworm-security"}
    assert repositories["ubuntu"] >= {"jammy-security", "jammy-updates"}
    assert repositories["rocky"] == {"baseos", "appstream"}
    assert repositories["rhel"] >= {"rhel-9-for-x86_64-baseos-rpms"}
    assert repositories["centos"] == {"updates"}
    assert repositories["opensuse-leap"] == {"repo-update"}
    assert repositories["alpine"] >= {"main"}

    pending = [sum(1 for p in h.packages.values() if p.candidate()) for h in hosts]
    assert pending.count(0) > 10  # some hosts are fully patched
    assert max(pending) > 10
    rebooting = [host for host in hosts if host.reboot_required]
    assert 5 <= len(rebooting) <= 60
    assert all(host.reboot_packages for host in rebooting)


def test_role_packages_follow_the_role() -> None:
    for host in build_fleet(60, seed=2):
        role = host_labels(host)["role"]
        has_db = any(name.startswith(("postgresql", "mariadb")) for name in host.packages)
        assert has_db == (role == "db"), host.name
        assert "bash" in host.packages and "sudo" in host.packages


def test_some_faults_at_least_one_each_about_one_and_a_half_percent() -> None:
    hosts = build_fleet(1000, seed=11)
    counts = Counter(fault for host in hosts for fault in host.faults)
    assert set(counts) == set(FAULTS)
    assert set(SCAN_FAULTS) < set(FAULTS)
    assert all(10 <= count <= 20 for count in counts.values()), counts
    assert all(len(host.faults) <= 1 for host in hosts)
    assert all(host.family == "apt" for host in hosts if "dpkg-lock" in host.faults)

    small = build_fleet(MIN_HOSTS_FOR_FAULTS, seed=11)
    assert Counter(f for h in small for f in h.faults) == Counter(dict.fromkeys(FAULTS, 1))


def test_no_faults_when_asked_or_when_the_fleet_is_tiny() -> None:
    assert not any(host.faults for host in build_fleet(500, seed=1, faults="none"))
    assert not any(host.faults for host in build_fleet(MIN_HOSTS_FOR_FAULTS - 1, seed=1))


def test_fault_kinds_can_include_patching_faults() -> None:
    hosts = build_fleet(100, seed=1, fault_kinds=("install-fails",))
    assert Counter(f for h in hosts for f in h.faults) == Counter({"install-fails": 2})


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="faults"):
        build_fleet(5, faults="many")
    with pytest.raises(ValueError, match="unknown fault"):
        build_fleet(5, fault_kinds=("gremlins",))


def test_labels_of_foreign_hosts_and_fleet_hosts() -> None:
    host = build_fleet(1)[0]
    assert isinstance(host, FleetHost)
    labels = host_labels(host)
    labels["env"] = "changed"
    assert host_labels(host)["env"] != "changed"  # a copy, not the host's own dict
    plain = SimHost(**{f: getattr(host, f) for f in SimHost.__dataclass_fields__})
    assert host_labels(plain) == {"os": "debian"}
