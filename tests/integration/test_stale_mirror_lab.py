"""A lab host on a stale mirror (fault ``stale-mirror``), over real SSH: the scan flags
it in text and JSON, and compliance gives the reason ``stale-mirror``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from labhelp import LabProcess, json_lines, run_patchtui

from patchtui.exit_codes import ExitCode
from patchtui.lab.fleet import STALE_MIRROR_AGE_DAYS, build_fleet

# Seed 2's 20-host fleet: each fault on one host; the stale mirror is on an Ubuntu host
# with updates pending, so it is behind its Ubuntu peers as well as old.
SEED = 2
HOSTS = 20


def _stale_host() -> str:
    stale = [h.name for h in build_fleet(HOSTS, seed=SEED) if "stale-mirror" in h.faults]
    assert len(stale) == 1
    return stale[0]


def test_scan_flags_the_stale_mirror_and_compliance_says_so(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    stale = _stale_host()
    lab = lab_process(HOSTS, faults="some", seed=SEED)
    db = str(tmp_path / "db.json")
    result = run_patchtui("scan", "-i", str(lab.inventory), "--json", "--db", db)
    lines = json_lines(result.stdout)
    assert lines[-1]["type"] == "summary", result.stderr
    findings = [line for line in lines if line["type"] == "stale-mirror"]
    assert [line["host"] for line in findings] == [stale]
    assert lines[-1]["stale_mirrors"] == 1
    finding = findings[0]
    assert finding["release"] == "ubuntu 22.04"
    assert finding["metadata_too_old"] is True
    assert abs(float(finding["metadata_age_days"]) - STALE_MIRROR_AGE_DAYS) < 0.1  # type: ignore[arg-type]
    behind = finding["behind"]
    assert isinstance(behind, list) and behind
    assert all(item["candidate"] != item["peer_candidate"] for item in behind)
    assert all(item["peer"] != stale for item in behind)
    # The other hosts answered too (the other faults take at most one host each), and
    # none of them is flagged: fresh metadata, their peers' candidates.
    answered = [line for line in lines if line["type"] == "host_result" and line["state"] == "ok"]
    assert len(answered) >= HOSTS - 4
    ages = {str(line["host"]): line["metadata_age_seconds"] for line in answered}
    assert abs(float(ages.pop(stale)) - STALE_MIRROR_AGE_DAYS * 86_400) < 60  # type: ignore[arg-type]
    # apk hosts have no check (None); every other host's metadata is fresh.
    assert all(age is None or float(age) < 86_400 for age in ages.values())  # type: ignore[arg-type]
    assert any(age is not None for age in ages.values())

    text = run_patchtui("scan", "-i", str(lab.inventory), "--db", db)
    row = next(line for line in text.stdout.splitlines() if line.startswith(stale + " "))
    assert "stale mirror: repository metadata 45.0 days old (limit 7)" in row
    assert "older than its ubuntu 22.04 peers'" in row
    assert ", 1 on a stale mirror | " in text.stdout.splitlines()[-1]

    report = run_patchtui("compliance", "-i", str(lab.inventory), "--db", db, "--format", "json")
    assert report.returncode == ExitCode.NON_COMPLIANT, report.stderr
    verdicts = json_lines(report.stdout)
    flagged = {
        str(line["host"]): line
        for line in verdicts
        if line["type"] == "host"
        and any(reason["code"] == "stale-mirror" for reason in line["reasons"])  # type: ignore[union-attr,index]
    }
    assert list(flagged) == [stale]
    assert flagged[stale]["status"] == "non-compliant"
    assert verdicts[-1]["hosts_by_reason"]["stale-mirror"] == 1  # type: ignore[index]
