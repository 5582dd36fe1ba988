"""dnf/yum/rpm parsers on real captured outputs (tests/data/dnf, tests/data/yum)."""

from __future__ import annotations

import pytest
from fixtures import captured

from patchtui.drivers.parsers.dnf import (
    CheckUpdateEntry,
    Nevra,
    is_lock_message,
    needs_restarting_verdict,
    normalise_severity,
    parse_check_update,
    parse_nevra,
    parse_rpm_query,
    parse_updateinfo_list,
    rpm_evr_compare,
    rpm_version_compare,
)


def load(relative: str) -> tuple[str, int | None]:
    return captured(relative)


def by_key(entries: list[CheckUpdateEntry]) -> dict[str, CheckUpdateEntry]:
    return {entry.key: entry for entry in entries}


def test_check_update_rhel9_rows_epochs_and_obsoletes() -> None:
    text, exit_status = load("dnf/check-update-rhel9.txt")
    assert exit_status == 100
    entries = by_key(parse_check_update(text))
    assert entries["NetworkManager.x86_64"] == CheckUpdateEntry(
        "NetworkManager", "x86_64", "1:1.54.3-5.el9_8", "rhel-9-baseos-rhui-rpms"
    )
    assert entries["acl.x86_64"].version == "2.4.0-1.el9_8"
    assert entries["cloud-init.noarch"].arch == "noarch"
    assert entries["passt.x86_64"].version == "0^20251210.gd04c480-6.el9_8"
    # A name that fills its column exactly still parses.
    assert entries["libdnf-plugin-subscription-manager.x86_64"].version == "1.29.50-1.el9"
    # grub2-tools is both an upgrade and an obsoleter: the upgrade row stays.
    assert entries["grub2-tools.x86_64"] == CheckUpdateEntry(
        "grub2-tools", "x86_64", "1:2.06-126.el9_8", "rhel-9-baseos-rhui-rpms"
    )
    # Only in the Obsoleting section: the newest listed version, marked obsoleting.
    assert entries["grub2-tools-efi.x86_64"] == CheckUpdateEntry(
        "grub2-tools-efi", "x86_64", "1:2.06-126.el9_8", "rhel-9-baseos-rhui-rpms", True
    )
    # The installed @System side of each pair is never an update.
    assert all(entry.repository != "@System" for entry in entries.values())
    assert len(entries) == 12


def test_check_update_dnf5_upgrades_header() -> None:
    text, _ = load("dnf/check-update-dnf5-fedora44.txt")
    entries = by_key(parse_check_update(text))
    long_name = "g03-a-very-long-package-name-that-exceeds-the-check-update-column-width"
    assert entries[f"{long_name}.x86_64"].version == "2.0-1"
    assert entries["g03-epoch.x86_64"].version == "3:2.0-1"
    assert {"g03-multi.i686", "g03-multi.x86_64"} <= entries.keys()
    assert entries["grub2-common.noarch"].repository == "updates"
    assert len(entries) == 7


def test_check_update_yum3_wrapped_name_and_installed_obsoleted() -> None:
    text, _ = load("yum/check-update-rhel7-g03.txt")
    entries = by_key(parse_check_update(text))
    long_name = "g03-a-very-long-package-name-that-exceeds-the-check-update-column-width"
    assert entries[f"{long_name}.x86_64"] == CheckUpdateEntry(
        long_name, "x86_64", "2.0-1", "g03repo"
    )
    assert entries["rh-amazon-rhui-client.noarch"].repository == "rhui-client-config-server-7"
    assert entries["g03-new.x86_64"].obsoleting
    assert "g03-old.x86_64" not in entries
    assert len(entries) == 8


def test_check_update_yum3_plugin_chatter_and_wrapped_obsoleted() -> None:
    text, _ = load("yum/check-update-rhel7-obsoletes.txt")
    entries = by_key(parse_check_update(text))
    assert sorted(entries) == [
        "NetworkManager-openvpn.x86_64",
        "cabal-install.x86_64",
        "ddashboard.x86_64",
        "python-bugzilla.noarch",
        "python2-pip.noarch",
        "xlockmore.x86_64",
    ]
    assert entries["NetworkManager-openvpn.x86_64"].version == "1:1.2.6-1.el7"
    assert entries["python-bugzilla.noarch"].version == "1.2.2-3.el7_2.1"


