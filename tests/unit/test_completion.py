"""Completion scripts are generated from the real parser and are valid shell."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from labhelp import run_patchtui

from patchtui.cli import build_parser
from patchtui.headless.cmd_completion import SHELLS, command_spec, render

SPEC = command_spec(build_parser(), "patchtui")
SUBCOMMANDS = [sub.name for sub in SPEC.subcommands]


def test_the_parser_walk_finds_commands_flags_and_choices() -> None:
    assert {"scan", "patch", "run", "doctor", "completion", "db", "history"} <= set(SUBCOMMANDS)
    db = next(sub for sub in SPEC.subcommands if sub.name == "db")
    assert [sub.name for sub in db.subcommands] == ["check", "repair"]
    compliance = next(sub for sub in SPEC.subcommands if sub.name == "compliance")
    formats = next(opt for opt in compliance.options if "--format" in opt.flags)
    assert "prometheus" in formats.choices
    inventory = next(opt for opt in compliance.options if "--inventory" in opt.flags)
    assert inventory.is_file and inventory.takes_value
    completion = next(sub for sub in SPEC.subcommands if sub.name == "completion")
    assert completion.positional_choices == SHELLS


@pytest.mark.parametrize("shell", SHELLS)
def test_every_subcommand_and_flag_is_in_the_script(shell: str) -> None:
    script = render(shell, SPEC)
    for name in [*SUBCOMMANDS, "check", "repair", "--inventory", "--concurrency", "--become"]:
        assert name in script or name.lstrip("-") in script, name
    assert "prometheus" in script


def _syntax_check(shell: str, script: Path) -> subprocess.CompletedProcess[str]:
    flag = {"bash": "-n", "zsh": "-n", "fish": "--no-execute"}[shell]
    return subprocess.run(
        [shell, flag, str(script)], capture_output=True, text=True, timeout=30, check=False
    )


@pytest.mark.parametrize("shell", SHELLS)
def test_script_from_the_command_line_parses(shell: str, tmp_path: Path) -> None:
    result = run_patchtui("completion", shell, timeout=60)
    assert result.returncode == 0, result.stderr
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed here: cannot syntax-check its script")
    script = tmp_path / f"patchtui.{shell}"
    script.write_text(result.stdout)
    checked = _syntax_check(shell, script)
    assert checked.returncode == 0, checked.stderr


def test_bash_completion_answers_like_bash_would(tmp_path: Path) -> None:
    """Load the script into bash and ask it, as the shell does on Tab."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    script = tmp_path / "patchtui.bash"
    script.write_text(render("bash", SPEC))

    def complete(*words: str) -> list[str]:
        line = " ".join(f"'{word}'" for word in words)
        program = (
            f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
            "_patchtui; printf '%s\\n' \"${COMPREPLY[@]}\""
        )
        result = subprocess.run(
            ["bash", "-c", program], capture_output=True, text=True, timeout=30, check=True
        )
        return result.stdout.split()

    assert sorted(complete("patchtui", "d")) == ["db", "demo", "doctor"]
    assert complete("patchtui", "do") == ["doctor"]
    assert complete("patchtui", "db", "") == ["check", "repair", "-h", "--help"]
    assert "--become" in complete("patchtui", "run", "--be")
    assert complete("patchtui", "compliance", "--format", "pr") == ["prometheus"]
    assert complete("patchtui", "completion", "f") == ["fish"]


def test_version_flag() -> None:
    from patchtui import __version__

    result = run_patchtui("--version", timeout=60)
    assert result.returncode == 0
    assert result.stdout.strip() == f"patchtui {__version__}"
