"""Headless scan against the lab, end to end: real processes, real SSH, real parsers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from labhelp import LabProcess, json_lines, run_patchtui

from patchtui.store.db import Store


def test_scan_of_a_clean_fleet_is_all_ok_and_lands_in_the_db(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(12, faults="none")
    db = tmp_path / "scan.json"

    result = run_patchtui("scan", "-i", str(lab.inventory), "--json", "--db", str(db))

    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout)
    summary = lines[-1]
    assert summary["type"] == "summary"
    assert summary["hosts"] == 12 and summary["ok"] == 12
    assert summary["failed"] == 0 and summary["unreachable"] == 0
    results = [line for line in lines if line["type"] == "host_result"]
    assert len(results) == 12
    assert summary["pending"] == sum(int(line["pending"]) for line in results)  # type: ignore[call-overload]
    assert summary["pending"] > 0 and summary["security"] > 0
    families = {line["package_manager"] for line in results}
    assert families == {"apt", "dnf", "yum", "zypper", "apk"}
    alpine = next(line for line in results if line["package_manager"] == "apk")
    assert alpine["security_supported"] is False and alpine["security"] is None

    with Store.open(db) as store:
        hosts = {host["name"]: host for host in store.hosts()}
        runs = store.runs()
    assert len(hosts) == 12
    assert all(host["last_state"] == "ok" and host.get("last_scan") for host in hosts.values())
    some = next(line for line in results if int(line["pending"]) > 0)  # type: ignore[call-overload]
    stored = hosts[str(some["host"])]
    assert stored["pending_count"] == some["pending"]
    assert {p["name"] for p in stored["pending"]} == {u["name"] for u in some["updates"]}  # type: ignore[union-attr]
    assert runs[0]["operation"] == "scan" and runs[0]["status"] == "completed"


def test_faulty_hosts_are_reported_as_such_and_exit_1(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(60, faults="some")

    result = run_patchtui(
        "scan", "-i", str(lab.inventory), "--json", "--db", str(tmp_path / "db.json")
    )

    assert result.returncode == 1, result.stderr
    lines = json_lines(result.stdout)
    by_host = {line["host"]: line for line in lines if line["type"] == "host_result"}
    kinds = {line["error_kind"] for line in by_host.values() if line["state"] != "ok"}
    assert {"auth", "hostkey-changed", "locked"} <= kinds
    assert "timeout" in kinds  # the host that never answers
    summary = lines[-1]
    assert summary["ok"] == sum(1 for line in by_host.values() if line["state"] == "ok")
    assert summary["ok"] + summary["failed"] + summary["unreachable"] == 60
    assert summary["unreachable"] >= 1 and summary["failed"] >= 3
    changed = next(line for line in by_host.values() if line["error_kind"] == "hostkey-changed")
    assert "changed" in str(changed["error"]).lower()


def test_human_output_is_a_table_and_a_summary(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(7, faults="none")

    result = run_patchtui("scan", "-i", str(lab.inventory), "--db", str(tmp_path / "db.json"))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == [
        "HOST",
        "OS",
        "STATE",
        "PENDING",
        "SECURITY",
        "REBOOT",
        "NOTE",
    ]
    assert "7 hosts: 7 ok, 0 failed, 0 unreachable" in result.stdout


def test_limit_selects_hosts_and_bad_pattern_is_one_line_exit_2(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(7, faults="none")
    db = str(tmp_path / "db.json")

    limited = run_patchtui(
        "scan", "-i", str(lab.inventory), "--limit", "os=debian", "--json", "--db", db
    )
    bad = run_patchtui("scan", "-i", str(lab.inventory), "--limit", "nosuchgroup", "--db", db)

    assert limited.returncode == 0, limited.stderr
    assert json_lines(limited.stdout)[-1]["hosts"] == 1
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "nosuchgroup" in bad.stderr
    assert "Traceback" not in bad.stderr