def test_check_update_wrapped_versions_and_repositories() -> None:
    text, _ = load("yum/check-update-wrapped.txt")
    entries = by_key(parse_check_update(text))
    long_name = "-".join(["empty"] * 20)
    assert entries[f"{long_name}.x86_64"].version == ".".join(["0"] * 36) + ".1-0"
    assert entries[f"{long_name}.x86_64"].repository == "addons"
    assert entries["ipxe-roms-qemu.noarch"] == CheckUpdateEntry(
        "ipxe-roms-qemu", "noarch", "20160127-1.git6366fa7a.el7", "rhelosp-9.0-director-puddle"
    )
    assert entries["screen.x86_64"].repository == "rhelosp-rhel-7.2-z"
    assert entries["quota.x86_64"].version == "1:4.01-11.el7_2.1"
    assert len(entries) == 5


def test_check_update_empty_output() -> None:
    assert parse_check_update("") == []
    assert parse_check_update("\nLast metadata expiration check: 0:01:00 ago.\n") == []


def test_updateinfo_list_yum3_security_rows() -> None:
    text, _ = load("yum/updateinfo-list-security-rhel6.txt")
    rows = parse_updateinfo_list(text)
    assert len(rows) == 7
    first = rows[0]
    assert first.advisory == "RHSA-2013:0550"
    assert first.kind == "security"
    assert first.severity == "moderate"
    assert first.package == Nevra("bind-libs", 32, "9.8.2", "0.17.rc1.el6.3", "x86_64")
    assert rows[1].severity == "important"
    assert rows[5].package.arch == "noarch"
    assert rows[6].package.evr == "4:5.10.1-130.el6_4"


def test_updateinfo_list_dnf_lower_case_severity_and_cves() -> None:
    text, _ = load("dnf/updateinfo-list-al2023.txt")
    rows = parse_updateinfo_list(text)
    assert [row.advisory for row in rows] == ["ALAS2LIVEPATCH-2021-123", "ALAS2LIVEPATCH-2022-124"]
    assert all(row.severity == "important" and row.kind == "security" for row in rows)
    assert rows[0].package == Nevra(
        "kernel-livepatch-6.1.12-17.42", 0, "1.0", "4.amzn2023", "x86_64"
    )
    cve_text, _ = load("dnf/updateinfo-list-cves-al2023.txt")
    cve_rows = parse_updateinfo_list(cve_text)
    assert [row.advisory for row in cve_rows] == ["CVE-2022-0123", "CVE-2022-3210"]
    assert all(row.is_cve for row in cve_rows)


