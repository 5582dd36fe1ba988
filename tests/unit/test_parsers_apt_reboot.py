"""The Debian/Ubuntu reboot check on real captured outputs (tests/data/apt: needrestart_b_*,
reboot_check_*, dpkg_query_kernels_*): flag file, needrestart, installed kernels."""

from __future__ import annotations

import pytest
from fixtures import captured

from patchtui.drivers.parsers.apt_reboot import (
    KSTA_ABI_UPGRADE,
    KSTA_NO_UPGRADE,
    KSTA_UNKNOWN,
    KSTA_VERSION_UPGRADE,
    compare_kernels,
    kernel_release_of_package,
    parse_kernel_packages,
    parse_needrestart,
    parse_reboot_check,
    split_release,
)


def check_output(
    *,
    flag: str = "no-reboot-required\n",
    notifier: bool = False,
    uname: str,
    needrestart: str | None = None,
    kernels: str = "",
) -> str:
    """The reboot check's output as the driver's command prints it, section by section."""
    out = f"patchtui-reboot flag\n{flag}patchtui-reboot notifier\n"
    out += "present\n" if notifier else ""
    out += f"patchtui-reboot uname\n{uname}\npatchtui-reboot needrestart\n"
    if needrestart is not None:
        out += f"{needrestart}patchtui-reboot needrestart-exit 0\n"
    return out + f"patchtui-reboot kernels\n{kernels}"


@pytest.mark.parametrize(
    ("fixture", "status", "expected", "verdict"),
    [
        ("apt/needrestart_b_ksta3.txt", KSTA_VERSION_UPGRADE, "6.18.50-fc-v1300", True),
        ("apt/needrestart_b_ksta2.txt", KSTA_ABI_UPGRADE, "6.18.44-fc-v1300", True),
        ("apt/needrestart_b_ksta1.txt", KSTA_NO_UPGRADE, "6.18.44-fc-v1300", False),
        ("apt/needrestart_b_ksta0_container.txt", KSTA_UNKNOWN, None, None),
    ],
)
def test_needrestart_batch_captures(
    fixture: str, status: int, expected: str | None, verdict: bool | None
) -> None:
    text, _ = captured(fixture)
    parsed = parse_needrestart(text)
    assert parsed.version == "3.6"
    assert parsed.running == "6.18.44-fc-v1300"
    assert (parsed.status, parsed.expected) == (status, expected)
    assert parsed.reboot_required is verdict
    assert parsed.services == ()


def test_needrestart_documented_batch_format_with_services() -> None:
    text, _ = captured("apt/needrestart_b_readme_batch.txt")
    parsed = parse_needrestart(text)
    assert (parsed.version, parsed.running, parsed.expected) == (
        "2.1",
        "3.19.3-tl1+",
        "3.19.3-tl1+",
    )
    assert parsed.status == KSTA_NO_UPGRADE and parsed.reboot_required is False
    assert parsed.services == ("systemd-journald.service", "systemd-machined.service")


def test_needrestart_without_kernel_lines_is_unknown() -> None:
    # Inside a container needrestart skips the kernel check: no KCUR/KSTA at all.
    parsed = parse_needrestart("NEEDRESTART-VER: 3.6\nNEEDRESTART-SVC: cron.service\n")
    assert parsed.status is None and parsed.reboot_required is None
    assert parse_needrestart("").reboot_required is None


@pytest.mark.parametrize(
    ("release", "version", "flavour"),
    [
        ("6.1.0-21-amd64", "6.1.0-21", "amd64"),
        ("6.1.0-21-cloud-amd64", "6.1.0-21", "cloud-amd64"),
        ("6.1.0-21-rt-amd64", "6.1.0-21", "rt-amd64"),
        ("6.12.43+deb13-amd64", "6.12.43+deb13", "amd64"),
        ("6.12.9+bpo-amd64", "6.12.9+bpo", "amd64"),
        ("5.15.0-105-generic", "5.15.0-105", "generic"),
        ("6.5.0-1025-oem", "6.5.0-1025", "oem"),
        ("4.19.0-26-686-pae", "4.19.0-26-686", "pae"),
    ],
)
def test_split_release(release: str, version: str, flavour: str) -> None:
    parsed = split_release(release)
    assert parsed is not None and (parsed.version, parsed.flavour) == (version, flavour)


def test_kernel_package_names() -> None:
    assert kernel_release_of_package("linux-image-6.1.0-57-amd64") == "6.1.0-57-amd64"
    assert kernel_release_of_package("linux-image-6.1.0-57-amd64-unsigned") == "6.1.0-57-amd64"
    assert kernel_release_of_package("linux-image-unsigned-6.5.0-1025-oem") == "6.5.0-1025-oem"
    for meta in ("linux-image-amd64", "linux-image-generic", "linux-image-generic-hwe-22.04"):
        assert kernel_release_of_package(meta) is None
    assert kernel_release_of_package("linux-image-6.1.0-50-amd64-dbg") is None


