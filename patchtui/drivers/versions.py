"""Package version ordering, one per family: dpkg, rpm and apk. Pure.

A baseline tells "behind" from "ahead", the apt changelog reader keeps only
entries newer than what is installed, and an OSV advisory applies to a
pending update when installed < fixed <= candidate. That last question is
where the families disagree and a wrong answer hides or invents a CVE:

- dpkg (``[epoch:]upstream[-revision]``): ``~`` sorts before anything, even
  the end of the string; letters before other symbols (dpkg's verrevcmp).
- rpm (``[epoch:]version-release``): rpmvercmp. Separators (``.``, ``_``,
  ``+``) only split segments and never compare; a numeric segment is newer
  than an alphabetic one; ``~`` sorts before anything, ``^`` after the end
  of the string but before any further segment.
- apk (``version[_suffix]-rN``): apk-tools' tokenizer: ``_alpha``/``_beta``/
  ``_pre``/``_rc`` sort *before* the release, ``_cvs``/``_svn``/``_git``/
  ``_hg``/``_p`` after it, ``-rN`` last. dpkg's rule would put ``1.0_rc1``
  after ``1.0``.

:func:`compare_versions` is dpkg's rule (what the callers before per-family
ordering used); :func:`comparator` picks the family's own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from functools import cmp_to_key
from typing import Any

Comparator = Callable[[str, str], int]


# ---------------------------------------------------------------- dpkg


def _order(char: str) -> int:
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(left: str, right: str) -> int:
    """dpkg's verrevcmp: alternate non-digit and digit runs."""
    i = j = 0
    while i < len(left) or j < len(right):
        first_diff = 0
        while (i < len(left) and not left[i].isdigit()) or (
            j < len(right) and not right[j].isdigit()
        ):
            a = _order(left[i]) if i < len(left) and not left[i].isdigit() else 0
            b = _order(right[j]) if j < len(right) and not right[j].isdigit() else 0
            if a != b:
                return a - b
            i += 1
            j += 1
        while i < len(left) and left[i] == "0":
            i += 1
        while j < len(right) and right[j] == "0":
            j += 1
        while i < len(left) and left[i].isdigit() and j < len(right) and right[j].isdigit():
            if not first_diff:
                first_diff = ord(left[i]) - ord(right[j])
            i += 1
            j += 1
        if i < len(left) and left[i].isdigit():
            return 1
        if j < len(right) and right[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def _split(version: str) -> tuple[int, str, str]:
    epoch = 0
    if ":" in version:
        head, _, rest = version.partition(":")
        if head.isdigit():
            epoch, version = int(head), rest
    upstream, sep, revision = version.rpartition("-")
    if not sep:
        return epoch, version, ""
    return epoch, upstream, revision


def compare_versions(left: str, right: str) -> int:
    """dpkg's ordering: negative, zero or positive as ``left`` is older than, equal to or
    newer than ``right``."""
    left_epoch, left_up, left_rev = _split(left.strip())
    right_epoch, right_up, right_rev = _split(right.strip())
    if left_epoch != right_epoch:
        return left_epoch - right_epoch
    return _compare_part(left_up, right_up) or _compare_part(left_rev, right_rev)


_END_RUN: tuple[int, ...] = (0,)
_END_ELEMENT: tuple[int, tuple[int, ...]] = (0, _END_RUN)


def _part_key(text: str) -> tuple[tuple[int, ...], tuple[tuple[int, tuple[int, ...]], ...]]:
    """verrevcmp as a sort key.

    verrevcmp alternates non-digit runs (compared char by char: ``~`` < end of
    run < letters < other symbols) and numbers, and reads the end of a string
    as an empty run and the number 0 for as long as the other string goes on.
    The key is (first run, then one (number, following run) element per number),
    each run as its char orders ending in 0. Only the first run can be empty, so
    only the last element can equal the end (0, empty run): every key ends with
    exactly one such element, and where one key stops, that element meets the
    other key's next, never-equal element and decides as verrevcmp would
    ("" == "0", "1~" < "1" < "1.0", "" > "0~").
    """
    runs: list[tuple[int, ...]] = []
    numbers: list[int] = []
    i = 0
    while True:
        start = i
        while i < len(text) and not text[i].isdigit():
            i += 1
        runs.append((*(_order(char) for char in text[start:i]), 0))
        start = i
        while i < len(text) and text[i].isdigit():
            i += 1
        numbers.append(int(text[start:i]) if i > start else 0)
        if i >= len(text):
            break
    elements = [(number, run) for number, run in zip(numbers, [*runs[1:], _END_RUN], strict=True)]
    if elements[-1] != _END_ELEMENT:
        elements.append(_END_ELEMENT)
    return runs[0], tuple(elements)


@functools.lru_cache(maxsize=65_536)
def dpkg_key(version: str) -> tuple[Any, ...]:
    """A sort key that orders like :func:`compare_versions`; cached, as a fleet repeats
    the same few versions thousands of times."""
    epoch, upstream, revision = _split(version.strip())
    return (epoch, _part_key(upstream), _part_key(revision))


def _compare_dpkg_keyed(left: str, right: str) -> int:
    a, b = dpkg_key(left), dpkg_key(right)
    return (a > b) - (a < b)


compare_dpkg = _compare_dpkg_keyed
"""dpkg's ordering through cached sort keys (same answers as compare_versions, in sign)."""


# ---------------------------------------------------------------- rpm


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def rpmvercmp(left: str, right: str) -> int:
    """rpm's rpmvercmp on one field (version or release): -1, 0 or 1."""
    if left == right:
        return 0
    one, two = left, right
    i = j = 0

    def separator(text: str, at: int) -> bool:
        # ASCII only: rpm's risalnum is the C locale's, so "é" is a separator.
        char = text[at]
        return not (char.isascii() and char.isalnum()) and char not in "~^"

    while i < len(one) or j < len(two):
        while i < len(one) and separator(one, i):
            i += 1
        while j < len(two) and separator(two, j):
            j += 1
        a = one[i] if i < len(one) else ""
        b = two[j] if j < len(two) else ""
        if a == "~" or b == "~":
            if a != "~":
                return 1
            if b != "~":
                return -1
            i += 1
            j += 1
            continue
        if a == "^" or b == "^":
            if not a:
                return -1
            if not b:
                return 1
            if a != "^":
                return 1
            if b != "^":
                return -1
            i += 1
            j += 1
            continue
        if not (a and b):
            break
        numeric = a.isdigit()
        end_one, end_two = i, j
        if numeric:
            while end_one < len(one) and one[end_one].isascii() and one[end_one].isdigit():
                end_one += 1
            while end_two < len(two) and two[end_two].isascii() and two[end_two].isdigit():
                end_two += 1
        else:
            while end_one < len(one) and one[end_one].isascii() and one[end_one].isalpha():
                end_one += 1
            while end_two < len(two) and two[end_two].isascii() and two[end_two].isalpha():
                end_two += 1
        if end_two == j:
            # One segment numeric, the other alphabetic: numeric is newer.
            return 1 if numeric else -1
        seg_one, seg_two = one[i:end_one], two[j:end_two]
        if numeric:
            seg_one, seg_two = seg_one.lstrip("0"), seg_two.lstrip("0")
            if len(seg_one) != len(seg_two):
                return 1 if len(seg_one) > len(seg_two) else -1
        if seg_one != seg_two:
            return 1 if seg_one > seg_two else -1
        i, j = end_one, end_two
    if i >= len(one) and j >= len(two):
        return 0
    return -1 if i >= len(one) else 1


def _split_evr(version: str) -> tuple[int, str, str | None]:
    epoch = 0
    head, sep, rest = version.partition(":")
    if sep and head.isdigit():
        epoch, version = int(head), rest
    ver, sep, release = version.rpartition("-")
    if not sep:
        return epoch, version, None
    return epoch, ver, release


@functools.lru_cache(maxsize=65_536)
def compare_rpm(left: str, right: str) -> int:
    """rpm's EVR ordering (rpmVersionCompare): epoch (none = 0), version, then release.

    A missing release compares equal to any release, as ``rpm -q`` / dnf treat
    a requirement without one."""
    left_epoch, left_ver, left_rel = _split_evr(left.strip())
    right_epoch, right_ver, right_rel = _split_evr(right.strip())
    if left_epoch != right_epoch:
        return _sign(left_epoch - right_epoch)
    result = rpmvercmp(left_ver, right_ver)
    if result or left_rel is None or right_rel is None:
        return result
    return rpmvercmp(left_rel, right_rel)


# ---------------------------------------------------------------- apk

# apk-tools' token types, in its order: a token may only be followed by one of a
# higher type (with three exceptions), which is what makes "1.2_rc1-r3" parse.
_DIGIT_OR_ZERO, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _REVISION_NO, _END, _INVALID = range(8)
_PRE_SUFFIXES = ("alpha", "beta", "pre", "rc")
_POST_SUFFIXES = ("cvs", "svn", "git", "hg", "p")


class _ApkTokens:
    """apk-tools' version tokenizer (src/version.c: next_token / get_token)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.type = _DIGIT

    def _next_type(self) -> None:
        text, pos, kind = self.text, self.pos, self.type
        new = _INVALID
        if pos >= len(text):
            new = _END
        elif kind in (_DIGIT, _DIGIT_OR_ZERO) and text[pos].islower():
            new = _LETTER
        elif kind == _LETTER and text[pos].isdigit():
            new = _DIGIT
        elif kind == _SUFFIX and text[pos].isdigit():
            new = _SUFFIX_NO
        else:
            char = text[pos]
            if char == ".":
                new = _DIGIT_OR_ZERO
            elif char == "_":
                new = _SUFFIX
            elif char == "-" and text[pos + 1 : pos + 2] == "r":
                new = _REVISION_NO
                pos += 1
            pos += 1
        if new < kind and not (
            (new == _DIGIT_OR_ZERO and kind == _DIGIT)
            or (new == _SUFFIX and kind == _SUFFIX_NO)
            or (new == _DIGIT and kind == _LETTER)
        ):
            new = _INVALID
        self.pos, self.type = pos, new

    def take(self) -> int:
        """The value of the token at the cursor; advances ``type`` to the next one."""
        text, pos, kind = self.text, self.pos, self.type
        value = 0
        follow = _INVALID
        if kind in (_END, _INVALID):
            return -1
        if kind == _DIGIT_OR_ZERO and text[pos : pos + 1] == "0":
            # Leading zeros: "1.02" < "1.2" (a decimal fraction, not a number).
            start = pos
            while pos < len(text) and text[pos] == "0":
                pos += 1
            value = -(pos - start)
            follow = _DIGIT
        elif kind in (_DIGIT_OR_ZERO, _DIGIT, _SUFFIX_NO, _REVISION_NO):
            while pos < len(text) and text[pos].isdigit():
                value = value * 10 + int(text[pos])
                pos += 1
        elif kind == _LETTER:
            value = ord(text[pos])
            pos += 1
        elif kind == _SUFFIX:
            rest = text[pos:]
            for index, suffix in enumerate(_PRE_SUFFIXES):
                if rest.startswith(suffix):
                    value, pos = index - len(_PRE_SUFFIXES), pos + len(suffix)
                    break
            else:
                for index, suffix in enumerate(_POST_SUFFIXES):
                    if rest.startswith(suffix):
                        value, pos = index, pos + len(suffix)
                        break
                else:
                    self.type = _INVALID
                    return -1
        self.pos = pos
        if pos >= len(text):
            self.type = _END
        elif follow != _INVALID:
            self.type = follow
        else:
            self._next_type()
        return value


@functools.lru_cache(maxsize=65_536)
def compare_apk(left: str, right: str) -> int:
    """apk's ordering (apk_version_compare): -1, 0 or 1."""
    a, b = _ApkTokens(left.strip()), _ApkTokens(right.strip())
    a_value = b_value = 0
    while a.type == b.type and a.type not in (_END, _INVALID) and a_value == b_value:
        a_value = a.take()
        b_value = b.take()
    if a_value != b_value:
        return -1 if a_value < b_value else 1
    if a.type == b.type:
        return 0
    # Equal so far: the longer version is newer, unless what it has more of is a
    # pre-release suffix ("1.0_rc1" < "1.0").
    if a.type == _SUFFIX and _peek(a) < 0:
        return -1
    if b.type == _SUFFIX and _peek(b) < 0:
        return 1
    if a.type > b.type:
        return -1
    if b.type > a.type:
        return 1
    return 0


def _peek(tokens: _ApkTokens) -> int:
    copy = _ApkTokens(tokens.text)
    copy.pos, copy.type = tokens.pos, tokens.type
    return copy.take()


# ---------------------------------------------------------------- choice

_BY_FAMILY: dict[str, Comparator] = {
    "apt": compare_dpkg,
    "dpkg": compare_dpkg,
    "deb": compare_dpkg,
    "dnf": compare_rpm,
    "yum": compare_rpm,
    "zypper": compare_rpm,
    "rpm": compare_rpm,
    "apk": compare_apk,
}


def comparator(family: str | None) -> Comparator:
    """The ordering of a package family (apt/dnf/yum/zypper/apk, or dpkg/rpm); dpkg's if unknown."""
    return _BY_FAMILY.get((family or "").lower(), compare_dpkg)


version_key = cmp_to_key(compare_versions)
"""Sort key: ``sorted(versions, key=version_key)`` is oldest first (dpkg's ordering)."""
