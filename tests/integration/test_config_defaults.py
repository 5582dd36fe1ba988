"""config.toml defaults reach the commands: concurrency, host-key policy, compliance policy."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from labhelp import LabProcess, json_lines, run_patchtui


def write_config(text: str) -> Path:
    config_dir = Path(os.environ["PATCHTUI_CONFIG"])
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "config.toml"
    path.write_text(text)
    return path


def test_config_sets_concurrency_and_the_default_host_key_policy(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(7, faults="none")
    (lab.directory / "lab_known_hosts").write_text("")  # no key is known any more
    db = str(tmp_path / "db.json")

    strict = run_patchtui("scan", "-i", str(lab.inventory), "--json", "--db", db)
    assert strict.returncode == 1
    assert {
        line["error_kind"] for line in json_lines(strict.stdout) if line["type"] == "host_result"
    } == {"hostkey-unknown"}

    write_config('[defaults]\nconcurrency = 3\nhost_key_policy = "accept-new"\n')
    trusting = run_patchtui("scan", "-i", str(lab.inventory), "--json", "--db", db)
    assert trusting.returncode == 0, trusting.stderr
    runs = [
        line
        for line in json_lines(run_patchtui("history", "--db", db, "--json").stdout)
        if line["type"] == "run"
    ]
    assert runs[0]["options"]["concurrency"] == 3  # type: ignore[index]

    explicit = run_patchtui("scan", "-i", str(lab.inventory), "--json", "--db", db, "-c", "5")
    assert explicit.returncode == 0
    runs = [
        line
        for line in json_lines(run_patchtui("history", "--db", db, "--json").stdout)
        if line["type"] == "run"
    ]
    assert runs[0]["options"]["concurrency"] == 5  # type: ignore[index]


def test_config_policy_is_the_compliance_default_and_a_broken_config_is_one_line(
    tmp_path: Path,
) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("hosts:\n  web01: {address: 127.0.0.1}\n")
    (tmp_path / "policy.yaml").write_text("no_such_key: 1\n")
    write_config('[defaults]\npolicy = "' + str(tmp_path / "policy.yaml") + '"\n')
    result = run_patchtui("compliance", "-i", str(inventory), "--db", str(tmp_path / "db.json"))
    assert result.returncode == 2 and "no_such_key" in result.stderr  # the config's policy was read

    config = write_config("[defaults]\nconcurency = 3\n")
    broken = run_patchtui("scan", "-i", str(inventory), "--db", str(tmp_path / "db.json"))
    assert broken.returncode == 2
    assert str(config) in broken.stderr and "concurency" in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1
    assert run_patchtui("scan", "--help").returncode == 0  # help never needs the config
