"""Bad input gets one clear line, a non-zero exit, no traceback, and loses no data."""

from __future__ import annotations

import socket
from pathlib import Path

from labhelp import json_lines, run_patchtui

from patchtui.exit_codes import ExitCode


def assert_one_line_error(stderr: str, *needles: str) -> None:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def write_inventory(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(body)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write_inventory(tmp_path, "hosts:\n  web01: {address: 127.0.0.1\n  db01: {}\n")
    result = run_patchtui("scan", "-i", str(path))
    assert result.returncode == ExitCode.BAD_INPUT
    assert_one_line_error(result.stderr, "inventory.yaml:")


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = write_inventory(tmp_path, "hosts:\n  web01:\n    adress: 127.0.0.1\n")
    result = run_patchtui("scan", "-i", str(path))
    assert result.returncode == ExitCode.BAD_INPUT
    assert_one_line_error(result.stderr, "adress", "inventory.yaml:3")


def test_missing_inventory_file(tmp_path: Path) -> None:
    result = run_patchtui("scan", "-i", str(tmp_path / "nope.yaml"))
    assert result.returncode == ExitCode.BAD_INPUT
    assert_one_line_error(result.stderr, "nope.yaml")


def test_wrong_flag_is_one_line(tmp_path: Path) -> None:
    result = run_patchtui("scan", "-i", "x.yaml", "--no-such-flag")
    assert result.returncode == ExitCode.BAD_INPUT
    assert_one_line_error(result.stderr, "--no-such-flag")


def test_bad_batch_value(tmp_path: Path) -> None:
    path = write_inventory(tmp_path, "hosts:\n  web01: {address: 127.0.0.1}\n")
    result = run_patchtui("patch", "-i", str(path), "--batch", "lots", "--yes")
    assert result.returncode == ExitCode.BAD_INPUT
    assert_one_line_error(result.stderr, "--batch")


def test_patch_refuses_without_yes_and_without_a_terminal(tmp_path: Path) -> None:
    path = write_inventory(tmp_path, "hosts:\n  web01: {address: 127.0.0.1}\n")
    result = run_patchtui("patch", "-i", str(path), "--db", str(tmp_path / "db.json"))
    assert result.returncode == ExitCode.BAD_INPUT
    assert_one_line_error(result.stderr, "--yes")


def test_unreachable_host_is_reported_and_exit_1(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    path = write_inventory(
        tmp_path,
        f"hosts:\n  ghost:\n    address: 127.0.0.1\n    port: {port}\n    connect_timeout: 3\n",
    )
    result = run_patchtui("scan", "-i", str(path), "--json", "--db", str(tmp_path / "db.json"))
    assert result.returncode == ExitCode.HOST_FAILURES
    lines = json_lines(result.stdout)
    host = next(line for line in lines if line["type"] == "host_result")
    assert host["state"] == "unreachable" and host["error_kind"] == "unreachable"
    assert f"127.0.0.1:{port}" in str(host["error"])
    assert lines[-1]["unreachable"] == 1


def test_corrupt_database_is_never_overwritten_and_repair_keeps_a_backup(tmp_path: Path) -> None:
    db = tmp_path / "db.json"
    broken = '{"runs": {"1": {"id": "x"'
    db.write_text(broken)
    inventory = write_inventory(tmp_path, "hosts:\n  web01: {address: 127.0.0.1}\n")

    scan = run_patchtui("scan", "-i", str(inventory), "--db", str(db))
    check = run_patchtui("db", "check", "--db", str(db))

    assert scan.returncode == ExitCode.BAD_INPUT
    assert_one_line_error(scan.stderr, str(db), "corrupt")
    assert db.read_text() == broken
    assert check.returncode == ExitCode.BAD_INPUT

    repair = run_patchtui("db", "repair", "--db", str(db), "--json")
    assert repair.returncode == ExitCode.OK, repair.stdout + repair.stderr
    summary = json_lines(repair.stdout)[-1]
    backups = [Path(str(path)) for path in summary["backups"]]  # type: ignore[union-attr]
    assert any(backup.read_text() == broken for backup in backups)
    assert run_patchtui("db", "check", "--db", str(db)).returncode == ExitCode.OK


def test_advisories_sync_bad_input_is_one_line_and_keeps_the_synced_data(tmp_path: Path) -> None:
    db = str(tmp_path / "db.json")
    good = Path(__file__).resolve().parents[1] / "data" / "osv" / "ubuntu"
    assert run_patchtui("advisories", "sync", "--from", str(good), "--db", db).returncode == 0
    stored = (tmp_path / "db.advisories.json").read_bytes()

    result = run_patchtui("advisories", "sync", "--db", db)
    assert result.returncode == ExitCode.BAD_INPUT
    assert_one_line_error(result.stderr, "--from")

    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "id": "X",\n  "modified": \n}\n')
    result = run_patchtui("advisories", "sync", "--from", str(broken), "--db", db)
    assert result.returncode == ExitCode.BAD_INPUT
    assert_one_line_error(result.stderr, f"{broken}:4", "not JSON")

    not_osv = tmp_path / "list.json"
    not_osv.write_text('[{"id": "A", "modified": "2024-01-01T00:00:00Z"}, 3]')
    result = run_patchtui("advisories", "sync", "--from", str(not_osv), "--db", db)
    assert result.returncode == ExitCode.BAD_INPUT
    assert_one_line_error(result.stderr, "list.json", "not an OSV record")

    result = run_patchtui("advisories", "--from", str(good), "--db", db)
    assert result.returncode == ExitCode.BAD_INPUT
    assert_one_line_error(result.stderr, "--from is only for `advisories sync`")
    assert (tmp_path / "db.advisories.json").read_bytes() == stored
