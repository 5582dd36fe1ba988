"""The installed package carries what the console needs: themes and stylesheet."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wheel_ships_themes_and_stylesheet(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO),
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = tmp_path.glob("patchtui-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    themes = {Path(name).name for name in names if name.startswith("patchtui/themes/")}
    assert {"dark.yaml", "light.yaml", "high-contrast.yaml"} <= themes
    assert themes == {path.name for path in (REPO / "themes").glob("*.yaml")}
    assert "patchtui/tui/app.tcss" in names
    assert "patchtui/py.typed" in names
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "patchtui = patchtui.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
