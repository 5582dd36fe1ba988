"""The console's host filter by CVE/advisory and its sort by severity (pure functions)."""

from __future__ import annotations

from patchtui.engine.events import HostState
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


def test_a_plain_cve_or_advisory_id_filters_too() -> None:
    """Seen: '/CVE-2024-6387' showed 0/40 hosts; only 'cve:CVE-…' worked, and nothing said so."""
    a, b, c = row("a", CRITICAL), row("b", LOW), row("c", PLAIN)
    assert [r.name for r in (a, b, c) if matches(r, "CVE-2024-0001")] == ["a"]
    assert [r.name for r in (a, b, c) if matches(r, "rlsa-2024")] == ["b"]


def test_state_and_reboot_terms() -> None:
    """Seen: filtering 'reboot' gave 0/300 shown; there was no way to say 'failed only'."""
    failed = HostRow(name="f", state=HostState.FAILED)
    reboot = HostRow(name="r", state=HostState.OK, reboot_required=True)
    unknown = HostRow(name="u", state=HostState.OK, reboot_required=None)
    rows = (failed, reboot, unknown)
    assert [r.name for r in rows if matches(r, "state:failed")] == ["f"]
    assert [r.name for r in rows if matches(r, "reboot")] == ["r"]
    assert [r.name for r in rows if matches(r, "reboot:?")] == ["f", "u"]
    assert [r.name for r in rows if matches(r, "state:ok reboot:yes")] == ["r"]


def test_the_filter_forms_are_listed_in_help() -> None:
    from patchtui.tui.app import PatchtuiApp
    from patchtui.tui.screens.help import help_rows

    described = dict(help_rows(PatchtuiApp.BINDINGS))
    assert "/ state:failed" in described and "/ reboot" in described
    assert any("CVE" in keys for keys in described)


def test_severity_sort_puts_critical_fixes_first() -> None:
    rows = [
        row("plain", PLAIN),
        row("low", LOW),
        row("crit", CRITICAL),
        row("crit2", CRITICAL, CRITICAL),
    ]
    ordered = sorted(rows, key=lambda r: sort_key(r, "severity"))
    assert [r.name for r in ordered] == ["crit2", "crit", "low", "plain"]
