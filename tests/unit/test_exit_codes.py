"""Exit codes are public API: the README's table must match the enum."""

from __future__ import annotations

import re
from pathlib import Path

from patchtui.exit_codes import ExitCode, describe

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_exit_code_is_documented_in_the_readme() -> None:
    table = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", README.read_text(), flags=re.MULTILINE))
    documented = {int(code): meaning for code, meaning in table.items()}
    assert documented == {code: meaning for code, _name, meaning in describe()}


def test_describe_covers_every_member() -> None:
    assert {code for code, _name, _meaning in describe()} == {int(member) for member in ExitCode}
