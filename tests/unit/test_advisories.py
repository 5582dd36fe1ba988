"""``patchtui advisories`` rows from stored host state: grouping, filters, order."""

from __future__ import annotations

from patchtui.headless.cmd_advisories import advisory_rows

STATES = [
    {
        "name": "rocky-1",
        "pending": [
            {
                "name": "openssl",
                "security": True,
                "severity": "critical",
                "cves": ["CVE-2024-1", "CVE-2024-2"],
                "advisories": ["RLSA-1"],
                "first_seen": 300.0,
            },
            {"name": "vim", "security": False, "first_seen": 10.0},
        ],
    },
    {
        "name": "rocky-2",
        "pending": [
            {
                "name": "openssl",
                "security": True,
                "severity": "critical",
                "cves": ["CVE-2024-1"],
                "first_seen": 200.0,
            },
            {
                "name": "kernel",
                "security": True,
                "severity": "moderate",
                "advisories": ["RLSA-9"],
                "first_seen": 100.0,
            },
        ],
    },
    {
        "name": "deb-1",
        "pending": [
            {
                "name": "curl",
                "security": True,
                "repository": "bookworm-security",
                "first_seen": 50.0,
            },
        ],
    },
]


def test_rows_group_by_id_oldest_first() -> None:
    rows = advisory_rows(STATES)
    assert [r.id for r in rows] == [
        "bookworm-security:curl",
        "RLSA-9",
        "CVE-2024-1",
        "CVE-2024-2",
        "RLSA-1",  # the advisory is listed beside the CVEs it fixes
    ]
    first_cve = rows[2]
    assert first_cve.hosts == {"rocky-1", "rocky-2"} and first_cve.oldest_first_seen == 200.0
    assert first_cve.severity == "critical" and first_cve.packages == {"openssl"}
    assert rows[0].severity == "unknown"  # apt gives no severity, only the security origin


def test_filters_by_cve_and_severity() -> None:
    assert [r.hosts for r in advisory_rows(STATES, cve="cve-2024-2")] == [{"rocky-1"}]
    assert [r.id for r in advisory_rows(STATES, severity="moderate")] == ["RLSA-9"]
    assert advisory_rows(STATES, cve="CVE-1999-0") == []
