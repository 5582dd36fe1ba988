"""zypper parsers on real captured outputs (tests/data/zypper)."""

from __future__ import annotations

import pytest
from fixtures import captured

from patchtui.drivers.parsers.zypper import (
    INFORMATIONAL_EXITS,
    PatchPackage,
    ZypperPatch,
    ZypperUpdate,
    exit_meaning,
    is_lock_message,
    needs_rebooting_verdict,
    normalise_zypper_severity,
    parse_patch_info,
    parse_xml_stream,
)
from patchtui.drivers.zypper import build_pending


def load(relative: str) -> tuple[str, int | None]:
    return captured(relative)


def test_list_updates_leap16() -> None:
    text, exit_status = load("zypper/list-updates-leap16.xml")
    assert exit_status == 0
    stream = parse_xml_stream(text)
    assert stream.patches == ()
    assert [update.name for update in stream.updates] == [
        "g03-archchg",
        "g03-epoch",
        "g03-novendor",
        "ca-certificates-mozilla",
    ]
    assert stream.updates[0] == ZypperUpdate("g03-archchg", "noarch", "2.0-1", "1.0-1", "g03repo")
    assert stream.updates[1].edition == "3:2.0-1"
    assert stream.updates[1].edition_old == "3:1.0-1"
    assert stream.updates[2].edition_old == "1.0~rc1-1"
    assert stream.updates[3] == ZypperUpdate(
        "ca-certificates-mozilla",
        "noarch",
        "2.90-160000.1.1",
        "2.84-160000.1.1",
        "openSUSE:repo-oss",
    )
    assert stream.texts("error") == []
    assert stream.texts("info")[0] == "Refreshing service 'openSUSE'."


def test_list_updates_with_a_skipped_repository() -> None:
    text, exit_status = load("zypper/list-updates-broken-repo-leap16.xml")
    assert exit_status == 106
    assert exit_status not in INFORMATIONAL_EXITS
    stream = parse_xml_stream(text)
    assert [update.name for update in stream.updates] == ["ca-certificates-mozilla", "glib2-tools"]
    errors = stream.texts("error")
    assert errors[0].startswith("Repository 'g03repo' is invalid.")
    assert errors[1] == "Some of the repositories have not been refreshed because of an error."
    assert stream.texts("warning") == ["Skipping repository 'g03repo' because of the above error."]


def test_list_updates_locked() -> None:
    text, exit_status = load("zypper/list-updates-locked-leap16.xml")
    assert exit_status == 7
    assert exit_meaning(exit_status) == "zypp locked"
    stream = parse_xml_stream(text)
    assert stream.updates == ()
    assert is_lock_message(stream.texts("error")[0])
    assert "pid 15950 (zypper)" in stream.texts("error")[0]


def test_list_security_patches_leap16() -> None:
    text, exit_status = load("zypper/list-patches-security-leap16.xml")
    assert exit_status == 101
    stream = parse_xml_stream(text)
    assert stream.updates == ()
    assert stream.patches[0] == ZypperPatch(
        name="openSUSE-Leap-16.0-112",
        category="security",
        severity="important",
        status="needed",
        summary="Security update for qemu",
        restart=False,
        cves=("CVE-2025-11234", "CVE-2025-12464"),
        repository="https-download.opensuse.org-4bc031d9",
    )
    kernel = stream.patches[1]
    assert kernel.name == "openSUSE-Leap-16.0-113"
    assert kernel.restart is True
    assert kernel.cves == ("CVE-2022-50253", "CVE-2025-37916")


def test_non_xml_output_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_xml_stream("bash: zypper: command not found\n")
    with pytest.raises(ValueError):
        parse_xml_stream("<?xml version='1.0'?>\n<stream>\n<update-status")


def test_patch_info_conflicts_map_patches_to_packages() -> None:
    text, _ = load("zypper/info-patch-sles12.txt")
    mapping = parse_patch_info(text)
    assert mapping == {
        "SUSE-SLE-SERVER-12-SP4-2019-2974": (
            PatchPackage("irqbalance", "x86_64", "1.1.0-9.3.1"),
            PatchPackage("common-package", "x86_64", "1.1.0-9.3.1"),
        ),
        "update-test-security": (
            PatchPackage("glibc", "x86_64", "3-2.1"),
            PatchPackage("glibc", "i586", "3-2.1"),
        ),
    }


