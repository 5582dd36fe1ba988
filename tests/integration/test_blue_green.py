"""Blue-green patch runs end to end: the real CLI, real SSH, the lab, a real switch command."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

import yaml
from labhelp import LabProcess, json_lines, run_patchtui

from patchtui.exit_codes import ExitCode

GREEN = ("lab-deb-0001", "lab-ubu-0002", "lab-rhel-0003")
BLUE = ("lab-rocky-0004", "lab-cent-0005", "lab-suse-0006")


def _coloured_inventory(lab: LabProcess) -> str:
    """The lab's inventory with a ``color`` label, and a group of that name, on every host
    (written beside it: the same keys)."""
    document = yaml.safe_load(lab.inventory.read_text())
    for name, entry in document["hosts"].items():
        colour = "green" if name in GREEN else "blue"
        entry["labels"]["color"] = colour
        entry["groups"].append(colour)
    document["groups"].update({"green": {}, "blue": {}})
    path = lab.directory / "coloured.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return str(path)


def _installed(inventory: str, db: str) -> dict[str, dict[str, str]]:
    scan = run_patchtui("scan", "-i", inventory, "--db", db, "--json")
    assert scan.returncode == 0, scan.stderr
    return {
        str(line["host"]): {u["name"]: u["installed"] for u in line["updates"]}  # type: ignore[union-attr]
        for line in json_lines(scan.stdout)
        if line["type"] == "host_result"
    }


def _blue_green(
    inventory: str, db: str, marker: Path, *extra: str
) -> tuple[int, list[dict[str, object]]]:
    switch = f"echo flip >> {shlex.quote(str(marker))} && echo now serving green"
    result = run_patchtui(
        "patch", "-i", inventory, "--db", db, "--blue-green", "color", "--idle", "green",
        "--switch", switch, "--reboot", "never", "--batch", "2", "--max-failures", "5",
        "--yes", "--json", *extra,
    )  # fmt: skip
    assert result.stderr == "", result.stderr
    return result.returncode, json_lines(result.stdout)


def test_a_failing_green_host_never_switches_and_never_touches_blue(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(6, extra=("--fault", "unhealthy-after-patch=lab-ubu-0002"))
    inventory, db = _coloured_inventory(lab), str(tmp_path / "db.json")
    marker = tmp_path / "switched"
    before = _installed(inventory, db)

    code, lines = _blue_green(
        inventory, db, marker, "--health-check", "systemctl is-active app",
        "--health-timeout", "1", "--health-interval", "0.3",
    )  # fmt: skip

    assert code == ExitCode.HALTED
    assert not marker.exists(), "the switch command ran"
    summary = lines[-1]
    assert summary["halted"] is True
    assert summary["halt_reason"] == (
        "blue-green: green is not fully healthy (lab-ubu-0002 failed); switch not run, "
        "blue untouched"
    )
    blue_green = summary["blue_green"]
    assert isinstance(blue_green, dict)
    assert blue_green["switched"] is False and blue_green["switch_result"]["ran"] is False
    assert [p["hosts"] for p in blue_green["phases"]] == [list(GREEN), list(BLUE)]
    switch = [line for line in lines if line["type"] == "switch"]
    assert len(switch) == 1 and switch[0]["exit_status"] is None
    # Blue: never connected to, skipped because of the halt, not a version changed.
    for line in lines:
        if line["type"] == "host_state" and line["host"] in BLUE:
            assert line["state"] == "queued", line
    results = {line["host"]: line for line in lines if line["type"] == "host_result"}
    assert all(results[name]["result"] == "skipped" for name in BLUE)
    assert all(results[name]["error_kind"] == "halted" for name in BLUE)
    assert results["lab-ubu-0002"]["error_kind"] == "health-check"
    after = _installed(inventory, db)
    assert {name: after[name] for name in BLUE} == {name: before[name] for name in BLUE}
    stored = json_lines(
        run_patchtui("history", "--db", db, "--run", str(summary["run_id"]), "--json").stdout
    )
    for line in stored:
        if line.get("host") in BLUE:
            assert line["status"] == "skipped" and line["changes"] == [] and line["before"] == {}


def test_happy_blue_green_switches_once_between_the_phases(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(6)
    inventory, db = _coloured_inventory(lab), str(tmp_path / "db.json")
    marker = tmp_path / "switched"

    code, lines = _blue_green(inventory, db, marker)

    assert code == ExitCode.OK, lines[-1]
    assert marker.read_text() == "flip\n"  # once
    kinds = [(line["type"], line.get("host")) for line in lines]
    switch_at = kinds.index(("switch", None))
    green_done = max(kinds.index(("host_result", name)) for name in GREEN)
    blue_started = min(
        index
        for index, line in enumerate(lines)
        if line["type"] == "host_state" and line["host"] in BLUE and line["state"] == "connecting"
    )
    assert green_done < switch_at < blue_started
    switch = lines[switch_at]
    assert switch["exit_status"] == 0 and switch["output"] == ["now serving green"]
    phases = [line for line in lines if line["type"] == "phase_started"]
    assert [(p["label"], p["hosts"]) for p in phases] == [
        ("green (idle)", list(GREEN)),
        ("blue (after the switch)", list(BLUE)),
    ]
    waves = [line["label"] for line in lines if line["type"] == "wave_started"]
    assert waves == [
        "green (idle): wave 1/2",
        "green (idle): wave 2/2",
        "blue (after the switch): wave 1/2",
        "blue (after the switch): wave 2/2",
    ]
    summary = lines[-1]
    assert summary["ok"] == 6 and summary["blue_green"]["switched"] is True  # type: ignore[index]
    assert _installed(inventory, db) == {name: {} for name in (*GREEN, *BLUE)}


def test_a_failing_switch_halts_before_blue(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    """Two groups, the second named idle; the switch's exit status decides."""
    lab = lab_process(6)
    inventory, db = _coloured_inventory(lab), str(tmp_path / "db.json")
    result = run_patchtui(
        "patch", "-i", inventory, "--db", db, "--blue-green", "blue,green",
        "--switch", "echo lb refused; exit 7", "--reboot", "never", "--yes", "--json",
        "--limit", "lab-rhel-0003,lab-cent-0005",
    )  # fmt: skip
    assert result.returncode == ExitCode.HALTED, result.stderr
    lines = json_lines(result.stdout)
    summary = lines[-1]
    assert summary["halt_reason"] == (
        "blue-green: switch command exited 7; blue untouched (green is patched and still idle)"
    )
    switch = next(line for line in lines if line["type"] == "switch")
    assert switch["output"] == ["lb refused"] and switch["exit_status"] == 7
    results = {line["host"]: line for line in lines if line["type"] == "host_result"}
    assert results["lab-cent-0005"]["result"] == "skipped"


