"""``patchtui run`` and ``patchtui doctor`` as a user runs them, against the lab over real SSH."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml
from labhelp import LabProcess, json_lines, run_patchtui

LabFactory = Callable[..., LabProcess]


def lab_hosts(lab: LabProcess) -> list[str]:
    return list(yaml.safe_load(lab.inventory.read_text())["hosts"])


def lab_faults(lab: LabProcess) -> dict[str, str]:
    """host -> fault, from the ready line's fleet: the lab's own seed decides them."""
    from patchtui.lab.fleet import build_fleet

    fleet = build_fleet(len(lab_hosts(lab)), faults="some")
    return {host.name: fault for host in fleet for fault in host.faults}


def test_run_streams_prefixed_output_and_is_stored(lab_process: LabFactory) -> None:
    lab = lab_process(7)
    hosts = lab_hosts(lab)
    result = run_patchtui("run", "-i", str(lab.inventory), "--", "echo", "hi")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    output = sorted(lines[:-1])
    width = max(len(name) for name in hosts)
    assert output == sorted(f"{name.ljust(width)} | hi" for name in hosts)
    assert lines[-1].startswith("7 hosts: 7 exited 0, 0 failed, 0 unreachable")

    history = json_lines(run_patchtui("history", "--json").stdout)
    runs = [line for line in history if line.get("operation") == "run"]
    assert len(runs) == 1 and runs[0]["status"] == "completed"
    shown = run_patchtui("history", "--run", str(runs[0]["run_id"]), "--json")
    per_host = [line for line in json_lines(shown.stdout) if line.get("host") in hosts]
    assert {line["host"] for line in per_host} == set(hosts)
    assert all(line.get("exit_status") == 0 for line in per_host), per_host


def test_failing_command_exits_1_with_per_host_status_in_json(lab_process: LabFactory) -> None:
    lab = lab_process(7)
    hosts = lab_hosts(lab)
    limit = ",".join(hosts[:3])
    result = run_patchtui(
        "run", "-i", str(lab.inventory), "--limit", limit, "--json", "--become", "--", "false"
    )
    assert result.returncode == 1, result.stderr
    lines = json_lines(result.stdout)
    assert lines[0]["type"] == "run_started" and lines[0]["command"] == "false"
    results = [line for line in lines if line["type"] == "host_result"]
    assert {line["host"] for line in results} == set(hosts[:3])
    for line in results:
        assert line["exit_status"] == 1
        assert (line["state"], line["error_kind"]) == ("failed", "exit-status")
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["operation"] == "run"
    assert (summary["hosts"], summary["failed"], summary["outcome"]) == (
        3,
        3,
        "completed-with-failures",
    )


def test_json_output_lines_and_unknown_command(lab_process: LabFactory) -> None:
    lab = lab_process(3)
    hosts = lab_hosts(lab)
    result = run_patchtui("run", "-i", str(lab.inventory), "--json", "--", "echo", "a", "b")
    assert result.returncode == 0, result.stderr
    outputs = [line for line in json_lines(result.stdout) if line["type"] == "output"]
    assert sorted(outputs, key=lambda line: str(line["host"])) == [
        {"type": "output", "host": name, "stream": "stdout", "line": "a b"}
        for name in sorted(hosts)
    ]
    # A command the host lacks: stderr lines go to stderr, prefixed; exit status 127.
    missing = run_patchtui("run", "-i", str(lab.inventory), "--", "no-such-tool", "--x")
    assert missing.returncode == 1
    assert any(
        line.endswith("| sh: 1: no-such-tool: not found") for line in missing.stderr.splitlines()
    )
    assert "[exit-status] exited with status 127" in missing.stdout


def test_run_without_a_command_is_bad_input(lab_process: LabFactory, tmp_path: Path) -> None:
    lab = lab_process(1)
    result = run_patchtui("run", "-i", str(lab.inventory), "--", " ")
    assert result.returncode == 2
    assert "give the command to run" in result.stderr


def test_doctor_on_a_faulty_fleet_names_what_to_fix(lab_process: LabFactory) -> None:
    lab = lab_process(40, faults="some")
    faults = lab_faults(lab)
    result = run_patchtui("doctor", "-i", str(lab.inventory), "--json", timeout=120)
    assert result.returncode == 1, result.stderr
    lines = json_lines(result.stdout)
    checks = {str(line["host"]): line for line in lines if line["type"] == "host_check"}
    assert len(checks) == 40
    by_fault = {fault: checks[name] for name, fault in faults.items()}
    assert by_fault["auth-refused"]["problems"] == ["auth"]
    assert by_fault["auth-refused"]["host_key"] == "ok"
    assert by_fault["changed-hostkey"]["problems"] == ["hostkey-changed"]
    assert by_fault["changed-hostkey"]["host_key"] == "CHANGED"
    assert "lab_known_hosts:" in str(by_fault["changed-hostkey"]["error"])
    assert by_fault["no-answer"]["problems"] == ["timeout"]
    healthy = [check for name, check in checks.items() if name not in faults]
    assert healthy and all(check["ok"] for check in healthy)
    for check in healthy:
        assert check["sudo"] == "ok" and check["package_manager"] in (
            "apt",
            "dnf",
            "yum",
            "zypper",
            "apk",
        )
        assert abs(float(check["clock_skew"])) < 5  # type: ignore[arg-type]
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["to_fix"] >= 3
    assert {"auth", "hostkey-changed", "timeout"} <= set(summary["problems"])  # type: ignore[arg-type]


def test_doctor_table_on_a_healthy_fleet(lab_process: LabFactory) -> None:
    lab = lab_process(5)
    result = run_patchtui("doctor", "-i", str(lab.inventory))
    assert result.returncode == 0, result.stderr
    header, _rule, *rows = result.stdout.splitlines()
    assert header.split() == [
        "HOST",
        "CONNECT",
        "HOST",
        "KEY",
        "SUDO",
        "PKG",
        "MGR",
        "CLOCK",
        "FIX",
    ]
    host_rows = [row for row in rows if row.startswith("lab-")]
    assert len(host_rows) == 5
    assert all(row.split()[1:4] == ["ok", "ok", "ok"] for row in host_rows)
    assert result.stdout.rstrip().endswith("5 hosts: 5 ready, 0 to fix")