def test_patch_info_skips_source_packages() -> None:
    text, _ = load("zypper/info-patch-sles15-srcpackage.txt")
    assert parse_patch_info(text) == {
        "SUSE-SLE-Product-SLES-15-SP4-2023-1916": (
            PatchPackage("sles-release", "noarch", "15.4-150400.58.7.3"),
            PatchPackage("sles-release", "x86_64", "15.4-150400.58.7.3"),
        )
    }


def test_patch_info_single_conflict_inline_and_lists_real_zypper() -> None:
    # Real zypper 1.14 prints one package on the Conflicts line itself and only two or more
    # as "[N]" plus indented lines; noarch entries come without an architecture.
    text, exit_status = load("zypper/info-patch-inline-conflict-debian12.txt")
    assert exit_status == 0
    assert parse_patch_info(text) == {
        "DEMO-SA-2026:0001": (PatchPackage("patchtui-demo", None, "1.1-1"),),
        "DEMO-SA-2026:0002": (
            PatchPackage("patchtui-new-a", None, "1.0-1"),
            PatchPackage("patchtui-new-b", None, "1.0-1"),
        ),
        "DEMO-SA-2026:0003": (PatchPackage("patchtui-legacy-a", None, "1.0-1"),),
    }


def test_single_conflict_patch_makes_its_update_a_security_one() -> None:
    text, _ = load("zypper/info-patch-inline-conflict-debian12.txt")
    update = ZypperUpdate("patchtui-demo", "noarch", "1.1-1", "1.0-1", "demo")
    patch = ZypperPatch(
        name="DEMO-SA-2026:0001",
        category="security",
        severity="important",
        status="needed",
        summary="",
        restart=False,
        cves=("CVE-2026-0001",),
        repository="demo",
    )
    pending = build_pending(update, (patch,), parse_patch_info(text))
    assert (pending.security, pending.severity) == (True, "important")
    assert (pending.advisories, pending.cves) == (("DEMO-SA-2026:0001",), ("CVE-2026-0001",))


@pytest.mark.parametrize(
    ("line", "package"),
    [
        ("Conflicts   : python3.11 < 3.11.5-1", PatchPackage("python3.11", None, "3.11.5-1")),
        ("Conflicts   : curl.x86_64 < 8.0-1", PatchPackage("curl", "x86_64", "8.0-1")),
        ("Conflicts   : curl.src < 8.0-1", None),
        ("Conflicts   : srcpackage:curl < 8.0-1", None),
    ],
)
def test_inline_conflict_architecture_is_split_only_when_known(
    line: str, package: PatchPackage | None
) -> None:
    text = f"Information for patch p1:\n--\n{line}\nName : p1\n"
    assert parse_patch_info(text) == {"p1": (package,) if package else ()}


def test_needs_rebooting_exit_codes() -> None:
    text, exit_status = load("zypper/needs-rebooting-no.txt")
    assert "Reboot is probably not necessary." in text
    assert exit_status is not None
    assert needs_rebooting_verdict(exit_status) is False
    assert needs_rebooting_verdict(102) is True
    # An old zypper without the command exits with an error code.
    assert needs_rebooting_verdict(1) is None


@pytest.mark.parametrize(
    ("code", "meaning", "informational"),
    [
        (0, "ok", True),
        (100, "updates needed", True),
        (101, "security updates needed", True),
        (102, "reboot needed", True),
        (103, "zypper restart needed", True),
        (104, "capability not found", False),
        (106, "repositories skipped", False),
        (7, "zypp locked", False),
        (None, "outcome unknown", False),
    ],
)
def test_exit_code_semantics(code: int | None, meaning: str, informational: bool) -> None:
    assert exit_meaning(code) == meaning
    assert (code in INFORMATIONAL_EXITS) is informational


def test_zypper_severity_spellings() -> None:
    assert normalise_zypper_severity("critical") == "critical"
    assert normalise_zypper_severity("important") == "important"
    assert normalise_zypper_severity("unspecified") == "unknown"
    assert normalise_zypper_severity(None) == "unknown"
