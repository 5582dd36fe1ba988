"""``patchtui advisories`` rows from stored host state: grouping, filters, order."""

from __future__ import annotations

from patchtui.advisories.pending import advisory_rows

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


def test_rows_group_by_id_most_severe_then_oldest_first() -> None:
    rows = advisory_rows(STATES)
    assert [r.id for r in rows] == [
        "CVE-2024-1",  # critical, first seen at 200 on rocky-2
        "CVE-2024-2",  # critical, first seen at 300
        "RLSA-1",  # the advisory is listed beside the CVEs it fixes
        "RLSA-9",  # moderate, although seen before every critical one
        "bookworm-security:curl",  # apt gives no severity, only the security origin
    ]
    first_cve = rows[0]
    assert first_cve.hosts == {"rocky-1", "rocky-2"} and first_cve.oldest_first_seen == 200.0
    assert first_cve.severity == "critical" and first_cve.packages == {"openssl"}
    assert rows[-1].severity == "unknown"


def test_an_osv_match_gives_its_own_severity_word_score_and_publication() -> None:
    update = {
        "name": "openssh-server",
        "installed": "1:8.9p1-3ubuntu0.7",
        "candidate": "1:8.9p1-3ubuntu0.10",
        "security": True,
        "severity": "important",
        "cves": ["CVE-2024-6387"],
        "advisories": ["UBUNTU-CVE-2024-6387", "USN-6859-1"],
        "first_seen": 5.0,
        "osv": [
            {
                "id": "UBUNTU-CVE-2024-6387",
                "ids": ["UBUNTU-CVE-2024-6387", "USN-6859-1"],
                "cves": ["CVE-2024-6387"],
                "severity": "important",
                "severity_word": "high",
                "cvss": 8.1,
                "published": "2024-07-01T00:00:00Z",
                "fixed": "1:8.9p1-3ubuntu0.10",
            }
        ],
    }
    rows = advisory_rows([*STATES, {"name": "jammy-1", "pending": [update]}], severity="important")
    assert [r.id for r in rows] == ["CVE-2024-6387", "UBUNTU-CVE-2024-6387", "USN-6859-1"]
    row = rows[0]
    assert (row.words, row.cvss, row.published) == ({"high"}, 8.1, 1719792000.0)
    assert row.updates == [
        {
            "host": "jammy-1",
            "package": "openssh-server",
            "installed": "1:8.9p1-3ubuntu0.7",
            "candidate": "1:8.9p1-3ubuntu0.10",
            "fixed": "1:8.9p1-3ubuntu0.10",
            "source": "UBUNTU-CVE-2024-6387",
        }
    ]


def test_filters_by_cve_and_severity() -> None:
    assert [r.hosts for r in advisory_rows(STATES, cve="cve-2024-2")] == [{"rocky-1"}]
    assert [r.id for r in advisory_rows(STATES, severity="moderate")] == ["RLSA-9"]
    assert advisory_rows(STATES, cve="CVE-1999-0") == []


def test_rows_name_their_cves_and_fixed_versions() -> None:
    """What the console's advisories screen shows per row: CVE ids and the fixing versions."""
    states = [
        {
            "name": "rocky-1",
            "pending": [
                {
                    "name": "openssl",
                    "installed": "3.0.7-1",
                    "candidate": "3.0.7-3",
                    "security": True,
                    "cves": ["CVE-2024-1", "CVE-2024-2"],
                    "advisories": ["RLSA-1"],
                }
            ],
        },
        {
            "name": "jammy-1",
            "pending": [
                {
                    "name": "openssh-server",
                    "installed": "1:8.9p1-3ubuntu0.7",
                    "candidate": "1:8.9p1-3ubuntu0.11",
                    "cves": ["CVE-2024-6387", "CVE-2099-1"],
                    "advisories": ["UBUNTU-CVE-2024-6387"],
                    "osv": [
                        {
                            "id": "UBUNTU-CVE-2024-6387",
                            "ids": ["UBUNTU-CVE-2024-6387"],
                            "cves": ["CVE-2024-6387"],
                            "severity": "important",
                            "fixed": "1:8.9p1-3ubuntu0.10",
                        }
                    ],
                }
            ],
        },
    ]
    rows = {row.id: row for row in advisory_rows(states)}
    assert rows["RLSA-1"].cves == {"CVE-2024-1", "CVE-2024-2"}
    assert rows["CVE-2024-2"].cves == {"CVE-2024-2"}
    assert rows["RLSA-1"].fixed_versions == ["3.0.7-3"]  # no OSV record: the candidate
    # The OSV record names its own CVE, not every CVE the update's changelog lists.
    assert rows["UBUNTU-CVE-2024-6387"].cves == {"CVE-2024-6387"}
    assert rows["UBUNTU-CVE-2024-6387"].fixed_versions == ["1:8.9p1-3ubuntu0.10"]
    assert rows["UBUNTU-CVE-2024-6387"].to_json()["cves"] == ["CVE-2024-6387"]


def test_without_cve_rows_an_advisory_stands_for_its_cves() -> None:
    """The console's view: one row per fix; a CVE no advisory covers keeps its own row."""
    rows = {row.id: row for row in advisory_rows(STATES, cve_rows=False)}
    assert set(rows) == {"RLSA-1", "CVE-2024-1", "RLSA-9", "bookworm-security:curl"}
    assert rows["RLSA-1"].cves == {"CVE-2024-1", "CVE-2024-2"}
    assert rows["RLSA-1"].hosts == {"rocky-1"}
    assert rows["CVE-2024-1"].hosts == {"rocky-2"}  # rocky-2's update names no advisory
