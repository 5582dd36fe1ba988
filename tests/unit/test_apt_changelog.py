"""apt changelogs -> advisory/CVE ids: the parser on real captures, the scan through the lab."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest
from fixtures import captured
from sessions import LabSession

from patchtui.drivers import apt
from patchtui.drivers.apt import MAX_CHANGELOGS, AptDriver, changelog_command
from patchtui.drivers.base import PendingUpdate
from patchtui.drivers.parsers.apt import (
    CHANGELOG_EXIT_MARK,
    CHANGELOG_MARK,
    changelog_ids,
    compare_versions,
    parse_changelog,
    parse_changelog_batch,
)
from patchtui.lab.state import SimHost, SimPackage, SimVersion


def load(name: str) -> tuple[str, int]:
    text, status = captured(f"apt/{name}")
    return text, status or 0


# -- parser on real captures ---------------------------------------------------------


def test_debian_security_entry_gives_its_cve_and_no_severity_for_urgency_high() -> None:
    text, _ = load("changelog_debian7_openssl_security.txt")
    entries = parse_changelog(text)
    assert [(e.source, e.version, e.distributions, e.urgency) for e in entries] == [
        ("openssl", "1.0.1e-2+deb7u5", ("wheezy-security",), "high")
    ]
    ids = changelog_ids(entries, installed="1.0.1e-2+deb7u4")
    assert ids.cves == ("CVE-2014-0160",)
    assert ids.advisories == ()
    assert (ids.urgency, ids.severity) == ("high", None)


def test_ubuntu_security_entry_lists_every_cve_once() -> None:
    text, _ = load("changelog_ubuntu2204_openssl.txt")
    ids = changelog_ids(parse_changelog(text), installed="3.0.2-0ubuntu1.9")
    # CVE-2022-4304 is named only as a replaced fix; it is in the entry, so it is listed.
    assert ids.cves == ("CVE-2022-4304", "CVE-2023-1255", "CVE-2023-2650")
    assert ids.entries == 1


def test_entries_already_installed_are_not_counted() -> None:
    text, _ = load("changelog_ubuntu2204_openssl.txt")
    assert changelog_ids(parse_changelog(text), installed="3.0.2-0ubuntu1.10").cves == ()
    firefox, _ = load("changelog_ubuntu2004_firefox.txt")
    entries = parse_changelog(firefox)
    assert [e.version for e in entries] == [
        "91.0.2+build1-0ubuntu0.20.04.1",
        "91.0.1+build1-0ubuntu0.20.04.1",
        "91.0+build2-0ubuntu0.20.04.1",
    ]
    assert changelog_ids(entries, installed="91.0+build2-0ubuntu0.20.04.1").entries == 2
    assert changelog_ids(entries, installed=None).entries == 1


def test_dsa_usn_dla_ids_and_critical_urgency() -> None:
    text = (
        "foo (1.2-1+deb12u1) bookworm-security; urgency=emergency\n\n"
        "  * Fix CVE-2024-1111 (DSA-5678-1, see also USN-6854-1 and dla-3001-2).\n\n"
        " -- Debian Security Team <team@security.debian.org>  Mon, 03 Jun 2024 10:00:00 +0000\n\n"
        "foo (1.2-1) bookworm; urgency=medium\n\n  * CVE-2020-0001 fixed long ago.\n"
    )
    ids = changelog_ids(parse_changelog(text), installed="1.2-1")
    assert ids.advisories == ("DLA-3001-2", "DSA-5678-1", "USN-6854-1")
    assert ids.cves == ("CVE-2024-1111",)
    assert ids.severity == "critical"


def test_batch_sections_and_the_real_failed_fetch() -> None:
    good, _ = load("changelog_debian7_openssl_security.txt")
    bad, status = load("changelog_failed_fetch.txt")
    output = (
        f"{CHANGELOG_MARK} openssl=1.0.1e-2+deb7u5\n{good}{CHANGELOG_EXIT_MARK} 0\n"
        f"{CHANGELOG_MARK} google-chrome-stable=93.0.4577.63-1\n"
        f"{bad}{CHANGELOG_EXIT_MARK} {status}\n"
        f"{CHANGELOG_MARK} curl=7.88.1-10+deb12u8\n{good}"  # cut off by head: no exit marker
    )
    sections = parse_changelog_batch(output)
    assert [(s.name, s.version, s.exit_status, s.failed) for s in sections] == [
        ("openssl", "1.0.1e-2+deb7u5", 0, False),
        ("google-chrome-stable", "93.0.4577.63-1", 100, True),
        ("curl", "7.88.1-10+deb12u8", None, False),
    ]
    assert sections[1].error.startswith("E: Failed to fetch changelog:/google-chrome-stable")


def test_debian_version_order() -> None:
    assert compare_versions("3.0.15-1~deb12u1", "3.0.15-1") < 0
    assert compare_versions("1:1.0-1", "9.9-1") > 0
    assert compare_versions("2.36-9+deb12u10", "2.36-9+deb12u7") > 0
    assert compare_versions("1.0-1", "1.0-1") == 0


def test_changelog_command_quotes_and_validates() -> None:
    update = PendingUpdate("openssl", "3.0.11-1~deb12u2", "3.0.15-1~deb12u1", security=True)
    command = changelog_command([update])
    assert command.startswith("for spec in 'openssl=3.0.15-1~deb12u1'; do ")
    assert "apt-get -q changelog" in command and "LC_ALL=C" in command


# -- the scan through the lab simulator ----------------------------------------------


def lab_host(os_id: str = "debian", security_packages: int = 1) -> SimHost:
    ubuntu = os_id == "ubuntu"
    host = SimHost(
        name="h1", address="127.0.0.1", port=2222, family="apt", os_id=os_id,
        os_version="22.04" if ubuntu else "12",
        pretty_name="Ubuntu 22.04.4 LTS" if ubuntu else "Debian GNU/Linux 12 (bookworm)",
        id_like="debian" if ubuntu else "", version_codename="jammy" if ubuntu else "bookworm",
        kernel="6.1.0-18-amd64", boot_id="b-1", hostname="h1", booted_at=time.time() - 100,
    )  # fmt: skip
    advisory = "USN-6854-1" if ubuntu else "DSA-5678-1"
    host.packages = {
        "openssl": SimPackage(
            "openssl", "amd64", "3.0.11-1~deb12u2",
            [SimVersion("3.0.11-1~deb12u2", "bookworm"),
             SimVersion("3.0.15-1~deb12u1", "bookworm-security", security=True,
                        advisory=advisory, cves=("CVE-2024-0727", "CVE-2023-6129"))],
        ),
        "tzdata": SimPackage(
            "tzdata", "all", "2024a-0+deb12u1",
            [SimVersion("2024a-0+deb12u1", "bookworm"), SimVersion("2025b-0+deb12u1", "bookworm")],
        ),
    }  # fmt: skip
    for index in range(1, security_packages):
        name = f"lib{index:03d}"
        host.packages[name] = SimPackage(
            name, "amd64", "1.0-1",
            [SimVersion("1.0-1", "bookworm"),
             SimVersion("1.0-1+deb12u1", "bookworm-security", security=True,
                        advisory=f"DSA-{6000 + index}-1", cves=(f"CVE-2025-{10000 + index}",))],
        )  # fmt: skip
    return host


async def test_debian_security_update_carries_its_dsa_and_cves_after_a_scan() -> None:
    session = LabSession(lab_host("debian"))
    result = await AptDriver().scan(session, refresh=False)  # type: ignore[arg-type]
    by_name = {update.name: update for update in result.pending}
    assert by_name["openssl"].advisories == ("DSA-5678-1",)
    assert by_name["openssl"].cves == ("CVE-2023-6129", "CVE-2024-0727")
    assert by_name["openssl"].severity is None  # urgency=high is no severity
    assert (by_name["tzdata"].advisories, by_name["tzdata"].cves) == ((), ())
    assert not any("changelog" in warning for warning in result.warnings)
    changelog_commands = [c for c in session.commands if "apt-get -q changelog" in c]
    assert len(changelog_commands) == 1 and "tzdata" not in changelog_commands[0]


async def test_ubuntu_security_update_carries_its_usn() -> None:
    result = await AptDriver().scan(LabSession(lab_host("ubuntu")), refresh=False)  # type: ignore[arg-type]
    openssl = next(update for update in result.pending if update.name == "openssl")
    assert openssl.advisories == ("USN-6854-1",)
    assert openssl.cves == ("CVE-2023-6129", "CVE-2024-0727")


async def test_at_most_max_changelogs_in_one_command() -> None:
    session = LabSession(lab_host("debian", security_packages=MAX_CHANGELOGS + 5))
    result = await AptDriver().scan(session, refresh=False)  # type: ignore[arg-type]
    changelog_commands = [c for c in session.commands if "apt-get -q changelog" in c]
    assert len(changelog_commands) == 1
    assert changelog_commands[0].count("+deb12u1") == MAX_CHANGELOGS
    with_ids = [update for update in result.pending if update.advisories]
    assert len(with_ids) == MAX_CHANGELOGS
    assert any(f"for {MAX_CHANGELOGS} of {MAX_CHANGELOGS + 5}" in w for w in result.warnings)


async def test_unknown_version_is_one_warning_and_other_ids_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = lab_host("debian", security_packages=2)
    session = LabSession(host)
    build_command = apt.changelog_command

    def after_the_mirror_moved_on(updates: Sequence[PendingUpdate]) -> str:
        # The mirror dropped lib001's candidate between the simulation and the changelog fetch.
        host.packages["lib001"].available.pop()
        return build_command(updates)

    monkeypatch.setattr(apt, "changelog_command", after_the_mirror_moved_on)
    result = await AptDriver().scan(session, refresh=False)  # type: ignore[arg-type]
    by_name = {update.name: update for update in result.pending}
    assert by_name["openssl"].advisories == ("DSA-5678-1",)
    assert by_name["lib001"].advisories == () and by_name["lib001"].security
    warnings = [w for w in result.warnings if "changelog unavailable" in w]
    assert warnings == [
        "changelog unavailable for 1 of 2 security updates, no advisory/CVE ids for them:"
        " E: Version '1.0-1+deb12u1' for 'lib001' was not found"
    ]


async def test_a_timed_out_changelog_fetch_is_a_warning_not_a_failed_scan() -> None:
    session = LabSession(lab_host("debian"), fail_on="apt-get -q changelog")
    result = await AptDriver().scan(session, refresh=False)  # type: ignore[arg-type]
    openssl = next(update for update in result.pending if update.name == "openssl")
    assert openssl.security and (openssl.advisories, openssl.cves) == ((), ())
    assert any(w.startswith("changelogs not read (timed out") for w in result.warnings)