def test_dpkg_query_kernels_debian() -> None:
    text, _ = captured("apt/dpkg_query_kernels_debian12.txt")
    kernels = parse_kernel_packages(text)
    # rc (removed, not purged), -dbg and the metapackage are left out.
    assert [(k.package, k.version) for k in kernels] == [
        ("linux-image-6.1.0-50-amd64", "6.1.176-1"),
        ("linux-image-6.1.0-57-amd64", "6.1.192-3"),
    ]
    assert compare_kernels("6.1.0-50-amd64", kernels).newest == "6.1.0-57-amd64"
    assert compare_kernels("6.1.0-50-amd64", kernels).reboot_required is True
    assert compare_kernels("6.1.0-57-amd64", kernels).reboot_required is False
    # Another flavour (cloud) has no installed kernel here: nothing to compare with.
    assert compare_kernels("6.1.0-50-cloud-amd64", kernels).reboot_required is None
    # Running a kernel newer than any installed package (custom build): unknown, not "no".
    assert compare_kernels("6.1.0-60-amd64", kernels).reboot_required is None
    # A name dpkg knows but that is not installed prints an empty version and "un"
    # (as dpkg-query does here for 'libc6*': "libc6-amd64\t\tun ").
    assert parse_kernel_packages(text + "linux-image-6.1.0-60-amd64\t\tun \n") == kernels


def test_dpkg_query_kernels_ubuntu() -> None:
    text, _ = captured("apt/dpkg_query_kernels_ubuntu2204.txt")
    kernels = parse_kernel_packages(text)
    assert [k.release.release for k in kernels] == ["5.15.0-105-generic", "5.15.0-112-generic"]
    comparison = compare_kernels("5.15.0-105-generic", kernels)
    assert (comparison.newest, comparison.reboot_required) == ("5.15.0-112-generic", True)
    assert compare_kernels("5.15.0-112-generic", kernels).reboot_required is False


def test_real_check_plain_debian_needrestart_says_newer_kernel() -> None:
    """The issue's case, captured: no flag file, no update-notifier, needrestart KSTA 3."""
    text, _ = captured("apt/reboot_check_needrestart_ksta3.txt")
    check = parse_reboot_check(text)
    assert check.complete
    assert (check.flag_file, check.notifier) == (False, False)
    assert check.needrestart is not None and check.needrestart.status == KSTA_VERSION_UPGRADE
    assert check.reboot_required is True
    assert check.reason == "newer kernel installed: 6.18.50-fc-v1300 (running 6.18.44-fc-v1300)"


def test_plain_debian_without_needrestart_compares_installed_kernels() -> None:
    kernels, _ = captured("apt/dpkg_query_kernels_debian12.txt")
    check = parse_reboot_check(check_output(uname="6.1.0-50-amd64", kernels=kernels))
    assert check.needrestart is None
    assert check.reboot_required is True
    assert check.reason == "newer kernel installed: 6.1.0-57-amd64 (running 6.1.0-50-amd64)"
    after_reboot = parse_reboot_check(check_output(uname="6.1.0-57-amd64", kernels=kernels))
    assert after_reboot.reboot_required is False and after_reboot.reason is None


@pytest.mark.parametrize(
    ("needrestart_fixture", "verdict"),
    [
        ("apt/needrestart_b_ksta3.txt", True),
        ("apt/needrestart_b_ksta2.txt", True),
        ("apt/needrestart_b_ksta1.txt", False),
        ("apt/needrestart_b_ksta0_container.txt", None),
    ],
)
def test_needrestart_decides_where_kernels_cannot(
    needrestart_fixture: str, verdict: bool | None
) -> None:
    needrestart, _ = captured(needrestart_fixture)
    check = parse_reboot_check(check_output(uname="6.18.44-fc-v1300", needrestart=needrestart))
    assert check.kernels is not None and check.kernels.reboot_required is None
    assert check.reboot_required is verdict


def test_flag_file_still_counts_and_names_its_packages() -> None:
    flag = "reboot-required\nlinux-image-6.1.0-30-amd64\nlibc6\nlibc6\n"
    check = parse_reboot_check(check_output(flag=flag, notifier=True, uname="6.1.0-30-amd64"))
    assert check.reboot_required is True
    assert check.flag_packages == ("linux-image-6.1.0-30-amd64", "libc6")
    assert check.reason == "reboot requested by: linux-image-6.1.0-30-amd64 libc6"


def test_no_flag_is_a_no_only_where_update_notifier_maintains_it() -> None:
    # A container without kernel packages or needrestart: only the flag mechanism can tell.
    with_notifier = check_output(notifier=True, uname="6.18.44-fc-v1300")
    assert parse_reboot_check(with_notifier).reboot_required is False
    without = check_output(notifier=False, uname="6.18.44-fc-v1300")
    assert parse_reboot_check(without).reboot_required is None


def test_any_source_saying_reboot_wins() -> None:
    # update-notifier present and no flag, but a newer kernel is installed: still a reboot.
    kernels, _ = captured("apt/dpkg_query_kernels_ubuntu2204.txt")
    ksta1, _ = captured("apt/needrestart_b_ksta1.txt")
    output = check_output(
        notifier=True, uname="5.15.0-105-generic", needrestart=ksta1, kernels=kernels
    )
    assert parse_reboot_check(output).reboot_required is True


def test_cut_short_or_refused_check_is_unknown_not_no() -> None:
    # sudo refused: nothing printed at all.
    assert parse_reboot_check("").reboot_required is None
    # Cut off after the notifier section: its "present" alone must not become a "no".
    partial = "patchtui-reboot flag\nno-reboot-required\npatchtui-reboot notifier\npresent\n"
    check = parse_reboot_check(partial)
    assert not check.complete and check.reboot_required is None
    # But a flag file seen before the cut still means a reboot.
    flagged = "patchtui-reboot flag\nreboot-required\n"
    assert parse_reboot_check(flagged).reboot_required is True
