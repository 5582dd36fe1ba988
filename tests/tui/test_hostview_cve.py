"""The console's host filter by CVE/advisory and its sort by severity (pure functions)."""

from __future__ import annotations

from patchtui.tui.hostview import HostRow, matches, sort_key


def row(name: str, *updates: dict[str, object]) -> HostRow:
    return HostRow(name=name, updates=[dict(update) for update in updates])


CRITICAL = {"name": "openssl", "security": True, "severity": "critical", "cves": ["CVE-2024-0001"]}
LOW = {"name": "curl", "security": True, "severity": "low", "advisories": ["RLSA-2024:0002"]}
PLAIN = {"name": "vim", "security": False}


def test_cve_term_matches_hosts_with_a_fix_pending() -> None:
    a, b, c = row("a", CRITICAL), row("b", LOW), row("c", PLAIN)
    assert [r.name for r in (a, b, c) if matches(r, "cve:CVE-2024-0001")] == ["a"]
    assert [r.name for r in (a, b, c) if matches(r, "cve:rlsa-2024:0002")] == ["b"]
    assert [r.name for r in (a, b, c) if matches(r, "CVE:cve-2024-")] == ["a"]
    # Combined with other terms, all must match.
    assert not matches(a, "cve:CVE-2024-0001 nomatch")


def test_severity_sort_puts_critical_fixes_first() -> None:
    rows = [
        row("plain", PLAIN),
        row("low", LOW),
        row("crit", CRITICAL),
        row("crit2", CRITICAL, CRITICAL),
    ]
    ordered = sorted(rows, key=lambda r: sort_key(r, "severity"))
    assert [r.name for r in ordered] == ["crit2", "crit", "low", "plain"]
