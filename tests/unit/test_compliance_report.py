"""Compliance report renderers: escaping of untrusted host data, parse-back, atomic writes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from patchtui.compliance.evaluate import ComplianceReport, evaluate_fleet
from patchtui.compliance.policy import DEFAULT_POLICY, Policy, PolicyException
from patchtui.compliance.report import FORMATS, render, write_atomically
from patchtui.errors import ConfigError

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC).timestamp()
DAY = 86400.0
EVIL = '<script>alert("x")</script>'


def _report() -> ComplianceReport:
    policy = Policy(
        name="audit",
        source="policy.yaml",
        security_grace_days=dict.fromkeys(
            ("critical", "important", "moderate", "low", "unknown"), 7
        ),
        exceptions=(
            PolicyException("db-*", "kernel*", "driver <pinned>", dt.date(2026, 12, 31), "p:3"),
            PolicyException("old-*", None, "decommissioned", dt.date(2025, 1, 1), "p:7"),
        ),
    )
    evil_update = {
        "name": EVIL,
        "candidate": "1|2",
        "security": True,
        "severity": "critical",
        "first_seen": NOW - 9 * DAY,
    }
    states = [
        {
            "name": "web|1",
            "facts": {"os_name": "Debian <12>"},
            "last_scan": NOW - 3600,
            "last_patch": NOW - 2 * DAY,
            "reboot_required": True,
            "pending": [evil_update],
        },
        {
            "name": "=cmd\x1b[31m",
            "last_scan": NOW - 7200,
            "reboot_required": False,
            "pending": [],
        },
        {
            "name": "db-1",
            "last_scan": NOW - 60,
            "reboot_required": False,
            "pending": [{"name": "kernel", "candidate": "6", "security": True, "first_seen": 0}],
        },
        {"name": "new\n1"},
    ]
    return evaluate_fleet(states, policy, NOW, source="/var/lib/patchtui/db.json")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained_and_escapes_host_data() -> None:
    page = render(_report(), "html")
    assert "<script" not in page
    assert "&lt;script&gt;" in page
    parser = _Collector()
    parser.feed(page)
    assert "script" not in parser.tags
    assert not re.search(r"(src|href)=", page)
    text = "".join(parser.text)
    assert EVIL in text  # shown to the auditor as text, intact
    for expected in (
        "Patch compliance report",
        "2026-03-01 12:00:00Z",  # generated
        "/var/lib/patchtui/db.json",  # from what data
        "audit (policy.yaml)",
        "non-compliant",
        "driver <pinned>",
        "decommissioned",
        "expired",
        "Debian <12>",
    ):
        assert expected in text, expected
    assert "\x1b" not in page


def test_csv_parses_back() -> None:
    report = _report()
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert [row["status"] for row in rows] == [host.status for host in report.hosts]
    assert rows[0]["host"] == "web|1"
    assert EVIL in rows[0]["reasons"]
    assert rows[0]["reason_codes"] == "security-pending reboot-pending"
    assert rows[0]["oldest_missing_security_days"] == "9.0"
    assert rows[1]["host"].startswith("'=")  # no spreadsheet formula from a host name
    assert rows[2]["exceptions_applied"].startswith("host db-*, package kernel*")
    assert rows[3]["host"] == "new\n1"


def test_json_lines_parse_with_summary_last() -> None:
    lines = render(_report(), "json").splitlines()
    objects = [json.loads(line) for line in lines]
    assert [obj["type"] for obj in objects] == ["host"] * 4 + ["summary"]
    assert objects[0]["host"] == "web|1"
    assert objects[0]["reasons"][0]["packages"] == [EVIL]
    summary = objects[-1]
    assert (summary["hosts"], summary["compliant"], summary["non_compliant"]) == (4, 2, 1)
    assert summary["unknown"] == 1
    assert summary["policy"]["exceptions"][1]["expires"] == "2025-01-01"
    assert summary["generated_at"] == NOW


_PROM_SAMPLE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\} -?[0-9.e+]+$'
)


def test_prometheus_lines_are_well_formed() -> None:
    text = render(_report(), "prometheus")
    assert text.endswith("\n")
    described: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            described.add(line.split()[2])
        elif line.startswith("# TYPE "):
            assert line.split()[3] == "gauge"
        else:
            assert _PROM_SAMPLE.match(line), line
            assert line.split("{")[0] in described
    assert 'patchtui_host_compliant{host="web|1"} 0' in text
    assert 'patchtui_host_pending_updates{host="web|1",class="security"} 1' in text
    assert 'patchtui_host_reboot_required{host="web|1"} 1' in text
    assert 'patchtui_host_seconds_since_last_scan{host="web|1"} 3600' in text
    assert f'patchtui_host_seconds_since_last_patch{{host="web|1"}} {int(2 * DAY)}' in text
    assert 'host="new\\n1"' in text  # newline escaped in the label
    # Never scanned: no pending or age samples that would read as "0 pending".
    assert 'patchtui_host_pending_updates{host="new\\n1"' not in text


def test_markdown_escapes_table_breakers_and_html() -> None:
    text = render(_report(), "markdown")
    assert "<script" not in text
    assert "web\\|1" in text
    assert "## Exceptions" in text and "decommissioned" in text
    hosts_part, _, fixes_part = text.partition("## Missing security fixes")
    host_rows = [line for line in hosts_part.splitlines() if line.startswith("| web")]
    assert len(host_rows) == 1
    # Every host row keeps exactly the header's cell count (escaped pipes do not split).
    cells = re.split(r"(?<!\\)\|", host_rows[0])
    assert len(cells) == 10
    fix_rows = [line for line in fixes_part.splitlines() if line.startswith("| web")]
    assert len(fix_rows) == 1
    assert len(re.split(r"(?<!\\)\|", fix_rows[0])) == 8


def test_table_is_aligned_and_free_of_control_sequences() -> None:
    text = render(_report(), "table")
    assert "\x1b" not in text
    lines = text.splitlines()
    assert lines[0].startswith("HOST")
    status_column = lines[0].index("STATUS")
    assert all(
        line[status_column:].split()[0] in ("compliant", "non-compliant", "unknown")
        for line in lines[1:5]
    )
    assert "4 hosts: 2 compliant, 1 non-compliant, 1 unknown" in text
    assert "expired exception" in text


def test_every_format_renders_and_unknown_format_is_refused() -> None:
    report = _report()
    for fmt in FORMATS:
        assert render(report, fmt).strip()
    with pytest.raises(ConfigError, match="unknown report format"):
        render(report, "pdf")


def test_write_atomically_replaces_and_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "patchtui.prom"
    write_atomically(target, "first\n")
    assert target.read_text() == "first\n"
    assert target.stat().st_mode & 0o777 == 0o644
    os.chmod(target, 0o600)
    write_atomically(target, "second\n")
    assert target.read_text() == "second\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["patchtui.prom"]  # no temp left


def test_write_atomically_cleans_up_on_failure(tmp_path: Path) -> None:
    directory = tmp_path / "sub"
    directory.mkdir()
    (directory / "report.html").mkdir()  # replacing a directory with a file fails
    with pytest.raises(OSError):
        write_atomically(directory / "report.html", "x")
    assert sorted(p.name for p in directory.iterdir()) == ["report.html"]


def test_write_atomically_never_writes_through_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("KEEP\n")
    victim.chmod(0o600)
    target = tmp_path / "report.prom"
    target.symlink_to(victim)
    write_atomically(target, "metrics\n")
    assert victim.read_text() == "KEEP\n" and victim.stat().st_mode & 0o777 == 0o600
    assert not target.is_symlink() and target.read_text() == "metrics\n"


def test_html_lists_missing_fixes_with_cve_ids_and_versions_and_the_data_note() -> None:
    state = {
        "name": "jammy-1",
        "facts": {"os_id": "ubuntu", "os_version": "22.04"},
        "last_scan": NOW - 3600,
        "reboot_required": False,
        "pending": [
            {
                "name": "openssh-server",
                "installed": "1:8.9p1-3ubuntu0.7",
                "candidate": "1:8.9p1-3ubuntu0.10",
                "security": True,
                "severity": "important",
                "cves": ["CVE-2024-6387"],
                "advisories": ["UBUNTU-CVE-2024-6387", "USN-6859-1"],
                "first_seen": NOW - 3600,
            }
        ],
    }
    report = evaluate_fleet(
        [state], DEFAULT_POLICY, NOW, notes=["OSV advisory data is stale: <old>"]
    )
    text = render(report, "html")
    section = text.split("<h2>Missing security fixes</h2>", 1)[1].split("</table>", 1)[0]
    assert (
        "<td>jammy-1</td><td>openssh-server</td><td>1:8.9p1-3ubuntu0.7</td>"
        "<td>1:8.9p1-3ubuntu0.10</td><td>important</td>"
        "<td>CVE-2024-6387, UBUNTU-CVE-2024-6387, USN-6859-1</td>"
    ) in section
    assert "OSV advisory data is stale: &lt;old&gt;" in text
    assert "note: OSV advisory data is stale" in render(report, "table")


def test_never_scanned_host_says_not_scanned_not_zero_missing() -> None:
    """Issue 16: a never-scanned host read "0 missing / 0 security", as if it were clean."""
    report = _report()
    table = render(report, "table").splitlines()
    never = next(line for line in table if line.startswith("new 1"))
    clean = next(line for line in table if line.startswith("=cmd"))
    assert re.search(r"\bnot scanned\s+-\s", never), never
    assert " 0 " in clean and "not scanned" not in clean  # scanned, nothing missing: 0
    markdown = render(report, "markdown")
    assert re.search(r"\| new 1 \| unknown \| not scanned \| - \|", markdown)
    assert re.search(r"\| =cmd\S* \| \w[\w-]* \| 0 \| 0 \|", markdown)
    html = render(report, "html")
    assert '<td class="n">not scanned</td><td class="n">-</td>' in html
    # The machine formats keep their numbers (the status and reasons say unknown).
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert next(row for row in rows if row["host"] == "new\n1")["missing"] == "0"
