"""`patchtui inventory show` end to end; a scan reaching a lab host only by its ssh alias."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import yaml
from labhelp import LabProcess, json_lines, run_patchtui

from patchtui.lab.server import CLIENT_KEY_NAME, KNOWN_HOSTS_NAME, LAB_USER

DATA = Path(__file__).resolve().parent.parent / "data" / "ansible"


def test_show_json_lines_and_summary_on_the_docs_inventory(isolated_home: Path) -> None:
    shutil.copy(DATA / "ssh_config", isolated_home / ".ssh" / "config")
    result = run_patchtui(
        "inventory", "show", "-i", str(DATA / "hosts.ini"), "--limit", "southeast", "--json"
    )
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout)
    assert [line["host"] for line in lines[:-1]] == ["host1", "host2", "host3"]
    host2 = lines[1]["settings"]
    assert isinstance(host2, dict)
    assert host2["user"] == {
        "value": "atlanta_admin",
        "source": f"ansible var ansible_user, group atlanta, {DATA / 'hosts.ini'}:26",
    }
    assert host2["port"]["value"] == 2222 and "group all" in host2["port"]["source"]
    assert host2["become"]["value"] is True and "group southeast" in host2["become"]["source"]
    # no IdentityFile in the inventory: the ssh config's "Host *" supplies it
    assert host2["identity_file"] == {
        "value": "~/.ssh/id_default",
        "source": "ssh config ~/.ssh/config:17",
    }
    assert host2["host_key_policy"] == {"value": "strict", "source": "default"}
    assert lines[-1] == {
        "type": "summary",
        "inventory": str(DATA / "hosts.ini"),
        "format": "ansible-ini",
        "hosts": 3,
        "warnings": 0,
    }


def test_show_table_for_ssh_config_aliases_and_warnings_on_stderr(
    isolated_home: Path, tmp_path: Path
) -> None:
    shutil.copy(DATA / "ssh_config", isolated_home / ".ssh" / "config")
    result = run_patchtui("inventory", "show", "-i", "sshconfig:", "--limit", "prod-db")
    assert result.returncode == 0, result.stderr
    # First row of a host: HOST SETTING VALUE SOURCE; later rows leave HOST blank.
    rows = {
        (line.split()[0] if line.startswith(" ") else line.split()[1]): line
        for line in result.stdout.splitlines()[2:-1]
    }
    assert "10.20.0.5" in rows["address"] and "ssh config ~/.ssh/config:3" in rows["address"]
    assert "2022" in rows["port"] and "ssh config ~/.ssh/config:4" in rows["port"]
    assert result.stdout.splitlines()[-1].startswith("1 host(s) from sshconfig: (sshconfig)")

    inventory = tmp_path / "win.ini"
    inventory.write_text("[win]\nw1 ansible_connection=winrm\n")
    warned = run_patchtui("inventory", "show", "-i", str(inventory))
    assert warned.returncode == 0
    assert warned.stderr.startswith(
        f"patchtui: warning: {inventory}:2: host 'w1': ansible_connection=winrm is not supported"
    )


def test_dynamic_inventory_through_the_cli(tmp_path: Path) -> None:
    script = tmp_path / "inventory.py"
    shutil.copy(DATA / "inventory.py", script)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    result = run_patchtui("inventory", "show", "-i", str(script), "--json")
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout)
    assert lines[-1]["format"] == "script" and lines[-1]["hosts"] == 4
    assert "ansible_password ignored and not stored" in result.stderr
    host001 = lines[0]["settings"]
    assert isinstance(host001, dict)
    assert host001["address"]["value"] == "10.1.0.1"
    assert "_meta.hostvars" in host001["address"]["source"]


def test_broken_inventory_is_one_line_with_file_and_line(tmp_path: Path) -> None:
    inventory = tmp_path / "bad.ini"
    inventory.write_text("[web]\nw1\n[web:childs]\nx\n")
    result = run_patchtui("inventory", "show", "-i", str(inventory))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"patchtui: error: {inventory}:3: ")


def test_scan_reaches_a_host_known_only_by_its_ssh_alias(
    lab_process: Callable[..., LabProcess], isolated_home: Path, tmp_path: Path
) -> None:
    lab = lab_process(1, faults="none")
    lab_inventory = yaml.safe_load(lab.inventory.read_text())
    ((name, entry),) = lab_inventory["hosts"].items()
    ssh_dir = isolated_home / ".ssh"
    (ssh_dir / "config").write_text(
        "Host patch-me\n"
        f"    HostName {entry['address']}\n"
        f"    Port {entry['port']}\n"
        f"    User {LAB_USER}\n"
        f"    IdentityFile {lab.directory / CLIENT_KEY_NAME}\n"
    )
    # The user's own known_hosts vouches for the lab host, as it would for a real one.
    shutil.copy(lab.directory / KNOWN_HOSTS_NAME, ssh_dir / "known_hosts")
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("patch-me\n")

    shown = run_patchtui("inventory", "show", "-i", str(inventory), "--json")
    assert shown.returncode == 0, shown.stderr
    settings = json_lines(shown.stdout)[0]["settings"]
    assert isinstance(settings, dict)
    assert settings["port"] == {"value": entry["port"], "source": "ssh config ~/.ssh/config:3"}
    assert settings["identity_file"]["source"] == "ssh config ~/.ssh/config:5"

    result = run_patchtui(
        "scan", "-i", str(inventory), "--json", "--db", str(tmp_path / "db.json"), timeout=120
    )
    assert result.returncode == 0, result.stderr + result.stdout
    lines = json_lines(result.stdout)
    host_results = [line for line in lines if line["type"] == "host_result"]
    assert [(line["host"], line["state"]) for line in host_results] == [("patch-me", "ok")]
    assert lines[-1]["ok"] == 1
    assert name  # the lab's own name for the host was never used
