"""The lab fleet, a real Ubuntu OSV record, and ``advisories --severity high`` as a user runs it.

The lab's Ubuntu 22.04 hosts have openssh-server/openssh-client 1:8.9p1-3ubuntu0.7
installed with 1:8.9p1-3ubuntu0.10 pending: exactly the versions around the fix of
UBUNTU-CVE-2024-6387 (regreSSHion, tests/data/osv, copied from Canonical's data).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from labhelp import LabProcess, json_lines, run_patchtui
from osvrecords import DEBIAN_RECORD

from patchtui.exit_codes import ExitCode
from patchtui.store.db import Store

DATA = Path(__file__).resolve().parents[1] / "data" / "osv"
FIX = "1:8.9p1-3ubuntu0.10"


def _jammy_hosts_pending_the_fix(db: Path) -> set[str]:
    """From the stored scans, independently of the advisory code: who needs the fix."""
    with Store.open(db, readonly=True) as store:
        hosts = store.hosts()
    found = set()
    for host in hosts:
        facts = host.get("facts") or {}
        if (facts.get("os_id"), facts.get("os_version")) != ("ubuntu", "22.04"):
            continue
        for update in host.get("pending") or ():
            if update.get("name") in {"openssh-server", "openssh-client"} and (
                update.get("candidate") == FIX
            ):
                found.add(str(host["name"]))
    return found


def test_sync_then_severity_high_lists_the_ubuntu_hosts_pending_the_openssh_fix(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(12, faults="none")
    db = tmp_path / "fleet.json"
    scan = run_patchtui("scan", "-i", str(lab.inventory), "--json", "--db", str(db))
    assert scan.returncode == 0, scan.stderr
    expected = _jammy_hosts_pending_the_fix(db)
    assert expected, "the lab fleet has Ubuntu 22.04 hosts pending the openssh update"

    # Before any sync: no OSV data, and the report says so.
    before = run_patchtui("advisories", "--json", "--db", str(db))
    assert before.returncode == 0, before.stderr
    assert "no OSV advisory data" in before.stderr
    assert json_lines(before.stdout)[-1]["osv"]["records"] == 0  # type: ignore[index]

    synced = run_patchtui(
        "advisories", "sync", "--from", str(DATA / "ubuntu"), "--json", "--db", str(db)
    )
    assert synced.returncode == 0, synced.stderr
    (summary,) = json_lines(synced.stdout)
    assert (summary["read"], summary["added"], summary["records"]) == (2, 2, 2)

    result = run_patchtui(
        "advisories", "--severity", "high", "--json", "--db", str(db), "--max-age", "36500"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # data within the (generous) age limit: no warning
    lines = json_lines(result.stdout)
    rows = {str(row["id"]): row for row in lines if row["type"] == "advisory"}
    assert {"CVE-2024-6387", "UBUNTU-CVE-2024-6387", "USN-6859-1"} <= set(rows)
    row = rows["UBUNTU-CVE-2024-6387"]
    assert set(row["hosts"]) == expected  # type: ignore[arg-type]
    assert row["severity"] == "important" and row["severity_words"] == ["high"]
    assert row["cvss"] == 8.1
    assert {u["fixed"] for u in row["updates"]} == {FIX}  # type: ignore[union-attr]
    # Every row shown is high (important): the medium 51385 was fixed before 0ubuntu0.7.
    assert {str(r["severity"]) for r in rows.values()} == {"important"}
    assert "CVE-2023-51385" not in rows

    # The same data judged against a one-day limit is stale, and the report says so.
    stale = run_patchtui("advisories", "--db", str(db), "--max-age", "1")
    assert stale.returncode == ExitCode.OK
    assert "OSV advisory data is stale" in stale.stderr
    assert "CVE-2024-6387" in stale.stdout and "important (high)" in stale.stdout

    # Compliance uses the same data: the HTML report names the CVE and the versions,
    # says the OSV data is stale (default limit 7 days; the record is from 2024), and
    # the oldest missing fix counts from the advisory's publication (2024-07-01).
    html_file = tmp_path / "report.html"
    report = run_patchtui(
        "compliance",
        "-i",
        str(lab.inventory),
        "--db",
        str(db),
        "--format",
        "html",
        "--output",
        str(html_file),
    )
    assert report.returncode in (ExitCode.OK, ExitCode.NON_COMPLIANT), report.stderr
    html = html_file.read_text()
    section = html.split("<h2>Missing security fixes</h2>", 1)[1].split("</table>", 1)[0]
    for name in expected:
        row = (
            f"<tr><td>{name}</td><td>openssh-server</td><td>1:8.9p1-3ubuntu0.7</td>"
            f"<td>{FIX}</td><td>important</td><td>CVE-2024-6387, "
        )
        assert row in section
    assert "OSV advisory data is stale" in html
    judged = run_patchtui("compliance", "-i", str(lab.inventory), "--db", str(db), "--json")
    hosts = {str(h["host"]): h for h in json_lines(judged.stdout) if h["type"] == "host"}
    for name in expected:
        # Published 2024-07-01; the lab scanned it seconds ago: well over a year missing.
        assert float(hosts[name]["oldest_missing_security_days"]) > 365  # type: ignore[arg-type]

    # patch --min-severity high (dry run): on the jammy hosts only the openssh fix is
    # planned (apt alone gives no severity; the Ubuntu record says high); without the
    # floor, more is.
    def planned(*extra: str) -> dict[str, set[str]]:
        dry = run_patchtui(
            "patch", "-i", str(lab.inventory), "--db", str(db), "--dry-run", "--json", *extra
        )
        assert dry.returncode == 0, dry.stderr
        return {
            str(line["host"]): {str(c["name"]) for c in line["changes"]}  # type: ignore[union-attr]
            for line in json_lines(dry.stdout)
            if line["type"] == "host_result"
        }

    # A scan after the sync: each matched update's JSON carries its advisories, while the
    # package manager's own fields and the counts stay what the scan found.
    rescan = run_patchtui("scan", "-i", str(lab.inventory), "--json", "--db", str(db))
    assert rescan.returncode == 0, rescan.stderr
    results = {
        str(line["host"]): line
        for line in json_lines(rescan.stdout)
        if line["type"] == "host_result"
    }
    for name in expected:
        ssh = next(u for u in results[name]["updates"] if u["name"] == "openssh-server")  # type: ignore[union-attr]
        assert [
            (m["id"], m["severity"], m["severity_word"], m["published"]) for m in ssh["osv"]
        ] == [("UBUNTU-CVE-2024-6387", "important", "high", "2024-07-01T00:00:00Z")]
        assert ssh["severity"] is None  # apt's own answer, unchanged
        others = [u for u in results[name]["updates"] if not u["name"].startswith("openssh")]  # type: ignore[union-attr]
        assert others and not any("osv" in u for u in others)

    floor = planned("--min-severity", "high")
    everything = planned()
    for name in expected:
        assert "openssh-server" in floor[name]
        assert floor[name] <= {"openssh-server", "openssh-client"}
        assert floor[name] < everything[name]


def test_debian_hosts_are_no_longer_hidden_from_severity_filters(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    """The issue's complaint: apt updates had no severity, so --severity hid Debian hosts."""
    lab = lab_process(12, faults="none")
    db = tmp_path / "fleet.json"
    assert run_patchtui("scan", "-i", str(lab.inventory), "--db", str(db)).returncode == 0
    with Store.open(db, readonly=True) as store:
        debian = {
            str(host["name"])
            for host in store.hosts()
            if (host.get("facts") or {}).get("os_id") == "debian"
            for update in host.get("pending") or ()
            if update.get("name") == "openssh-server"
            and update.get("candidate") == "1:9.2p1-2+deb12u3"
        }
    assert debian, "the lab fleet has Debian hosts pending the bookworm openssh fix"
    hidden = run_patchtui("advisories", "--severity", "high", "--json", "--db", str(db))
    rows = {r["id"]: r for r in json_lines(hidden.stdout) if r["type"] == "advisory"}
    assert not debian & set(rows.get("CVE-2024-6387", {}).get("hosts", []))  # type: ignore[call-overload]

    # Hand-written (tests/osvrecords.py): DSA-5724-1 fixed bookworm in 1:9.2p1-2+deb12u3.
    source = tmp_path / "debian.json"
    source.write_text(json.dumps(DEBIAN_RECORD))
    synced = run_patchtui("advisories", "sync", "--from", str(source), "--db", str(db))
    assert synced.returncode == 0, synced.stderr
    shown = run_patchtui("advisories", "--severity", "high", "--json", "--db", str(db))
    rows = {r["id"]: r for r in json_lines(shown.stdout) if r["type"] == "advisory"}
    assert debian <= set(rows["CVE-2024-6387"]["hosts"])  # type: ignore[arg-type]
    assert set(rows["DEBIAN-CVE-2024-6387"]["hosts"]) == debian  # type: ignore[arg-type]
