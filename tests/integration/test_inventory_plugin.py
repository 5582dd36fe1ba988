"""Ansible inventory plugin files, read through ansible-core's real ``ansible-inventory``.

The plugins used (``ansible.builtin.generator``, ``constructed``) ship with ansible-core
and need no cloud. ansible-core comes with the ``test`` extra, so CI runs these; they
skip only where it is truly absent. The not-installed error is checked by running the
installed command from a venv that has no ``ansible-inventory``, with a PATH without it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from labhelp import json_lines, run_patchtui

from patchtui.errors import InventoryError
from patchtui.exit_codes import ExitCode
from patchtui.inventory import load_inventory
from patchtui.inventory.ansible import detect_format, find_ansible_inventory, run_plugin

PLUGINS = Path(__file__).resolve().parent.parent / "data" / "ansible" / "plugins"

needs_ansible = pytest.mark.skipif(
    find_ansible_inventory() is None,
    reason="ansible-core is not installed (pip install -c constraints.txt '.[test]' brings it)",
)


def test_plugin_files_are_detected_as_plugins_not_json() -> None:
    # aws_ec2.yml has a list value (regions:), which once made it "inventory JSON".
    assert detect_format(PLUGINS / "aws_ec2.yml") == "ansible-plugin"
    assert detect_format(PLUGINS / "generator.yml") == "ansible-plugin"
    assert detect_format(PLUGINS / "constructed") == "ansible-plugin"
    assert detect_format(PLUGINS / "constructed" / "01-static.yml") == "ansible-yaml"
    # A directory without a plugin file is still not an inventory patchtui reads.
    with pytest.raises(InventoryError, match="only when it holds an Ansible inventory plugin"):
        load_inventory(PLUGINS.parent)


@needs_ansible
def test_generator_hosts_groups_and_vars() -> None:
    inventory = load_inventory(PLUGINS / "generator.yml")
    names = sorted(host.name for host in inventory.hosts)
    assert names == sorted(
        f"{role}-{env}-{n}" for role in ("web", "db") for env in ("dev", "prod") for n in "12"
    )
    host = inventory.host("db-prod-2")
    assert host is not None
    assert set(host.groups) >= {"db_prod", "db", "prod"}
    assert host.package_manager == "apt"  # a group var the generator set
    assert host.vars["tier"] == "prod"
    assert sorted(h.name for h in inventory.hosts if "web_dev" in h.groups) == [
        "web-dev-1",
        "web-dev-2",
    ]


@needs_ansible
def test_inventory_show_lists_the_generated_hosts() -> None:
    result = run_patchtui(
        "inventory", "show", "-i", str(PLUGINS / "generator.yml"), "--limit", "web_prod", "--json"
    )
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout)
    assert [line["host"] for line in lines[:-1]] == ["web-prod-1", "web-prod-2"]
    settings = lines[0]["settings"]
    assert isinstance(settings, dict)
    assert set(settings["groups"]["value"].split(", ")) == {"prod", "web", "web_prod"}
    assert "ansible-inventory -i" in settings["address"]["source"]
    assert lines[-1]["format"] == "ansible-plugin" and lines[-1]["hosts"] == 2
    table = run_patchtui("inventory", "show", "-i", str(PLUGINS / "generator.yml"))
    assert table.returncode == 0, table.stderr
    assert sum(line.startswith("db-dev-1 ") for line in table.stdout.splitlines()) == 1


@needs_ansible
def test_constructed_groups_on_top_of_a_static_file() -> None:
    inventory = load_inventory(PLUGINS / "constructed")
    web1, db1 = inventory.host("web1"), inventory.host("db1")
    assert web1 is not None and db1 is not None
    assert set(web1.groups) == {"webservers", "os_debian"}
    assert db1.groups == ("os_redhat",)
    assert (db1.address, db1.port) == ("127.0.0.21", 2222)


@needs_ansible
def test_an_unknown_cloud_plugin_is_one_line_naming_its_collection() -> None:
    result = run_patchtui("inventory", "show", "-i", str(PLUGINS / "aws_ec2.yml"))
    assert result.returncode == ExitCode.BAD_INPUT
    assert result.stderr.count("\n") == 1, result.stderr
    assert "unknown plugin 'amazon.aws.aws_ec2'" in result.stderr
    assert "ansible-galaxy collection install amazon.aws" in result.stderr


@needs_ansible
def test_ansible_inventory_past_its_time_limit_is_killed() -> None:
    with pytest.raises(InventoryError, match=r"did not finish --list within 0.01s"):
        run_plugin(PLUGINS / "generator.yml", timeout=0.01)


def _venv_without_ansible_inventory(tmp_path: Path) -> Path:
    """A venv that imports this one's packages (patchtui, ansible) but has no
    ansible-inventory script beside its python: patchtui installed without the extra's
    commands, as far as finding them goes. Its patchtui is the installed console script."""
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        timeout=120,
    )
    site = next((venv / "lib").glob("python3*/site-packages"))
    here = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    # addsitedir, not a plain path: it also runs that directory's .pth files (an
    # editable install finds patchtui through one).
    (site / "this-venv.pth").write_text(f"import site; site.addsitedir({here!r})\n")
    installed = Path(sys.executable).with_name("patchtui")
    body = installed.read_text().split("\n", 1)[1]
    script = venv / "bin" / "patchtui"
    script.write_text(f"#!{venv / 'bin' / 'python'}\n{body}")
    script.chmod(0o755)
    assert not (venv / "bin" / "ansible-inventory").exists()
    return script


def test_without_ansible_core_one_line_says_what_to_install(tmp_path: Path) -> None:
    patchtui = _venv_without_ansible_inventory(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.defpath, "HOME": str(home), "LANG": "C.UTF-8"}
    assert not any(Path(d, "ansible-inventory").exists() for d in os.defpath.split(":") if d)
    for target, where in (
        (PLUGINS / "aws_ec2.yml", f"{PLUGINS / 'aws_ec2.yml'}:2"),
        (PLUGINS / "constructed", f"{PLUGINS / 'constructed' / '02-constructed.yml'}:2"),
    ):
        result = subprocess.run(
            [str(patchtui), "inventory", "show", "-i", str(target)],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )
        assert result.returncode == ExitCode.BAD_INPUT, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith(f"patchtui: error: {where}: ")
        plugin = "amazon.aws.aws_ec2" if target.suffix else "ansible.builtin.constructed"
        assert (
            f"'plugin: {plugin}' is an Ansible inventory plugin; install ansible-core "
            "(pip install 'patchtui[ansible]') to read it" in result.stderr
        )
