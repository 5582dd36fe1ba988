"""Version ordering per family, against the package managers' own test suites.

Cases are taken from (read through the project's reference search, cited here):
- dpkg: guillemj/dpkg scripts/t/Dpkg_Version.t (__DATA__, commit 061c572f) and
  lib/dpkg/t/t-version.c;
- rpm: rpm-software-management/rpm tests/rpmvercmp.at (commit 0920d333), plus
  the caret rules of rpm >= 4.15 (Fedora packaging guidelines' ordering
  1.0~rc1 < 1.0 < 1.0^git1 < 1.0.1);
- apk: alpinelinux/apk-tools test/version.data (commit 50ab589e), a selection.
Where the real tool is on this machine (``dpkg --compare-versions``, ``rpm
--eval`` with rpm's Lua ``rpm.vercmp``, both read-only), generated versions are
also checked against it.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from patchtui.drivers.versions import (
    comparator,
    compare_apk,
    compare_dpkg,
    compare_rpm,
    rpmvercmp,
)


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


# Dpkg_Version.t's __DATA__: "a b expected".
DPKG_CASES = """
1.0-1 2.0-2 -1
2.2~rc-4 2.2-1 -1
2.2-1 2.2~rc-4 1
1.0000-1 1.0-1 0
1 0:1 0
0 0:0-0 0
2:2.5 1:7.5 1
1:0foo 0foo 1
0:0foo 0foo 0
0foo 0foo 0
0foo- 0foo 0
0foo- 0foo-0 0
0foo 0fo 1
0foo- 0foo+ -1
0foo~1 0foo -1
0foo~foo+Bar 0foo~foo+bar -1
0foo~~ 0foo~ -1
1~ 1 -1
12345+that-really-is-some-ver-0 12345+that-really-is-some-ver-10 -1
0foo-0 0foo-01 -1
0foo.bar 0foobar 1
0foo.bar 0foo1bar 1
0foo.bar 0foo0bar 1
0foo1bar-1 0foobar-1 -1
0foo2.0 0foo2 1
0foo2.0.0 0foo2.10.0 -1
0foo2.0 0foo2.0.0 -1
0foo2.0 0foo2.10 -1
0foo2.1 0foo2.10 -1
1.09 1.9 0
1.0.8+nmu1 1.0.8 1
3.11 3.10+nmu1 1
0.9j-20080306-4 0.9i-20070324-2 1
1.2.0~b7-1 1.2.0~b6-1 1
1.011-1 1.06-2 1
0.0.9+dfsg1-1 0.0.8+dfsg1-3 1
4.6.99+svn6582-1 4.6.99+svn6496-1 1
53 52 1
0.9.9~pre122-1 0.9.9~pre111-1 1
2:2.3.2-2+lenny2 2:2.3.2-2 1
1:3.8.1-1 3.8.GA-1 1
1.0.1+gpl-1 1.0.1-2 1
1a 1000a -1
-0.6.5 0.9.1 -1
"""

# rpmvercmp.at: RPMVERCMP(a, b, expected) on one field.
RPM_CASES = """
1.0 1.0 0
1.0 2.0 -1
2.0 1.0 1
2.0.1 2.0.1 0
2.0 2.0.1 -1
2.0.1 2.0 1
2.0.1a 2.0.1a 0
2.0.1a 2.0.1 1
2.0.1 2.0.1a -1
5.5p1 5.5p1 0
5.5p1 5.5p2 -1
5.5p2 5.5p1 1
5.5p10 5.5p10 0
5.5p1 5.5p10 -1
5.5p10 5.5p1 1
10xyz 10.1xyz -1
10.1xyz 10xyz 1
xyz10 xyz10 0
xyz10 xyz10.1 -1
xyz10.1 xyz10 1
xyz.4 xyz.4 0
xyz.4 8 -1
8 xyz.4 1
xyz.4 2 -1
2 xyz.4 1
5.5p2 5.6p1 -1
5.6p1 5.5p2 1
5.6p1 6.5p1 -1
6.5p1 5.6p1 1
6.0.rc1 6.0 1
6.0 6.0.rc1 -1
10b2 10a1 1
10a2 10b2 -1
1.0aa 1.0aa 0
1.0a 1.0aa -1
1.0aa 1.0a 1
10.0001 10.0001 0
10.0001 10.1 0
10.1 10.0001 0
10.0001 10.0039 -1
10.0039 10.0001 1
4.999.9 5.0 -1
5.0 4.999.9 1
20101121 20101121 0
20101121 20101122 -1
20101122 20101121 1
2_0 2_0 0
2.0 2_0 0
2_0 2.0 0
a a 0
a+ a+ 0
a+ a_ 0
a_ a+ 0
+a +a 0
+a _a 0
_a +a 0
+_ +_ 0
_+ +_ 0
_+ _+ 0
+ _ 0
_ + 0
1.0~rc1 1.0~rc1 0
1.0~rc1 1.0 -1
1.0 1.0~rc1 1
1.0~rc1 1.0~rc2 -1
1.0~rc2 1.0~rc1 1
1.0~rc1~git123 1.0~rc1~git123 0
1.0~rc1~git123 1.0~rc1 -1
1.0~rc1 1.0~rc1~git123 1
1.0^ 1.0 1
1.0 1.0^ -1
1.0^git1 1.0 1
1.0^git1 1.0.1 -1
1.0^git1 1.0^git2 -1
1.0~rc1 1.0~rc1^git1 -1
1.0^git1~pre 1.0^git1 -1
"""

# apk-tools test/version.data: "a op b".
APK_CASES = """
2.34 > 0.1.0_alpha
23_foo > 4_beta
1.0 < 1.0bc
0.1.0_alpha = 0.1.0_alpha
0.1.0_alpha2 > 0.1.0_alpha
0.1.0_alpha < 2.2.39-r1
1.0.4-r3 < 1.0.4-r4
1.1 > 1.1_alpha1
1.2.1 > 1.2
1.3_alpha < 1.3_alpha2
0.7.0 < 0.8_beta1
3.10.18-r1 > 2.3.0b-r1
2.3.0b-r1 < 2.3.0b-r2
0.12.3 > 0.12
0.12 < 0.13_beta1
3.1_p16 < 3.1_p17
1.06-r6 < 006
006 > 1.0.0
1.2.2-r1 > 1.2.2
20060720 > 3.0.20060720
1.0 > 0.99.3.20040818
2.5.1-r8 < 2.5.1a-r1
1.3.5-r10 > 1.3.5-r8
20040401 > 2.0.0_rc3-r1
3.0.0-r2 < 021109-r3
0.9.16-r1 < 3.9_pre20060124
1.1.7 < 6b-r7
0.10.0 < 0.10.1_rc1
1.0-r1 > 0.15.1b
22.7 > 2.1_pre20
02.08.01b < 4.77
0.20070118 < 0.20070207_rc1
3.7_p1 > 1.3
4.5_p1-r1 > 4.5_p1
1.7 < 1.7b
1.8.5 < 1.8.5_p2
2.9.11_pre20051101-r3 > 2.9.11_pre20051101
1.6.8_p12-r1 > 1.6.8_p9-r2
0.9.28.1 < 087-r1
104-r11 > 104-r9
1.2.5_rc2 > 0.1
2.12r-r4 < 2.12r-r5
7.0.17 < 7.0.174
1.3-r0 < 1.3.1-r0
1.3_pre1-r1 < 1.3.2
1.0_p10-r0 > 1.0_p9-r0
0.1.0_alpha_pre2 < 0.1.0_alpha
1.0.0_pre20191002222144-r0 < 1.0.0_pre20210530193627-r0
"""

_OPS = {"<": -1, "=": 0, ">": 1}


def _triples(text: str) -> list[tuple[str, str, int]]:
    return [
        (a, b, int(expected))
        for a, b, expected in (line.split() for line in text.strip().splitlines())
    ]


@pytest.mark.parametrize(("left", "right", "expected"), _triples(DPKG_CASES))
def test_dpkg_matches_dpkgs_own_cases(left: str, right: str, expected: int) -> None:
    assert _sign(compare_dpkg(left, right)) == expected
    assert _sign(compare_dpkg(right, left)) == -expected


@pytest.mark.parametrize(("left", "right", "expected"), _triples(RPM_CASES))
def test_rpmvercmp_matches_rpms_own_cases(left: str, right: str, expected: int) -> None:
    assert rpmvercmp(left, right) == expected


@pytest.mark.parametrize(
    ("line"), [line for line in APK_CASES.strip().splitlines() if line.strip()]
)
def test_apk_matches_apk_tools_own_cases(line: str) -> None:
    left, op, right = line.split()
    assert compare_apk(left, right) == _OPS[op]
    assert compare_apk(right, left) == -_OPS[op]


def test_rpm_evr_compares_epoch_then_version_then_release() -> None:
    assert compare_rpm("1:1.0-1", "2.0-1") == 1
    assert compare_rpm("8.7p1-38.el9_4.1", "8.7p1-38.el9") == 1
    assert compare_rpm("8.7p1-34.el9", "8.7p1-38.el9_4.1") == -1
    assert compare_rpm("0:8.7p1-38.el9_4.1", "8.7p1-38.el9_4.1") == 0
    # A requirement without a release matches any release of that version.
    assert compare_rpm("8.7p1", "8.7p1-38.el9") == 0


def test_the_families_disagree_where_it_matters() -> None:
    # A release candidate: apk puts it before the release, dpkg's rule after.
    assert compare_apk("1.0_rc1-r0", "1.0-r0") < 0
    assert compare_dpkg("1.0_rc1-r0", "1.0-r0") > 0
    # rpm ignores separators; dpkg orders them.
    assert compare_rpm("2_0", "2.0") == 0
    assert compare_dpkg("2_0", "2.0") != 0
    # The Ubuntu openssh fix of CVE-2024-6387 and the versions around it.
    assert compare_dpkg("1:8.9p1-3ubuntu0.7", "1:8.9p1-3ubuntu0.10") < 0
    assert compare_dpkg("1:8.9p1-3ubuntu0.10", "1:8.9p1-3ubuntu0.13") < 0


def test_comparator_picks_the_familys_rule() -> None:
    assert comparator("apt") is compare_dpkg
    assert comparator("dnf") is compare_rpm
    assert comparator("zypper") is compare_rpm
    assert comparator("apk") is compare_apk
    assert comparator(None) is compare_dpkg


_VERSION_CHARS = st.sampled_from(list("0123456789.~+ab"))
_VERSION = st.builds(
    lambda head, body: head + body,
    st.sampled_from(list("0123456789")),
    st.text(_VERSION_CHARS, max_size=8),
)


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")
@settings(max_examples=60, deadline=None)
@given(_VERSION, _VERSION)
def test_dpkg_agrees_with_dpkg_compare_versions(left: str, right: str) -> None:
    expected = _sign(compare_dpkg(left, right))
    op = {-1: "lt", 0: "eq", 1: "gt"}[expected]
    # --compare-versions only compares strings: it reads no package state.
    done = subprocess.run(
        ["dpkg", "--compare-versions", left, op, right], timeout=10, capture_output=True
    )
    assert done.returncode == 0, (left, op, right, done.stderr)


_RPM_CHARS = st.sampled_from(list("0123456789.~^_+ab"))
_RPM_FIELD = st.builds(
    lambda head, body: head + body,
    st.sampled_from(list("0123456789ab")),
    st.text(_RPM_CHARS, max_size=7),
)


@pytest.mark.skipif(shutil.which("rpm") is None, reason="rpm is not installed")
@settings(max_examples=5, deadline=None)
@given(st.lists(st.tuples(_RPM_FIELD, _RPM_FIELD), min_size=20, max_size=20))
def test_rpm_agrees_with_rpms_own_vercmp(pairs: list[tuple[str, str]]) -> None:
    # One rpm process for twenty comparisons: rpm's Lua rpm.vercmp compares EVR strings.
    script = " ".join(f'print(rpm.vercmp("{a}", "{b}")) print("\\n")' for a, b in pairs)
    done = subprocess.run(
        ["rpm", "--eval", "%{lua: " + script + "}"], timeout=30, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    results = [int(word) for word in done.stdout.split()]
    assert results == [compare_rpm(a, b) for a, b in pairs]


@settings(max_examples=400, deadline=None)
@given(
    st.text(st.sampled_from(list("0123456789.~+a:-")), max_size=10),
    st.text(st.sampled_from(list("0123456789.~+a:-")), max_size=10),
)
@example("", "0~")  # found by hypothesis: the end of "" against "0" then "~"
@example("1", "1~")
@example("0", "")
def test_the_cached_dpkg_key_orders_like_verrevcmp(left: str, right: str) -> None:
    from patchtui.drivers.versions import compare_versions

    assert compare_dpkg(left, right) == _sign(compare_versions(left, right))
