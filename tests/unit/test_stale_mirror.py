"""The metadata-age check's parser (on a real capture) and the fleet-wide drift finder."""

from __future__ import annotations

import shlex

from fixtures import captured

from patchtui.compliance.drift import find_stale_mirrors
from patchtui.compliance.evaluate import evaluate_fleet
from patchtui.compliance.policy import DEFAULT_POLICY
from patchtui.drivers.parsers.metadata import APT_METADATA_COMMAND, parse_metadata_times
from patchtui.lab.shell import execute
from patchtui.lab.state import SimHost

_DAY = 86_400


def test_real_debian12_capture_ages_by_the_newest_list() -> None:
    text, status = captured("metadata/apt-lists-debian12.txt")
    assert status == 0
    times = parse_metadata_times(text)
    assert times.host_now == 1796663477
    assert len(times.files) == 3
    # bookworm's own Release is ~149 days old (point releases only); -security is fresh.
    assert times.age_seconds == 1796663477 - 1796653007


def test_no_files_or_garbage_is_no_age() -> None:
    assert parse_metadata_times("1796663477\n").age_seconds is None
    assert parse_metadata_times("").age_seconds is None
    assert parse_metadata_times("stat: cannot stat\n").age_seconds is None


def _host(name: str, age_days: float | None, **candidates: str) -> dict[str, object]:
    return {
        "name": name,
        "facts": {"os_id": "debian", "os_version": "12", "package_manager": "apt"},
        "pending": [{"name": n, "candidate": v} for n, v in candidates.items()],
        "metadata_age_seconds": None if age_days is None else age_days * _DAY,
    }


def test_a_host_behind_its_peers_and_one_with_old_metadata_are_flagged() -> None:
    states = [
        _host("a", 0.2, openssl="3.0.15-1~deb12u1", curl="7.88.1-10+deb12u8"),
        _host("b", 0.3, openssl="3.0.15-1~deb12u1"),
        _host("c", 0.1, openssl="3.0.11-1~deb12u2", curl="7.88.1-10+deb12u8"),
        _host("d", 30.0),
        {
            **_host("e", 0.1, openssl="1.1.1w-0+deb11u1"),
            "facts": {"os_id": "debian", "os_version": "11"},
        },
    ]
    findings = find_stale_mirrors(states, stale_mirror_days=7)
    assert sorted(name for name, f in findings.items() if f.stale) == ["c", "d"]
    (behind,) = findings["c"].behind
    assert (behind.package, behind.candidate, behind.peer_candidate) == (
        "openssl",
        "3.0.11-1~deb12u2",
        "3.0.15-1~deb12u1",
    )
    assert findings["d"].metadata_too_old and not findings["d"].behind
    assert "30.0 days old (limit 7)" in findings["d"].describe(7)
    # Another release is not a peer: debian 11's older openssl is not "behind".
    assert not findings["e"].stale
    assert not find_stale_mirrors(states, stale_mirror_days=60)["d"].stale


def test_the_lab_answers_the_check_with_its_age() -> None:
    host = SimHost(
        name="h",
        address="127.0.0.1",
        port=0,
        family="apt",
        os_id="debian",
        os_version="12",
        pretty_name="Debian GNU/Linux 12",
        id_like="",
        version_codename="bookworm",
        kernel="6.1.0-21-amd64",
        boot_id="b",
        hostname="h",
        booted_at=0.0,
        metadata_age_days=45.0,
    )
    wrapped = f"sudo -n -u root -- sh -c {shlex.quote(APT_METADATA_COMMAND)}"
    for command in (APT_METADATA_COMMAND, wrapped):
        times = parse_metadata_times(execute(host, command).stdout)
        assert times.age_seconds is not None and abs(times.age_seconds - 45 * _DAY) <= 1
        assert any(path.endswith("bookworm-security_InRelease") for _, path in times.files)


def test_compliance_reason_stale_mirror_with_its_limit() -> None:
    now = 1_790_000_000.0
    fresh = {**_host("a", 0.5), "last_scan": now - 60, "reboot_required": False}
    old = {**_host("b", 30.0), "last_scan": now - 60, "reboot_required": False}
    report = evaluate_fleet([fresh, old], DEFAULT_POLICY, now)
    verdicts = {host.host: host for host in report.hosts}
    assert verdicts["a"].status == "compliant"
    assert verdicts["b"].status == "non-compliant"
    (reason,) = verdicts["b"].reasons
    assert reason.code == "stale-mirror"
    assert reason.message == "stale mirror: repository metadata 30.0 days old (limit 7)"
    assert report.summary["hosts_by_reason"] == {"stale-mirror": 1}
    relaxed = evaluate_fleet([fresh, old], DEFAULT_POLICY, now, stale_mirror_days=45)
    assert all(host.status == "compliant" for host in relaxed.hosts)


def test_one_host_ahead_does_not_make_its_peers_behind() -> None:
    states = [
        _host("a", 0.2, openssl="3.0.15-1~deb12u1"),
        _host("b", 0.2, openssl="3.0.15-1~deb12u1"),
        _host("proposed", 0.2, openssl="3.0.16-1~deb12u1"),
        _host("old", 0.2, openssl="3.0.11-1~deb12u2"),
    ]
    findings = find_stale_mirrors(states, stale_mirror_days=7)
    assert [name for name, f in findings.items() if f.stale] == ["old"]
    assert findings["old"].behind[0].peer_candidate == "3.0.15-1~deb12u1"
    # Two against two: the newer is the reference.
    tie = find_stale_mirrors(states[:1] + states[2:3], stale_mirror_days=7)
    assert [name for name, f in tie.items() if f.stale] == ["a"]
