"""Hostile and malformed input through the real ``patchtui`` command line (issue 13, items 4, 5, 7).

Every case: exit 2, exactly one line on stderr, no traceback. The inputs are
the ones the adversarial test found, plus a few fuzzed inventories (the
in-process fuzzing in tests/unit/test_fuzz_loaders.py covers many more).
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from labhelp import run_patchtui

from patchtui.exit_codes import ExitCode

OK_INVENTORY = "hosts:\n  web01: {address: 127.0.0.1}\n  web02: {address: 127.0.0.1}\n"


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def refused(*args: str) -> str:
    result = run_patchtui(*args, timeout=60)
    assert result.returncode == ExitCode.BAD_INPUT, (result.returncode, result.stderr)
    return one_line(result.stderr)


@pytest.mark.parametrize(
    ("name", "body", "needle"),
    [
        ("nul.yaml", 'hosts:\n  web01: {labels: {a: "x\x00"}}\n', "#x0000"),
        ("bel.yaml", "hosts:\n  web01:\n    user: a\x07b\n", "#x0007"),
        ("digits.yaml", "hosts:\n  web01:\n    labels:\n      a: " + "9" * 5000 + "\n", "digits"),
        ("tilde.yaml", "hosts:\n  web01:\n    identity_file: ~nosuchuser/k\n", "~nosuchuser"),
        ("deep.yaml", "hosts:\n  web01:\n    vars:\n      x: " + "[" * 50_000 + "\n", "nested"),
        ("deep.json", "[" * 50_000, "nested"),
        ("nul.ini", "web01 ansible_user=a\x00\n[web\n", "hosts.ini"),
        ("tilde.ini", "web01 ansible_ssh_private_key_file=~nosuchuser/k\n", "~nosuchuser"),
    ],
)
def test_malformed_inventory_is_one_line(tmp_path: Path, name: str, body: str, needle: str) -> None:
    path = tmp_path / name
    path.write_text(body)
    if name.endswith(".ini"):
        path = path.rename(tmp_path / "hosts.ini")
    line = refused("scan", "-i", str(path), "--db", str(tmp_path / "db.json"))
    assert needle in line, line
    assert str(path.name) in line, line


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("exceptions:\n  - host: a\n    reason: x\n    expires: 2030-13-45\n", "policy.yaml:4"),
        ("security_grace_days: " + "9" * 5000 + "\n", "policy.yaml:1"),
        ("name: x\x00\n", "#x0000"),
        ("security_grace_days: " + "[" * 50_000 + "\n", "nested"),
    ],
)
def test_malformed_policy_is_one_line(tmp_path: Path, body: str, needle: str) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(OK_INVENTORY)
    policy = tmp_path / "policy.yaml"
    policy.write_text(body)
    line = refused(
        "compliance", "-i", str(inventory), "--policy", str(policy), "--db", str(tmp_path / "db")
    )
    assert needle in line, line


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["patch", "--become-password-fd", "99", "--yes"], "Bad file descriptor"),
        (["patch", "--become-password-fd", "-1", "--yes"], "--become-password-fd"),
        (["patch", "--canary", "-1", "--yes"], "--canary"),
        (["patch", "--batch", "99999999999999999999999", "--yes"], "--batch"),
        (["patch", "--batch", "nan%", "--yes"], "--batch"),
        (["patch", "--max-failures", "-3", "--yes"], "--max-failures"),
        (["patch", "-l", "", "--yes"], "empty"),
        (["patch", "-l", "  ", "--yes"], "empty"),
        (["scan", "-l", ""], "empty"),
        (["run", "-l", " ", "--", "uptime"], "empty"),
    ],
)
def test_bad_flags_are_one_line(tmp_path: Path, flags: list[str], needle: str) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(OK_INVENTORY)
    command, *rest = flags
    line = refused(command, "-i", str(inventory), "--db", str(tmp_path / "db.json"), *rest)
    assert needle in line, line


@pytest.mark.parametrize("spec", ["~nosuchuser/inventory.yaml", "sshconfig:~nosuchuser/config"])
def test_an_unknown_user_in_the_inventory_path_is_one_line(tmp_path: Path, spec: str) -> None:
    line = refused("scan", "-i", spec, "--db", str(tmp_path / "db.json"))
    assert "cannot expand ~nosuchuser: no such user" in line, line


def test_compliance_output_into_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(OK_INVENTORY)
    target = tmp_path / "no" / "such" / "dir" / "r.html"
    line = refused(
        "compliance", "-i", str(inventory), "--db", str(tmp_path / "db"), "--output", str(target)
    )
    assert "does not exist" in line and str(target.parent) in line, line
    assert not (tmp_path / "no").exists()


def test_an_error_quoting_a_hostile_path_stays_one_safe_line(tmp_path: Path) -> None:
    # The path is quoted raw in "file not found": its newline and escape codes
    # must not split the line or reach the terminal.
    hostile = tmp_path / "inv\nentory\x1b]0;owned\x07.yaml"
    line = refused("scan", "-i", str(hostile), "--db", str(tmp_path / "db.json"))
    assert "not found" in line and "inv entory" in line, line
    # The whole OSC sequence (which would retitle the terminal) is gone.
    assert "\x1b" not in line and "\x07" not in line and "owned" not in line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_run_prefix_sanitizes_host_names_from_an_ssh_config(tmp_path: Path) -> None:
    # Nothing listens on the port: the host is unreachable and its name is printed
    # in run's problem line; the escape sequence must not reach the terminal.
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host evil\x1b]0;owned\x07box\n  HostName 127.0.0.1\n  Port {free_port()}\n"
        "  ConnectTimeout 3\n"
    )
    result = run_patchtui(
        "run", "-i", f"sshconfig:{config}", "--db", str(tmp_path / "db.json"), "--", "uptime"
    )
    assert result.returncode == ExitCode.HOST_FAILURES, result.stderr
    printed = result.stdout + result.stderr
    assert "evil" in printed and "box" in printed
    assert "\x1b" not in printed and "\x07" not in printed


FUZZ_SEED = (
    Path(__file__).resolve().parent.parent / "data" / "inventories" / "fleet.yaml"
).read_text()
HOSTILE = ["\x00", "\x07", "[" * 500, "9" * 5000, "*a", "&a", "web[0:99999999]", "~nosuchuser", ":"]


@st.composite
def broken_inventories(draw: st.DrawFn) -> str:
    text = FUZZ_SEED
    for _ in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, len(text)))
        piece = draw(st.one_of(st.sampled_from(HOSTILE), st.text("[]{}:,-&*!|'\"\n ", max_size=4)))
        text = text[:position] + piece + text[position + draw(st.integers(0, 4)) :]
    return text


@settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=broken_inventories())
def test_fuzzed_inventories_through_the_cli_load_or_give_one_line(text: str) -> None:
    with tempfile.TemporaryDirectory() as name:
        path = Path(name) / "inventory.yaml"
        path.write_text(text)
        result = run_patchtui("inventory", "show", "-i", str(path), "--json", timeout=60)
        assert "Traceback" not in result.stderr, result.stderr
        if result.returncode != 0:
            assert result.returncode == ExitCode.BAD_INPUT, result.stderr
            one_line(result.stderr)


def test_inventory_warnings_quoting_escape_codes_are_sanitized(tmp_path: Path) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text("web01 ansible_connection=winrm\x1b]0;owned\x07x\n")
    result = run_patchtui("inventory", "show", "-i", str(path))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "ansible_connection" in line]
    assert warnings == [
        f"patchtui: warning: {path}:1: host 'web01': ansible_connection=winrmx is not "
        "supported; patchtui connects over SSH"
    ]
