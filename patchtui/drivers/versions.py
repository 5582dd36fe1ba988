"""Package version ordering: a baseline tells "behind" from "ahead", the apt
changelog reader keeps only entries newer than what is installed. Pure.

The algorithm is dpkg's (``[epoch:]upstream[-revision]``, ``~`` sorts before
anything, letters before other symbols). rpm (``[epoch:]version-release``) and
apk (``version-rN``) versions order the same way for the version strings
distributions actually ship, so one comparison serves every family; the only
use here is to never *downgrade* a host that is ahead of a baseline.
"""

from __future__ import annotations

from functools import cmp_to_key


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
    """Negative, zero or positive as ``left`` is older than, equal to or newer than ``right``."""
    left_epoch, left_up, left_rev = _split(left)
    right_epoch, right_up, right_rev = _split(right)
    if left_epoch != right_epoch:
        return left_epoch - right_epoch
    return _compare_part(left_up, right_up) or _compare_part(left_rev, right_rev)


version_key = cmp_to_key(compare_versions)
"""Sort key: ``sorted(versions, key=version_key)`` is oldest first."""
