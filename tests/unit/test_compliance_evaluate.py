"""Compliance evaluation: strict default, relaxed grace, exceptions, honest unknowns, speed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from patchtui.compliance.evaluate import (
    COMPLIANT,
    NON_COMPLIANT,
    UNKNOWN,
    evaluate_fleet,
    evaluate_host,
)
from patchtui.compliance.policy import DEFAULT_POLICY, Policy, PolicyException, load_policy

POLICIES = Path(__file__).parent.parent / "data" / "policies"
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC).timestamp()
DAY = 86400.0
HOUR = 3600.0


def update(name: str, *, security: bool = False, severity: str | None = None, age_days: float = 0):
    return {
        "name": name,
        "installed": "1.0",
        "candidate": "1.1",
        "arch": "amd64",
        "repository": "main",
        "security": security,
        "severity": severity,
        "advisories": [],
        "cves": [],
        "first_seen": NOW - age_days * DAY,
    }


def host(name: str = "web1", **fields: Any) -> dict[str, Any]:
    """A freshly scanned, clean host as the store keeps it; ``fields`` override."""
    state: dict[str, Any] = {
        "name": name,
        "facts": {"os_id": "ubuntu", "os_version": "24.04", "os_name": "Ubuntu 24.04 LTS"},
        "pending": [],
        "security_supported": True,
        "reboot_required": False,
        "metadata_stale": False,
        "warnings": [],
        "last_scan": NOW - HOUR,
        "last_scan_attempt": NOW - HOUR,
        "last_state": "ok",
        "first_seen": NOW - 90 * DAY,  # the store's host-level first_seen (a number)
    }
    state.update(fields)
    return state


def codes(result) -> set[str]:
    return {reason.code for reason in result.active_reasons}


RELAXED = load_policy(POLICIES / "relaxed.yaml")


def test_clean_host_complies_under_default() -> None:
    result = evaluate_host(host(), DEFAULT_POLICY, NOW)
    assert result.status == COMPLIANT
    assert result.active_reasons == ()
    assert result.oldest_missing_security_days is None
    assert result.seconds_since_scan == HOUR
    assert result.os_name == "Ubuntu 24.04 LTS"


def test_default_non_compliant_on_any_missing_security_fix_even_just_seen() -> None:
    state = host(pending=[update("openssl", security=True, severity="low", age_days=0)])
    result = evaluate_host(state, DEFAULT_POLICY, NOW)
    assert result.status == NON_COMPLIANT
    assert codes(result) == {"security-pending"}
    assert result.active_reasons[0].packages == ("openssl",)
    assert result.counts.missing_security == 1
    # Seen: "(oldest pending 0.0 days)": an age under a day is said in hours.
    assert "oldest pending under an hour" in result.active_reasons[0].message
    hours = host(pending=[update("openssl", security=True, age_days=0.25)])
    message = evaluate_host(hours, DEFAULT_POLICY, NOW).active_reasons[0].message
    assert "oldest pending 6.0 h" in message and "days" not in message


def test_default_ignores_non_security_updates() -> None:
    result = evaluate_host(host(pending=[update("vim", age_days=400)]), DEFAULT_POLICY, NOW)
    assert result.status == COMPLIANT
    assert result.counts.missing == 1 and result.counts.missing_security == 0
    assert result.pending_by_class == {"security": 0, "other": 1, "unclassified": 0}


def test_default_non_compliant_on_pending_reboot() -> None:
    result = evaluate_host(host(reboot_required=True), DEFAULT_POLICY, NOW)
    assert result.status == NON_COMPLIANT
    assert codes(result) == {"reboot-pending"}
    assert "unknown time" in result.active_reasons[0].message


def test_default_non_compliant_on_scan_older_than_24h() -> None:
    fresh = evaluate_host(host(last_scan=NOW - 23 * HOUR), DEFAULT_POLICY, NOW)
    old = evaluate_host(host(last_scan=NOW - 25 * HOUR), DEFAULT_POLICY, NOW)
    assert fresh.status == COMPLIANT
    assert old.status == NON_COMPLIANT and codes(old) == {"scan-too-old"}
    assert "25.0 h" in old.active_reasons[0].message


def test_relaxed_security_grace_per_severity() -> None:
    within = host(
        pending=[
            update("openssl", security=True, severity="critical", age_days=2.9),
            update("curl", security=True, severity="important", age_days=6.5),
            update("zlib", security=True, severity=None, age_days=13),
        ]
    )
    result = evaluate_host(within, RELAXED, NOW)
    assert result.status == COMPLIANT
    assert result.oldest_missing_security_days == 13.0
    beyond = host(pending=[update("openssl", security=True, severity="critical", age_days=3.1)])
    late = evaluate_host(beyond, RELAXED, NOW)
    assert late.status == NON_COMPLIANT and codes(late) == {"security-pending"}


def test_relaxed_any_update_grace() -> None:
    assert evaluate_host(host(pending=[update("vim", age_days=59)]), RELAXED, NOW).compliant
    late = evaluate_host(host(pending=[update("vim", age_days=61)]), RELAXED, NOW)
    assert late.status == NON_COMPLIANT and codes(late) == {"update-pending"}


def test_relaxed_reboot_grace_uses_reboot_since_or_last_patch() -> None:
    within = host(reboot_required=True, reboot_required_since=NOW - 1.5 * DAY)
    assert evaluate_host(within, RELAXED, NOW).compliant
    beyond = host(reboot_required=True, reboot_required_since=NOW - 2.5 * DAY)
    assert codes(evaluate_host(beyond, RELAXED, NOW)) == {"reboot-pending"}
    # No reboot_required_since in the store: the last patch run is the best estimate.
    estimated = evaluate_host(host(reboot_required=True, last_patch=NOW - 3 * DAY), RELAXED, NOW)
    assert codes(estimated) == {"reboot-pending"}
    assert "last patch run" in estimated.active_reasons[0].message
    # Neither known: age 0, within a relaxed grace, still non-compliant under the default.
    assert evaluate_host(host(reboot_required=True), RELAXED, NOW).compliant


def test_relaxed_scan_age() -> None:
    assert evaluate_host(host(last_scan=NOW - 47 * HOUR), RELAXED, NOW).compliant
    assert codes(evaluate_host(host(last_scan=NOW - 49 * HOUR), RELAXED, NOW)) == {"scan-too-old"}


def test_package_exception_applies_then_expires() -> None:
    state = host(
        "legacy-3",
        pending=[
            update("openssl-libs", security=True, severity="critical", age_days=40),
            update("curl", security=True, severity="critical", age_days=1),
        ],
    )
    result = evaluate_host(state, RELAXED, NOW)
    assert result.status == COMPLIANT
    waived = [reason for reason in result.reasons if reason.waived_by is not None]
    assert [reason.packages for reason in waived] == [("openssl-libs",)]
    assert [e.package_glob for e in result.exceptions_applied] == ["openssl*"]
    # Same host and policy after the expiry date (inclusive until the end of 2026-06-30 UTC).
    last_day = dt.datetime(2026, 6, 30, 23, 59, tzinfo=dt.UTC).timestamp()
    assert evaluate_host(state, RELAXED, last_day).exceptions_applied
    after = dt.datetime(2026, 7, 1, 0, 1, tzinfo=dt.UTC).timestamp()
    state["last_scan"] = after - HOUR
    expired = evaluate_host(state, RELAXED, after)
    assert expired.status == NON_COMPLIANT
    assert expired.exceptions_applied == ()
    assert [e.package_glob for e in expired.exceptions_expired] == ["openssl*"]
    # The exception does not reach hosts outside its host glob.
    other = evaluate_host({**state, "name": "web1", "last_scan": NOW - HOUR}, RELAXED, NOW)
    assert other.status == NON_COMPLIANT


def test_whole_host_exception_waives_everything_and_is_reported() -> None:
    state = host(
        "appliance-1",
        reboot_required=True,
        reboot_required_since=NOW - 5 * DAY,
        last_scan=NOW - 10 * DAY,
        pending=[update("firmware", security=True, severity="critical", age_days=30)],
    )
    result = evaluate_host(state, RELAXED, NOW)
    assert result.status == COMPLIANT
    assert {reason.code for reason in result.reasons if reason.waived_by} == {
        "security-pending",
        "reboot-pending",
        "scan-too-old",
    }
    assert result.oldest_missing_security_days == 30.0  # still reported: it is a fact


def test_apk_without_security_data_is_unknown_not_compliant() -> None:
    alpine = host(security_supported=False, reboot_required=None, pending=[update("musl")])
    result = evaluate_host(alpine, DEFAULT_POLICY, NOW)
    assert result.status == UNKNOWN
    assert codes(result) == {"no-security-data"}
    assert result.counts.missing_security == 0
    assert result.pending_by_class["unclassified"] == 1
    assert "no security data" in result.active_reasons[0].message
    # Nothing pending: nothing is missing, but the report still says why security is unknown.
    clean = evaluate_host(host(security_supported=False), DEFAULT_POLICY, NOW)
    assert clean.status == COMPLIANT
    assert any(r.code == "no-security-data" and r.effect == "note" for r in clean.reasons)
    # An unclassified update past even the relaxed 'unknown severity' grace stays unknown...
    old = host(security_supported=False, pending=[update("musl", age_days=20)])
    assert evaluate_host(old, RELAXED, NOW).status == UNKNOWN
    # ...and one past the any-update grace is plainly non-compliant.
    older = host(security_supported=False, pending=[update("musl", age_days=90)])
    assert codes(evaluate_host(older, RELAXED, NOW)) == {"update-pending"}


def test_stale_metadata_is_never_compliant() -> None:
    stale = evaluate_host(host(metadata_stale=True), RELAXED, NOW)
    assert stale.status == UNKNOWN
    assert codes(stale) == {"stale-metadata"}
    assert "package metadata could not be refreshed" in stale.active_reasons[0].message
    worse = host(metadata_stale=True, pending=[update("bash", security=True, age_days=30)])
    assert evaluate_host(worse, RELAXED, NOW).status == NON_COMPLIANT


def test_never_scanned_and_failed_first_scan_are_unknown() -> None:
    never = evaluate_host({"name": "new1"}, DEFAULT_POLICY, NOW)
    assert never.status == UNKNOWN and codes(never) == {"never-scanned"}
    failed = evaluate_host(
        {
            "name": "new2",
            "last_scan_attempt": NOW - 60,
            "last_state": "unreachable",
            "last_error": "connection refused",
        },
        DEFAULT_POLICY,
        NOW,
    )
    assert failed.status == UNKNOWN and codes(failed) == {"scan-failed"}
    assert "connection refused" in failed.active_reasons[0].message


def test_failed_rescan_keeps_last_good_data_with_a_note() -> None:
    state = host(last_scan_attempt=NOW - 60, last_state="failed", last_error="dpkg lock")
    result = evaluate_host(state, DEFAULT_POLICY, NOW)
    assert result.status == COMPLIANT
    assert any(r.code == "scan-failed" and r.effect == "note" for r in result.reasons)


def test_first_seen_fallbacks() -> None:
    legacy = {"openssl=1.1": NOW - 5 * DAY}
    pending = [update("openssl", security=True)]
    del pending[0]["first_seen"]
    mapped = evaluate_host(host(first_seen=legacy, pending=pending), DEFAULT_POLICY, NOW)
    assert mapped.oldest_missing_security_days == 5.0
    estimated = evaluate_host(host(pending=pending, last_scan=NOW - DAY), DEFAULT_POLICY, NOW)
    assert estimated.oldest_missing_security_days == 1.0
    assert any(r.code == "first-seen-estimated" for r in estimated.reasons)


def test_counts_from_last_patch_run() -> None:
    state = host(
        reboot_required=True,
        last_patch=NOW - HOUR,
        last_changes=[{"name": "bash", "before": "5.1", "after": "5.2"}] * 3,
        last_failed=["kernel"],
    )
    counts = evaluate_host(state, DEFAULT_POLICY, NOW).counts
    assert (counts.installed, counts.installed_pending_reboot, counts.failed) == (3, 3, 1)


def test_fleet_summary_and_data_range() -> None:
    states = [
        host("a", last_scan=NOW - 2 * HOUR),
        host("b", reboot_required=True, last_scan=NOW - HOUR),
        {"name": "c"},
    ]
    report = evaluate_fleet(states, DEFAULT_POLICY, NOW, source="test.json")
    assert [h.status for h in report.hosts] == [COMPLIANT, NON_COMPLIANT, UNKNOWN]
    assert not report.all_compliant
    assert report.summary["compliant"] == 1
    assert report.summary["non_compliant"] == 1
    assert report.summary["unknown"] == 1
    assert report.summary["hosts_by_reason"] == {"never-scanned": 1, "reboot-pending": 1}
    assert (report.data_oldest_scan, report.data_newest_scan) == (NOW - 2 * HOUR, NOW - HOUR)
    assert report.summary_dict()["policy"]["name"] == "default"  # type: ignore[index]
    assert evaluate_fleet([host()], DEFAULT_POLICY, NOW).all_compliant


def test_fleet_of_10000_hosts_evaluates() -> None:
    """At fleet scale (its speed is measured by benchmarks/store.py, not timed here:
    a timed unit test fails on a busy shared machine)."""
    pending = [update(f"pkg{i}", security=i % 5 == 0, age_days=i) for i in range(20)]
    states = [host(f"h{i}", pending=pending, reboot_required=i % 7 == 0) for i in range(10_000)]
    policy = Policy(
        exceptions=(PolicyException("h1*", "pkg1*", "test", dt.date(2030, 1, 1)),),
    )
    report = evaluate_fleet(states, policy, NOW)
    assert report.summary["hosts"] == 10_000
    assert report.summary["non_compliant"] == 10_000


def test_age_of_a_missing_fix_counts_from_the_advisorys_publication() -> None:
    relaxed = load_policy(POLICIES / "relaxed.yaml")
    # Seen by patchtui an hour ago, but published (OSV) 40 days ago: 40 days missing.
    fix = update("openssh-server", security=True, severity="important", age_days=1 / 24)
    fix["published"] = NOW - 40 * DAY
    fix["cves"], fix["advisories"] = ["CVE-2024-6387"], ["UBUNTU-CVE-2024-6387"]
    result = evaluate_host(host(pending=[fix]), relaxed, NOW)
    assert result.oldest_missing_security_days == 40.0
    assert "security-pending" in codes(result)
    # Without a publication date the first scan is all there is.
    del fix["published"]
    assert evaluate_host(host(pending=[fix]), relaxed, NOW).oldest_missing_security_days == 0.04


def test_missing_security_fixes_carry_versions_and_ids_and_notes_reach_the_summary() -> None:
    fix = update("openssh-server", security=True, severity="important")
    fix["cves"], fix["advisories"] = ["CVE-2024-6387"], ["USN-6859-1", "CVE-2024-6387"]
    report = evaluate_fleet(
        [host(pending=[fix, update("vim")])], DEFAULT_POLICY, NOW, notes=["data is stale"]
    )
    (result,) = report.hosts
    assert [f.to_dict() for f in result.missing_security_fixes] == [
        {
            "package": "openssh-server",
            "installed": "1.0",
            "candidate": "1.1",
            "severity": "important",
            "ids": ["CVE-2024-6387", "USN-6859-1"],
        }
    ]
    assert report.summary_dict()["notes"] == ["data is stale"]
