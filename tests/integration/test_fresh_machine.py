"""The installed command as a new user meets it: clean stderr, quiet broken pipes.

These run the ``patchtui`` console script the README's install put beside this
Python, in a clean environment (no PYTHONWARNINGS, a throwaway HOME), because a
dependency's warning or a traceback at exit only shows there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from labhelp import LabProcess

from patchtui.exit_codes import ExitCode
from patchtui.store.db import Store


def installed_patchtui() -> str:
    script = Path(sys.executable).with_name("patchtui")
    assert script.exists(), f"{script}: run the README's install command first"
    return str(script)


def clean_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": os.defpath,
        "HOME": str(home),
        "PATCHTUI_DATA_DIR": str(tmp_path / "data"),
        "LANG": "C.UTF-8",
    }


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["scan", "-i", "{missing}"], "{missing}"),
        (["history", "--db", "{tmp}/db.json", "--run", "nope"], "nope"),
        (["patch", "-i", "{missing}", "--yes"], "{missing}"),
    ],
)
def test_a_user_error_is_exactly_one_line_on_stderr(
    tmp_path: Path, argv: list[str], needle: str
) -> None:
    # Paths under this test's own directory: a machine-wide path such as /nonexistent
    # can exist on a shared machine (a test run as root once created it).
    names = {"missing": str(tmp_path / "no-such-inventory.yaml"), "tmp": str(tmp_path)}
    argv = [arg.format(**names) for arg in argv]
    needle = needle.format(**names)
    result = subprocess.run(
        [installed_patchtui(), *argv],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("patchtui: error: ") and needle in result.stderr
    assert result.returncode == ExitCode.BAD_INPUT


def test_help_and_version_print_nothing_on_stderr(tmp_path: Path) -> None:
    for argv in (["--help"], ["scan", "--help"], ["--version"]):
        result = subprocess.run(
            [installed_patchtui(), *argv],
            capture_output=True,
            text=True,
            env=clean_env(tmp_path),
            timeout=60,
            check=False,
        )
        assert result.returncode == 0 and result.stdout
        assert result.stderr == "", (argv, result.stderr)


def test_a_reader_that_goes_away_ends_the_scan_quietly(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    """``patchtui scan --json | head -1``: one line read, then the pipe closes."""
    lab = lab_process(30, faults="none")
    db = tmp_path / "db.json"
    process = subprocess.Popen(
        [installed_patchtui(), "scan", "-i", str(lab.inventory), "--json", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=clean_env(tmp_path),
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    first = json.loads(process.stdout.readline())
    process.stdout.close()  # what head does after its line
    stderr = process.stderr.read()
    code = process.wait(timeout=120)

    assert first["type"] == "run_started"
    assert stderr == ""
    assert code == ExitCode.BROKEN_PIPE
    # Nothing is lost: the run and every host it finished are in the store.
    with Store.open(db) as store:
        runs = store.runs()
        assert len(runs) == 1 and runs[0]["run_id"] == first["run_id"]
        assert runs[0].get("finished"), runs[0]