def test_blue_green_bad_input_is_one_line(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(6)
    inventory, db = _coloured_inventory(lab), str(tmp_path / "db.json")
    cases = [
        (("--blue-green", "color", "--switch", "true"), "say which colour is idle"),
        (("--blue-green", "color", "--idle", "green"), "--blue-green needs --switch CMD"),
        (("--blue-green", "color", "--idle", "red", "--switch", "true"), "--idle 'red'"),
        (("--blue-green", "os", "--idle", "debian", "--switch", "true"), "exactly two values"),
        (("--switch", "true"), "--switch only goes with --blue-green"),
    ]
    for flags, message in cases:
        # --dry-run: should a case slip through, it changes nothing.
        result = run_patchtui("patch", "-i", inventory, "--db", db, "--dry-run", *flags)
        assert result.returncode == ExitCode.BAD_INPUT, (flags, result.stderr)
        assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
        assert "Traceback" not in result.stderr


def test_a_blue_green_dry_run_plans_both_colours_and_never_switches(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(6)
    inventory, db = _coloured_inventory(lab), str(tmp_path / "db.json")
    marker = tmp_path / "switched"
    code, lines = _blue_green(inventory, db, marker, "--dry-run")
    assert code == ExitCode.OK and not marker.exists()
    switch = next(line for line in lines if line["type"] == "switch")
    assert switch["exit_status"] is None and switch["reason"] == "dry run (it would run here)"
    results = {line["host"]: line for line in lines if line["type"] == "host_result"}
    assert {results[name]["result"] for name in (*GREEN, *BLUE)} == {"planned"}
    summary = lines[-1]
    assert summary["outcome"] == "dry-run" and summary["blue_green"]["switched"] is False  # type: ignore[index]
