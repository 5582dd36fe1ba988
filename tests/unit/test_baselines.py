"""Baselines without hosts: made from run records with rules, host plans, diff, the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from patchtui.baselines.model import (
    DAY,
    Baseline,
    BaselineRules,
    baseline_from_run,
    below_baseline,
    diff_baselines,
    plan_host,
)
from patchtui.baselines.store import BaselineBook, baselines_path
from patchtui.drivers.versions import compare_versions
from patchtui.errors import ConfigError, StoreError

NOW = 1_750_000_000.0
RUN = {"run_id": "R1", "operation": "patch", "options": {"dry_run": False}}


def result(host: str, status: str, changes: dict[str, tuple[str, str]], **extra: Any) -> dict:
    return {
        "host": host,
        "status": status,
        "changes": [{"name": n, "before": b, "after": a} for n, (b, a) in changes.items()],
        "os": {"os_id": "debian", "os_version": "12", "family": "apt"},
        **extra,
    }


def target(name: str, *, security: bool = False, age_days: float = 0.0) -> dict:
    return {"name": name, "security": security, "first_seen": NOW - age_days * DAY}


@pytest.mark.parametrize(
    ("left", "right", "sign"),
    [
        ("1.0-1", "1.1-1", -1),
        ("1.0~rc1", "1.0", -1),
        ("1:0.9", "2.0", 1),
        ("3.0.11-1~deb12u2", "3.0.11-1~deb12u1", 1),
        ("1.2.3-r10", "1.2.3-r4", 1),
        ("5.14.0-362.8.1.el9_3", "5.14.0-362.13.1.el9_3", -1),
        ("1.10", "1.9", 1),
        ("2.0", "2.0", 0),
    ],
)
def test_version_order(left: str, right: str, sign: int) -> None:
    got = compare_versions(left, right)
    assert (got > 0) - (got < 0) == sign


def test_from_run_takes_ok_hosts_and_the_older_of_conflicting_versions() -> None:
    results = [
        result("a", "ok", {"tool": ("1.0", "1.1"), "lib": ("2.0", "2.1")}),
        result("b", "ok-reboot-required", {"tool": ("1.0", "1.2")}),
        result("c", "failed", {"tool": ("1.0", "1.3")}),
        result("d", "ok", {"gone": ("1.0", None)}),  # type: ignore[dict-item]
    ]
    baseline = baseline_from_run(
        "wk1", run=RUN, results=results, host_states={}, rules=BaselineRules(), now=NOW
    )
    assert baseline.releases == {"debian/12": {"tool": "1.1", "lib": "2.1"}}
    assert baseline.families == {"debian/12": "apt"}
    assert any("1.1 and 1.2" in note for note in baseline.notes)
    assert any(note.startswith("c: left out (failed)") for note in baseline.notes)
    assert baseline.versions_for("debian", "12") == {"tool": "1.1", "lib": "2.1"}
    assert baseline.versions_for("ubuntu", "22.04") is None


def test_rules_reject_with_reasons() -> None:
    results = [
        result(
            "a",
            "ok",
            {"openssl": ("3.0", "3.1"), "curl": ("8.0", "8.1"), "kernel-x": ("6.1", "6.2")},
            targets=[
                target("openssl", security=True, age_days=10),
                target("curl", security=True, age_days=1),
                target("kernel-x", security=True, age_days=30),
            ],
        )
    ]
    rules = BaselineRules(security_only=True, reject=("kernel*",), min_age_days=7)
    baseline = baseline_from_run(
        "sec", run=RUN, results=results, host_states={}, rules=rules, now=NOW
    )
    assert baseline.releases == {"debian/12": {"openssl": "3.1"}}
    reasons = {r.name: r.reason for r in baseline.rejected}
    assert reasons["kernel-x"] == "rejected by rule 'kernel*'"
    assert reasons["curl"].startswith("first seen 1.0 days ago")


def test_unusable_runs_are_refused() -> None:
    with pytest.raises(ConfigError, match="dry-run"):
        baseline_from_run(
            "x",
            run={**RUN, "options": {"dry_run": True}},
            results=[],
            host_states={},
            rules=BaselineRules(),
            now=NOW,
        )
    with pytest.raises(ConfigError, match="nothing to approve"):
        baseline_from_run(
            "x",
            run=RUN,
            results=[result("a", "ok", {})],
            host_states={},
            rules=BaselineRules(),
            now=NOW,
        )
    with pytest.raises(ConfigError, match="baseline name"):
        baseline_from_run(
            "no spaces", run=RUN, results=[], host_states={}, rules=BaselineRules(), now=NOW
        )


def test_release_falls_back_to_the_hosts_stored_facts() -> None:
    doc = result("a", "ok", {"tool": ("1.0", "1.1")})
    del doc["os"]
    states = {"a": {"facts": {"os_id": "rocky", "os_version": "9.3", "package_manager": "dnf"}}}
    baseline = baseline_from_run(
        "b", run=RUN, results=[doc], host_states=states, rules=BaselineRules(), now=NOW
    )
    assert baseline.releases == {"rocky/9.3": {"tool": "1.1"}}


def test_host_plan_never_downgrades_and_never_installs_new_packages() -> None:
    plan = plan_host(
        "debian/12",
        {"tool": "1.1", "lib": "2.1", "new": "1.0", "same": "3.0"},
        {"tool": "1.0", "lib": "2.2", "same": "3.0"},
    )
    assert plan.targets == {"tool": "1.1"}
    assert plan.ahead == {"lib": ("2.2", "2.1")}
    assert plan.current == ("same",) and plan.not_installed == ("new",)


def test_reject_globs_also_apply_at_promotion() -> None:
    baseline = Baseline(
        "b",
        NOW,
        {"debian/12": {"tool": "1.1", "kernel-x": "6.2"}},
        rules=BaselineRules(reject=("kernel*",)),
    )
    assert baseline.versions_for("debian", "12") == {"tool": "1.1"}


def test_diff_and_below_baseline() -> None:
    left = Baseline("l", NOW, {"debian/12": {"tool": "1.1", "lib": "2.1"}})
    right = Baseline(
        "r", NOW, {"debian/12": {"tool": "1.2", "lib": "2.1"}, "alpine/3.19": {"x": "1"}}
    )
    rows = diff_baselines(left, right)
    assert [(r.release, r.name, r.left, r.right) for r in rows] == [
        ("alpine/3.19", "x", None, "1"),
        ("debian/12", "tool", "1.1", "1.2"),
    ]
    pending = [
        {"name": "tool", "installed": "1.0", "candidate": "1.2"},
        {"name": "lib", "installed": "2.1", "candidate": "2.2"},
    ]
    assert below_baseline({"tool": "1.1", "lib": "2.1"}, pending) == [("tool", "1.0", "1.1")]


def test_book_saves_lists_replaces_and_deletes(tmp_path: Path) -> None:
    db = tmp_path / "patchtui.json"
    book = BaselineBook(db)
    assert book.list() == []
    baseline = Baseline(
        "wk1",
        NOW,
        {"debian/12": {"tool": "1.1"}},
        {"debian/12": "apt"},
        BaselineRules(True, ("k*",), 3.0),
    )
    book.save(baseline)
    assert baselines_path(db) == tmp_path / "patchtui.baselines.json"
    assert book.get("wk1") == baseline
    with pytest.raises(ConfigError, match="exists"):
        book.save(baseline)
    book.save(Baseline("wk1", NOW, {"debian/12": {"tool": "1.2"}}), replace=True)
    assert book.require("wk1").releases["debian/12"]["tool"] == "1.2"
    with pytest.raises(ConfigError, match="known: wk1"):
        book.require("nope")
    assert book.delete("wk1") and not book.delete("wk1")
    assert book.list() == []


def test_book_refuses_a_damaged_file(tmp_path: Path) -> None:
    db = tmp_path / "patchtui.json"
    baselines_path(db).write_text("{not json")
    with pytest.raises(StoreError, match="not valid JSON"):
        BaselineBook(db).list()


def test_compliance_against_a_baseline_reports_missing_versions() -> None:
    from patchtui.compliance.evaluate import NON_COMPLIANT, evaluate_fleet
    from patchtui.compliance.policy import DEFAULT_POLICY

    baseline = Baseline("wk1", NOW, {"debian/12": {"tool": "1.1"}})
    facts = {"os_id": "debian", "os_version": "12"}
    behind = {
        "name": "behind",
        "facts": facts,
        "last_scan": NOW,
        "pending": [{"name": "tool", "installed": "1.0", "candidate": "1.2", "first_seen": NOW}],
    }
    at_baseline = {**behind, "name": "current", "pending": []}
    report = evaluate_fleet([behind, at_baseline], DEFAULT_POLICY, NOW, baseline=baseline)
    first, second = report.hosts
    reason = next(r for r in first.reasons if r.code == "baseline-missing")
    assert first.status == NON_COMPLIANT and "tool 1.0 < 1.1" in reason.message
    assert not any(r.code == "baseline-missing" for r in second.reasons)


# rpm orders a caret (post-release snapshot) below the next dot release; dpkg puts it above.
# apk orders _rc below the release; dpkg puts it above. Each family's own rule must decide.
def test_conflicting_versions_are_ordered_by_the_hosts_own_family() -> None:
    rpm_os = {"os_id": "rocky", "os_version": "9.3", "family": "dnf"}
    results = [
        result("a", "ok", {"tool": ("1.0", "1.0.1")}, os=rpm_os),
        result("b", "ok", {"tool": ("1.0", "1.0^1")}, os=rpm_os),
    ]
    baseline = baseline_from_run(
        "b", run=RUN, results=results, host_states={}, rules=BaselineRules(), now=NOW
    )
    assert baseline.releases == {"rocky/9.3": {"tool": "1.0^1"}}


def test_host_plan_and_below_baseline_use_the_family_ordering() -> None:
    # On rpm, 1.0^1 < 1.0.1: a host at 1.0^1 is below an approved 1.0.1 and gets it.
    plan = plan_host("rocky/9.3", {"tool": "1.0.1"}, {"tool": "1.0^1"}, "dnf")
    assert plan.targets == {"tool": "1.0.1"} and not plan.ahead
    # On apk, 1.1_rc1 < 1.1: the host is below the approved release.
    pending = [{"name": "tool", "installed": "1.1_rc1", "candidate": "1.1"}]
    assert below_baseline({"tool": "1.1"}, pending, "apk") == [("tool", "1.1_rc1", "1.1")]
    assert below_baseline({"tool": "1.1"}, pending, "apt") == []
