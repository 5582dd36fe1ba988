"""Compliance policy: the strict default, loading YAML, and file:line errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from patchtui.compliance.policy import (
    DEFAULT_POLICY,
    SEVERITIES,
    PolicyException,
    load_policy,
    parse_policy,
    policy_to_dict,
)
from patchtui.errors import ConfigError

POLICIES = Path(__file__).parent.parent / "data" / "policies"


def test_default_policy_is_ssm_strict() -> None:
    assert all(DEFAULT_POLICY.security_grace(severity) == 0 for severity in SEVERITIES)
    assert DEFAULT_POLICY.security_grace(None) == 0
    assert DEFAULT_POLICY.reboot_grace_days == 0
    assert DEFAULT_POLICY.scan_max_age_hours == 24
    assert DEFAULT_POLICY.any_update_grace_days is None
    assert DEFAULT_POLICY.exceptions == ()


def test_relaxed_policy_file_loads() -> None:
    policy = load_policy(POLICIES / "relaxed.yaml")
    assert policy.name == "production"
    assert policy.source.endswith("relaxed.yaml")
    assert policy.security_grace("critical") == 3
    assert policy.security_grace("important") == 7
    assert policy.security_grace("moderate") == 14
    assert policy.security_grace(None) == 14
    assert policy.any_update_grace_days == 60
    assert policy.reboot_grace_days == 2
    assert policy.scan_max_age_hours == 48
    first, second = policy.exceptions
    assert (first.host_glob, first.package_glob) == ("legacy-*", "openssl*")
    assert first.expires == dt.date(2026, 6, 30)
    assert first.where.endswith("relaxed.yaml:12")
    assert second.whole_host and second.expires == dt.date(2027, 1, 31)


def test_policy_to_dict_names_every_rule() -> None:
    data = policy_to_dict(load_policy(POLICIES / "relaxed.yaml"))
    assert data["security_grace_days"] == {
        "critical": 3.0,
        "important": 7.0,
        "moderate": 14.0,
        "low": 14.0,
        "unknown": 14.0,
    }
    assert data["exceptions"][0] == {  # type: ignore[index]
        "host": "legacy-*",
        "package": "openssl*",
        "reason": "vendor certifies OpenSSL 3.0 only; ticket SEC-1234",
        "expires": "2026-06-30",
    }


def test_single_number_and_nulls() -> None:
    policy = parse_policy("security_grace_days: 5\nscan_max_age_hours: null\n")
    assert {policy.security_grace(s) for s in SEVERITIES} == {5.0}
    assert policy.scan_max_age_hours is None
    assert parse_policy("").security_grace("critical") == 0


def test_exception_globs_match() -> None:
    exception = PolicyException("web-*", "openssl*", "why", dt.date(2026, 1, 1))
    assert exception.matches_host("web-01") and not exception.matches_host("db-01")
    assert exception.matches_package("openssl-libs") and not exception.matches_package("bash")
    assert exception.active_on(dt.date(2026, 1, 1))
    assert not exception.active_on(dt.date(2026, 1, 2))


@pytest.mark.parametrize(
    ("filename", "line", "words"),
    [
        ("unknown_key.yaml", 3, "unknown key 'reboot_grace_day'"),
        ("bad_number.yaml", 3, "security_grace_days.important must be a number"),
        ("bad_date.yaml", 7, "exception #2: expires must be a date"),
        ("missing_reason.yaml", 3, "exception #1: missing 'reason'"),
    ],
)
def test_policy_file_errors_name_file_and_line(filename: str, line: int, words: str) -> None:
    path = POLICIES / filename
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    assert caught.value.where == f"{path}:{line}"
    assert words in caught.value.message
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("reboot_grace_days: -1\n", 1, ">= 0"),
        ("reboot_grace_days: true\n", 1, "must be a number"),
        ("reboot_grace_days: null\n", 1, "must be a number"),
        ("scan_max_age_hours: .inf\n", 1, "finite"),
        ("name: x\nname: y\n", 2, "duplicate key 'name'"),
        ("- 1\n", 1, "policy must be a mapping"),
        ("exceptions:\n  - reason: r\n    expires: 2026-01-01\n", 2, "needs a host or a package"),
        ("exceptions:\n  - host: h\n    reason: r\n", 2, "missing 'expires'"),
        ("exceptions:\n  - host: h\n    reason: ''\n    expires: 2026-01-01\n", 3, "reason"),
        ("exceptions: {}\n", 1, "exceptions must be a list"),
        ("security_grace_days:\n  urgent: 1\n", 2, "unknown key 'urgent'"),
        ("a: [1,\n", 2, "invalid YAML"),
    ],
)
def test_policy_text_errors(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy(text, source="p.yaml")
    assert caught.value.where == f"p.yaml:{line}"
    assert words in caught.value.message


def test_unreadable_policy_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_policy(tmp_path / "missing.yaml")
    assert "cannot read policy file" in str(caught.value)
