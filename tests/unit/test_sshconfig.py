"""ssh config: aliases as hosts, and each resolved setting attributed to its file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from patchtui.errors import InventoryError
from patchtui.headless.cmd_inventory import effective_settings, load_with_sources
from patchtui.inventory import load_inventory
from patchtui.inventory.model import Host
from patchtui.inventory.sshconfig import (
    load_ssh_config,
    parse_ssh_config,
    resolve,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "ansible"


@pytest.fixture
def user_config(isolated_home: Path) -> Path:
    config = isolated_home / ".ssh" / "config"
    shutil.copy(DATA / "ssh_config", config)
    return config


def test_aliases_skip_wildcards_and_negations() -> None:
    config = parse_ssh_config(
        "Host a b\n  User x\nHost *.corp !bad c?\nHost d,e\n", "cfg", include_dir=Path("/none")
    )
    assert [alias for alias, _ in config.aliases()] == ["a", "b", "d", "e"]
    assert dict(config.aliases())["b"] == "cfg:1"


def test_host_defined_only_in_ssh_config_works_by_alias(user_config: Path) -> None:
    inventory = load_inventory("sshconfig:")
    assert [host.name for host in inventory.hosts] == ["prod-db", "staging-web"]
    prod = inventory.host("prod-db")
    assert prod is not None and prod.address == "prod-db" and prod.port == 22

    settings = {
        item.name: item for item in effective_settings(prod, {}, load_ssh_config(user_config))
    }
    assert settings["address"].value == "10.20.0.5"
    assert settings["address"].source == "ssh config ~/.ssh/config:3 (alias prod-db)"
    assert (settings["port"].value, settings["port"].source) == (2022, "ssh config ~/.ssh/config:4")
    assert settings["user"].value == "dbadmin"
    assert settings["identity_file"].value == "~/.ssh/id_prod, ~/.ssh/id_default"
    assert settings["identity_file"].source == "ssh config ~/.ssh/config:6"
    assert settings["jump_host"].value == "ops@bastion.example.com"
    assert settings["jump_host"].source == "ssh config ~/.ssh/config:7"
    assert settings["become"].source == "default"


def test_inventory_values_win_over_ssh_config_like_the_transport(user_config: Path) -> None:
    config = load_ssh_config(user_config)
    host = Host(name="prod-db", address="prod-db", port=2200, user="me", identity_file="/k")
    sources = {"port": "inventory x:1", "user": "inventory x:2", "identity_file": "inventory x:3"}
    settings = {item.name: item for item in effective_settings(host, sources, config)}
    assert (settings["port"].value, settings["port"].source) == (2200, "inventory x:1")
    assert (settings["user"].value, settings["user"].source) == ("me", "inventory x:2")
    assert settings["identity_file"].value == "/k"
    assert settings["address"].value == "10.20.0.5"  # HostName still applies


def test_first_value_wins_and_wildcard_blocks_apply(user_config: Path) -> None:
    config = load_ssh_config(user_config)
    staging = resolve(config, "staging-web", None, 22)
    assert staging.values["User"].value == "staging"
    assert staging.values["User"].source == "ssh config ~/.ssh/config:10"
    assert staging.values["Hostname"].source == "ssh config ~/.ssh/config:13"
    other = resolve(config, "unknown-host", None, 22)
    assert other.values["User"].source == "ssh config ~/.ssh/config:16"
    assert "Hostname" not in other.values


def test_include_is_followed_relative_to_dot_ssh(isolated_home: Path) -> None:
    ssh_dir = isolated_home / ".ssh"
    (ssh_dir / "conf.d").mkdir()
    (ssh_dir / "conf.d" / "team.conf").write_text("Host team-box\n  HostName 10.9.9.9\n")
    (ssh_dir / "config").write_text("# main\nInclude conf.d/*.conf\nHost *\n  User everyone\n")
    config = load_ssh_config(ssh_dir / "config")
    assert [alias for alias, _ in config.aliases()] == ["team-box"]
    resolved = resolve(config, "team-box", None, 22)
    assert resolved.values["Hostname"].value == "10.9.9.9"
    assert resolved.values["Hostname"].source == "ssh config ~/.ssh/conf.d/team.conf:2"
    assert resolved.values["User"].source == "ssh config ~/.ssh/config:4"


def test_match_block_is_reported_not_guessed(isolated_home: Path) -> None:
    config_path = isolated_home / ".ssh" / "config"
    config_path.write_text("Match host special\n  Port 2345\nHost special\n  User u\n")
    config = load_ssh_config(config_path)
    assert config.match_blocks == ("~/.ssh/config:1",)
    resolved = resolve(config, "special", None, 22)
    # asyncssh applies the Match block at connect time; show names the file, not a wrong line
    assert resolved.values["Port"].value == "2345"
    assert resolved.values["Port"].source == "ssh config ~/.ssh/config (Match block)"
    assert resolved.values["User"].source == "ssh config ~/.ssh/config:4"


def test_equals_syntax_and_quotes() -> None:
    config = parse_ssh_config('Host=q\n  HostName = "10.1.1.1"\n  Port=2200\n', "cfg")
    attributed = {d.keyword: d.args for d in config.directives}
    assert attributed["hostname"] == ("10.1.1.1",) and attributed["port"] == ("2200",)


def test_bad_line_names_file_and_line() -> None:
    with pytest.raises(InventoryError, match=r"^cfg:2: ssh config: No closing quotation"):
        parse_ssh_config('Host a\n  HostName "oops\n', "cfg")


def test_include_loop_is_bounded(isolated_home: Path) -> None:
    ssh_dir = isolated_home / ".ssh"
    (ssh_dir / "config").write_text("Include config\n")
    with pytest.raises(InventoryError, match="nested more than 16 deep"):
        load_ssh_config(ssh_dir / "config")


def test_an_inventory_entry_naming_only_the_alias(user_config: Path, tmp_path: Path) -> None:
    inventory_file = tmp_path / "hosts"
    inventory_file.write_text("[db]\nprod-db\n")
    kind, inventory, sources = load_with_sources(str(inventory_file))
    assert kind == "ansible-ini"
    host = inventory.host("prod-db")
    assert host is not None and host.address == "prod-db"
    settings = {
        item.name: item
        for item in effective_settings(host, sources["prod-db"], load_ssh_config(user_config))
    }
    assert settings["address"].value == "10.20.0.5" and settings["port"].value == 2022


def test_ssh_config_without_aliases_is_an_error(isolated_home: Path) -> None:
    (isolated_home / ".ssh" / "config").write_text("Host *\n  User x\n")
    with pytest.raises(InventoryError, match="no Host alias without wildcards"):
        load_inventory("sshconfig:")