def test_updateinfo_list_bugfix_and_dnf5_layout() -> None:
    text = (
        "RHBA-2024:0001 bugfix         bash-5.1.8-9.el9.x86_64\n"
        "FEDORA-2024-1a2b3c4d5e security Moderate openssl-1:3.1.1-4.fc39.x86_64"
        " 2024-01-02 03:04:05\n"
        "Name Type Severity Package Issued\n"
    )
    rows = parse_updateinfo_list(text)
    assert [(row.advisory, row.kind, row.severity) for row in rows] == [
        ("RHBA-2024:0001", "bugfix", None),
        ("FEDORA-2024-1a2b3c4d5e", "security", "moderate"),
    ]
    assert rows[1].package.evr == "1:3.1.1-4.fc39"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Critical", "critical"),
        ("Important", "important"),
        ("Moderate", "moderate"),
        ("low", "low"),
        ("None", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_normalise_severity(raw: str | None, expected: str) -> None:
    assert normalise_severity(raw) == expected


def test_parse_nevra_rejects_other_text() -> None:
    assert parse_nevra("openssl-1:3.0.7-25.el9_3.x86_64") == Nevra(
        "openssl", 1, "3.0.7", "25.el9_3", "x86_64"
    )
    assert parse_nevra("2024-01-02") is None
    assert parse_nevra("done") is None
    assert parse_nevra("Important/Sec.") is None


def test_rpm_query_skips_missing_and_keeps_newest_kernel() -> None:
    text = (
        "openssl-libs.x86_64 1:3.0.7-24.el9\n"
        "kernel.x86_64 5.14.0-362.8.1.el9_3\n"
        "kernel.x86_64 5.14.0-427.13.1.el9_4\n"
        "package grub2-tools-efi is not installed\n"
    )
    assert parse_rpm_query(text) == {
        "openssl-libs.x86_64": "1:3.0.7-24.el9",
        "kernel.x86_64": "5.14.0-427.13.1.el9_4",
    }


def test_needs_restarting_fixtures_and_exit_codes() -> None:
    text, exit_status = load("dnf/needs-restarting-reboot.txt")
    assert exit_status == 1
    assert needs_restarting_verdict(exit_status, text) is True
    text, exit_status = load("dnf/needs-restarting-no-reboot.txt")
    assert exit_status == 0
    assert needs_restarting_verdict(exit_status, text) is False
    missing_plugin = "No such command: needs-restarting. Please use /usr/bin/dnf --help\n"
    assert needs_restarting_verdict(1, missing_plugin) is None
    assert needs_restarting_verdict(2, "usage: needs-restarting [-r]") is None


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("dnf/needs-restarting-reboot.txt", True),
        ("dnf/needs-restarting-no-reboot.txt", False),
        ("dnf/needs-restarting-reboot-dnf4-captured.txt", True),
        ("dnf/needs-restarting-no-reboot-dnf4-captured.txt", False),
        ("yum/needs-restarting-reboot-el7.txt", True),
        ("yum/needs-restarting-no-reboot-el7.txt", False),
    ],
)
def test_needs_restarting_text_and_status_must_agree(fixture: str, expected: bool) -> None:
    text, exit_status = load(fixture)
    assert exit_status is not None
    assert needs_restarting_verdict(exit_status, text) is expected
    # The same words under the other exit status are no verdict: something else went wrong.
    assert needs_restarting_verdict(1 - exit_status, text) is None
    # A verdict line wrapped by a narrow terminal still reads.
    assert needs_restarting_verdict(exit_status, text.replace(" these", "\nthese")) is expected


def test_needs_restarting_missing_plugin_capture() -> None:
    text, exit_status = load("dnf/needs-restarting-missing-plugin-dnf4.txt")
    assert exit_status == 1 and "No such command: needs-restarting" in text
    assert needs_restarting_verdict(exit_status, text) is None


def test_needs_restarting_exit_status_alone_is_no_verdict() -> None:
    # dnf exits 1 for any error; exit 1 without the verdict line was read as "reboot" before.
    traceback = "Traceback (most recent call last):\n  ...\nrpm.error: rpmdb open failed\n"
    assert needs_restarting_verdict(1, traceback) is None
    assert needs_restarting_verdict(0, "") is None


def test_lock_messages() -> None:
    text, _ = load("yum/lock-makecache.txt")
    assert is_lock_message(text)
    assert is_lock_message("Waiting for process with pid 4242 to finish.")
    real, _ = load("dnf/lock-exit-on-lock-dnf4-debian12.txt")
    assert is_lock_message(real)
    assert not is_lock_message("Error: Failed to download metadata for repo 'baseos'")


def test_rpm_version_ordering() -> None:
    assert rpm_version_compare("1.10", "1.9") == 1
    assert rpm_version_compare("1.0~rc1", "1.0") == -1
    assert rpm_version_compare("1.0^git1", "1.0") == 1
    assert rpm_version_compare("1.0^git1", "1.0.1") == -1
    assert rpm_evr_compare("1:1.0-1", "9.9-9") == 1
    assert rpm_evr_compare("2.06-126.el9_8", "2.06-114.el9_7") == 1
    assert rpm_evr_compare("3.0-1", "3.0-1") == 0
