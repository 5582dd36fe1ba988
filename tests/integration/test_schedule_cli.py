"""``patchtui schedule`` as a user runs it, on a lab inventory with two maintenance
windows: two patch timers, files written safely, an offline install under a temporary
root, and the generated command itself run against the lab over real SSH."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from labhelp import LabProcess, json_lines, run_patchtui

BERLIN = "Sun 02:00-04:00 Europe/Berlin"
NIGHT = "Sat,Sun 22:00-02:00 UTC"
PATCHTUI = "/opt/fake/bin/patchtui"  # what the units name; checked below, never run


def with_windows(lab: LabProcess, windows: dict[int, str]) -> tuple[Path, list[str]]:
    """The lab's inventory with host number -> window; returns it and the host names."""
    data = yaml.safe_load(lab.inventory.read_text())
    names = list(data["hosts"])
    for index, window in windows.items():
        data["hosts"][names[index]]["vars"] = {"maintenance_window": window}
    path = lab.directory / "windows.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path, names


def directive(text: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}=")]


def test_two_windows_two_timers_written_safely(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(6)
    inventory, names = with_windows(lab, {0: BERLIN, 1: BERLIN, 2: NIGHT, 3: NIGHT, 4: NIGHT})
    out = tmp_path / "units"
    args = ["schedule", "-i", str(inventory), "--output", str(out), "--run-as", "ops"]
    done = run_patchtui(*args, "--", "--security-only", "--batch", "50%")
    assert done.returncode == 0, done.stderr
    written = sorted(path.name for path in out.iterdir())
    berlin = "patchtui-patch-sun-0200-0400-europe-berlin"
    night = "patchtui-patch-sat-sun-2200-0200-utc"
    assert written == sorted(
        [
            f"{berlin}.service",
            f"{berlin}.timer",
            f"{night}.service",
            f"{night}.timer",
            "patchtui-scan.service",
            "patchtui-scan.timer",
            "patchtui.crontab",
        ]
    )
    assert directive((out / f"{berlin}.timer").read_text(), "OnCalendar") == [
        "Sun *-*-* 02:00:00 Europe/Berlin"
    ]
    assert directive((out / f"{night}.timer").read_text(), "OnCalendar") == [
        "Sat,Sun *-*-* 22:00:00 UTC"
    ]
    (start,) = directive((out / f"{night}.service").read_text(), "ExecStart")
    assert f"patch -i {inventory} --limit {','.join(names[2:5])} --yes --json" in start
    assert start.endswith('--security-only --batch "50%%"')
    assert f"not scheduled: 1 hosts have no maintenance window ({names[5]})" in done.stdout
    if shutil.which("systemd-analyze"):
        assert "verified 6 units with systemd-analyze" in done.stdout
    else:
        assert "systemd-analyze not found: units not verified" in done.stderr

    # Again without --force: refused, nothing touched.
    before = (out / f"{night}.timer").read_text()
    again = run_patchtui(*args)
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.startswith("patchtui: error: ") and "--force replaces them" in again.stderr
    assert len(again.stderr.splitlines()) == 1

    # A symlink planted at a unit's name is refused even with --force, not written through.
    target = tmp_path / "elsewhere"
    target.write_text("keep me\n")
    (out / f"{night}.timer").unlink()
    os.symlink(target, out / f"{night}.timer")
    planted = run_patchtui(*args, "--force")
    assert planted.returncode == 2 and "is a symbolic link" in planted.stderr
    assert target.read_text() == "keep me\n"
    (out / f"{night}.timer").unlink()

    # --force replaces what is there.
    (out / f"{berlin}.timer").write_text("stale\n")
    forced = run_patchtui(*args, "--force")
    assert forced.returncode == 0, forced.stderr
    assert (out / f"{berlin}.timer").read_text() != "stale\n"
    assert (out / f"{night}.timer").read_text() == before
    assert not [path for path in out.iterdir() if path.name.startswith(".")]  # no temp left


def test_json_output_and_flags_checked_by_the_real_patch_parser(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(4)
    inventory, names = with_windows(lab, {0: BERLIN, 1: NIGHT})
    done = run_patchtui(
        "schedule", "-i", str(inventory), "--json", "--no-scan", "--patchtui", PATCHTUI
    )
    # The fake patchtui does not exist: systemd-analyze says so, and nothing is printed.
    if shutil.which("systemd-analyze"):
        assert done.returncode == 2 and done.stdout == ""
        assert "do not verify" in done.stderr and "/opt/fake/bin/patchtui" in done.stderr
    real = run_patchtui("schedule", "-i", str(inventory), "--json", "--no-scan")
    assert real.returncode == 0, real.stderr
    lines = json_lines(real.stdout)
    windows = {line["window"]: line for line in lines if line["type"] == "window"}
    assert windows[f"window {BERLIN}"]["hosts"] == [names[0]]
    assert windows[f"window {NIGHT}"]["on_calendar"] == ["Sat,Sun *-*-* 22:00:00 UTC"]
    summary = lines[-1]
    assert summary["type"] == "summary" and len(summary["timers"]) == 2
    assert summary["unscheduled"] == names[2:] and summary["written"] == []

    for flags, message in (
        (["--limit", "web"], "give --limit to 'schedule' itself"),
        (["--ask-become-pass"], "--ask-become-pass cannot work unattended"),
        (["--batch", "lots"], "--batch"),
        (["--no-such-flag"], "patch flags after --: unrecognized arguments: --no-such-flag"),
        (["--format", "matrix"], "--format matrix previews a dry run"),
        (["--baseline", "wk99"], "no baseline 'wk99' (known: none yet)"),
    ):
        bad = run_patchtui("schedule", "-i", str(inventory), "--", *flags)
        assert bad.returncode == 2, (flags, bad.stderr)
        assert bad.stdout == "" and len(bad.stderr.splitlines()) == 1
        assert message in bad.stderr, bad.stderr


@pytest.mark.skipif(shutil.which("systemctl") is None, reason="systemctl not installed")
def test_install_under_a_temporary_root_enables_the_timers_offline(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    """--install into a --root directory: never this machine's systemd."""
    lab = lab_process(3)
    inventory, _ = with_windows(lab, {0: BERLIN, 1: NIGHT})
    root = tmp_path / "root"
    done = run_patchtui("schedule", "-i", str(inventory), "--install", "--root", str(root))
    assert done.returncode == 0, done.stderr
    system = root / "etc" / "systemd" / "system"
    timers = sorted(path.name for path in system.glob("*.timer"))
    assert len(timers) == 3  # scan + two windows
    wants = system / "timers.target.wants"
    assert sorted(path.name for path in wants.iterdir()) == timers
    assert all((wants / name).is_symlink() for name in timers)
    assert not list(system.glob("*.crontab"))
    assert f"ran {shutil.which('systemctl')} --root={root} enable" in done.stdout


def test_the_generated_command_runs_against_the_lab(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    """The crontab line's command, as cron's shell would run it, patches (dry run) exactly
    the window's hosts over real SSH. A window open all day keeps the real clock out."""
    lab = lab_process(4)
    inventory, names = with_windows(lab, {1: "daily 00:00-24:00", 3: "daily 00:00-24:00"})
    out = tmp_path / "units"
    db = tmp_path / "db.json"
    done = run_patchtui(
        "schedule",
        "-i",
        str(inventory),
        "--db",
        str(db),
        "--output",
        str(out),
        "--no-scan",
        "--",
        "--dry-run",
    )
    assert done.returncode == 0, done.stderr
    crontab = (out / "patchtui.crontab").read_text().splitlines()
    (line,) = [line for line in crontab if line and not line.startswith(("#", "CRON_TZ"))]
    command = line.split(" ", 5)[5].split(" >> ")[0].replace("\\%", "%")
    assert shlex.split(command)[-10:] == [
        "patch",
        "-i",
        str(inventory),
        "--db",
        str(db),
        "--limit",
        f"{names[1]},{names[3]}",
        "--yes",
        "--json",
        "--dry-run",
    ]
    ran = subprocess.run(
        ["/bin/sh", "-c", command], capture_output=True, text=True, timeout=240, check=False
    )
    assert ran.returncode == 0, ran.stderr
    results = [json.loads(line) for line in ran.stdout.splitlines()]
    finished = {line["host"] for line in results if line["type"] == "host_result"}
    assert finished == {names[1], names[3]}
    assert results[-1]["type"] == "summary" and results[-1]["dry_run"] is True


def test_user_units_install_under_a_root_and_say_what_is_left(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(2)
    inventory, _ = with_windows(lab, {0: BERLIN})
    root = tmp_path / "root"
    done = run_patchtui(
        "schedule", "-i", str(inventory), "--install", "--user", "--root", str(root), "--no-scan"
    )
    assert done.returncode == 0, done.stderr
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    units = root / Path(config).relative_to("/") / "systemd" / "user"
    (timer,) = units.glob("*.timer")
    assert timer.name == "patchtui-patch-sun-0200-0400-europe-berlin.timer"
    service = (units / timer.name.replace(".timer", ".service")).read_text()
    assert "\nUser=" not in service  # user units run as the user
    assert f"systemctl --user enable --now {timer.name}" in done.stdout
    assert not (units / "timers.target.wants").exists()
